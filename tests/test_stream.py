"""The sensor stream: MQTT into the lake with an exactly-once effect.

Against a real Mosquitto: ``GOVLAKE_TEST_MQTT_URL`` (default 127.0.0.1:1883); the tests
FAIL, never skip, when it is unreachable. The broker-restart test starts a Mosquitto of
its own (``govlake.stream.broker.Mosquitto``, persistence on) rather than restarting the
machine's, which other work may be using. Each test uses a topic root and client ids of
its own and removes its persistent sessions from the broker when it ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pyarrow.parquet as pq
import pytest
from govlake import config
from govlake.governance.store import connect
from govlake.lake.storage import open_store
from govlake.stream import simulator
from govlake.stream.broker import Mosquitto, reachable
from govlake.stream.checks import RealtimeChecks
from govlake.stream.consumer import StreamConsumer
from govlake.stream.devices import catalog_devices, device_index, sample
from govlake.stream.landing import read_stream_manifest
from govlake.stream.load import StreamLoadError, load_pending, load_stream_batch
from govlake.stream.messages import KAIPING, MalformedMessage, encode, parse, payload, topic_for
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests._helpers import table_checksum

MQTT_URL = os.environ.get("GOVLAKE_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
START = datetime(2026, 11, 1, 6, 0, tzinfo=KAIPING)
DEVICES = {"air_quality": 6, "hydrology": 4, "light_pole": 4}


@pytest.fixture(scope="module")
def fleet():
    return catalog_devices()


@pytest.fixture
def devices(fleet):
    return sample(fleet, DEVICES)


@pytest.fixture
def mqtt_url() -> str:
    why = reachable(MQTT_URL)
    if why is not None:
        pytest.fail(
            f"Mosquitto is required for the stream tests and is not reachable at {MQTT_URL} "
            f"({why}). Start it: `mosquitto -d -c /etc/mosquitto/mosquitto.conf`, or set "
            f"GOVLAKE_TEST_MQTT_URL to a broker's URL."
        )
    return MQTT_URL


def _clear_session(url: str, client_id: str) -> None:
    """Remove a persistent session from the broker (clean start, session expiry 0)."""
    from govlake.stream.broker import parse_url

    address = parse_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    try:
        client.connect(address.host, address.port, clean_start=True, properties=properties)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


class Stream:
    """One test's stream: its topic root, consumer client id, consumer processes."""

    def __init__(self, url: str, tmp_path: Path, devices):
        self.url = url
        self.tmp_path = tmp_path
        self.devices = devices
        token = uuid.uuid4().hex[:10]
        self.topic_root = f"govlake-test/{token}/kaiping/sensors"
        self.client_id = f"govlake-test-consumer-{token}"
        self.processes: list[subprocess.Popen] = []
        self.urls_used = {url}

    # -- the consumer as a process of its own ------------------------------------------------
    def start_consumer(self, *args: str, url: str | None = None) -> subprocess.Popen:
        url = url or self.url
        self.urls_used.add(url)
        log = (self.tmp_path / f"consumer-{len(self.processes)}.log").open("wb")
        command = [
            sys.executable, "-m", "govlake.stream.consumer", "--broker", url,
            "--client-id", self.client_id, "--topic-root", self.topic_root,
            "--no-batch-events", *args,
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        self.wait(
            lambda s: s.get("pid") == process.pid and s.get("subscribed"),
            "the consumer to subscribe",
            process=process,
        )
        return process

    def status(self) -> dict:
        try:
            return json.loads((config.home() / "stream" / "status.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def log(self) -> str:
        return "\n".join(
            path.read_text("utf-8", errors="replace")[-3000:]
            for path in sorted(self.tmp_path.glob("consumer-*.log"))
        )

    def wait(
        self,
        condition: Callable[[dict], bool],
        what: str,
        timeout: float = 60.0,
        process: subprocess.Popen | None = None,
    ) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if condition(status):
                return status
            if process is not None and process.poll() is not None:
                pytest.fail(f"the consumer exited ({process.returncode}) waiting for {what}:\n"
                            f"{self.log()}")  # fmt: skip
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; status {self.status()}\n{self.log()}")

    def stop(self, process: subprocess.Popen, timeout: float = 60.0) -> int:
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout)

    def finish(self, process: subprocess.Popen, timeout: float = 120.0) -> int:
        """Wait for a consumer started with --idle-exit to drain and exit."""
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the consumer did not finish in {timeout}s:\n{self.log()}")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for url in self.urls_used:
            if reachable(url) is None:
                _clear_session(url, self.client_id)

    # -- publishing --------------------------------------------------------------------------
    def publish(self, **options) -> simulator.SimulationResult:
        options = {
            "devices": self.devices,
            "start": START,
            "topic_root": self.topic_root,
            **options,
        }
        return simulator.publish(options.pop("url", self.url), **options)

    def publish_in_background(self, **options) -> tuple[threading.Thread, dict]:
        outcome: dict = {}

        def target() -> None:
            try:
                outcome["result"] = self.publish(**options)
            except BaseException as error:
                outcome["error"] = error

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        return thread, outcome

    def send(self, topic: str, data: bytes) -> None:
        """One raw message, QoS 1, acknowledged by the broker."""
        client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        from govlake.stream.broker import parse_url

        address = parse_url(self.url)
        client.connect(address.host, address.port)
        client.loop_start()
        client.publish(topic, data, qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()


@pytest.fixture
def stream(platform, mqtt_url, tmp_path, devices):
    s = Stream(mqtt_url, tmp_path, devices)
    try:
        yield s
    finally:
        s.close()


# -- reading back what landed -------------------------------------------------------------
def total(status: dict, name: str) -> int:
    return status.get("totals", {}).get(name, 0)


def committed_batches() -> list[tuple]:
    with connect() as conn:
        return conn.execute(
            "select kind, batch_id, manifest_key, received, landed, duplicates, quarantined, "
            "state from governance.stream_batch order by committed_at, kind"
        ).fetchall()


def lake_msg_ids() -> Counter:
    """msg_id → how many committed batches in the object store hold it."""
    store = open_store()
    found: Counter = Counter()
    for _kind, _batch, key, *_ in committed_batches():
        manifest = read_stream_manifest(store, key)
        for part in manifest.parts:
            local = config.home() / "part.parquet"
            store.download(part["key"], local)
            found.update(pq.read_table(local, columns=["msg_id"]).column("msg_id").to_pylist())
    return found


def manifests_in_lake() -> set[str]:
    return {k for k in open_store().list("raw/sensor/") if k.endswith("/_manifest.json")}


def assert_exactly_once(result: simulator.SimulationResult) -> None:
    landed = lake_msg_ids()
    twice = {m: n for m, n in landed.items() if n > 1}
    assert not twice, f"msg_ids landed more than once: {list(twice)[:10]}"
    missing = result.expected_msg_ids - set(landed)
    assert not missing, f"{len(missing)} msg_ids never landed: {sorted(missing)[:10]}"
    assert set(landed) == result.expected_msg_ids
    assert len(landed) == result.published - result.duplicates - result.quarantined
    # every manifest in the lake is a committed batch: no orphan survived
    assert manifests_in_lake() == {row[2] for row in committed_batches()}
    # every micro-batch reconciles (the CHECK constraint makes any other impossible)
    for kind, batch_id, _key, received, landed_n, duplicates, quarantined, _ in committed_batches():
        assert received == landed_n + duplicates + quarantined, (kind, batch_id)

    results = load_pending()
    assert all(r.reconciled for r in results)
    with connect() as conn:
        rows = 0
        for kind in DEVICES:
            count, distinct = conn.execute(
                f"select count(*), count(distinct msg_id) from raw.sensor__{kind}"
            ).fetchone()
            assert count == distinct
            rows += count
        assert rows == len(result.expected_msg_ids)


# -- the contract, without a broker -------------------------------------------------------
def test_the_parser_names_what_is_wrong_with_each_message(fleet):
    index = device_index(fleet)
    aq = next(d for d in fleet if d.kind == "air_quality")
    lp = next(d for d in fleet if d.kind == "light_pole")
    good = payload(aq.device_id, aq.kind, 7, START, {"pm25": 35.5, "temperature": 21.5})
    topic = topic_for(aq.kind, aq.device_id)
    reading = parse(topic, encode(good), index)
    assert reading.msg_id == f"{aq.device_id}-7" and reading.metrics["pm25"] == 35.5
    assert reading.observed_at == START

    def reason(message, at_topic=topic) -> tuple[str, str | None]:
        data = message if isinstance(message, bytes) else encode(message)
        with pytest.raises(MalformedMessage) as caught:
            parse(at_topic, data, index)
        return caught.value.code, caught.value.field

    assert reason(b'{"msg_id": "x"') == ("not_json", None)
    assert reason(b"\xff\xfe") == ("not_utf8", None)
    assert reason(b"[1, 2]") == ("not_object", None)
    assert reason({k: v for k, v in good.items() if k != "seq"}) == ("missing_field", "seq")
    assert reason({**good, "seq": "7"}) == ("wrong_type", "seq")
    assert reason({**good, "metrics": {"pm25": "35.5"}}) == ("wrong_type", "pm25")
    assert reason({**good, "metrics": {"pm25": True}}) == ("wrong_type", "pm25")
    assert reason({**good, "observed_at": "2026-11-01T06:00:00"}) == (
        "bad_timestamp",
        "observed_at",
    )
    assert reason({**good, "msg_id": f"{aq.device_id}-8"}) == ("bad_msg_id", "msg_id")
    assert reason(good, topic_for(aq.kind, "KP-AQ-999")) == ("topic_mismatch", "device_id")
    ghost = payload("KP-AQ-999", aq.kind, 1, START, {"pm25": 1.0})
    assert reason(ghost, topic_for(aq.kind, "KP-AQ-999")) == ("unknown_device", "device_id")
    assert reason({**good, "metrics": {"pm26": 1.0}}) == ("unknown_metric", "pm26")
    assert reason({**good, "metrics": {}}) == ("no_metrics", "metrics")
    assert reason({**good, "metrics": {"pm25": -3.0}}) == ("out_of_range", "pm25")
    lamp = payload(lp.device_id, lp.kind, 1, START, {"lamp_state": 5})
    assert reason(lamp, topic_for(lp.kind, lp.device_id)) == ("out_of_range", "lamp_state")
    with pytest.raises(MalformedMessage) as caught:
        parse(topic, encode({**good, "metrics": {"pm25": 5000}}), index)
    assert "pm25 = 5000 μg/m³ is outside its valid range [0, 1000]" in str(caught.value)


def test_the_simulator_is_deterministic_and_its_faults_are_what_the_checks_find(fleet):
    devices = sample(fleet, {"air_quality": 10, "hydrology": 6, "light_pole": 6})
    rates = {"spike": 0.01, "stuck": 0.004, "offline": 0.004}

    def run() -> tuple[list, list]:
        truth: list[dict] = []
        messages = list(
            simulator.generate(
                devices, START, 600, seed=11, fault_rates=rates, stuck_minutes=15, truth=truth
            )
        )
        return messages, truth

    first, truth = run()
    again, truth_again = run()
    assert [m.data for m in first] == [m.data for m in again] and truth == truth_again

    checks = RealtimeChecks(device_index(fleet), stuck_minutes=15)
    alerts, seen = [], set()
    for message in first:
        try:
            reading = parse(message.topic, message.data, device_index(fleet))
        except MalformedMessage as error:
            alerts += checks.out_of_range(error) if error.code == "out_of_range" else []
            continue
        if reading.msg_id not in seen:
            seen.add(reading.msg_id)
            alerts += checks.observe(reading)
    alerts += checks.sweep()
    assert seen == {m.msg_id for m in first if m.lands}
    assert_alerts_match_truth(alerts, truth)


def assert_alerts_match_truth(alerts, truth) -> None:
    """Each injected spike, stuck run, offline gap and out-of-range value raised its alert,
    and nothing else raised one (a stuck sensor's recovery may jump: that is allowed)."""
    by_check: dict[str, list] = {}
    for alert in alerts:
        by_check.setdefault(alert.check, []).append(alert)
    faults = Counter(t["fault"] for t in truth)
    assert faults["spike"] and faults["stuck"] and faults["offline"] and faults["out_of_range"]

    spikes = {t["msg_id"] for t in truth if t["fault"] == "spike"}
    recoveries = {t["recovery_msg_id"] for t in truth if t["fault"] == "stuck"}
    rate = {a.msg_id for a in by_check.get("rate_of_change", [])}
    assert spikes <= rate, f"spikes without an alert: {spikes - rate}"
    assert rate <= spikes | recoveries, f"rate alerts on no spike: {rate - spikes - recoveries}"

    runs = [t for t in truth if t["fault"] == "stuck"]
    stuck = by_check.get("stuck", [])
    for run in runs:
        hits = [a for a in stuck if a.msg_id in run["msg_ids"]]
        assert len(hits) == 1 and hits[0].metric == run["metric"], run
    assert len(stuck) == len(runs)

    offline = {(t["device_id"], t["msg_id"]) for t in truth if t["fault"] == "offline"}
    assert {(a.device_id, a.msg_id) for a in by_check.get("offline", [])} == offline

    out_of_range = {t["msg_id"] for t in truth if t["fault"] == "out_of_range"}
    assert {a.msg_id for a in by_check.get("range", [])} == out_of_range


# -- exactly once -------------------------------------------------------------------------
def test_exactly_once_across_a_consumer_killed_mid_batch(stream):
    first = stream.start_consumer("--batch-seconds", "0.3", "--batch-messages", "60")
    publisher, outcome = stream.publish_in_background(minutes=100, rate=250, seed=3)
    at_kill = stream.wait(lambda s: total(s, "batches") >= 3, "three batches", process=first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    publisher.join(120)
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert at_kill["totals"]["received"] < result.published  # it died with work to do

    second = stream.start_consumer("--batch-seconds", "0.3", "--batch-messages", "60",
                                   "--idle-exit", "3")  # fmt: skip
    assert stream.finish(second) == 0, stream.log()
    assert result.duplicates > 0 and result.quarantined > 0
    assert_exactly_once(result)
    totals = stream.status()["totals"]
    assert totals["reconciles"] and totals["received"] > 0


def test_a_consumer_dying_between_landing_and_commit_leaves_an_orphan_never_loaded(stream):
    # the process kills itself after its second micro-batch is in the object store, before
    # the warehouse commit: the worst moment
    script = (
        "import os, signal, sys\n"
        "from govlake.stream import consumer\n"
        "calls = []\n"
        "original = consumer.StreamConsumer._record\n"
        "def record(self, *args, **kwargs):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return original(self, *args, **kwargs)\n"
        "consumer.StreamConsumer._record = record\n"
        "sys.exit(consumer.main(sys.argv[1:]))\n"
    )
    log = (stream.tmp_path / "consumer-dying.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", script, "--broker", stream.url, "--client-id", stream.client_id,
         "--topic-root", stream.topic_root, "--batch-seconds", "0.2", "--batch-messages", "40",
         "--no-batch-events"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    stream.processes.append(process)
    stream.wait(lambda s: s.get("pid") == process.pid and s.get("subscribed"), "a subscription")
    result = stream.publish(minutes=40, rate=300, seed=5)
    assert process.wait(60) == -signal.SIGKILL

    orphans = manifests_in_lake() - {row[2] for row in committed_batches()}
    assert orphans, "the dying consumer should have left a batch it never committed"
    with pytest.raises(StreamLoadError, match="no commit record"):
        load_stream_batch(next(iter(orphans)))

    survivor = stream.start_consumer("--batch-seconds", "0.3", "--idle-exit", "3")
    assert stream.finish(survivor) == 0, stream.log()
    assert_exactly_once(result)  # the orphan is gone, its messages landed once elsewhere


def test_exactly_once_across_a_broker_restart(stream, tmp_path):
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        consumer = stream.start_consumer("--batch-seconds", "0.3", "--batch-messages", "80",
                                         url=broker.url)  # fmt: skip
        publisher, outcome = stream.publish_in_background(
            url=broker.url, minutes=120, rate=200, seed=9
        )
        stream.wait(lambda s: total(s, "batches") >= 3, "three batches", process=consumer)
        broker.stop()  # SIGTERM: Mosquitto writes its persistence file and exits
        time.sleep(1.0)
        broker = Mosquitto(tmp_path / "mosquitto", port=broker.port)
        broker.start()
        publisher.join(180)
        assert "error" not in outcome, outcome.get("error")
        result = outcome["result"]
        status = stream.wait(
            lambda s: total(s, "landed") >= len(result.expected_msg_ids),
            "every reading to land",
            timeout=120,
            process=consumer,
        )
        assert status["connections"] >= 2  # it did lose the broker, and reconnected
        time.sleep(1.0)  # redeliveries still in flight are duplicates: let them come
        assert stream.stop(consumer) == 0, stream.log()
        assert_exactly_once(result)
    finally:
        stream.close()
        broker.stop()


def test_sigterm_flushes_and_acknowledges_before_exiting(stream):
    consumer = stream.start_consumer("--batch-seconds", "60", "--batch-messages", "5000")
    result = stream.publish(minutes=20, rate=None, seed=2, faults=False)
    stream.wait(lambda s: s.get("unflushed", 0) >= 100, "messages to arrive", process=consumer)
    assert stream.stop(consumer) == 0, stream.log()
    assert stream.status()["state"] == "stopped"
    assert set(lake_msg_ids()) == result.expected_msg_ids

    # acknowledged: a new run of the same consumer gets nothing again
    again = stream.start_consumer("--batch-seconds", "0.3", "--idle-exit", "2")
    assert stream.finish(again) == 0
    assert stream.status()["totals"]["received"] == 0


# -- quarantine, checks, loading ----------------------------------------------------------
def run_consumer_in_thread(stream: Stream, **options) -> tuple[StreamConsumer, threading.Thread]:
    consumer = StreamConsumer(
        stream.url, client_id=stream.client_id, topic_root=stream.topic_root,
        batch_event_topic=None, **{"batch_seconds": 0.3, "batch_messages": 500, **options},
    )  # fmt: skip
    thread = threading.Thread(target=consumer.run, kwargs={"idle_exit": 3.0}, daemon=True)
    thread.start()
    if not consumer.subscribed.wait(30):
        pytest.fail("the consumer did not subscribe")
    return consumer, thread


def test_malformed_and_out_of_range_messages_are_quarantined_with_their_reasons(stream, fleet):
    consumer, thread = run_consumer_in_thread(stream)
    aq = next(d for d in stream.devices if d.kind == "air_quality")
    topic = topic_for(aq.kind, aq.device_id, stream.topic_root)
    good = payload(aq.device_id, aq.kind, 1, START, {"pm25": 30.0, "pm10": 50.0})
    wrong_type = {**good, "seq": 2, "msg_id": f"{aq.device_id}-2", "metrics": {"pm25": "thirty"}}
    sent = {
        "not_json": (topic, b'{"msg_id": "KP'),
        "missing_field": (topic, encode({k: v for k, v in good.items() if k != "metrics"})),
        "wrong_type": (topic, encode(wrong_type)),
        "unknown_device": (
            topic_for(aq.kind, "KP-AQ-404", stream.topic_root),
            encode(payload("KP-AQ-404", aq.kind, 1, START, {"pm25": 1.0})),
        ),
        "bad_topic": (f"{stream.topic_root.split('/')[0]}/x", encode(good)),
        "out_of_range": (topic, encode(payload(aq.device_id, aq.kind, 3, START, {"pm25": -5.0}))),
    }
    # the bad topic is not under the subscription: it never reaches the consumer
    expected = {code for code in sent if code != "bad_topic"}
    for topic_sent, data in sent.values():
        stream.send(topic_sent, data)
    stream.send(topic, encode(good))
    stream.send(*sent["not_json"])  # the same broken bytes again: a duplicate
    thread.join(60)
    assert consumer.stats.quarantined == len(expected)
    assert (consumer.stats.landed, consumer.stats.duplicates) == (1, 1)
    assert consumer.stats.reconciles()

    with connect() as conn:
        rows = conn.execute(
            "select resource_id, stage, source_file, field, reason, record from "
            "governance.quarantine order by quarantined_at"
        ).fetchall()
        alerts = conn.execute(
            "select device_id, metric, check_name, value, message_zh, message_en "
            "from governance.sensor_alert"
        ).fetchall()
    assert {r[5]["code"] for r in rows} == expected
    assert all(r[0].startswith("sensor.") and r[1] == "stream" for r in rows)
    reasons = {r[5]["code"]: r[4] for r in rows}
    assert reasons["wrong_type"] == "wrong_type: pm25 must be a finite number, not 'thirty'"
    assert reasons["unknown_device"].startswith("unknown_device: device 'KP-AQ-404'")
    assert "pm25 = -5 μg/m³ is outside its valid range [0, 1000]" in reasons["out_of_range"]
    assert alerts == [
        (aq.device_id, "pm25", "range", -5.0,
         f"{aq.device_id} 细颗粒物（PM2.5）读数 -5 μg/m³ 超出有效范围 [0, 1000]，该条数据已隔离",
         f"{aq.device_id} pm25 reading -5 μg/m³ is outside the valid range [0, 1000]; the "
         f"message is quarantined")
    ]  # fmt: skip
    # the quarantine file in the object store holds the same records
    store = open_store()
    files = [k for k in store.list("quarantine/sensor/") if k.endswith("stream.jsonl")]
    lines = [json.loads(line) for k in files for line in store.get_bytes(k).splitlines()]
    assert sorted(line["record"]["code"] for line in lines) == sorted(expected)


def test_realtime_checks_alert_on_the_simulators_spikes_stuck_values_and_gaps(stream, fleet):
    consumer, thread = run_consumer_in_thread(stream, stuck_minutes=15)
    result = stream.publish(
        minutes=360, rate=None, seed=21, stuck_minutes=15,
        fault_rates={"spike": 0.01, "stuck": 0.004, "offline": 0.004, "out_of_range": 0.004},
    )  # fmt: skip
    thread.join(120)
    assert consumer.stats.landed == len(result.expected_msg_ids)

    truth = simulator.read_truth(result.truth_path)
    assert result.truth_path.parent == config.simulation_dir() / "sensors"
    with connect() as conn:
        rows = conn.execute(
            "select device_id, kind, metric, check_name, value, observed_at, msg_id, message_zh, "
            "message_en from governance.sensor_alert order by alert_id"
        ).fetchall()
    from govlake.stream.checks import Alert

    alerts = [Alert(*row) for row in rows]
    assert_alerts_match_truth(alerts, truth)
    assert all(a.message_zh and a.message_en for a in alerts)

    status = stream.status()
    assert status["state"] == "stopped" and status["totals"]["reconciles"]
    assert status["alerts_by_check"] == dict(Counter(a.check for a in alerts))
    lag = status["last_batch"]["receive_lag_s"]
    assert 0 <= lag["mean"] <= lag["max"] < 30
    assert status["last_batch"]["event_lag_s"]["max"] > 0


def test_loading_a_batch_twice_leaves_the_same_rows(stream):
    _, thread = run_consumer_in_thread(stream, batch_messages=100)
    result = stream.publish(minutes=60, rate=None, seed=4)
    thread.join(60)
    batches = committed_batches()
    assert len({b[1] for b in batches}) > 1

    first = [load_stream_batch(key) for _, _, key, *_ in batches]
    assert all(r.reconciled and r.inserted == r.landed for r in first)
    before = {kind: table_checksum(f"raw.sensor__{kind}", "msg_id") for kind in DEVICES}
    again = [load_stream_batch({"manifest_key": key}) for _, _, key, *_ in batches]
    assert all(r.inserted == 0 and r.loaded_rows == r.landed for r in again)
    after = {kind: table_checksum(f"raw.sensor__{kind}", "msg_id") for kind in DEVICES}
    assert after == before
    assert load_pending() == []  # nothing left to load

    with connect() as conn:
        rows = conn.execute(
            "select count(*), count(distinct msg_id) from raw.sensor__air_quality"
        ).fetchone()
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = 'sensor__light_pole' order by ordinal_position"
            )
        ]
        loaded_at = conn.execute(
            "select count(*) from raw.sensor__hydrology where _loaded_at > now() - interval '1 h'"
        ).fetchone()[0]
    assert rows[0] == rows[1]
    assert columns == [
        "msg_id", "device_id", "seq", "observed_at", "received_at", "lamp_state", "power",
        "energy", "_batch_id", "_loaded_at",
    ]  # fmt: skip
    assert loaded_at > 0
    total = sum(r.loaded_rows for r in first)
    assert total == len(result.expected_msg_ids)
    assert date.fromisoformat(read_stream_manifest(open_store(), batches[0][2]).ingest_date)


def test_micro_batches_land_in_a_real_s3_endpoint(s3_platform, stream):
    import boto3

    _, thread = run_consumer_in_thread(stream, batch_messages=200)
    result = stream.publish(minutes=30, rate=None, seed=6)
    thread.join(60)
    assert_exactly_once(result)
    s3 = boto3.client("s3", endpoint_url=s3_platform["endpoint"])
    keys = [i["Key"] for i in s3.list_objects_v2(Bucket=s3_platform["bucket"])["Contents"]]
    manifests = [k for k in keys if k.endswith("_manifest.json")]
    assert manifests and all(k.startswith("raw/sensor/") for k in manifests)
    assert {k.split("/")[2] for k in manifests} <= {*DEVICES, "_unknown"}
    parts = [k for k in keys if k.endswith(".parquet")]
    assert all("/ingest_date=" in k and "/batch=" in k for k in parts)


def test_a_warehouse_from_before_stream_quarantine_accepts_it_after_an_upgrade(platform):
    """Sensor messages are quarantined at stage 'stream'; a governance schema created before
    that stage existed is widened when the platform starts, keeping its records."""
    from govlake.governance.store import ensure_schema

    with connect() as conn:
        conn.execute("create schema governance")
        conn.execute(
            "create table governance.quarantine (resource_id text not null, batch_id text not "
            "null, stage text not null check (stage in ('extract', 'load')), source_file text, "
            "source_row bigint, field text, reason text not null, record jsonb, "
            "quarantined_at timestamptz not null default now())"
        )
        conn.execute(
            "insert into governance.quarantine (resource_id, batch_id, stage, reason) "
            "values ('police.person', 'b1', 'load', 'kept')"
        )
        conn.commit()
        ensure_schema(conn)
        conn.execute(
            "insert into governance.quarantine (resource_id, batch_id, stage, reason) "
            "values ('sensor.air', 'b2', 'stream', 'malformed')"
        )
        stages = conn.execute("select stage from governance.quarantine order by stage").fetchall()
        with pytest.raises(Exception, match="quarantine_stage_check"):
            conn.execute(
                "insert into governance.quarantine (resource_id, batch_id, stage, reason) "
                "values ('x', 'b3', 'elsewhere', 'no such stage')"
            )
    assert stages == [("load",), ("stream",)]
