"""One factory that turns every catalog resource into an ingestion DAG.

One DAG per resource (not per department): each resource has its own update frequency,
owner and failure domain, and can be rerun or backfilled alone; Airflow's Assets let
downstream DAGs wait on exactly the resources they read. Tasks import the pipeline lazily
so that parsing a DAG file touches no database, no object store and no heavy library.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from govlake.catalog.model import Resource
from govlake.config import TIMEZONE

START_DATE = pendulum.datetime(2026, 11, 1, tz=TIMEZONE)
# Nightly, in Kaiping's time zone; each run covers the period that ended before it.
SCHEDULES: dict[str, tuple[str, timedelta] | None] = {
    "hourly": ("10 * * * *", timedelta(hours=1)),
    "daily": ("0 1 * * *", timedelta(days=1)),
    "weekly": ("0 2 * * 1", timedelta(days=7)),
    "monthly": ("0 3 1 * *", timedelta(days=28)),
    "quarterly": ("0 3 1 1,4,7,10 *", timedelta(days=90)),
    "yearly": ("0 4 1 1 *", timedelta(days=365)),
    "realtime": None,  # streams are event-driven, not scheduled
}
KIND_TAGS = {"postgresql": "kind:database", "mysql": "kind:database", "files": "kind:files",
             "rest": "kind:api"}  # fmt: skip
FIXED_TAGS = {
    "ingest",
    "dbt",
    "libraries",
    "quality",
    "metadata",
    "sensor",
    "stream",
    *KIND_TAGS.values(),
    *(f"freq:{f}" for f in SCHEDULES),
}


def tag_vocabulary(department_codes: list[str]) -> set[str]:
    """Every tag a generated DAG may carry: the fixed ones plus one per department."""
    return FIXED_TAGS | {f"dept:{code}" for code in department_codes}


def lake_asset(resource: Resource) -> Asset:
    return Asset(
        name=f"lake.raw.{resource.id}",
        uri=f"s3://govlake/raw/{resource.department}/{resource.code}",
        group="lake",
    )


def raw_asset(resource: Resource) -> Asset:
    return Asset(
        name=f"raw.{resource.raw_table}",
        uri=f"postgres://warehouse:5432/govlake/raw/{resource.raw_table}",
        group="warehouse",
    )


def business_date(context: dict[str, Any]) -> date:
    """The business day a run covers: ``params.business_date`` or the day before the run.

    A nightly run at 01:00 on D+1 has the data interval [D 01:00, D+1 01:00); the day it
    covers is the local date of the interval's start, D. Never ``now()``: a rerun of a
    past run covers the same day.
    """
    chosen = (context.get("params") or {}).get("business_date")
    if chosen:
        return date.fromisoformat(str(chosen))
    start = context.get("data_interval_start") or context.get("logical_date")
    end = context.get("data_interval_end") or start
    if start is None:  # a manual run triggered without a logical date (Airflow 3)
        start = end = context["dag_run"].run_after
    moment = start if start < end else start - timedelta(days=1)
    return pendulum.instance(moment).in_timezone(TIMEZONE).date()


def _doc(resource: Resource) -> str:
    system = resource.system
    return f"""### {resource.name_zh} · {resource.name_en} (`{resource.id}`)

{resource.description}

- 来源 source: {system.name_zh} ({system.kind}, connection `{system.connection or "landing area"}`)
- 责任单位 owner: {resource.owner}
- 共享类型 sharing: {resource.sharing_type} · 开放类型 open: {resource.open_type}
- 更新频率 frequency: {resource.update_frequency}; extraction {resource.extract.mode}
- 落地 lands in `raw/{resource.department}/{resource.code}/` (object store), loads into
  `raw.{resource.raw_table}` (PostgreSQL)

**extract** reads one business day (`[D 00:00, D+1 00:00)`, or the whole source for a full
extraction) into an immutable Parquet batch with a manifest. **load** validates it against
the catalog and COPYs it into `raw` in one transaction; rejected rows go to quarantine.
**audit** runs the resource's quality suite on the batch (SQL inside PostgreSQL):
blocking rules stop the batch, warnings are recorded and open work orders.

#### 故障处理 Triage
- *extract failed*: the source is unreachable or refused us — check the connection
  `AIRFLOW_CONN_{(system.connection or "").upper()}` / the landing folder; clear the task.
  Nothing half-written is ever used: a batch without a manifest is extracted again.
- *load failed*: nothing was committed (one transaction). Read the error, fix, clear the task.
- *audit failed*: a blocking quality rule failed (the log lists each rule and what it
  found); the batch's partition is detached from `raw` (kept for inspection) and marked
  `blocked`; `govlake quality release` lets it flow on. Warnings
  never fail the task: they open work orders (`govlake workorders list`).
