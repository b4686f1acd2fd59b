"""The object store (MinIO/S3, or local disk) and the raw zone's batches."""
