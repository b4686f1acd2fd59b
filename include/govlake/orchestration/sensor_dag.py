"""The sensor stream's two DAGs: loading each committed micro-batch, compacting each day.

``load_sensor_batches`` is event-driven (Airflow 3 assets with a watcher). After each
committed micro-batch the consumer publishes an event per kind to the MQTT topic
``govlake/lake/sensor_batches`` (``{"manifest_key": ..., "kind": ..., "landed": ...}``).
The asset ``lake.raw.sensor`` watches that topic: its ``AssetWatcher`` runs the
common.messaging ``MessageQueueTrigger`` (scheme ``mqtt``, which resolves to the mqtt
provider's ``AwaitMessageTrigger``) in the triggerer, connected through the Airflow
connection ``mqtt_default``; every event becomes an asset event whose ``extra.payload`` is
the batch event, and the scheduler starts a run for the events queued since the last one.
A cron timetable (every 15 minutes) is or-ed with the asset: the provider's trigger holds a
clean MQTT session with QoS 0 delivery, so an event published while the triggerer is down
or reconnecting is lost — the periodic run loads whatever such an event announced.

- ``load``: ``load_pending()`` — every committed, unloaded batch, oldest first (loading is
  idempotent) — then checks that every batch the run's events announced is loaded;
- ``refresh``: ``dbt build --select path:models/staging/sensor path:models/sensor`` (and
  ``path:seeds/sensor``: the device fleet the staging models join).
  Skipped (visibly) when the load added no row; succeeds without dbt only while those
  folders hold no model at all; any other outcome of dbt fails the task.

``compact_sensor_batches`` runs at 03:30 Kaiping time and compacts the previous day's
micro-batches into one Parquet file per kind (``govlake.stream.compact``).

Parsing these DAGs opens no connection: the trigger is only instantiated (its MQTT client
is created by the triggerer), and tasks import the stream's modules when they run.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from govlake.config import TIMEZONE
from govlake.orchestration.dag_factory import START_DATE, business_date

LOAD_DAG_ID = "load_sensor_batches"
COMPACT_DAG_ID = "compact_sensor_batches"
# the consumer's BATCH_EVENT_TOPIC (govlake.stream.consumer; a test keeps them equal —
# importing the consumer here would load psycopg and Arrow at every parse)
BATCH_EVENT_TOPIC = "govlake/lake/sensor_batches"
# the mqtt provider 0.2.0 hook ignores the id it is given (MqttSubscriberHook passes
# `mqtt_conn_id`, MqttBaseHook takes `mqtt_config_id`): its default is the one used
MQTT_CONN_ID = "mqtt_default"
CATCH_UP_CRON = "*/15 * * * *"
SENSOR_MODEL_DIRS = ("models/staging/sensor", "models/sensor")
# the models read the device fleet from this seed (stg_sensor__device): built with them, so
# that a warehouse the libraries DAG has not built yet still gets it
SENSOR_SEED_DIR = "seeds/sensor"
OWNER = "govdata"
EVENT_FIELDS = ("manifest_key", "kind", "batch_id", "ingest_date", "received", "landed",
                "duplicates", "quarantined")  # fmt: skip

log = logging.getLogger("govlake.orchestration.sensor")


def batch_event(message: Any) -> dict | None:
    """The trigger's ``apply_function``: an MQTT message → the asset event's payload.

    Runs in the triggerer for each message on the topic; it must never raise (the
    provider's trigger ends on an exception), so anything that is not a batch event of the
    consumer gives None, which the trigger drops.
    """
    try:
        event = json.loads(message.payload)
    except (AttributeError, TypeError, ValueError):
        return None
    if not isinstance(event, dict) or not isinstance(event.get("manifest_key"), str):
        return None
    return {name: event[name] for name in EVENT_FIELDS if name in event}


def batch_event_trigger():
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    return MessageQueueTrigger(
        scheme="mqtt",
        topics=[[BATCH_EVENT_TOPIC, 1]],
        mqtt_conn_id=MQTT_CONN_ID,
        apply_function=f"{__name__}.batch_event",
    )


def sensor_batches_asset() -> Asset:
    """The lake's sensor zone, updated by every committed micro-batch (event-driven)."""
    return Asset(
        name="lake.raw.sensor",
        uri="s3://govlake/raw/sensor",
        group="lake",
        watchers=[AssetWatcher(name="sensor_batch_events", trigger=batch_event_trigger())],
    )


def raw_sensor_asset() -> Asset:
    return Asset(
        name="raw.sensor",
        uri="postgres://warehouse:5432/govlake/raw/sensor",
        group="warehouse",
    )


def announced(context: dict[str, Any]) -> list[str]:
    """The manifest keys a run was started for: its triggering asset events' payloads,
    and ``params.manifest_keys`` of a manual run."""
    keys: list[str] = []
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        for event in asset_events:
            payload = (getattr(event, "extra", None) or {}).get("payload") or {}
            if isinstance(payload, dict) and isinstance(payload.get("manifest_key"), str):
                keys.append(payload["manifest_key"])
    for key in (context.get("params") or {}).get("manifest_keys") or []:
        keys.append(str(key))
    return list(dict.fromkeys(keys))


def load_batches(manifest_keys: list[str]) -> dict:
    """Load every committed batch not loaded yet, then check the announced ones are."""
    from govlake.governance.store import connect
    from govlake.stream.load import load_pending

    results = load_pending()
    failed = [r for r in results if not r.reconciled]
    if failed:
        described = ", ".join(
            f"{r.kind}/{r.batch_id}: landed {r.landed} ≠ loaded {r.loaded_rows} + conflicts "
            f"{r.conflicts}"
            for r in failed
        )
        raise RuntimeError(f"对账失败 counts do not reconcile for {described}")
    states = {}
    if manifest_keys:
        with connect() as conn:
            states = dict(
                conn.execute(
                    "select manifest_key, state from governance.stream_batch where "
                    "manifest_key = any(%s)",
                    (manifest_keys,),
                ).fetchall()
            )
    unknown = [key for key in manifest_keys if key not in states]
    if unknown:
        raise RuntimeError(
            f"{len(unknown)} announced batch(es) have no commit record in this warehouse "
            f"(first: {unknown[0]}): the event came from a consumer writing elsewhere — check "
            f"that GOVLAKE_PG_URL and the object store of the consumer and of Airflow agree"
        )
    unloaded = [key for key, state in states.items() if state != "loaded"]
    if unloaded:
        raise RuntimeError(f"announced batches still not loaded: {unloaded[:5]}")
    inserted: dict[str, int] = {}
    for r in results:
        inserted[r.kind] = inserted.get(r.kind, 0) + r.inserted
    return {
        "announced": len(manifest_keys),
        "batches_loaded": len(results),
        "rows_inserted": sum(inserted.values()),
        "rows_by_kind": inserted,
        "conflicts": sum(r.conflicts for r in results),
    }


def sensor_model_files() -> list[Path]:
    from govlake.transform.dbt import DBT_DIR

    return sorted(
        path for folder in SENSOR_MODEL_DIRS for path in (DBT_DIR / folder).rglob("*.sql")
    )


def refresh_sensor_models() -> dict:
    """``dbt build`` of the sensor models (staging and marts) and their tests."""
    from govlake import config
    from govlake.transform.dbt import DBT_DIR, run_dbt
    from govlake.transform.prepare import prepare_warehouse

    models = sensor_model_files()
    if not models:
        log.warning("no sensor dbt models yet (%s hold no .sql file): nothing to build",
                    " and ".join(SENSOR_MODEL_DIRS))  # fmt: skip
        return {"models": 0, "built": False}
    prepare_warehouse()  # the check functions and code sets the models' tests call
    target = config.home() / "dbt" / "sensor-target"  # not target/: the DAG parser reads it
    seeds = [SENSOR_SEED_DIR] if (DBT_DIR / SENSOR_SEED_DIR).is_dir() else []
    result = run_dbt(
        "build", "--select", *(f"path:{folder}" for folder in [*seeds, *SENSOR_MODEL_DIRS]),
        "--target-path", str(target), capture=True,
    )  # fmt: skip
    output = result.stdout or ""
    print(output[-20000:])
    if result.returncode != 0:
        raise RuntimeError(f"dbt build of the sensor models failed (exit {result.returncode}):\n"
                           f"{output[-4000:]}")  # fmt: skip
    if "Nothing to do" in output or "does not match any enabled nodes" in output:
        raise RuntimeError(
            f"{len(models)} sensor model file(s) exist but dbt selected nothing: check that "
            f"they are enabled and parse ({', '.join(p.name for p in models[:5])})"
        )
    return {"models": len(models), "built": True}


def _load_doc() -> str:
    return (
        __doc__
        + f"""
#### 故障处理 Triage
- *load failed*: nothing half-loaded stays (one transaction per batch). "no commit record"
  means an event from a consumer writing to another warehouse or store; "does not
  reconcile" or a checksum error names the batch — see `governance.stream_batch` and
  `govlake stream --status`. Clear the task: loading is idempotent.
- *refresh failed*: a sensor model or its test failed — the log has dbt's output. Run it
  by hand: `govlake dbt run build --select path:models/staging/sensor path:models/sensor`.
- *no runs although batches land*: the triggerer must be running and the connection
  `{MQTT_CONN_ID}` (`AIRFLOW_CONN_{MQTT_CONN_ID.upper()}=mqtt://host:1883`) must reach the
  broker the consumer publishes to; the 15-minute catch-up run loads what was missed.
- load a batch by hand: trigger with `{{"manifest_keys": ["raw/sensor/.../_manifest.json"]}}`.
"""
    )


def build_sensor_load_dag() -> DAG:
    from airflow.sdk import AssetOrTimeSchedule

    with DAG(
        dag_id=LOAD_DAG_ID,
        description="物联感知 Load each committed sensor micro-batch into raw, refresh the models",
        doc_md=_load_doc(),
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(CATCH_UP_CRON, timezone=TIMEZONE),
            assets=[sensor_batches_asset()],
        ),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sensor", "stream", "freq:realtime"],
        default_args={
            "owner": OWNER,
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
        },
        params={
            "manifest_keys": Param(
                [], type="array", description="manifest keys to check as loaded (manual run)"
            )
        },
    ) as dag:

        @task(task_id="load", outlets=[raw_sensor_asset()])
        def load(**context: Any) -> dict:
            return load_batches(announced(context))

        @task(task_id="refresh")
        def refresh(loaded: dict) -> dict:
            from airflow.sdk.exceptions import AirflowSkipException

            if not loaded["rows_inserted"]:
                raise AirflowSkipException("no new sensor rows: the models are current")
            return refresh_sensor_models()

        refresh(load())
    return dag


