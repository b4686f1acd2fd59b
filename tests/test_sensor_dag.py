"""The sensor stream's orchestration: the event-driven load DAG, the nightly compaction, the
stream's commands.

Against the real Mosquitto (``mqtt_url``: fails, never skips, when it is unreachable), the
real consumer, PostgreSQL and Airflow (``dag.test()``). Each test keeps to a topic root and
client id of its own and removes its consumer's persistent session when it ends. The
batch events go to the consumer's real topic (``govlake/lake/sensor_batches``): a test
only counts the events of its own consumer (batch ids end with its client tag).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from govlake import config
from govlake.governance.store import connect
from govlake.lake.storage import open_store
from govlake.stream import simulator
from govlake.stream.broker import parse_url
from govlake.stream.consumer import StreamConsumer, client_tag
from govlake.stream.devices import catalog_devices, sample
from govlake.stream.messages import KAIPING
from typer.testing import CliRunner

from tests._helpers import table_checksum

START = datetime(2026, 11, 1, 6, 0, tzinfo=KAIPING)
DEVICES = {"air_quality": 4, "hydrology": 3, "light_pole": 3}
KINDS = tuple(DEVICES)
SENSOR_DAGS = config.DAGS_DIR / "sensor_streams.py"


# -- helpers -------------------------------------------------------------------------------
def _clear_session(url: str, client_id: str) -> None:
    """Remove a persistent session from the broker (clean start, session expiry 0)."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    address = parse_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    with contextlib.suppress(OSError):
        client.connect(address.host, address.port, clean_start=True, properties=properties)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def _wait(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Stream:
    """One test's topic root and consumer client id."""

    def __init__(self, url: str):
        token = uuid.uuid4().hex[:10]
        self.url = url
        self.topic_root = f"govlake-test/{token}/kaiping/sensors"
        self.client_id = f"govlake-test-consumer-{token}"
        self.tag = client_tag(self.client_id)
        self.devices = sample(catalog_devices(), DEVICES)

    def consume(self, **options) -> tuple[StreamConsumer, threading.Thread]:
        """The real consumer in a thread, until 3 s without a message."""
        consumer = StreamConsumer(
            self.url, client_id=self.client_id, topic_root=self.topic_root,
            **{"batch_seconds": 0.3, "batch_messages": 40, **options},
        )  # fmt: skip
        thread = threading.Thread(target=consumer.run, kwargs={"idle_exit": 3.0}, daemon=True)
        thread.start()
        if not consumer.subscribed.wait(30):
            pytest.fail("the consumer did not subscribe")
        return consumer, thread

    def publish(self, **options) -> simulator.SimulationResult:
        options = {"devices": self.devices, "start": START, "topic_root": self.topic_root,
                   "minutes": 30, "rate": None, "seed": 8, **options}  # fmt: skip
        return simulator.publish(self.url, **options)


@pytest.fixture
def stream(platform, mqtt_url) -> Iterator[Stream]:
    s = Stream(mqtt_url)
    try:
        yield s
    finally:
        _clear_session(mqtt_url, s.client_id)


def committed() -> list[tuple[str, str, str, int]]:
    with connect() as conn:
        return conn.execute(
            "select kind, batch_id, manifest_key, landed from governance.stream_batch "
            "where client_id <> 'compaction' order by committed_at, kind"
        ).fetchall()


def raw_rows(kind: str) -> dict[str, tuple]:
    """msg_id → every column but _batch_id and _loaded_at."""
    with connect() as conn:
        cursor = conn.execute(f"select * from raw.sensor__{kind} order by msg_id")
        names = [d.name for d in cursor.description]
        keep = [i for i, n in enumerate(names) if n not in ("_batch_id", "_loaded_at")]
        return {row[0]: tuple(row[i] for i in keep) for row in cursor}


# -- the DAGs as Airflow parses them -------------------------------------------------------
def test_the_sensor_dags_parse_without_connections_and_watch_the_batch_topic(
    airflow_db, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag
    from govlake.orchestration import sensor_dag
    from govlake.orchestration.dag_factory import FIXED_TAGS
    from govlake.stream.consumer import BATCH_EVENT_TOPIC

    attempts: list[object] = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError(f"DAG parsing tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    bag = DagBag(dag_folder=str(SENSOR_DAGS))
    assert bag.import_errors == {} and attempts == []
    assert set(bag.dag_ids) == {sensor_dag.LOAD_DAG_ID, sensor_dag.COMPACT_DAG_ID}

    load = bag.dags[sensor_dag.LOAD_DAG_ID]
    assert type(load.timetable).__name__ == "AssetOrTimeSchedule"
    assert load.timetable.timetable.summary == sensor_dag.CATCH_UP_CRON
    (asset,) = load.timetable.asset_condition.objects
    (watcher,) = asset.watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow.providers.mqtt.triggers.await_message.AwaitMessageTrigger"
    assert [list(t) for t in kwargs["topics"]] == [[BATCH_EVENT_TOPIC, 1]]
    assert sensor_dag.BATCH_EVENT_TOPIC == BATCH_EVENT_TOPIC
    module, name = kwargs["apply_function"].rsplit(".", 1)
    assert getattr(__import__(module, fromlist=[name]), name) is sensor_dag.batch_event
    assert [t.task_id for t in load.tasks] == ["load", "refresh"]
    assert load.task_dict["refresh"].upstream_task_ids == {"load"}

    compact = bag.dags[sensor_dag.COMPACT_DAG_ID]
    assert compact.timetable.summary == "30 3 * * *"
    assert str(compact.timezone) == "Asia/Shanghai"
    for dag in (load, compact):
        assert "Triage" in dag.doc_md and not dag.catchup and dag.max_active_runs == 1
        assert {"sensor", "stream"} <= set(dag.tags) <= FIXED_TAGS
        assert all(t.owner == "govdata" and t.retries >= 2 for t in dag.tasks)


def test_the_trigger_keeps_batch_events_and_the_run_knows_what_it_was_started_for():
    from govlake.orchestration.sensor_dag import announced, batch_event

    class Message:
        def __init__(self, payload: bytes):
            self.payload = payload

    event = {"manifest_key": "raw/sensor/hydrology/ingest_date=2026-11-01/batch=b/"
             "_manifest.json", "kind": "hydrology", "landed": 3, "noise": 1}  # fmt: skip
    assert batch_event(Message(json.dumps(event).encode())) == {
        k: v for k, v in event.items() if k != "noise"
    }
    for junk in (b"not json", b"[1]", b'{"kind": "x"}', b"\xff", None):
        assert batch_event(Message(junk)) is None  # dropped, never raised

    class AssetEvent:
        def __init__(self, payload):
            self.extra = {"from_trigger": True, "payload": payload}

    context = {
        "triggering_asset_events": {
            "lake.raw.sensor": [
                AssetEvent({"manifest_key": "a"}),
                AssetEvent({"x": 1}),
                AssetEvent({"manifest_key": "b"}),
                AssetEvent({"manifest_key": "a"}),
            ]
        },
        "params": {"manifest_keys": ["c"]},
    }
    assert announced(context) == ["a", "b", "c"]
    assert announced({"params": {}}) == []


class TriggerWatch:
    """The load DAG's own asset-watcher trigger, run as the triggerer runs it (asyncio),
    collecting the events of one consumer."""

    def __init__(self, trigger, tag: str):
        self.trigger = getattr(trigger, "trigger", trigger)  # MessageQueueTrigger → MQTT's
        self.tag = tag
        self.payloads: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.task = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self._collect())
        with contextlib.suppress(BaseException):
            self.loop.run_until_complete(self.task)

    async def _collect(self) -> None:
        async for event in self.trigger.run():
            key = event.payload.get("manifest_key", "")
            if key.rsplit("/", 2)[-2].endswith(f"-{self.tag}"):
                self.payloads.append(event.payload)

    def start(self) -> TriggerWatch:
        self.thread.start()
        _wait(lambda: getattr(self.trigger, "_subscriber", None) is not None,
              "the trigger to subscribe", timeout=30)  # fmt: skip
        return self

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)
        subscriber = getattr(self.trigger, "_subscriber", None)
        if subscriber is not None:  # the provider's cleanup needs Python 3.13's Queue.shutdown
            with contextlib.suppress(Exception):
                subscriber._client.disconnect()
                subscriber._client.loop_stop()


@pytest.mark.airflow
def test_a_committed_micro_batch_event_triggers_a_dag_run_that_loads_it(
    stream, airflow_db, monkeypatch
):
    from govlake.orchestration.sensor_dag import build_sensor_load_dag, sensor_batches_asset

    address = parse_url(stream.url)
    monkeypatch.setenv("AIRFLOW_CONN_MQTT_DEFAULT", f"mqtt://{address.host}:{address.port}")
    watch = TriggerWatch(sensor_batches_asset().watchers[0].trigger, stream.tag).start()
    try:
        _, thread = stream.consume()  # publishes its batch events (the real topic)
        result = stream.publish(minutes=20)
        thread.join(60)
        batches = committed()
        assert batches and sum(b[3] for b in batches) == len(result.expected_msg_ids)
        keys = [b[2] for b in batches]
        _wait(lambda: set(keys) <= {p["manifest_key"] for p in watch.payloads},
              "an asset event for every committed batch", timeout=30)  # fmt: skip
    finally:
        watch.stop()
    with connect() as conn:  # nothing is in raw before the DAG runs
        assert conn.execute("select to_regclass('raw.sensor__air_quality')").fetchone()[0] is None

    announced = list(dict.fromkeys(p["manifest_key"] for p in watch.payloads))
    dag = build_sensor_load_dag()
    run = dag.test(run_conf={"manifest_keys": announced})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    assert states == {"load": "success", "refresh": "success"}

    loaded = set()
    for kind in KINDS:
        rows = raw_rows(kind)
        assert rows and not loaded & set(rows)
        loaded |= set(rows)
    assert loaded == result.expected_msg_ids
    with connect() as conn:
        assert (
            conn.execute(
                "select count(*) from governance.stream_batch where state <> 'loaded'"
            ).fetchone()[0]
            == 0
        )
        # refresh built the sensor models from what was loaded
        assert conn.execute("select count(*) from sensor.air_quality_hourly").fetchone()[0] > 0

    again = dag.test(run_conf={"manifest_keys": announced})  # idempotent; nothing new
    states = {ti.task_id: str(ti.state) for ti in again.get_task_instances()}
    assert states == {"load": "success", "refresh": "skipped"}
    assert set().union(*(raw_rows(kind) for kind in KINDS)) == result.expected_msg_ids


# -- compaction ----------------------------------------------------------------------------
def test_compaction_leaves_one_file_per_kind_and_day_and_the_rows_identical(stream, monkeypatch):
    from govlake.stream import compact
    from govlake.stream.load import load_pending, load_stream_batch

    _, thread = stream.consume()
    result = stream.publish()
    thread.join(60)
    load_pending()
    before = {kind: raw_rows(kind) for kind in KINDS}
    checksums = {kind: table_checksum(f"raw.sensor__{kind}", "msg_id") for kind in KINDS}
    assert set().union(*before.values()) == result.expected_msg_ids
    sources = committed()
    with connect() as conn:
        days = {
            d for (d,) in conn.execute("select distinct ingest_date from governance.stream_batch")
        }
    assert all(sum(1 for b in sources if b[0] == kind) >= 2 for kind in KINDS)
    store = open_store()
    quarantine_before = set(store.list("quarantine/sensor/"))

    # a run dying after writing the compacted batch, before committing it
    def die(*args, **kwargs):
        raise RuntimeError("killed before the commit")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError, match="before the"):
        patched.setattr(compact, "_commit", die)
        compact.compact_day(min(days), ["air_quality"])
    assert any(compact.MARKER in key for key in store.list("raw/sensor/air_quality/"))
    assert committed() == sources  # nothing was committed, nothing removed

    results = [r for day in sorted(days) for r in compact.compact_day(day)]
    assert sum(r.tidied for r in results) == 1  # the dead run's batch, removed first
    assert sum(r.rows for r in results) == len(result.expected_msg_ids)
    assert sum(r.sources for r in results if r.compacted) == sum(1 for b in sources if b[3])
    manifests = [k for k in store.list("raw/sensor/") if k.endswith("_manifest.json")]
    per_kind_day = {tuple(k.split("/")[2:4]) for k in manifests}
    assert len(manifests) == len(per_kind_day)  # one batch per kind and day
    assert all(compact.MARKER in k for k in manifests)
    parts = [k for k in store.list("raw/sensor/") if k.endswith(".parquet")]
    assert len(parts) == len(manifests)
    assert set(store.list("quarantine/sensor/")) == quarantine_before  # kept
    with connect() as conn:
        superseded = conn.execute(
            "select count(*), count(removed_at) from governance.stream_compaction"
        ).fetchone()
    assert superseded == (sum(1 for b in sources if b[3]),) * 2

    # raw did not change; loading a compacted batch again adds nothing
    assert {kind: table_checksum(f"raw.sensor__{kind}", "msg_id") for kind in KINDS} == checksums
    for key in manifests:
        loaded = load_stream_batch(key)
        assert loaded.inserted == 0 and loaded.reconciled
    assert {kind: table_checksum(f"raw.sensor__{kind}", "msg_id") for kind in KINDS} == checksums

    # a rebuild of raw from the lake gives the same rows, value for value
    with connect() as conn:
        for kind in KINDS:
            conn.execute(f"drop table raw.sensor__{kind}")
        conn.execute(
            "update governance.stream_batch set state = 'landed', loaded_rows = null, "
            "load_conflicts = null, loaded_at = null where client_id = 'compaction'"
        )
    rebuilt = load_pending()
    assert len(rebuilt) == len(manifests) and all(r.reconciled for r in rebuilt)
    assert {kind: raw_rows(kind) for kind in KINDS} == before

    # a second run has nothing to do
    again = [r for day in sorted(days) for r in compact.compact_day(day)]
    assert not any(r.compacted for r in again)


