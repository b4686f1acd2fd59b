"""The metadata harvest: the store (元数据库) follows the platform every morning.

``harvest`` reads what each origin knows — the catalog, schema drift found at ingestion,
dbt's manifest and catalog, the warehouse's information_schema, the OpenLineage events
appended since the last harvest — into ``governance.md_*``, records every change (who:
``airflow:harvest_metadata``) and takes a snapshot for ``govlake metadata diff``.
``catalog_site`` then rebuilds the catalog website (``output/catalog/``) for the public
principal (sensitive sample values masked)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

from govlake.config import TIMEZONE
from govlake.orchestration.dag_factory import START_DATE

DAG_ID = "harvest_metadata"
HARVESTED_BY = f"airflow:{DAG_ID}"


def build_metadata_dag() -> DAG:
    with DAG(
        dag_id=DAG_ID,
        description="元数据采集 Harvest the metadata store and rebuild the catalog site",
        doc_md=__doc__
        + """
#### 故障处理 Triage
*harvest failed*: the log names the origin (a manifest dbt could not write, the warehouse,
an unreadable event line is only counted and skipped). Nothing is half-written: each
origin is applied in one transaction; rerunning is safe and records only what changed.
*catalog_site failed*: the store is intact; rerun the task, or `govlake catalog site`.
By hand: `govlake metadata harvest`. Runs at 06:30 Kaiping time, after the nightly
ingestion, the libraries and the quality audit, whose events it reads.
""",
        schedule=CronTriggerTimetable("30 6 * * *", timezone=TIMEZONE, interval=timedelta(days=1)),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["metadata"],
        default_args={"owner": "govdata", "retries": 2, "retry_delay": timedelta(minutes=5)},
    ) as dag:

        @task(task_id="harvest")
        def harvest_store(**_: Any) -> dict:
            from govlake.governance.store import connect
            from govlake.lineage.store import harvest

            with connect() as conn:
                summary = harvest(conn, by=HARVESTED_BY)
            return {
                "datasets": summary.datasets,
                "fields": summary.fields,
                "edges": summary.edges,
                "events": summary.events,
                "changes": summary.changed,
                "snapshot_id": summary.snapshot_id,
            }

        @task(task_id="catalog_site")
        def catalog_site(harvested: dict) -> dict:
            from govlake.governance.store import connect
            from govlake.lineage.site import build_site

            with connect() as conn:
                site = build_site(conn)
            return {"index": str(site.index), "pages": site.pages, **harvested}

        catalog_site(harvest_store())
    return dag
