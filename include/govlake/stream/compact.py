"""Nightly compaction of the sensor stream: one Parquet file per kind and day.

The consumer lands one batch per kind at every flush — at 5-second batches, ~17,000 small
files per kind a day, which every reader of the lake (a rebuild of ``raw``, DuckDB, a
lineage tool) pays for in requests and footers. ``compact_day(D)`` rewrites the day's
batches of each kind as one batch, the way every other batch is written (one Parquet part,
SHA-256 in a manifest written last, a commit record), and only then retires the small ones.

Per kind, holding a lock no other compaction of the kind and day can take:

1. tidy up after an interrupted run: a compacted batch written but never committed is
   removed (manifest first); the sources of a committed compaction still in the store are
   removed now;
2. load what is committed and not loaded yet (``load_pending``): every source is in
   ``raw.sensor__<kind>`` before it is compacted;
3. the sources: the day's committed, loaded batches of the kind that hold readings and
   are not compacted yet (a previous compaction of the day is one of them: one file per
   kind and day). Fewer than two: nothing to do;
4. read every source part (checksum verified), unify the metric columns, sort by
   ``observed_at, msg_id``; write the part, then the manifest, under the batch id
   ``<YYYYMMDD>-compacted-<digest of the source ids>`` (a rerun after a crash writes the
   same objects again);
5. one transaction: the compacted batch's commit record in ``governance.stream_batch``
   (``client_id`` ``compaction``, ``state`` ``loaded``: its rows are in ``raw`` already,
   under the batch ids they were first loaded with — ``loaded_rows`` 0, ``load_conflicts``
   = its rows, exactly what ``load_stream_batch`` records when it loads it again), and one
   ``governance.stream_compaction`` row per source naming the batch that supersedes it;
6. after the commit, the sources' raw objects are deleted, manifest first
   (``keep_sources=True``: only marked superseded). Their quarantine files stay: they are
   not readings, and ``governance.quarantine`` points at them.

Loading stays idempotent: loading the compacted batch adds no row (every msg_id is there);
into an empty ``raw.sensor__<kind>`` — a rebuild from the lake — it gives the same rows,
value for value, with the compacted batch's id in ``_batch_id``.

Counting: the compacted batch's commit record repeats its sources' readings. Per-day sums
over ``governance.stream_batch`` leave out ``client_id = 'compaction'`` (what the consumer
received) or the superseded batches (``governance.stream_compaction``: what the lake holds).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from govlake.governance.store import connect
from govlake.lake.batch import Manifest, _sha256
from govlake.lake.storage import ObjectStore, open_store
from govlake.stream.devices import KINDS
from govlake.stream.landing import (
    DEPARTMENT,
    arrow_schema,
    batch_ref,
    read_stream_manifest,
)
from govlake.stream.load import ensure_stream_schema, load_pending
from govlake.stream.messages import KAIPING

log = logging.getLogger("govlake.stream.compact")

CLIENT_ID = "compaction"
MARKER = "-compacted-"

DDL = """
create table if not exists governance.stream_compaction (
    kind           text not null,
    batch_id       text not null,           -- a compacted (superseded) batch
    ingest_date    date not null,
    compacted_into text not null,           -- the batch that holds its readings now
    rows           bigint not null,
    compacted_at   timestamptz not null default now(),
    removed_at     timestamptz,             -- its raw objects deleted (null: still kept)
    primary key (kind, batch_id)
);
create index if not exists stream_compaction_into
    on governance.stream_compaction (kind, compacted_into);
"""


class CompactionError(RuntimeError):
    pass


@dataclass
class CompactionResult:
    kind: str
    ingest_date: date
    batch_id: str | None  # the compacted batch; None when there was nothing to compact
    sources: int
    rows: int
    bytes: int
    removed: int  # source batches whose objects were deleted (this run, tidy-up included)
    tidied: int  # leftovers of an interrupted run removed

    @property
    def compacted(self) -> bool:
        return self.batch_id is not None


def ensure_compaction_schema(conn: psycopg.Connection) -> None:
    ensure_stream_schema(conn)
    with conn.transaction():
        conn.execute(DDL)


def compacted_batch_id(ingest_date: date, sources: Iterable[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(sources)).encode("utf-8")).hexdigest()
    return f"{ingest_date:%Y%m%d}{MARKER}{digest[:12]}"


def compact_day(
    ingest_date: date,
    kinds: Sequence[str] | None = None,
    *,
    keep_sources: bool = False,
    store: ObjectStore | None = None,
) -> list[CompactionResult]:
    """Compact the day's micro-batches of each kind (default: every catalog kind) into one
    batch per kind; see the module's doc for the steps and the guarantees."""
    store = store or open_store()
    wanted = list(kinds) if kinds is not None else list(KINDS)
    with connect(autocommit=True) as conn:
        ensure_compaction_schema(conn)
    load_pending(wanted, store=store)  # everything compacted must be in raw already
    return [_compact_kind(kind, ingest_date, keep_sources, store) for kind in wanted]


