"""A micro-batch in the object store, with the raw zone's conventions (``lake/batch.py``).

One micro-batch (one flush of the consumer) lands one batch per sensor kind it holds::

    raw/sensor/<kind>/ingest_date=D/batch=<id>/part-<id>-0000.parquet   the readings
    raw/sensor/<kind>/ingest_date=D/batch=<id>/_manifest.json          written last
    quarantine/sensor/<kind>/ingest_date=D/batch=<id>/stream.jsonl     refused messages

``D`` is the Kaiping date the batch was received; ``<id>`` is
``<received time>-<consumer tag>`` (``20261101T081500123456-3f2a9c1d``), unique per
consumer and sortable. Messages whose kind cannot be read land under ``_unknown``
(quarantine only). The manifest is the ``Manifest`` of ``lake/batch.py`` with
``department = "sensor"``, ``resource = <kind>``, ``mode = "stream"``:
``source_rows = rows + extract_quarantined`` (distinct messages), and ``source`` holds the
micro-batch's own counts (``received``, ``duplicates``), the metric columns and their
types, and where the messages came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from govlake.lake.batch import MANIFEST, BatchRef, Manifest, QuarantineSpool, Rejected, _sha256
from govlake.lake.storage import ObjectStore
from govlake.stream.devices import Metric
from govlake.stream.messages import KAIPING, MalformedMessage, Reading

DEPARTMENT = "sensor"
UNKNOWN_KIND = "_unknown"
QUARANTINE_STAGE = "stream"
KIND_PATTERN = re.compile(r"^_?[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class LandedReading:
    reading: Reading
    received_at: datetime


@dataclass(frozen=True)
class RefusedMessage:
    topic: str
    data: bytes
    error: MalformedMessage
    received_at: datetime

    @property
    def key(self) -> str:
        return refused_key(self.topic, self.data)


def refused_key(topic: str, data: bytes) -> str:
    """The deduplication key of a refused message: its exact bytes on its topic."""
    return "q:" + hashlib.sha256(topic.encode("utf-8") + b"\0" + data).hexdigest()


@dataclass
class KindBatch:
    """What one micro-batch holds for one kind, after deduplication."""

    kind: str
    metrics: Mapping[str, Metric]
    readings: list[LandedReading] = field(default_factory=list)
    refused: list[RefusedMessage] = field(default_factory=list)
    received: int = 0
    duplicates: int = 0
    first_received_at: datetime | None = None
    last_received_at: datetime | None = None

    def saw(self, received_at: datetime) -> None:
        self.received += 1
        if self.first_received_at is None or received_at < self.first_received_at:
            self.first_received_at = received_at
        if self.last_received_at is None or received_at > self.last_received_at:
            self.last_received_at = received_at

    @property
    def observed_range(self) -> tuple[datetime | None, datetime | None]:
        times = [r.reading.observed_at for r in self.readings]
        return (min(times), max(times)) if times else (None, None)


def batch_ref(kind: str, ingest_date: date, batch_id: str) -> BatchRef:
    if not KIND_PATTERN.match(kind):
        raise ValueError(f"{kind!r} is not a sensor kind")
    return BatchRef(DEPARTMENT, kind, ingest_date, batch_id)


def manifest_key(kind: str, ingest_date: date, batch_id: str) -> str:
    return batch_ref(kind, ingest_date, batch_id).manifest_key


def metric_columns(metrics: Mapping[str, Metric]) -> dict[str, str]:
    """Metric name → its raw column type, as recorded in the manifest."""
    return {name: m.pg_type for name, m in metrics.items()}


def _arrow_type(pg_type: str) -> pa.DataType:
    return {"integer": pa.int32(), "boolean": pa.bool_()}.get(pg_type, pa.float64())


def arrow_schema(columns: Mapping[str, str]) -> pa.Schema:
    return pa.schema(
        [
            pa.field("msg_id", pa.string(), nullable=False),
            pa.field("device_id", pa.string(), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("observed_at", pa.timestamp("us", tz="Asia/Shanghai"), nullable=False),
            pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
            *(pa.field(name, _arrow_type(t)) for name, t in columns.items()),
        ]
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(KAIPING).isoformat()


def write_kind_batch(
    store: ObjectStore,
    batch: KindBatch,
    *,
    batch_id: str,
    ingest_date: date,
    client_id: str,
    broker: str,
    subscription: str,
    scratch: Path,
) -> Manifest:
    """Write the parts, the quarantine file, then the manifest (the batch's commit)."""
    started = datetime.now(UTC)
    ref = batch_ref(batch.kind, ingest_date, batch_id)
    columns = metric_columns(batch.metrics)
    parts: list[dict] = []
    if batch.readings:
        schema = arrow_schema(columns)
        table = pa.Table.from_pylist(
            [
                {
                    "msg_id": r.reading.msg_id,
                    "device_id": r.reading.device_id,
                    "seq": r.reading.seq,
                    "observed_at": r.reading.observed_at,
                    "received_at": r.received_at,
                    **r.reading.metrics,
                }
                for r in batch.readings
            ],
            schema=schema,
        )
        name = f"part-{batch_id}-0000.parquet"
        local = scratch / f"{batch.kind}-{name}"
        pq.write_table(table, local, compression="zstd")
        key = ref.prefix + name
        store.put_file(key, local)
        parts.append(
            {
                "name": name,
                "key": key,
                "stream": subscription,
                "rows": table.num_rows,
                "bytes": local.stat().st_size,
                "sha256": _sha256(local),
                "columns": schema.names,
            }
        )
        local.unlink()

    quarantine_key = None
    if batch.refused:
        spool = QuarantineSpool(scratch / f"{batch.kind}-{batch_id}-quarantine.jsonl")
        for refused in batch.refused:
            spool.add(rejection(refused))
        spool.close()
        quarantine_key = ref.quarantine_key(QUARANTINE_STAGE)
        store.put_file(quarantine_key, spool.path)
        spool.path.unlink()

    first, last = batch.observed_range
    manifest = Manifest(
        batch_id=batch_id,
        resource=batch.kind,
        department=DEPARTMENT,
        ingest_date=ingest_date.isoformat(),
        mode="stream",
        window_start=_iso(first),
        window_end=_iso(last) or _iso(batch.last_received_at) or started.isoformat(),
        source={
            "kind": "mqtt",
            "broker": broker,
            "subscription": subscription,
            "client_id": client_id,
            "received": batch.received,
            "duplicates": batch.duplicates,
            "first_received_at": _iso(batch.first_received_at),
            "last_received_at": _iso(batch.last_received_at),
            "metrics": columns,
        },
        source_rows=len(batch.readings) + len(batch.refused),
        rows=len(batch.readings),
        extract_quarantined=len(batch.refused),
        bytes=sum(p["bytes"] for p in parts),
        parts=parts,
        attempt=batch_id,
        quarantine_key=quarantine_key,
        watermark={"column": "observed_at", "max_seen": _iso(last)},
        extracted_at=started.isoformat(),
        duration_s=(datetime.now(UTC) - started).total_seconds(),
    )
    store.put_bytes(ref.manifest_key, manifest.to_json())
    return manifest


def rejection(refused: RefusedMessage) -> Rejected:
    error = refused.error
    text = refused.data.decode("utf-8", errors="replace")
    return Rejected(
        source_file=refused.topic,
        source_row=None,
        reason=error.reason,
        field=error.field,
        record={
            "code": error.code,
            "msg_id": error.msg_id,
            "device_id": error.device_id,
            "payload": text,
            "payload_sha256": hashlib.sha256(refused.data).hexdigest(),
            "received_at": _iso(refused.received_at),
            "key": refused.key,
        },
    )


def read_stream_manifest(store: ObjectStore, key: str) -> Manifest:
    if not key.endswith(MANIFEST):
        key = key.rstrip("/") + "/" + MANIFEST
    return Manifest.from_json(store.get_bytes(key))


def batch_prefixes(manifest: Manifest) -> list[str]:
    ref = batch_ref(manifest.resource, date.fromisoformat(manifest.ingest_date), manifest.batch_id)
    return [ref.prefix, ref.quarantine_key(QUARANTINE_STAGE).rsplit("/", 1)[0] + "/"]


def remove_batch(store: ObjectStore, kind: str, ingest_date: date, batch_id: str) -> None:
    """Delete a batch's objects, manifest first (so that a half-removed batch is only ever
    an incomplete one, never a batch with missing parts)."""
    ref = batch_ref(kind, ingest_date, batch_id)
    if store.exists(ref.manifest_key):
        store.delete_prefix(ref.manifest_key)
    store.delete_prefix(ref.prefix)
    store.delete_prefix(ref.quarantine_key(QUARANTINE_STAGE).rsplit("/", 1)[0] + "/")


def find_batches(
    store: ObjectStore, kinds: Sequence[str], ingest_date: date, tag: str
) -> list[tuple[str, str]]:
    """(kind, batch id) of every batch folder a consumer with ``tag`` wrote on a date,
    with or without a manifest."""
    found = set()
    for kind in kinds:
        for root in ("raw", "quarantine"):
            prefix = f"{root}/{DEPARTMENT}/{kind}/ingest_date={ingest_date:%Y-%m-%d}/"
            for key in store.list(prefix):
                folder = key[len(prefix) :].split("/", 1)[0]
                if folder.startswith("batch=") and folder.endswith(f"-{tag}"):
                    found.add((kind, folder[len("batch=") :]))
    return sorted(found)
