"""The sensor stream's event-driven path through Airflow's own components, end to end.

readings on MQTT → ``govlake stream`` commits a micro-batch and publishes its batch event →
the triggerer runs the asset watcher of ``lake.raw.sensor`` → the scheduler creates an
asset-triggered run of ``load_sensor_batches`` → LocalExecutor runs its tasks, which report
to the Execution API → the rows are in ``raw.sensor__<kind>``.

No ``dag.test()`` here: the api-server, dag-processor, scheduler and triggerer run as
processes (``govlake.orchestration.airflow_services``) on a metadata database of their own on
the test's PostgreSQL, with an AIRFLOW_HOME in a temp folder and a DAGs folder holding only
``sensor_streams.py``.

The broker is a Mosquitto of this test's own (the platform's embedded-broker code, on a free
port), not the machine's shared one: the consumer publishes its batch events to the fixed
topic ``govlake/lake/sensor_batches`` and the DAG's watcher listens to that fixed topic, so
on the shared broker this Airflow would also receive the events of other tests' consumers,
and its load task rightly fails a run announcing a batch its warehouse has no record of.
A broker of its own also keeps the provider's client id (``airflow-<0..1000>``, random)
from colliding with another triggerer's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from govlake import config
from govlake.governance.store import connect
from govlake.orchestration.airflow_services import AirflowServices, port_in_use, running
from govlake.orchestration.sensor_dag import BATCH_EVENT_TOPIC, LOAD_DAG_ID
from govlake.stream import simulator
from govlake.stream.broker import Mosquitto
from govlake.stream.devices import catalog_devices, sample
from govlake.stream.messages import KAIPING
from psycopg import sql

START = datetime(2026, 11, 1, 6, 0, tzinfo=KAIPING)
DEVICES = {"air_quality": 4, "hydrology": 3, "light_pole": 3}
KINDS = tuple(DEVICES)
ASSET_NAME = "lake.raw.sensor"


def _wait(condition: Callable[[], object], what: str, timeout: float, on_fail=None):
    """Poll until ``condition()`` is truthy (its value), or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_fail() if on_fail else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")
        time.sleep(0.2)


class LoggingMosquitto(Mosquitto):
    """The embedded broker's configuration, plus subscriptions in its log: the test waits
    until the triggerer's client has subscribed to the batch-event topic."""

    def write_config(self) -> None:
        super().write_config()
        with self.config_path.open("a", encoding="utf-8") as conf:
            conf.write("log_type subscribe\nlog_type unsubscribe\n")

    def log(self) -> str:
        try:
            return (self.folder / "mosquitto.log").read_text("utf-8", errors="replace")
        except OSError:
            return ""


class EventTimes:
    """An MQTT subscriber to the batch-event topic: when each event was published (to the
    millisecond, on this machine's clock — the broker is local)."""

    def __init__(self, url: str):
        from govlake.stream.broker import mqtt_client

        self.received: dict[str, float] = {}
        self.events: dict[str, dict] = {}
        self.client = mqtt_client(url, f"govlake-test-events-{uuid.uuid4().hex[:8]}",
                                  persistent=False)  # fmt: skip
        self.client.on_message = self._message
        self.client.when_connected(lambda *_: self.client.subscribe(BATCH_EVENT_TOPIC, qos=1))
        self.client.connect_async_and_start()
        self.client.wait_connected(30)

    def _message(self, client, userdata, message) -> None:
        event = json.loads(message.payload)
        self.received.setdefault(event["manifest_key"], time.time())
        self.events.setdefault(event["manifest_key"], event)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LoggingMosquitto]:
    mosquitto = LoggingMosquitto(tmp_path / "broker")
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()
        assert not port_in_use(mosquitto.port), f"the broker's port {mosquitto.port} is not free"


@pytest.fixture
def airflow_metadata(platform: dict) -> Iterator[str]:
    """A PostgreSQL database of its own for Airflow's metadata (its URL)."""
    name = f"t_{uuid.uuid4().hex[:8]}_airflow"
    with psycopg.connect(platform["server"], autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = platform["server"].rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with psycopg.connect(platform["server"], autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))  # fmt: skip


