"""The steps the DAGs run, callable on their own (CLI, tests) with the same behaviour."""