- *rows quarantined*: `govlake quarantine {resource.id}` lists each row with file, row,
  field and reason; send it to the owner. Counts reconcile in `governance.batch`.
- rerun a day: trigger with `{{"business_date": "YYYY-MM-DD"}}`; add `"force": true` to
  re-extract a batch that already landed (it is immutable otherwise).
"""


def build_ingest_dag(resource: Resource) -> DAG:
    schedule_spec = SCHEDULES[resource.update_frequency]
    schedule = (
        CronTriggerTimetable(schedule_spec[0], timezone=TIMEZONE, interval=schedule_spec[1])
        if schedule_spec
        else None
    )
    resource_id = resource.id
    with DAG(
        dag_id=resource.dag_id,
        description=f"{resource.name_zh} → raw.{resource.raw_table}",
        doc_md=_doc(resource),
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=sorted(
            {
                "ingest",
                f"dept:{resource.department}",
                KIND_TAGS[resource.system.kind],
                f"freq:{resource.update_frequency}",
            }
        ),
        default_args={
            "owner": resource.department,
            "retries": 2,
            "retry_delay": timedelta(minutes=5),
            "retry_exponential_backoff": True,
        },
        params={
            "business_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="业务日期 business date to (re)load, YYYY-MM-DD",
            ),
            "mode": Param(
                resource.extract.mode,
                enum=["incremental", "full"],
                description="incremental (watermark window) or full",
            ),
            "force": Param(
                False, type="boolean", description="re-extract even if the batch already landed"
            ),
        },
        render_template_as_native_obj=True,
    ) as ingest_dag:

        @task(task_id="extract", outlets=[lake_asset(resource)])
        def extract(**context: Any) -> dict:
            from govlake.pipeline.ingest import extract_resource

            params = context["params"]
            manifest = extract_resource(
                resource_id,
                business_date(context),
                mode=params.get("mode"),
                force=bool(params.get("force")),
            )
            return {
                "batch_id": manifest["batch_id"],
                "ingest_date": manifest["ingest_date"],
                "source_rows": manifest["source_rows"],
                "landed_rows": manifest["rows"],
                "extract_quarantined": manifest["extract_quarantined"],
                "reused": manifest["reused"],
            }

        @task(task_id="load")
        def load(landed: dict) -> dict:
            from govlake.pipeline.ingest import load_resource

            result = load_resource(
                resource_id, date.fromisoformat(landed["ingest_date"]), landed["batch_id"]
            )
            if not result.reconciled:
                raise RuntimeError(
                    f"对账失败 counts do not reconcile for {resource_id} batch "
                    f"{result.batch_id}: source {result.source_rows} ≠ loaded "
                    f"{result.loaded_rows} + quarantined {result.quarantined}"
                )
            return {
                "batch_id": result.batch_id,
                "ingest_date": landed["ingest_date"],
                "source_rows": result.source_rows,
                "loaded_rows": result.loaded_rows,
                "quarantined": result.quarantined,
                "schema_drift": result.added_columns + result.missing_columns,
            }

        # the raw asset is announced only by a batch that passed its audit: a blocked
        # batch stops here, so nothing downstream is triggered by it
        @task(task_id="audit", outlets=[raw_asset(resource)])
        def audit(loaded: dict) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from govlake.quality.audit import audit_batch

            result = audit_batch(
                resource_id, loaded["batch_id"], date.fromisoformat(loaded["ingest_date"])
            )
            if result.blocking_failed:
                raise AirflowFailException(
                    f"质量阻断 batch {loaded['batch_id']} of {resource_id} is blocked by "
                    f"{len(result.blocking_failed)} blocking rule(s); it stays in raw but "
                    f"is detached from raw.{resource.raw_table}:\n{result.reasons()}\n"
                    f"Fix the source and rerun with force, or see "
                    f"`govlake quality run {resource_id} --date {loaded['ingest_date']}`; "
                    f"work orders: `govlake workorders list --department {resource.department}`"
                )
            return {
                "run_id": result.run_id,
                "rules": len(result.outcomes),
                "warnings": len(result.failed),
                "data_docs": result.data_docs,
            }

        audit(load(extract()))
    return ingest_dag


def build_all(catalog=None) -> dict[str, DAG]:
    from govlake.catalog.loader import default_catalog

    catalog = catalog or default_catalog()
    return {r.dag_id: build_ingest_dag(r) for r in catalog.resources.values()}


__all__ = ["build_all", "build_ingest_dag", "business_date"]