@pytest.fixture
def airflow(platform, broker, airflow_metadata, tmp_path) -> Iterator[AirflowServices]:
    """Airflow's four components, their DAGs folder holding only the sensor DAGs' file."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(config.DAGS_DIR / "sensor_streams.py", dags / "sensor_streams.py")
    services = AirflowServices(
        home=tmp_path / "airflow",
        metadata_url=airflow_metadata,
        dags_folder=dags,
        env={"AIRFLOW_CONN_MQTT_DEFAULT": broker.url, "GOVLAKE_MQTT_URL": broker.url},
    )
    with running(services):
        yield services
    if services.killed:  # stopped all the same; worth knowing
        print(f"\nSIGKILLed after SIGTERM was not enough: {services.killed}")
    for component, process in services.processes.items():
        assert process.poll() is not None, f"the Airflow {component} is still running"
    assert not port_in_use(services.api_port), f"the API port {services.api_port} is not free"


class StreamConsumer:
    """``govlake stream`` as a process of its own, as an operator runs it."""

    def __init__(self, broker_url: str, log_path: Path):
        token = uuid.uuid4().hex[:8]
        self.broker_url = broker_url
        self.client_id = f"govlake-test-consumer-{token}"
        self.topic_root = f"govlake-test/{token}/kaiping/sensors"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "govlake.cli", "stream", "--batch-seconds", "1",
                 "--stop-after", "900", "--client-id", self.client_id,
                 "--topic-root", self.topic_root],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "GOVLAKE_MQTT_URL": self.broker_url},
            )  # fmt: skip
        status_file = config.home() / "stream" / "status.json"

        def subscribed() -> bool:
            with contextlib.suppress(OSError, ValueError):
                status = json.loads(status_file.read_text("utf-8"))
                return status.get("pid") == self.process.pid and status.get("subscribed")
            return False

        _wait(subscribed, "`govlake stream` to subscribe", 60, self.log)

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # flush, acknowledge, stop
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def consumer(platform, broker, tmp_path) -> Iterator[StreamConsumer]:
    stream = StreamConsumer(broker.url, tmp_path / "stream.log")
    try:
        yield stream
    finally:
        stream.stop()


@pytest.fixture
def event_times(broker) -> Iterator[EventTimes]:
    events = EventTimes(broker.url)
    try:
        yield events
    finally:
        events.close()


def _runs(airflow: AirflowServices) -> list[dict]:
    return airflow.api(f"/api/v2/dags/{LOAD_DAG_ID}/dagRuns?order_by=run_after")["dag_runs"]


def _consumed(airflow: AirflowServices, run: dict) -> list[dict]:
    """The asset events a run was started for (what the UI lists as its triggering events)."""
    path = f"/api/v2/dags/{LOAD_DAG_ID}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    return airflow.api(path)["asset_events"]


def _task_instances(airflow: AirflowServices, run: dict) -> list[dict]:
    path = f"/api/v2/dags/{LOAD_DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances"
    return airflow.api(path)["task_instances"]


def _manifest_key(asset_event: dict) -> str | None:
    return ((asset_event.get("extra") or {}).get("payload") or {}).get("manifest_key")


def _committed() -> list[tuple[str, str, int]]:
    with connect() as conn:
        return conn.execute(
            "select manifest_key, batch_id, landed from governance.stream_batch "
            "order by committed_at, kind"
        ).fetchall()


def _raw_count(batch_ids: set[str]) -> int:
    """Rows of these batches queryable in raw (a table not created yet holds none)."""
    total = 0
    with connect() as conn:
        for kind in KINDS:
            if conn.execute("select to_regclass(%s)", (f"raw.sensor__{kind}",)).fetchone()[0]:
                total += conn.execute(
                    f"select count(*) from raw.sensor__{kind} where _batch_id = any(%s)",
                    (list(batch_ids),),
                ).fetchone()[0]
    return total


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def idle(airflow: AirflowServices) -> bool:
    return all(run["state"] in ("success", "failed") for run in _runs(airflow))


class Rounds:
    """Rounds of readings through the whole path; each waits for the asset-triggered run its
    batch events started, and for their rows in raw."""

    def __init__(self, airflow, broker_url, consumer, event_times, diagnostics):
        self.airflow = airflow
        self.broker_url = broker_url
        self.consumer = consumer
        self.event_times = event_times
        self.diagnostics = diagnostics
        self.expected: set[str] = set()
        self.seen_keys: set[str] = set()
        self.seen_runs: set[str] = set()

    def landed_and_announced(self) -> bool:
        batches = _committed()
        announced = {b[0] for b in batches} <= set(self.event_times.received)
        return announced and sum(b[2] for b in batches) == len(self.expected)

    def event_run(self, keys: set[str]) -> dict | None:
        """The new asset-triggered run that consumed one of these batch events."""
        for run in _runs(self.airflow):
            if run["run_type"] != "asset_triggered" or run["dag_run_id"] in self.seen_runs:
                continue
            if keys & {_manifest_key(e) for e in _consumed(self.airflow, run)}:
                return run
        return None

    def round(self, number: int) -> dict:
        result = simulator.publish(
            self.broker_url, devices=sample(catalog_devices(), DEVICES),
            start=START + timedelta(minutes=10 * number), minutes=10, rate=None,
            seed=11 + number, topic_root=self.consumer.topic_root,
        )  # fmt: skip
        self.expected |= result.expected_msg_ids
        _wait(self.landed_and_announced, "every reading committed and its batch event "
              "published", 60, self.diagnostics)  # fmt: skip
        batches = [b for b in _committed() if b[0] not in self.seen_keys]
        keys = {b[0] for b in batches}
        batch_ids = {b[1] for b in batches}
        landed = sum(b[2] for b in batches)
        measured = {"keys": keys, "published_at": min(self.event_times.received[k] for k in keys)}

        def done() -> bool:
            if "rows_at" not in measured and _raw_count(batch_ids) == landed:
                measured["rows_at"] = time.time()
            run = measured["run"] = self.event_run(keys)
            return bool("rows_at" in measured and run and run["state"] in ("success", "failed"))

        _wait(done, f"round {number + 1}: an asset-triggered run for its batch events to "
              "finish and its rows to be in raw", 300, self.diagnostics)  # fmt: skip
        _wait(lambda: idle(self.airflow), "the runs to finish", 300, self.diagnostics)
        self.seen_keys |= keys
        self.seen_runs |= {run["dag_run_id"] for run in _runs(self.airflow)}
        return measured


@pytest.mark.airflow
def test_a_batch_event_starts_an_asset_triggered_run_on_airflow_s_own_components(
    platform, broker, airflow, consumer, event_times
):
    started = time.monotonic()

    def diagnostics() -> str:
        return (f"{airflow.log_tails()}\n--- broker ---\n{broker.log()[-1500:]}\n"
                f"--- govlake stream ---\n{consumer.log()}")  # fmt: skip

    # -- the DAG parsed, unpaused, its watcher registered, its trigger subscribed -----------
    def parsed() -> bool:
        with contextlib.suppress(OSError):
            return airflow.api(f"/api/v2/dags/{LOAD_DAG_ID}")["dag_id"] == LOAD_DAG_ID
        return False

    _wait(parsed, "the dag-processor to parse load_sensor_batches", 120, diagnostics)
    dag_ids = {d["dag_id"] for d in airflow.api("/api/v2/dags")["dags"]}
    assert dag_ids == {LOAD_DAG_ID, "compact_sensor_batches"}  # the sensor DAGs' file only
    airflow.cli("dags", "unpause", LOAD_DAG_ID)

    def watched_asset() -> dict | None:
        (asset,) = airflow.api(f"/api/v2/assets?name_pattern={ASSET_NAME}")["assets"]
        return asset if asset["watchers"] else None

    asset = _wait(watched_asset, "the asset watcher to be registered", 120, diagnostics)
    assert [w["name"] for w in asset["watchers"]] == ["sensor_batch_events"]
    subscription = f" 1 {BATCH_EVENT_TOPIC}"  # Mosquitto logs "<client id> <qos> <topic>"
    _wait(lambda: any(line.split(": ", 1)[-1].startswith("airflow-") and subscription in line
                      for line in broker.log().splitlines()),
          "the triggerer's MQTT client to subscribe to the batch topic", 120,
          diagnostics)  # fmt: skip

    # unpausing starts the run of the latest quarter hour at once (cron, catchup=False); it
    # finds nothing to load. The stream starts after it: the event's run would otherwise
    # queue behind it (max_active_runs=1) and the latency measured would not be the event's
    _wait(lambda: _runs(airflow) and idle(airflow), "the first quarter-hour run to finish",
          300, diagnostics)  # fmt: skip
    initial = _runs(airflow)
    assert initial and all(run["run_type"] == "scheduled" for run in initial), initial
    for run in initial:  # the executor ran them; nothing was there to load
        assert run["state"] == "success", run
        states = {ti["task_id"]: ti["state"] for ti in _task_instances(airflow, run)}
        assert states == {"load": "success", "refresh": "skipped"}, states

    # -- two rounds of readings: committed batches, their events, the runs they start -------
    consumer.start()
    stream = Rounds(airflow, broker.url, consumer, event_times, diagnostics)
    stream.seen_runs |= {run["dag_run_id"] for run in initial}
    rounds = [stream.round(number) for number in range(2)]
    expected = stream.expected
    consumer.stop()

    # -- what an operator checks: the asset's events, the runs they started, the rows -------
    published = event_times.events
    asset_events = airflow.api(f"/api/v2/assets/events?asset_id={asset['id']}")["asset_events"]
    assert sorted(_manifest_key(e) for e in asset_events) == sorted(published), asset_events
    for event in asset_events:  # one per batch event, carrying it as its payload
        assert event["extra"]["from_trigger"] is True and event["source_dag_id"] is None
        payload = event["extra"]["payload"]
        assert payload == {k: v for k, v in published[payload["manifest_key"]].items()
                           if k in payload} and payload["kind"] in KINDS  # fmt: skip

    runs = [
        run for run in _runs(airflow) if run["dag_run_id"] not in {r["dag_run_id"] for r in initial}
    ]
    event_runs = [run for run in runs if run["run_type"] == "asset_triggered"]
    consumed: set[str] = set()
    component_pids = {process.pid for process in airflow.processes.values()}
    for run in event_runs:
        assert run["state"] == "success" and run["triggered_by"] == "asset", run
        assert not run["conf"], run  # started by the events, not by a user's conf
        consumed |= {_manifest_key(e) for e in _consumed(airflow, run)}
        tis = {ti["task_id"]: ti for ti in _task_instances(airflow, run)}
        assert tis["load"]["state"] == "success", tis
        # run by the executor in worker processes of their own, not in a component
        assert all(ti["pid"] and ti["pid"] not in component_pids
                   for ti in tis.values() if ti["state"] == "success")  # fmt: skip
    assert consumed <= set(published)
    # Every event of round 1 was announced to a run. Airflow 3.3.2 gives a run only the
    # events up to the first one queued for it (asset_dag_run_queue.created_at): the other
    # events of a burst wait for the run of the next event (apache/airflow#56050). What
    # still waits must be later than the last run's cut-off — waiting, not dropped.
    assert rounds[0]["keys"] <= consumed
    cutoff = max(_stamp(run["run_after"]) for run in event_runs)
    waiting = [e for e in asset_events if _manifest_key(e) not in consumed]
    assert all(_stamp(e["timestamp"]) > cutoff for e in waiting), (waiting, cutoff)

    first = rounds[0]["run"]
    refresh = {ti["task_id"]: ti["state"] for ti in _task_instances(airflow, first)}["refresh"]
    others = [run for run in runs if run["run_type"] != "asset_triggered"]
    # the event's run loaded new rows, so it rebuilt the sensor models (dbt build) — unless
    # a quarter-hour run, started in between, had loaded them first
    assert refresh == "success" or (refresh == "skipped" and others), (refresh, others)
    with connect() as conn:
        loaded = set()
        for kind in KINDS:
            loaded |= {r[0] for r in conn.execute(f"select msg_id from raw.sensor__{kind}")}
        assert loaded == expected
        batch_states = dict(conn.execute(
            "select manifest_key, state from governance.stream_batch").fetchall())  # fmt: skip
        assert set(batch_states) == set(published)
        assert set(batch_states.values()) == {"loaded"}
        assert conn.execute("select count(*) from sensor.air_quality_hourly").fetchone()[0] > 0

    lines = []
    for number, measured in enumerate(rounds, 1):
        run, at = measured["run"], measured["published_at"]
        lines.append(
            f"round {number}: {len(measured['keys'])} batch events → run queued "
            f"{_stamp(run['queued_at']) - at:.1f}s, started {_stamp(run['start_date']) - at:.1f}s, "
            f"rows queryable {measured['rows_at'] - at:.1f}s, run finished "
            f"{_stamp(run['end_date']) - at:.1f}s after the first event"
            + (" (a quarter-hour run came first)" if any(
                at <= _stamp(other["start_date"]) <= _stamp(run["start_date"])
                for other in others) else "")
        )  # fmt: skip
    print(
        "\nevent-driven path through Airflow's components (" + f"{len(event_runs)} asset-triggered"
        f" runs, {len(others)} other, {len(waiting)} event(s) waiting for the next; refresh "
        f"{refresh}; test {time.monotonic() - started:.0f}s):\n  " + "\n  ".join(lines)
    )
