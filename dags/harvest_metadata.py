"""Airflow DAG: harvest the metadata store and rebuild the catalog site every morning.
See govlake.orchestration.metadata_dag."""

from __future__ import annotations

from govlake.orchestration.metadata_dag import build_metadata_dag

harvest_metadata = build_metadata_dag()
