"""Airflow ingestion DAGs for every departmental resource in the catalog (数据归集).

One DAG per resource, generated from `include/catalog/` by one factory: extract a business
day from the department's system (database, landing-area files or REST API) into an
immutable Parquet batch in the object store, then validate and COPY it into PostgreSQL
`raw`, quarantining rejected rows with their reasons.

Triage: open the failed task's log; the message names the file, row and field, or the
connection to fix. `govlake runs --since YYYY-MM-DD` summarises runs; `governance.batch`
holds every batch's counts. Each generated DAG's own doc says how to rerun a day.
"""

from __future__ import annotations

from govlake.orchestration.dag_factory import build_all

for _dag_id, _dag in build_all().items():
    _dag.doc_md = (_dag.doc_md or "") + "\n---\n" + __doc__
    globals()[_dag_id] = _dag
