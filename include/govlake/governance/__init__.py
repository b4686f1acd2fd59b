"""The platform's own tables in the ``governance`` schema."""