# -- the commands --------------------------------------------------------------------------
def test_simulate_sensors_and_stream_status_from_the_command_line(stream, monkeypatch, tmp_path):
    from govlake.cli import app

    runner = CliRunner()
    missing = runner.invoke(app, ["stream", "--status"])
    assert missing.exit_code == 1 and "no stream consumer" in missing.output

    monkeypatch.setenv("GOVLAKE_MQTT_URL", stream.url)
    log = (tmp_path / "stream.log").open("wb")
    consumer = subprocess.Popen(
        [sys.executable, "-m", "govlake.cli", "stream", "--batch-seconds", "0.5",
         "--stop-after", "120", "--client-id", stream.client_id,
         "--topic-root", stream.topic_root],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    status_file = config.home() / "stream" / "status.json"

    def status() -> dict:
        try:
            return json.loads(status_file.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    try:
        _wait(lambda: status().get("pid") == consumer.pid and status().get("subscribed"),
              "`govlake stream` to subscribe")  # fmt: skip
        published = runner.invoke(
            app,
            ["simulate", "sensors", "--minutes", "15", "--rate", "400", "--seed", "4",
             "--start", "2026-11-01T08:00", "--topic-root", stream.topic_root],
        )  # fmt: skip
        assert published.exit_code == 0, published.output
        truth = Path(published.output.split("truth file:")[1].split()[0])
        summary = json.loads(truth.with_suffix(".summary.json").read_text("utf-8"))
        assert summary["start"] == "2026-11-01T08:00:00+08:00" and summary["seed"] == 4
        assert "published" in published.output
        expected = summary["expected_landed"]
        _wait(lambda: status().get("totals", {}).get("landed", 0) >= expected,
              "every reading to land")  # fmt: skip
        running = runner.invoke(app, ["stream", "--status"])
        assert running.exit_code == 0 and "running" in running.output
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(60) == 0, (tmp_path / "stream.log").read_text()
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()

    shown = runner.invoke(app, ["stream", "--status"])
    assert shown.exit_code == 0, shown.output
    totals = status()["totals"]
    assert totals["landed"] == expected and totals["reconciles"]
    assert totals["received"] == summary["published"]
    for text in ("stopped", "received", str(totals["received"]), "receive lag", "reconciles"):
        assert text in shown.output, (text, shown.output)
