"""Airflow wiring: DAGs generated from the catalog. The work itself lives in pipeline/."""
