"""``make bench-stream``: the sensor stream's throughput, latency and crash safety.

Every role runs in a process of its own, as in production: the publisher (the city's
devices, one paho client publishing QoS 1), the consumer (``StreamConsumer``, exactly as
``govlake stream`` runs it), the loader (what the ``load_sensor_batches`` DAG's ``load``
task does on each batch event: ``load_stream_batch``), and the baseline subscriber. The
parent only starts them, waits and counts. Each phase gets a fresh warehouse database on
the platform's PostgreSQL (``govlake_bench_stream``), a fresh local object store, and a
topic root and client ids of its own, so the bench never touches the platform's data.

Phases:

1. **baseline** — the broker's own throughput: N messages published as fast as possible
   (QoS 1) to a bare paho subscriber (QoS 1, automatic acknowledgements, no work done);
   first publish → last message received.
2. **throughput** — the same N messages into the consumer: first publish → the commit of
   the micro-batch holding the last of them (Parquet in the store, the keys, counts and
   check state in the warehouse, then PUBACKs). 1 and 2 alternate ``repeats`` times; the
   figures are medians.
3. **latency at the city's rate** — 5 messages/s (300 devices, one message a minute each)
   for ``latency_seconds``, the consumer flushing every ``batch_seconds`` (5 s), the
   loader loading each batch when its event arrives; per message, publish → its row is
   committed in ``raw.sensor__<kind>``; p50 and p95.
4. **latency at the highest sustained rate** — the same, paced at 80 % of the rate phase 2
   sustained, for 20 s, with phase 2's batch settings.
5. **crash** — messages with 1 % injected duplicates published as fast as possible; the
   consumer is SIGKILLed in the middle of it (after its third batch), restarted, and
   drained. Every expected reading must be in ``raw`` once: ``lost`` and ``duplicated``
   count the difference (duplicated: readings held by more than one committed batch).

The last line: ``bench-stream msgs_s=… p50_s=… p95_s=… lost=… duplicated=…``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from govlake import config

BENCH_DB = "govlake_bench_stream"
CITY_RATE = 5.0  # 300 devices, one message a minute each
START = "2026-11-01T00:00:00+08:00"


# ------------------------------------------------------------------------------------------
# What is published
# ------------------------------------------------------------------------------------------
def bench_messages(count: int, seed: int, topic_root: str, duplicate_rate: float = 0.0) -> list:
    """``count`` messages of the whole catalog fleet, in sending order (no faults but
    duplicates at ``duplicate_rate``)."""
    from govlake.stream.devices import catalog_devices
    from govlake.stream.simulator import FAULT_RATES, generate

    devices = catalog_devices()
    per_minute = sum(1.0 / d.interval_minutes for d in devices)
    minutes = math.ceil(count / per_minute * 1.1) + 2
    rates = {name: 0.0 for name in FAULT_RATES}
    rates["duplicate"] = duplicate_rate
    messages = []
    for emission in generate(
        devices,
        datetime.fromisoformat(START),
        minutes,
        seed,
        duplicate_rate > 0,
        fault_rates=rates,
        topic_root=topic_root,
    ):
        messages.append(emission)
        if len(messages) >= count:
            break
    return messages


def _paho(client_id: str):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    return paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)


def _connect(client, url: str, timeout: float = 30.0) -> None:
    from govlake.stream.broker import parse_url

    address = parse_url(url)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    client.connect(address.host, address.port, keepalive=60)
    client.loop_start()
    if not connected.wait(timeout):
        raise RuntimeError(f"could not connect to {address} within {timeout:.0f}s")


# ------------------------------------------------------------------------------------------
# The roles, each a process of its own (python -m govlake.bench.stream <role> ...)
# ------------------------------------------------------------------------------------------
class RawPublisher:
    """A minimal MQTT 3.1.1 publisher writing pre-encoded QoS 1 PUBLISH packets straight to
    the socket, and counting the broker's PUBACKs on a thread of its own. A paho client
    spends ~100 µs of Python per message, which on two cores would take the CPU the
    broker and the consumer need: the load generator must cost next to nothing."""

    def __init__(self, url: str, client_id: str):
        import socket
        import ssl

        from govlake.stream.broker import parse_url

        address = parse_url(url)
        sock = socket.create_connection((address.host, address.port), timeout=30)
        if address.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=address.host)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        flags = 0x02  # clean session
        payload = _string(client_id.encode())
        if address.username:
            flags |= 0x80
            payload += _string(address.username.encode())
        if address.password:
            flags |= 0x40
            payload += _string(address.password.encode())
        header = _string(b"MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big")
        sock.sendall(_packet(0x10, header + payload))
        connack = _read_exactly(sock, 4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise RuntimeError(f"the broker refused the connection: {connack!r}")
        sock.settimeout(None)
        self.acknowledged = 0
        self._acked = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()
        self.next_id = 0

    def _read_acks(self) -> None:
        pending = b""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            pending += data
            complete = len(pending) // 4  # PUBACK: 0x40 0x02 <packet id>
            pending = pending[complete * 4 :]
            with self._acked:
                self.acknowledged += complete
                self._acked.notify_all()

    def packet(self, topic: str, data: bytes) -> bytes:
        self.next_id = self.next_id % 65535 + 1
        body = _string(topic.encode()) + self.next_id.to_bytes(2, "big") + data
        return _packet(0x32, body)

    def send(self, packets: bytes) -> None:
        self.sock.sendall(packets)

    def wait(self, count: int, timeout: float) -> bool:
        with self._acked:
            return self._acked.wait_for(lambda: self.acknowledged >= count, timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
            self.sock.close()


def _string(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def _packet(first: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(encoded) + body


def _read_exactly(sock, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise RuntimeError("the broker closed the connection")
        data += chunk
    return data


def _role_publish(args: argparse.Namespace) -> None:
    messages = bench_messages(args.messages, args.seed, args.topic_root, args.duplicates)
    publisher = RawPublisher(args.broker, f"govlake-bench-pub-{uuid.uuid4().hex[:8]}")
    packets = [publisher.packet(m.topic, m.data) for m in messages]
    total = len(packets)
    window = 30_000  # unacknowledged at most (packet ids must stay unique in flight)
    times: dict[str, float] = {}
    started = time.time()
    clock = time.monotonic()
    if args.rate:
        for index, (message, packet) in enumerate(zip(messages, packets, strict=True)):
            delay = clock + index / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if args.times and message.lands:
                times[message.msg_id] = time.time()
            publisher.send(packet)
    else:
        chunk = 500
        for first in range(0, total, chunk):
            if first - publisher.acknowledged > window and not publisher.wait(
                first - window, args.timeout
            ):
                raise SystemExit(f"the broker stopped acknowledging ({publisher.acknowledged})")
            moment = time.time()
            if args.times:
                for message in messages[first : first + chunk]:
                    if message.lands:
                        times.setdefault(message.msg_id, moment)
            publisher.send(b"".join(packets[first : first + chunk]))
    sent = time.time()
    if not publisher.wait(total, args.timeout):
        raise SystemExit(f"the broker acknowledged {publisher.acknowledged} of {total} messages")
    acknowledged = time.time()
    publisher.close()
    if args.times:
        Path(args.times).write_text(json.dumps(times), encoding="utf-8")
    print(
        json.dumps(
            {
                "published": total,
                "expected": len({m.msg_id for m in messages if m.lands}),
                "duplicates": sum(1 for m in messages if not m.lands and m.fault == "duplicate"),
                "started": started,
                "sent": sent,
                "acknowledged": acknowledged,
            }
        ),
        flush=True,
    )


def _role_subscribe(args: argparse.Namespace) -> None:
    """The baseline: a bare subscriber that only counts."""
    client = _paho(f"govlake-bench-sub-{uuid.uuid4().hex[:8]}")
    count = [0]
    last = [0.0]
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(client, userdata, message) -> None:
        count[0] += 1
        if count[0] >= args.messages:
            last[0] = time.time()
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    _connect(client, args.broker)
    client.subscribe(f"{args.topic_root}/+/+", qos=1)
    subscribed.wait(30)
    Path(args.ready).touch()
    finished = done.wait(args.timeout)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"received": count[0], "last": last[0], "complete": finished}), flush=True)


def _role_consume(args: argparse.Namespace) -> None:
    """The consumer, as ``govlake stream`` runs it; each commit is logged with its time."""
    import logging

    from govlake.stream.consumer import StreamConsumer

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    commits = Path(args.commits).open("a", encoding="utf-8")  # noqa: SIM115 (the process's)

    def on_batch(events: list[dict]) -> None:
        moment = time.time()
        for event in events:
            commits.write(json.dumps({"t": moment, **event}) + "\n")
        commits.flush()

    consumer = StreamConsumer(
        args.broker,
        batch_seconds=args.batch_seconds,
        batch_messages=args.batch_messages,
        client_id=args.client_id,
        topic_root=args.topic_root,
        status_file=Path(args.status),
        batch_event_topic=args.event_topic or None,
        on_batch=on_batch,
    )
    stats = consumer.run(idle_exit=args.idle_exit)
    raise SystemExit(0 if stats.reconciles() else 1)


def _role_load(args: argparse.Namespace) -> None:
    """What the load task does on each batch event, without Airflow's scheduling."""
    from govlake.stream.load import load_stream_batch

    events: queue.Queue[dict] = queue.Queue()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stopping.set())
    client = _paho(f"govlake-bench-loader-{uuid.uuid4().hex[:8]}")
    subscribed = threading.Event()
    client.on_message = lambda c, u, message: events.put(json.loads(message.payload))
    client.on_subscribe = lambda *a: subscribed.set()
    _connect(client, args.broker)
    client.subscribe(args.event_topic, qos=1)
    subscribed.wait(30)
    Path(args.ready).touch()
    log = Path(args.loads).open("a", encoding="utf-8")  # noqa: SIM115 (the process's)
    while not (stopping.is_set() and events.empty()):
        try:
            event = events.get(timeout=0.2)
        except queue.Empty:
            continue
        result = load_stream_batch(event)
        log.write(
            json.dumps(
                {"t": time.time(), "kind": result.kind, "batch_id": result.batch_id,
                 "inserted": result.inserted, "seconds": result.seconds}
            ) + "\n"
        )  # fmt: skip
        log.flush()
    client.disconnect()
    client.loop_stop()