def _compact_kind(
    kind: str, ingest_date: date, keep_sources: bool, store: ObjectStore
) -> CompactionResult:
    lock = zlib.crc32(f"compact:{kind}:{ingest_date}".encode()) & 0x7FFFFFFF
    with connect(autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s)", (lock,)).fetchone()[0]:
            raise CompactionError(
                f"another compaction of {kind} on {ingest_date} is running; wait for it"
            )
        try:
            tidied = _tidy(conn, store, kind, ingest_date, keep_sources)
            sources = conn.execute(
                "select b.batch_id, b.manifest_key, b.landed, b.received, "
                "b.first_received_at, b.last_received_at from governance.stream_batch b "
                "where b.kind = %s and b.ingest_date = %s and b.state = 'loaded' "
                "and b.landed > 0 and not exists (select 1 from governance.stream_compaction c "
                "where c.kind = b.kind and c.batch_id = b.batch_id) "
                "order by b.committed_at, b.batch_id",
                (kind, ingest_date),
            ).fetchall()
            if len(sources) < 2:
                return CompactionResult(kind, ingest_date, None, len(sources), 0, 0,
                                        tidied[1], tidied[0])  # fmt: skip
            batch_id = compacted_batch_id(ingest_date, (s[0] for s in sources))
            manifest = _write(store, kind, ingest_date, batch_id, sources)
            _commit(conn, kind, ingest_date, manifest, sources)
            removed = 0 if keep_sources else _remove_sources(conn, store, kind, ingest_date)
            log.info(
                "compacted %d %s batches of %s into %s (%d rows)",
                len(sources), kind, ingest_date, batch_id, manifest.rows,
            )  # fmt: skip
            return CompactionResult(kind, ingest_date, batch_id, len(sources), manifest.rows,
                                    manifest.bytes, removed + tidied[1], tidied[0])  # fmt: skip
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (lock,))


def _tidy(
    conn: psycopg.Connection, store: ObjectStore, kind: str, ingest_date: date, keep: bool
) -> tuple[int, int]:
    """(uncommitted compacted batches removed, superseded sources removed)."""
    committed = {
        batch_id
        for (batch_id,) in conn.execute(
            "select batch_id from governance.stream_batch where kind = %s and ingest_date = %s "
            "and client_id = %s",
            (kind, ingest_date, CLIENT_ID),
        )
    }
    prefix = f"raw/{DEPARTMENT}/{kind}/ingest_date={ingest_date:%Y-%m-%d}/"
    leftovers = {
        key[len(prefix) :].split("/", 1)[0][len("batch=") :]
        for key in store.list(prefix)
        if MARKER in key[len(prefix) :].split("/", 1)[0]
    }
    uncommitted = sorted(leftovers - committed)
    for batch_id in uncommitted:
        _remove_raw(store, kind, ingest_date, batch_id)
    if uncommitted:
        log.warning("removed %d compacted batch(es) an interrupted run left", len(uncommitted))
    removed = 0 if keep else _remove_sources(conn, store, kind, ingest_date)
    return len(uncommitted), removed


def _read_sources(
    store: ObjectStore, kind: str, sources: Sequence[tuple], scratch: Path
) -> tuple[list, dict[str, str]]:
    import pyarrow.parquet as pq

    tables, columns = [], {}
    for batch_id, key, landed, *_ in sources:
        manifest = read_stream_manifest(store, key)
        if manifest.resource != kind or manifest.batch_id != batch_id or manifest.rows != landed:
            raise CompactionError(f"the manifest {key} does not match its commit record")
        for name, pg_type in manifest.source.get("metrics", {}).items():
            columns.setdefault(name, pg_type)
        for part in manifest.parts:
            local = scratch / part["name"]
            store.download(part["key"], local)
            if _sha256(local) != part["sha256"]:
                raise CompactionError(
                    f"part {part['key']} does not match its manifest checksum; the object "
                    f"store copy is damaged — nothing was compacted"
                )
            tables.append(pq.read_table(local))
            local.unlink()
    return tables, columns