def build_sensor_compaction_dag() -> DAG:
    with DAG(
        dag_id=COMPACT_DAG_ID,
        description="物联感知 Compact the day's sensor micro-batches: one file per kind and day",
        doc_md=(
            """### 传感器批次合并 Nightly compaction of the sensor micro-batches

At 03:30 Kaiping time, for the day before: every kind's committed micro-batches of the
day are rewritten as one Parquet batch with its manifest and commit record; the small ones
are deleted from the store once it is committed (`governance.stream_compaction` lists
them). Rows in `raw.sensor__<kind>` do not change. See `govlake.stream.compact`.

#### 故障处理 Triage
A failed run changed nothing that was committed: a compacted batch written but not
committed is removed by the next run, and sources still in the store after a committed
compaction are removed then too. "checksum" names a damaged part in the store; "another
compaction … is running" means a run is still going. Rerun a day with
`{"business_date": "YYYY-MM-DD"}`: a day already compacted is a no-op.
"""
        ),
        schedule=CronTriggerTimetable("30 3 * * *", timezone=TIMEZONE, interval=timedelta(days=1)),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sensor", "stream", "freq:daily"],
        default_args={"owner": OWNER, "retries": 2, "retry_delay": timedelta(minutes=5)},
        params={
            "business_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="ingest date to compact, YYYY-MM-DD (default: the day before)",
            )
        },
    ) as dag:

        @task(task_id="compact")
        def compact(**context: Any) -> list[dict]:
            from govlake.stream.compact import compact_day

            results = compact_day(business_date(context))
            return [
                {"kind": r.kind, "ingest_date": r.ingest_date.isoformat(),
                 "batch_id": r.batch_id, "sources": r.sources, "rows": r.rows,
                 "bytes": r.bytes, "removed": r.removed, "tidied": r.tidied}
                for r in results
            ]  # fmt: skip

        compact()
    return dag
