"""The sensor stream consumer: MQTT → micro-batches in the lake, exactly once in effect.

Long-running and restartable. It holds a persistent MQTT session (MQTT 5, ``clean_start``
false, a week's session expiry, a fixed client id), subscribes with QoS 1 and
acknowledges by hand: a message is acknowledged only once the micro-batch holding it is
durable in the object store *and* committed in the warehouse. Until then the broker keeps
it and redelivers it after any crash — of the consumer, of its connection, of the broker
(with persistence).

A flush (every ``batch_seconds`` or ``batch_messages``, and on stop), in one PostgreSQL
transaction under a lock all consumers share:

1. parse every message (``messages.parse``) and key it: ``msg_id`` for readings,
   ``q:<sha256 of topic and bytes>`` for refused ones;
2. drop duplicates — within the batch, and against ``governance.stream_message`` (the keys
   of every committed batch);
3. run the real-time checks (``checks.RealtimeChecks``) on the new readings, in arrival
   order, from the state committed with the previous batch;
4. write each kind's Parquet part, quarantine file and manifest — manifest last
   (``landing.write_kind_batch``);
5. record the keys, the batch (counts that must reconcile: ``received = landed +
   duplicates + quarantined``), the quarantine records, the alerts and the check state;
   commit;
6. acknowledge the batch's messages, then publish one batch event per kind (for the
   loading DAG).

A crash before 5 commits nothing: the messages are redelivered and land in a new batch;
what 4 wrote is an orphan, which no one loads (no commit record) and which the consumer
removes when it next starts. A crash between 5 and 6 leaves committed messages
unacknowledged: they are redelivered and dropped as duplicates (step 2). So every
message lands once. See docs/streaming.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from govlake import config
from govlake.governance.store import connect
from govlake.lake.storage import ObjectStore, open_store
from govlake.stream.broker import MqttClient, parse_url
from govlake.stream.checks import OFFLINE_MINUTES, Alert, RealtimeChecks
from govlake.stream.devices import KINDS, Device, catalog_devices, device_index, kind_metrics
from govlake.stream.landing import (
    DEPARTMENT,
    UNKNOWN_KIND,
    KindBatch,
    LandedReading,
    RefusedMessage,
    find_batches,
    manifest_key,
    refused_key,
    rejection,
    remove_batch,
    write_kind_batch,
)
from govlake.stream.load import ensure_stream_schema
from govlake.stream.messages import KAIPING, TOPIC_ROOT, MalformedMessage, parse, subscription

log = logging.getLogger("govlake.stream")

DEFAULT_CLIENT_ID = "govlake-stream-consumer"
BATCH_EVENT_TOPIC = "govlake/lake/sensor_batches"
COMMIT_LOCK = 4407830602  # serialises the dedup-check-and-commit of all consumers
RETENTION_DAYS = 30


@dataclass(frozen=True)
class Incoming:
    epoch: int  # which connection delivered it: its packet id means nothing on another
    mid: int
    topic: str
    data: bytes
    received_at: datetime


@dataclass
class ConsumerStats:
    received: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    alerts: int = 0
    batches: int = 0
    flush_failures: int = 0
    alerts_by_check: Counter = field(default_factory=Counter)
    quarantined_by_reason: Counter = field(default_factory=Counter)

    def reconciles(self) -> bool:
        return self.received == self.landed + self.duplicates + self.quarantined


def client_tag(client_id: str) -> str:
    return hashlib.sha1(client_id.encode("utf-8")).hexdigest()[:8]


def status_path() -> Path:
    return config.home() / "stream" / "status.json"


class StreamConsumer:
    def __init__(
        self,
        broker_url: str,
        *,
        batch_seconds: float = 5.0,
        batch_messages: int = 2000,
        client_id: str = DEFAULT_CLIENT_ID,
        topic_root: str = TOPIC_ROOT,
        devices: Sequence[Device] | None = None,
        stuck_minutes: float | None = None,
        offline_minutes: float = OFFLINE_MINUTES,
        status_file: Path | None = None,
        status_every: float = 1.0,
        log_every: float = 10.0,
        batch_event_topic: str | None = BATCH_EVENT_TOPIC,
        retention_days: int = RETENTION_DAYS,
        on_batch: Callable[[list[dict]], None] | None = None,
    ):
        if batch_messages < 1 or batch_messages > 30_000:
            raise ValueError("batch_messages must be between 1 and 30000")
        self.broker_url = broker_url
        self.broker_label = str(parse_url(broker_url))
        self.batch_seconds = batch_seconds
        self.batch_messages = batch_messages
        self.client_id = client_id
        self.tag = client_tag(client_id)
        self.topic_root = topic_root
        self.subscription = subscription(topic_root)
        self.devices = device_index(devices if devices is not None else catalog_devices())
        self.metrics = kind_metrics(self.devices.values())
        self.checks = RealtimeChecks(
            self.devices, stuck_minutes=stuck_minutes, offline_minutes=offline_minutes
        )
        self.status_file = status_file or status_path()
        self.status_every = status_every
        self.log_every = log_every
        self.batch_event_topic = batch_event_topic
        self.retention = timedelta(days=retention_days)
        self.on_batch = on_batch
        self.stats = ConsumerStats()
        # filled by paho's network thread, emptied by the flush loop: a deque (append and
        # popleft are atomic) and an event, cheaper per message than queue.Queue's locks
        self.inbox: deque[Incoming] = deque()
        self.arrived = threading.Event()
        self.stop_event = threading.Event()
        self.epoch = 0
        self.subscribed = threading.Event()
        self.started_at = datetime.now(UTC)
        self.last_batch: dict = {}
        self.last_message_at: float | None = None
        self.unflushed = 0  # messages received, not yet in a committed batch
        self._recent: deque[tuple[float, int]] = deque()  # (second, messages) for the rate
        self.store: ObjectStore | None = None
        self.conn: psycopg.Connection | None = None
        self.client: MqttClient | None = None

    # -- MQTT --------------------------------------------------------------------------------
    def _on_connect(self, flags, reason_code) -> None:
        self.epoch += 1
        assert self.client is not None
        log.info(
            "connected to %s as %s (session present: %s)",
            self.broker_label,
            self.client_id,
            flags.session_present,
        )
        self.client.subscribe(self.subscription, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if all(not code.is_failure for code in reason_codes):
            self.subscribed.set()
        else:
            log.error("subscription to %s refused: %s", self.subscription, reason_codes)

    def _on_message(self, client, userdata, message) -> None:
        self.inbox.append(
            Incoming(
                self.epoch, message.mid, message.topic, bytes(message.payload), datetime.now(UTC)
            )
        )
        if not self.arrived.is_set():
            self.arrived.set()

    def _connect_mqtt(self, timeout: float = 30.0) -> None:
        # MQTT 5 Receive Maximum: how many unacknowledged messages the broker may have in
        # flight to us. As large as the protocol allows: while a batch waits for its commit
        # the broker keeps sending, and what it cannot send it queues — and Mosquitto drops
        # QoS 1 messages beyond max_queued_messages (default 1000) even for a live client.
        receive_maximum = 65535
        client = MqttClient(
            self.broker_url,
            self.client_id,
            persistent=True,
            manual_ack=True,
            receive_maximum=receive_maximum,
        )
        client.when_connected(self._on_connect)
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self.client = client
        client.connect_async_and_start()
        client.wait_connected(timeout)

    # -- warehouse ---------------------------------------------------------------------------
    def _connect_warehouse(self) -> psycopg.Connection:
        conn = connect(autocommit=True)  # transactions are explicit (conn.transaction())
        ensure_stream_schema(conn)
        locked = conn.execute(
            "select pg_try_advisory_lock(%s)", (zlib.crc32(self.client_id.encode()) & 0x7FFFFFFF,)
        ).fetchone()[0]
        if not locked:
            conn.close()
            raise RuntimeError(
                f"another stream consumer with client id {self.client_id!r} is running "
                f"(it holds its lock in the warehouse); stop it first or use another id"
            )
        return conn

    def _restore_state(self) -> None:
        assert self.conn is not None
        row = self.conn.execute(
            "select state from governance.stream_check_state where client_id = %s",
            (self.client_id,),
        ).fetchone()
        self.checks.restore(row[0] if row else None)

    def _remove_orphans(self) -> int:
        """Batches this consumer wrote but never committed (it died in between)."""
        assert self.conn is not None and self.store is not None
        today = datetime.now(KAIPING).date()
        last = self.conn.execute(
            "select max(ingest_date) from governance.stream_batch where client_id = %s",
            (self.client_id,),
        ).fetchone()[0]
        first = max(min(last or today, today) - timedelta(days=1), today - timedelta(days=31))
        removed = 0
        day = first
        while day <= today:
            found = find_batches(self.store, [*KINDS, UNKNOWN_KIND], day, self.tag)
            if found:
                committed = {
                    (kind, batch_id)
                    for kind, batch_id in self.conn.execute(
                        "select kind, batch_id from governance.stream_batch where ingest_date = %s",
                        (day,),
                    )
                }
                for kind, batch_id in found:
                    if (kind, batch_id) not in committed:
                        remove_batch(self.store, kind, day, batch_id)
                        removed += 1
            day += timedelta(days=1)
        if removed:
            log.warning("removed %d uncommitted batch(es) a previous run left behind", removed)
        return removed

    def _prune(self) -> None:
        assert self.conn is not None
        with self.conn.transaction():
            self.conn.execute(
                "delete from governance.stream_message where committed_at < now() - %s",
                (self.retention,),
            )

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop_after: float | None = None, idle_exit: float | None = None) -> ConsumerStats:
        """Consume until SIGTERM/SIGINT, ``stop()``, ``stop_after`` seconds, or
        ``idle_exit`` seconds without a message; flush and acknowledge before returning."""
        self._install_signal_handlers()
        _warm_up()
        self.store = open_store()
        self.conn = self._connect_warehouse()
        try:
            self._restore_state()
            self._remove_orphans()
            self._prune()
            self._connect_mqtt()
            self._loop(stop_after, idle_exit)
        finally:
            if self.client is not None:
                self.client.disconnect()
                self.client.loop_stop()
            self._write_status(final=True)
            self.conn.close()
        log.info("stopped: %s", self._summary())
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def graceful(signum, frame) -> None:
            log.info("signal %d: flushing and stopping", signum)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, graceful)
        signal.signal(signal.SIGINT, graceful)

    def _loop(self, stop_after: float | None, idle_exit: float | None) -> None:
        started = time.monotonic()
        batch: list[Incoming] = []
        batch_started = 0.0
        next_status = 0.0
        next_log = started + self.log_every
        self.last_message_at = started
        while True:
            now = time.monotonic()
            if stop_after is not None and now - started >= stop_after:
                self.stop_event.set()
            idle = now - (self.last_message_at or started)
            if idle_exit is not None and not self.inbox and not batch and idle >= idle_exit:
                self.stop_event.set()
            stopping = self.stop_event.is_set()
            if stopping:
                batch.extend(self._drain())
            due = batch and (
                len(batch) >= self.batch_messages or now - batch_started >= self.batch_seconds
            )
            if batch and (due or stopping):
                batch = self._flush_with_retry(batch)
                self.unflushed = len(batch)
                if batch:  # the flush failed and we are stopping: leave them unacknowledged
                    break
                continue
            if stopping:
                break
            if now >= next_status:
                self._write_status()
                next_status = now + self.status_every
            if now >= next_log:
                log.info("%s", self._summary())
                next_log = now + self.log_every
            wait = 0.2
            if batch:
                wait = max(0.0, min(wait, batch_started + self.batch_seconds - now))
            if not self.inbox:
                self.arrived.clear()  # cleared before looking again: no wake-up is lost
                if not self.inbox:
                    self.arrived.wait(wait)
                    continue
            if not batch:
                batch_started = time.monotonic()
            taken = min(len(self.inbox), self.batch_messages - len(batch))
            popleft = self.inbox.popleft
            batch.extend(popleft() for _ in range(taken))
            self._count_received(taken)
            self.unflushed = len(batch)

    def _drain(self) -> list[Incoming]:
        items = []
        while self.inbox:
            items.append(self.inbox.popleft())
        self._count_received(len(items))
        return items

    def _count_received(self, count: int) -> None:
        if not count:
            return
        now = time.monotonic()
        self.last_message_at = now
        second = int(now)
        if self._recent and self._recent[-1][0] == second:
            self._recent[-1] = (second, self._recent[-1][1] + count)
        else:
            self._recent.append((second, count))
        while self._recent and self._recent[0][0] < second - 10:
            self._recent.popleft()

    def _flush_with_retry(self, batch: list[Incoming]) -> list[Incoming]:
        """Flush; on failure retry with backoff (the messages stay unacknowledged, so the
        broker holds them). Returns what is left: [] once flushed."""
        delay = 1.0
        while True:
            try:
                self._flush(batch)
                return []
            except Exception as error:
                self.stats.flush_failures += 1
                log.error("flush of %d messages failed: %s", len(batch), error, exc_info=True)
                if self.stop_event.is_set() and self.stats.flush_failures > 3:
                    return batch
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                self._reconnect_warehouse()
                with contextlib.suppress(Exception):  # the committed state is the truth
                    self._restore_state()

    def _reconnect_warehouse(self) -> None:
        assert self.conn is not None
        if not self.conn.closed and not self.conn.broken:
            return
        with contextlib.suppress(Exception):
            self.conn.close()
        try:
            self.conn = self._connect_warehouse()
        except Exception as error:  # tried again at the next flush
            log.error("warehouse unreachable: %s", error)

    # -- a flush -----------------------------------------------------------------------------
    def _flush(self, batch: list[Incoming]) -> None:
        assert self.conn is not None and self.store is not None
        flushed_at = datetime.now(UTC)
        batch_id = f"{flushed_at:%Y%m%dT%H%M%S%f}-{self.tag}"
        ingest_date = flushed_at.astimezone(KAIPING).date()

        parsed: list[tuple[Incoming, object, str]] = []  # (message, Reading | error, key)
        for item in batch:
            try:
                reading = parse(item.topic, item.data, self.devices)
            except MalformedMessage as error:
                parsed.append((item, error, refused_key(item.topic, item.data)))
            else:
                parsed.append((item, reading, reading.msg_id))

        kinds: dict[str, KindBatch] = {}

        def kind_batch(kind: str | None) -> KindBatch:
            kind = kind if kind in KINDS else UNKNOWN_KIND
            if kind not in kinds:
                kinds[kind] = KindBatch(kind, self.metrics.get(kind, {}))
            return kinds[kind]

        snapshot = self.checks.snapshot()
        written: list[tuple[str, date, str]] = []
        committing = False
        try:
            with self.conn.transaction():
                self.conn.execute("select pg_advisory_xact_lock(%s)", (COMMIT_LOCK,))
                keys = list({key for _, _, key in parsed})
                committed = {
                    key
                    for (key,) in self.conn.execute(
                        "select msg_key from governance.stream_message where msg_key = any(%s)",
                        (keys,),
                    )
                }
                seen: set[str] = set()
                alerts: list[Alert] = []
                for item, outcome, key in parsed:
                    target = kind_batch(outcome.kind)  # type: ignore[attr-defined]
                    target.saw(item.received_at)
                    if key in committed or key in seen:
                        target.duplicates += 1
                        continue
                    seen.add(key)
                    if isinstance(outcome, MalformedMessage):
                        target.refused.append(
                            RefusedMessage(item.topic, item.data, outcome, item.received_at)
                        )
                        if outcome.code == "out_of_range":
                            alerts.extend(self.checks.out_of_range(outcome))
                    else:
                        target.readings.append(LandedReading(outcome, item.received_at))
                        alerts.extend(self.checks.observe(outcome))
                alerts.extend(self.checks.sweep())

                with tempfile.TemporaryDirectory(prefix="govlake-stream-") as scratch:
                    for kind, content in sorted(kinds.items()):
                        written.append((kind, ingest_date, batch_id))
                        write_kind_batch(
                            self.store,
                            content,
                            batch_id=batch_id,
                            ingest_date=ingest_date,
                            client_id=self.client_id,
                            broker=self.broker_label,
                            subscription=self.subscription,
                            scratch=Path(scratch),
                        )
                self._record(batch_id, ingest_date, kinds, alerts)
                committing = True  # leaving the block commits; its outcome may be unknown
        except BaseException:
            self.checks.restore(snapshot)
            if not committing:  # best effort; else removed at the next start if uncommitted
                for kind, day, written_id in written:
                    with contextlib.suppress(Exception):
                        remove_batch(self.store, kind, day, written_id)
            raise

        # committed: only now may the broker forget these messages. Nothing below may
        # raise into the retry of the flush (that would acknowledge packet ids twice).
        try:
            self._acknowledge(batch)
            committed_at = datetime.now(UTC)
            events = self._after_commit(batch_id, ingest_date, kinds, alerts, committed_at, batch)
            if self.batch_event_topic and self.client is not None:
                for event in events:
                    self.client.publish(
                        self.batch_event_topic, json.dumps(event, ensure_ascii=False), qos=1
                    )
            if self.on_batch is not None:
                self.on_batch(events)
        except Exception:
            log.exception("after committing batch %s", batch_id)

    def _record(
        self, batch_id: str, ingest_date: date, kinds: dict[str, KindBatch], alerts: list[Alert]
    ) -> None:
        assert self.conn is not None
        conn = self.conn
        alerts_by_kind = Counter(alert.kind for alert in alerts)
        with conn.cursor() as cur:
            with cur.copy(
                "copy governance.stream_message (msg_key, kind, device_id, outcome, batch_id, "
                "observed_at) from stdin"
            ) as copy:
                for kind, content in kinds.items():
                    for landed in content.readings:
                        r = landed.reading
                        copy.write_row(
                            (r.msg_id, kind, r.device_id, "landed", batch_id, r.observed_at)
                        )
                    for refused in content.refused:
                        copy.write_row(
                            (refused.key, kind, refused.error.device_id, "quarantined",
                             batch_id, None)
                        )  # fmt: skip
            for kind, content in kinds.items():
                first_seen, last_seen = content.observed_range
                cur.execute(
                    "insert into governance.stream_batch (kind, batch_id, client_id, "
                    "ingest_date, object_prefix, manifest_key, received, landed, duplicates, "
                    "quarantined, alerts, first_received_at, last_received_at, "
                    "min_observed_at, max_observed_at) values (%s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s, %s, %s, %s, %s, %s)",
                    (
                        kind, batch_id, self.client_id, ingest_date,
                        manifest_key(kind, ingest_date, batch_id).rsplit("/", 1)[0] + "/",
                        manifest_key(kind, ingest_date, batch_id), content.received,
                        len(content.readings), content.duplicates, len(content.refused),
                        alerts_by_kind.get(kind, 0), content.first_received_at,
                        content.last_received_at, first_seen, last_seen,
                    ),
                )  # fmt: skip
                if content.refused:
                    cur.executemany(
                        "insert into governance.quarantine (resource_id, batch_id, stage, "
                        "source_file, source_row, field, reason, record) values "
                        "(%s, %s, 'stream', %s, null, %s, %s, %s)",
                        [
                            (
                                f"{DEPARTMENT}.{kind}",
                                batch_id,
                                r.source_file,
                                r.field,
                                r.reason,
                                json.dumps(r.record, ensure_ascii=False),
                            )
                            for r in map(rejection, content.refused)
                        ],
                    )
            if alerts:
                cur.executemany(
                    "insert into governance.sensor_alert (device_id, kind, metric, check_name, "
                    "value, observed_at, msg_id, message_zh, message_en, batch_id) values "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
                    [
                        (
                            a.device_id, a.kind, a.metric, a.check, a.value, a.observed_at,
                            a.msg_id, a.message_zh, a.message_en, batch_id,
                        )
                        for a in alerts
                    ],
                )  # fmt: skip
            cur.execute(
                "insert into governance.stream_check_state (client_id, state, batch_id) "
                "values (%s, %s, %s) on conflict (client_id) do update set state = "
                "excluded.state, batch_id = excluded.batch_id, updated_at = now()",
                (self.client_id, json.dumps(self.checks.snapshot()), batch_id),
            )

    def _acknowledge(self, batch: list[Incoming]) -> None:
        """PUBACK each message of the current connection, in the order received. A message
        delivered on an earlier connection is left alone: the broker has redelivered it on
        this one (it is in this batch or a later one, as a duplicate) and a packet id from
        another connection could name another message here."""
        assert self.client is not None
        current = self.epoch
        stale = 0
        for item in batch:
            if item.epoch != current:
                stale += 1
                continue
            self.client.ack(item.mid, 1)
        if stale:
            log.info("%d message(s) of an earlier connection left to their redelivery", stale)

    def _after_commit(
        self,
        batch_id: str,
        ingest_date: date,
        kinds: dict[str, KindBatch],
        alerts: list[Alert],
        committed_at: datetime,
        batch: list[Incoming],
    ) -> list[dict]:
        stats = self.stats
        stats.batches += 1
        events = []
        observed = []
        for kind, content in sorted(kinds.items()):
            stats.received += content.received
            stats.landed += len(content.readings)
            stats.duplicates += content.duplicates
            stats.quarantined += len(content.refused)
            stats.quarantined_by_reason.update(r.error.code for r in content.refused)
            observed.extend(r.reading.observed_at for r in content.readings)
            events.append(
                {
                    "kind": kind,
                    "batch_id": batch_id,
                    "ingest_date": ingest_date.isoformat(),
                    "manifest_key": manifest_key(kind, ingest_date, batch_id),
                    "received": content.received,
                    "landed": len(content.readings),
                    "duplicates": content.duplicates,
                    "quarantined": len(content.refused),
                }
            )
        stats.alerts += len(alerts)
        stats.alerts_by_check.update(a.check for a in alerts)
        receive_lags = [(committed_at - item.received_at).total_seconds() for item in batch]
        event_lags = sorted((committed_at - at).total_seconds() for at in observed)
        self.last_batch = {
            "batch_id": batch_id,
            "committed_at": committed_at.isoformat(),
            "received": sum(c.received for c in kinds.values()),
            "landed": sum(len(c.readings) for c in kinds.values()),
            "duplicates": sum(c.duplicates for c in kinds.values()),
            "quarantined": sum(len(c.refused) for c in kinds.values()),
            "alerts": len(alerts),
            "kinds": {e["kind"]: e["landed"] for e in events},
            "receive_lag_s": {
                "max": round(max(receive_lags), 3),
                "mean": round(sum(receive_lags) / len(receive_lags), 3),
            },
            "event_lag_s": (
                {
                    "min": round(event_lags[0], 3),
                    "median": round(event_lags[len(event_lags) // 2], 3),
                    "max": round(event_lags[-1], 3),
                }
                if event_lags
                else None
            ),
        }
        self._write_status()
        return events

    # -- observability -----------------------------------------------------------------------
    def _rate(self) -> float:
        if not self._recent:
            return 0.0
        now = int(time.monotonic())
        total = sum(count for second, count in self._recent if second >= now - 10)
        return round(total / 10.0, 2)

    def _summary(self) -> str:
        s = self.stats
        return (
            f"batches {s.batches}, received {s.received} (landed {s.landed}, duplicates "
            f"{s.duplicates}, quarantined {s.quarantined}), alerts {s.alerts}, "
            f"{self._rate():g} msg/s, pending {len(self.inbox)}"
        )

    def status(self, final: bool = False) -> dict:
        s = self.stats
        return {
            "client_id": self.client_id,
            "pid": os.getpid(),
            "broker": self.broker_label,
            "subscription": self.subscription,
            "state": "stopped" if final else "running",
            "connected": bool(self.client and self.client.is_connected()),
            "subscribed": self.subscribed.is_set(),
            "connections": self.epoch,
            "started_at": self.started_at.isoformat(),
            "updated_at": datetime.now(UTC).isoformat(),
            "batch_seconds": self.batch_seconds,
            "batch_messages": self.batch_messages,
            "messages_per_s": self._rate(),
            "pending": len(self.inbox),
            "unflushed": self.unflushed,
            "watermark": self.checks.watermark.isoformat() if self.checks.watermark else None,
            "totals": {
                "batches": s.batches,
                "received": s.received,
                "landed": s.landed,
                "duplicates": s.duplicates,
                "quarantined": s.quarantined,
                "alerts": s.alerts,
                "flush_failures": s.flush_failures,
                "reconciles": s.reconciles(),
            },
            "alerts_by_check": dict(s.alerts_by_check),
            "quarantined_by_reason": dict(s.quarantined_by_reason),
            "last_batch": self.last_batch,
        }

    def _write_status(self, final: bool = False) -> None:
        path = self.status_file
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps(self.status(final), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            tmp.replace(path)
        except OSError as error:
            log.warning("could not write %s: %s", path, error)


def _warm_up() -> None:
    """Import now what the first flush would otherwise import while messages wait (Arrow
    loads its pandas shim on first use: ~0.7 s)."""
    import pyarrow as pa
    import pyarrow.parquet

    pa.Table.from_pylist([{"warm": 1}])


def run(
    broker_url: str,
    *,
    batch_seconds: float,
    batch_messages: int,
    stop_after: float | None = None,
    idle_exit: float | None = None,
    **options,
) -> ConsumerStats:
    """Consume the sensor stream of ``broker_url`` until stopped (SIGTERM/SIGINT, or after
    ``stop_after`` seconds, or ``idle_exit`` seconds without a message). ``options``:
    see ``StreamConsumer`` (``client_id``, ``topic_root``, ``devices``, ``stuck_minutes``,
    ``offline_minutes``, ``status_file``, ``batch_event_topic``, ``retention_days`` ...)."""
    consumer = StreamConsumer(
        broker_url, batch_seconds=batch_seconds, batch_messages=batch_messages, **options
    )
    return consumer.run(stop_after=stop_after, idle_exit=idle_exit)


def main(argv: list[str] | None = None) -> int:
    """``python -m govlake.stream.consumer``: the consumer as a process of its own."""
    from govlake.stream.broker import broker_url as default_broker

    parser = argparse.ArgumentParser(prog="python -m govlake.stream.consumer")
    parser.add_argument("--broker", help="MQTT URL (default: GOVLAKE_MQTT_URL or embedded)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--topic-root", default=TOPIC_ROOT)
    parser.add_argument("--batch-seconds", type=float, default=5.0)
    parser.add_argument("--batch-messages", type=int, default=2000)
    parser.add_argument("--stop-after", type=float)
    parser.add_argument("--idle-exit", type=float)
    parser.add_argument("--offline-minutes", type=float, default=OFFLINE_MINUTES)
    parser.add_argument("--stuck-minutes", type=float, help="replaces the catalog windows")
    parser.add_argument("--no-batch-events", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stats = run(
        args.broker or default_broker(),
        batch_seconds=args.batch_seconds,
        batch_messages=args.batch_messages,
        stop_after=args.stop_after,
        idle_exit=args.idle_exit,
        client_id=args.client_id,
        topic_root=args.topic_root,
        offline_minutes=args.offline_minutes,
        stuck_minutes=args.stuck_minutes,
        batch_event_topic=None if args.no_batch_events else BATCH_EVENT_TOPIC,
    )
    return 0 if stats.reconciles() else 1


if __name__ == "__main__":
    raise SystemExit(main())
