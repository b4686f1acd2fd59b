"""Airflow DAG building the libraries (基础库 · 主题库 · 专题库) with dbt, model by model.

Scheduled on the raw assets of every catalog resource: it runs when the night's ingestion
has landed a new batch of each. Rendered from dbt's manifest by astronomer-cosmos; each
model and its tests are tasks. Triage: see the DAG's doc in the UI, or
`govlake dbt build --select <model>` to run one model by hand.
"""

from __future__ import annotations

from govlake.catalog.loader import default_catalog
from govlake.orchestration.libraries_dag import build_libraries_dag

build_libraries = build_libraries_dag(default_catalog())
