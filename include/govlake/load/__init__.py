"""Load landed batches into PostgreSQL ``raw``: validate, COPY, quarantine, reconcile."""