def _write(
    store: ObjectStore, kind: str, ingest_date: date, batch_id: str, sources: Sequence[tuple]
) -> Manifest:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = datetime.now(UTC)
    ref = batch_ref(kind, ingest_date, batch_id)
    with tempfile.TemporaryDirectory(prefix="govlake-compact-") as folder:
        scratch = Path(folder)
        tables, columns = _read_sources(store, kind, sources, scratch)
        schema = arrow_schema(columns)
        unified = []
        for table in tables:
            arrays = [
                table.column(f.name).cast(f.type)
                if f.name in table.column_names
                else pa.nulls(table.num_rows, f.type)
                for f in schema
            ]
            unified.append(pa.Table.from_arrays(arrays, schema=schema))
        table = pa.concat_tables(unified).sort_by(
            [("observed_at", "ascending"), ("msg_id", "ascending")]
        )
        expected = sum(s[2] for s in sources)
        distinct = pc.count_distinct(table.column("msg_id")).as_py()
        if table.num_rows != expected or distinct != expected:
            raise CompactionError(
                f"{kind} {ingest_date}: the sources hold {table.num_rows} rows and "
                f"{distinct} distinct msg_ids, their commit records {expected}; nothing was "
                f"compacted"
            )
        name = f"part-{batch_id}-0000.parquet"
        local = scratch / name
        pq.write_table(table, local, compression="zstd")
        key = ref.prefix + name
        store.put_file(key, local)
        part = {
            "name": name,
            "key": key,
            "stream": "compaction",
            "rows": table.num_rows,
            "bytes": local.stat().st_size,
            "sha256": _sha256(local),
            "columns": schema.names,
        }
        observed = table.column("observed_at")
        first = pc.min(observed).as_py()
        last = pc.max(observed).as_py()
    received = [s[4] for s in sources if s[4]] + [s[5] for s in sources if s[5]]
    manifest = Manifest(
        batch_id=batch_id,
        resource=kind,
        department=DEPARTMENT,
        ingest_date=ingest_date.isoformat(),
        mode="stream",
        window_start=_iso(first),
        window_end=_iso(last) or started.isoformat(),
        source={
            "kind": "compaction",
            "client_id": CLIENT_ID,
            "compacted_from": [s[0] for s in sources],
            "received": part["rows"],
            "duplicates": 0,
            "first_received_at": _iso(min(received)) if received else None,
            "last_received_at": _iso(max(received)) if received else None,
            "metrics": columns,
        },
        source_rows=part["rows"],
        rows=part["rows"],
        extract_quarantined=0,
        bytes=part["bytes"],
        parts=[part],
        attempt=batch_id,
        quarantine_key=None,
        watermark={"column": "observed_at", "max_seen": _iso(last)},
        extracted_at=started.isoformat(),
        duration_s=(datetime.now(UTC) - started).total_seconds(),
    )
    store.put_bytes(ref.manifest_key, manifest.to_json())  # last: the batch is complete
    return manifest


def _commit(
    conn: psycopg.Connection,
    kind: str,
    ingest_date: date,
    manifest: Manifest,
    sources: Sequence[tuple],
) -> None:
    source_ids = [s[0] for s in sources]
    received = [s[4] for s in sources if s[4]] + [s[5] for s in sources if s[5]]
    ref = batch_ref(kind, ingest_date, manifest.batch_id)
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(%s)",
            (zlib.crc32(f"raw.sensor__{kind}".encode()) & 0x7FFFFFFF,),  # as load.py does
        )
        superseded = conn.execute(
            "select count(*) from governance.stream_compaction where kind = %s and "
            "batch_id = any(%s)",
            (kind, source_ids),
        ).fetchone()[0]
        if superseded:
            raise CompactionError(f"{kind} {ingest_date}: a source was compacted meanwhile")
        conn.execute(
            "insert into governance.stream_batch (kind, batch_id, client_id, ingest_date, "
            "object_prefix, manifest_key, received, landed, duplicates, quarantined, alerts, "
            "first_received_at, last_received_at, min_observed_at, max_observed_at, state, "
            "loaded_rows, load_conflicts, loaded_at) values (%s, %s, %s, %s, %s, %s, %s, %s, "
            "0, 0, 0, %s, %s, %s, %s, 'loaded', 0, %s, now()) on conflict (kind, batch_id) "
            "do nothing",
            (
                kind, manifest.batch_id, CLIENT_ID, ingest_date, ref.prefix, ref.manifest_key,
                manifest.rows, manifest.rows, min(received) if received else None,
                max(received) if received else None, _moment(manifest.window_start),
                _moment(manifest.window_end), manifest.rows,
            ),
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                "insert into governance.stream_compaction (kind, batch_id, ingest_date, "
                "compacted_into, rows) values (%s, %s, %s, %s, %s)",
                [(kind, s[0], ingest_date, manifest.batch_id, s[2]) for s in sources],
            )


def _remove_sources(
    conn: psycopg.Connection, store: ObjectStore, kind: str, ingest_date: date
) -> int:
    """Delete the raw objects of every committed-superseded source still in the store."""
    pending = [
        batch_id
        for (batch_id,) in conn.execute(
            "select batch_id from governance.stream_compaction where kind = %s and "
            "ingest_date = %s and removed_at is null order by batch_id",
            (kind, ingest_date),
        )
    ]
    for batch_id in pending:
        _remove_raw(store, kind, ingest_date, batch_id)
        conn.execute(
            "update governance.stream_compaction set removed_at = now() where kind = %s and "
            "batch_id = %s",
            (kind, batch_id),
        )
    return len(pending)


def _remove_raw(store: ObjectStore, kind: str, ingest_date: date, batch_id: str) -> None:
    """A batch's raw objects, manifest first: a half-removed batch is an incomplete one,
    never one with missing parts. Its quarantine file is kept."""
    ref = batch_ref(kind, ingest_date, batch_id)
    if store.exists(ref.manifest_key):
        store.delete_prefix(ref.manifest_key)
    store.delete_prefix(ref.prefix)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(KAIPING).isoformat()


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
