"""Airflow DAG: the nightly quality audit (every resource's batch, the libraries), scores,
work orders and the daily quality report. See govlake.orchestration.quality_dag."""

from __future__ import annotations

from govlake.orchestration.quality_dag import build_quality_dag

quality_audit = build_quality_dag()