# ------------------------------------------------------------------------------------------
# The parent
# ------------------------------------------------------------------------------------------
@dataclass
class Phase:
    """One phase's warehouse database, object store, topics and processes."""

    name: str
    folder: Path
    broker: str
    server_url: str  # libpq URL of the PostgreSQL server's maintenance database

    def __post_init__(self) -> None:
        token = uuid.uuid4().hex[:8]
        self.topic_root = f"govlake-bench/{token}/kaiping/sensors"
        self.event_topic = f"govlake-bench/{token}/lake/sensor_batches"
        self.client_id = f"govlake-bench-consumer-{token}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.processes: list[subprocess.Popen] = []
        self.consumers = 0

    # -- setup ---------------------------------------------------------------------------------
    def __enter__(self) -> Phase:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(BENCH_DB)))  # fmt: skip
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(BENCH_DB)))
        os.environ.update(
            {
                "GOVLAKE_PG_URL": self.server_url.rsplit("/", 1)[0] + f"/{BENCH_DB}",
                "GOVLAKE_STORAGE": "local",
                "GOVLAKE_LAKE_DIR": str(self.folder / "lake"),
                "GOVLAKE_MQTT_URL": self.broker,
                "GOVLAKE_SIM_DIR": str(self.folder / "sim"),
            }
        )
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        _clear_session(self.broker, self.client_id)

    # -- processes -----------------------------------------------------------------------------
    def start(self, role: str, *args: str, log: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "govlake.bench.stream", role, "--broker", self.broker,
                   "--topic-root", self.topic_root, *args]  # fmt: skip
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=(self.folder / log).open("ab"),
            env=dict(os.environ),
            text=True,
        )
        self.processes.append(process)
        return process

    def publish(self, messages: int, *, rate: float | None = None, seed: int = 1,
                duplicates: float = 0.0, times: bool = False, wait: bool = True):  # fmt: skip
        args = ["--messages", str(messages), "--seed", str(seed), "--duplicates", str(duplicates)]
        if rate:
            args += ["--rate", str(rate)]
        if times:
            args += ["--times", str(self.folder / "publish-times.json")]
        process = self.start("publish", *args, log="publisher.log")
        return self.result(process) if wait else process

    def result(self, process: subprocess.Popen, timeout: float = 900) -> dict:
        out, _ = process.communicate(timeout=timeout)
        if process.returncode != 0:
            role = process.args[3]
            raise RuntimeError(f"{role} failed ({process.returncode}); see {self.folder}")
        return json.loads(out.strip().splitlines()[-1])

    def start_consumer(self, batch_seconds: float, batch_messages: int, *, events: bool,
                       idle_exit: float | None = None) -> subprocess.Popen:  # fmt: skip
        self.consumers += 1
        status = self.folder / f"status-{self.consumers}.json"
        args = ["--client-id", self.client_id, "--batch-seconds", str(batch_seconds),
                "--batch-messages", str(batch_messages), "--status", str(status),
                "--commits", str(self.folder / "commits.jsonl")]  # fmt: skip
        if events:
            args += ["--event-topic", self.event_topic]
        if idle_exit is not None:
            args += ["--idle-exit", str(idle_exit)]
        process = self.start("consume", *args, log=f"consumer-{self.consumers}.log")
        _wait(lambda: _json(status).get("subscribed"), "the consumer to subscribe", process)
        return process

    def start_loader(self) -> subprocess.Popen:
        ready = self.folder / "loader.ready"
        loads = str(self.folder / "loads.jsonl")
        process = self.start("load", "--event-topic", self.event_topic, "--ready", str(ready),
                             "--loads", loads, log="loader.log")  # fmt: skip
        _wait(ready.exists, "the loader to subscribe", process)
        return process

    def commits(self) -> list[dict]:
        return _jsonl(self.folder / "commits.jsonl")

    def received(self) -> int:
        return sum(c["received"] for c in self.commits())

    def landed(self) -> int:
        return sum(c["landed"] for c in self.commits())


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _jsonl(path: Path) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _wait(
    condition: Callable[[], object],
    what: str,
    process: subprocess.Popen | None = None,
    timeout: float = 600.0,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"waiting for {what}: the process exited ({process.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen, timeout: float = 120.0) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout)


def _clear_session(url: str, client_id: str) -> None:
    """Remove the consumer's persistent session from the broker."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from govlake.stream.broker import parse_url

    address = parse_url(url)
    client = _paho(client_id)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    with contextlib.suppress(OSError):
        if address.username:
            client.username_pw_set(address.username, address.password)
        client.connect(address.host, address.port, clean_start=True, properties=properties)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
    return ordered[rank]


def _raw_rows() -> Iterator[tuple[str, str, str]]:
    """(kind, msg_id, _batch_id) of every row in raw.sensor__*."""
    from govlake.governance.store import connect

    with connect() as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "and table_name like 'sensor\\_\\_%'"
            )
        ]
        for table in tables:
            kind = table[len("sensor__") :]
            for msg_id, batch_id in conn.execute(f'select msg_id, _batch_id from raw."{table}"'):
                yield kind, msg_id, batch_id


def _lake_occurrences() -> Counter:
    """msg_id → how many committed batches in the object store hold it."""
    import pyarrow.parquet as pq

    from govlake.governance.store import connect
    from govlake.lake.storage import open_store
    from govlake.stream.landing import read_stream_manifest

    store = open_store()
    found: Counter = Counter()
    with connect() as conn:
        keys = [k for (k,) in conn.execute("select manifest_key from governance.stream_batch")]
    with tempfile.TemporaryDirectory(prefix="govlake-bench-lake-") as scratch:
        local = Path(scratch) / "part.parquet"
        for key in keys:
            for part in read_stream_manifest(store, key).parts:
                store.download(part["key"], local)
                found.update(pq.read_table(local, columns=["msg_id"]).column("msg_id").to_pylist())
    return found


def _latency(phase: Phase, published: dict, rate: float | None, batch_seconds: float,
             batch_messages: int, messages: int) -> dict:  # fmt: skip
    """Publish ``messages`` (at ``rate``), consumer and loader on events: publish → row."""
    loader = phase.start_loader()
    consumer = phase.start_consumer(batch_seconds, batch_messages, events=True)
    result = phase.publish(messages, rate=rate, seed=published["seed"], times=True)
    expected = result["expected"]
    _wait(lambda: phase.landed() >= expected, "every reading to land", consumer)
    landed_batches = {(c["kind"], c["batch_id"]) for c in phase.commits() if c["landed"]}
    loads_path = phase.folder / "loads.jsonl"
    _wait(
        lambda: landed_batches <= {(x["kind"], x["batch_id"]) for x in _jsonl(loads_path)},
        "every batch to be loaded",
        loader,
    )
    assert _stop(consumer) == 0, "the consumer did not reconcile"
    _stop(loader)
    loaded_at = {(x["kind"], x["batch_id"]): x["t"] for x in _jsonl(loads_path)}
    sent_at = json.loads((phase.folder / "publish-times.json").read_text(encoding="utf-8"))
    latencies = [
        loaded_at[(kind, batch_id)] - sent_at[msg_id]
        for kind, msg_id, batch_id in _raw_rows()
        if msg_id in sent_at
    ]
    return {
        "messages": result["published"],
        "rows": len(latencies),
        "publish_rate": result["published"] / max(result["acknowledged"] - result["started"], 1e-9),
        "p50_s": _percentile(latencies, 50),
        "p95_s": _percentile(latencies, 95),
        "max_s": max(latencies) if latencies else float("nan"),
        "batches": len(landed_batches),
        "load_s_mean": statistics.fmean(x["seconds"] for x in _jsonl(loads_path)),
    }


def _baseline(phase: Phase, messages: int) -> dict:
    ready = phase.folder / "subscriber.ready"
    subscriber = phase.start("subscribe", "--messages", str(messages), "--ready", str(ready),
                             log="subscriber.log")  # fmt: skip
    _wait(ready.exists, "the subscriber to subscribe", subscriber)
    sent = phase.publish(messages)
    got = phase.result(subscriber)
    if not got["complete"]:
        raise RuntimeError(f"the bare subscriber got {got['received']} of {messages}")
    return {
        "msgs_s": messages / (got["last"] - sent["started"]),
        "publish_msgs_s": messages / (sent["acknowledged"] - sent["started"]),
    }


def _throughput(phase: Phase, messages: int, batch_seconds: float, batch_messages: int) -> dict:
    consumer = phase.start_consumer(batch_seconds, batch_messages, events=False)
    sent = phase.publish(messages)
    _wait(lambda: phase.received() >= messages, "every message to be committed", consumer)
    last_commit = max(c["t"] for c in phase.commits())
    if _stop(consumer) != 0:
        raise RuntimeError("the consumer's counts did not reconcile")
    if phase.landed() != sent["expected"]:
        raise RuntimeError(f"{phase.landed()} readings landed, {sent['expected']} expected")
    return {
        "msgs_s": messages / (last_commit - sent["started"]),
        "seconds": last_commit - sent["started"],
        "batches": len({c["batch_id"] for c in phase.commits()}),
    }


def run_benchmark(
    messages: int = 100_000,
    latency_seconds: float = 60.0,
    crash_messages: int = 30_000,
    batch_messages: int = 20_000,
    batch_seconds: float = 1.0,
    repeats: int = 3,
    console=None,
) -> dict:
    """Each throughput measurement ``repeats`` times, interleaved (medians); then the
    latency and crash phases once."""
    from rich.console import Console

    from govlake.runtime.services import up
    from govlake.stream.broker import broker_url

    console = console or Console()
    up()  # the embedded PostgreSQL unless GOVLAKE_PG_URL says otherwise
    broker = broker_url()
    warehouse = config.libpq_url(config.warehouse_url())
    server = warehouse.rsplit("/", 1)[0] + "/postgres"
    saved = dict(os.environ)
    figures: dict = {"messages": messages, "cpus": os.cpu_count(), "broker": broker}
    baselines, runs = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="govlake-bench-stream-") as scratch:
            root = Path(scratch)
            for attempt in range(1, repeats + 1):
                console.print(f"round {attempt}/{repeats}: {messages:,} messages to a bare paho "
                              f"subscriber (baseline) …")  # fmt: skip
                with Phase("baseline", root / f"baseline-{attempt}", broker, server) as phase:
                    baselines.append(_baseline(phase, messages))
                console.print(f"round {attempt}/{repeats}: {messages:,} messages through the "
                              f"consumer into the lake …")  # fmt: skip
                with Phase("throughput", root / f"throughput-{attempt}", broker, server) as phase:
                    runs.append(_throughput(phase, messages, batch_seconds, batch_messages))
            figures["baseline_msgs_s"] = statistics.median(b["msgs_s"] for b in baselines)
            figures["publish_msgs_s"] = statistics.median(b["publish_msgs_s"] for b in baselines)
            figures["msgs_s"] = statistics.median(r["msgs_s"] for r in runs)
            figures["msgs_s_runs"] = [round(r["msgs_s"]) for r in runs]
            figures["batches"] = statistics.median(r["batches"] for r in runs)
            figures["vs_baseline"] = figures["msgs_s"] / figures["baseline_msgs_s"]

            city = int(CITY_RATE * latency_seconds)
            console.print(f"latency at the city's rate: {city} messages at {CITY_RATE:g}/s, "
                          f"batches every 5 s, loaded on each batch event …")  # fmt: skip
            with Phase("city", root / "city", broker, server) as phase:
                figures["city"] = _latency(phase, {"seed": 2}, CITY_RATE, 5.0, 2000, city)

            # the highest sustained rate: paced at 80 % of what the consumer sustained
            rate = max(round(0.8 * figures["msgs_s"], -2), 100.0)
            fast = int(rate * 20)
            console.print(f"latency at {rate:,.0f} msg/s (80 % of the sustained rate) for 20 s, "
                          f"loaded on each batch event …")  # fmt: skip
            with Phase("fast", root / "fast", broker, server) as phase:
                figures["fast"] = _latency(
                    phase, {"seed": 3}, rate, batch_seconds, batch_messages, fast
                )

            console.print(f"crash: {crash_messages:,} messages (1 % duplicates), the consumer "
                          f"killed mid-stream and restarted …")  # fmt: skip
            with Phase("crash", root / "crash", broker, server) as phase:
                figures["crash"] = _crash(phase, crash_messages)
    finally:
        os.environ.clear()
        os.environ.update(saved)

    crash = figures["crash"]
    city = figures["city"]
    fast = figures["fast"]
    console.print(
        f"baseline (bare paho subscriber) {figures['baseline_msgs_s']:,.0f} msg/s · consumer "
        f"into the lake {figures['msgs_s']:,.0f} msg/s (rounds {figures['msgs_s_runs']}; "
        f"{figures['vs_baseline']:.2f}× the baseline, {figures['batches']:.0f} batches) · "
        f"publisher → broker {figures['publish_msgs_s']:,.0f} msg/s"
    )
    console.print(
        f"publish → queryable row at {CITY_RATE:g} msg/s: p50 {city['p50_s']:.2f} s, p95 "
        f"{city['p95_s']:.2f} s, max {city['max_s']:.2f} s ({city['rows']} rows, "
        f"{city['batches']} batches, load {city['load_s_mean']:.2f} s each); at "
        f"{fast['publish_rate']:,.0f} msg/s: p50 {fast['p50_s']:.2f} s, p95 "
        f"{fast['p95_s']:.2f} s, max {fast['max_s']:.2f} s ({fast['rows']} rows, load "
        f"{fast['load_s_mean']:.2f} s per batch)"
    )
    console.print(
        f"crash: published {crash['published']} ({crash['duplicates']} injected duplicates), "
        f"killed after {crash['received_at_kill']} received; rows {crash['rows']} = "
        f"published − duplicates: {crash['consistent']}; lost {crash['lost']}, duplicated "
        f"{crash['duplicated']}"
    )
    print(
        f"bench-stream msgs_s={figures['msgs_s']:.0f} p50_s={city['p50_s']:.2f} "
        f"p95_s={city['p95_s']:.2f} lost={crash['lost']} duplicated={crash['duplicated']}",
        flush=True,
    )
    return figures


def _crash(phase: Phase, messages: int) -> dict:
    from govlake.stream.load import load_pending

    first = phase.start_consumer(1.0, 2000, events=False)
    publisher = phase.publish(messages, seed=5, duplicates=0.01, wait=False)
    _wait(lambda: len({c["batch_id"] for c in phase.commits()}) >= 3, "three batches", first)
    received_at_kill = phase.received()
    first.send_signal(signal.SIGKILL)
    first.wait()
    sent = phase.result(publisher)
    second = phase.start_consumer(1.0, 2000, events=False, idle_exit=3.0)
    if second.wait(600) != 0:
        raise RuntimeError("the restarted consumer did not reconcile")
    load_pending()
    rows = Counter(msg_id for _, msg_id, _ in _raw_rows())
    occurrences = _lake_occurrences()
    expected = sent["expected"]
    return {
        "published": sent["published"],
        "duplicates": sent["duplicates"],
        "expected": expected,
        "rows": sum(rows.values()),
        "received_at_kill": received_at_kill,
        "lost": expected - len(rows),
        "duplicated": sum(n - 1 for n in occurrences.values() if n > 1),
        "consistent": sum(rows.values()) == messages - sent["duplicates"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m govlake.bench.stream")
    parser.add_argument("role", choices=["publish", "subscribe", "consume", "load"])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic-root", required=True)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--duplicates", type=float, default=0.0)
    parser.add_argument("--times")
    parser.add_argument("--ready")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--client-id")
    parser.add_argument("--batch-seconds", type=float, default=5.0)
    parser.add_argument("--batch-messages", type=int, default=2000)
    parser.add_argument("--status")
    parser.add_argument("--commits")
    parser.add_argument("--event-topic")
    parser.add_argument("--idle-exit", type=float)
    parser.add_argument("--loads")
    args = parser.parse_args(argv)
    {
        "publish": _role_publish,
        "subscribe": _role_subscribe,
        "consume": _role_consume,
        "load": _role_load,
    }[args.role](args)


if __name__ == "__main__":
    main()
