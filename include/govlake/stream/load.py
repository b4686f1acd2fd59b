"""Load a committed sensor micro-batch into ``raw.sensor__<kind>``, all or nothing.

``raw.sensor__<kind>`` is wide: ``msg_id`` (primary key), ``device_id``, ``seq``,
``observed_at`` (timestamptz), ``received_at``, one column per metric of the kind
(``double precision``, or ``integer`` for state codes), ``_batch_id`` and ``_loaded_at``. A
metric the catalog gains later becomes a new column at the next load.

One transaction: check that the batch is committed (``governance.stream_batch``: a
manifest without a commit record is an orphan of a consumer that died, and is refused),
lock the table, verify the part's checksum, COPY the rows into a temporary table and
insert them ``on conflict (msg_id) do nothing``, then mark the batch loaded with
``landed = loaded_rows + load_conflicts`` (a CHECK constraint). Loading a batch twice
leaves the same rows — ``_loaded_at`` included. A conflict would mean a message in two
committed batches, which the consumer's deduplication rules out; should it ever happen,
the row stays once and the batch records the conflict.

Airflow calls ``load_stream_batch(manifest_key)`` per micro-batch (the key is in the
consumer's batch event) and ``load_pending()`` to catch up on any batch whose event was
missed.
"""

from __future__ import annotations

import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources as package_files
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from govlake.governance.store import connect, ensure_schema
from govlake.lake.batch import Manifest, _sha256
from govlake.lake.storage import ObjectStore, open_store
from govlake.lineage.steps import stream_load_run
from govlake.stream.landing import DEPARTMENT, UNKNOWN_KIND, batch_ref, read_stream_manifest

FIXED_COLUMNS = ("msg_id", "device_id", "seq", "observed_at", "received_at")
SCHEMA_LOCK = 4407830601


class StreamLoadError(RuntimeError):
    pass


@dataclass
class StreamLoadResult:
    kind: str
    batch_id: str
    landed: int
    inserted: int  # rows this load added (0 on a rerun)
    loaded_rows: int  # rows of the batch in the table afterwards
    conflicts: int
    seconds: float

    @property
    def reconciled(self) -> bool:
        return self.landed == self.loaded_rows + self.conflicts


def ensure_stream_schema(conn: psycopg.Connection) -> None:
    """The governance schema, then the stream's own tables (``stream/schema.sql``)."""
    ensure_schema(conn)
    ddl = package_files.files("govlake.stream").joinpath("schema.sql").read_text("utf-8")
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        conn.execute(ddl)


def raw_table(kind: str) -> str:
    batch_ref(kind, date.today(), "x")  # validates the kind
    return f"sensor__{kind}"


def ensure_raw_table(conn: psycopg.Connection, kind: str, metrics: Mapping[str, str]) -> None:
    table = raw_table(kind)
    conn.execute(
        sql.SQL(
            "create table if not exists raw.{} (msg_id text primary key, device_id text not "
            "null, seq bigint not null, observed_at timestamptz not null, received_at "
            "timestamptz not null, {} _batch_id text not null, _loaded_at timestamptz not "
            "null default now())"
        ).format(
            sql.Identifier(table),
            sql.SQL("").join(
                sql.SQL("{} {}, ").format(sql.Identifier(name), sql.SQL(_pg_type(pg_type)))
                for name, pg_type in metrics.items()
            ),
        )
    )
    conn.execute(
        sql.SQL("create index if not exists {} on raw.{} (device_id, observed_at)").format(
            sql.Identifier(f"{table}__device_time"), sql.Identifier(table)
        )
    )
    conn.execute(
        sql.SQL("create index if not exists {} on raw.{} (_batch_id)").format(
            sql.Identifier(f"{table}__batch"), sql.Identifier(table)
        )
    )
    existing = {
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = %s",
            (table,),
        )
    }
    for name, pg_type in metrics.items():
        if name not in existing:
            conn.execute(
                sql.SQL("alter table raw.{} add column {} {}").format(
                    sql.Identifier(table), sql.Identifier(name), sql.SQL(_pg_type(pg_type))
                )
            )


def _pg_type(pg_type: str) -> str:
    if pg_type not in ("double precision", "integer", "boolean"):
        raise StreamLoadError(f"unexpected metric column type {pg_type!r} in a manifest")
    return pg_type


def _manifest(manifest: Manifest | str | Mapping, store: ObjectStore) -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    if isinstance(manifest, Mapping):
        key = manifest.get("manifest_key")
        if key is None:
            return Manifest(**manifest)  # type: ignore[arg-type]
        manifest = str(key)
    return read_stream_manifest(store, manifest)


def load_stream_batch(
    manifest: Manifest | str | Mapping, *, store: ObjectStore | None = None
) -> StreamLoadResult:
    """Load one committed micro-batch of one kind. ``manifest``: the ``Manifest``, its
    object key (``raw/sensor/<kind>/ingest_date=D/batch=<id>/_manifest.json``, or the
    batch folder), or the consumer's batch event (a mapping with ``manifest_key``)."""
    started = time.monotonic()
    store = store or open_store()
    m = _manifest(manifest, store)
    if m.department != DEPARTMENT:
        raise StreamLoadError(f"batch {m.batch_id} is a {m.department} batch, not a sensor one")
    kind = m.resource
    with stream_load_run(kind, m.batch_id) as lineage, connect() as conn:
        ensure_stream_schema(conn)
        with conn.transaction():
            row = conn.execute(
                "select landed, state from governance.stream_batch where kind = %s and "
                "batch_id = %s for update",
                (kind, m.batch_id),
            ).fetchone()
            if row is None:
                raise StreamLoadError(
                    f"sensor batch {kind}/{m.batch_id} has no commit record in "
                    f"governance.stream_batch: it was written by a consumer that died before "
                    f"committing it (its messages were redelivered into another batch); the "
                    f"consumer removes it when it next starts — do not load it"
                )
            landed = row[0]
            if landed != m.rows:
                raise StreamLoadError(
                    f"sensor batch {kind}/{m.batch_id}: the manifest says {m.rows} rows, the "
                    f"commit record {landed}"
                )
            inserted = 0
            loaded_rows = 0
            if kind != UNKNOWN_KIND and m.rows:
                table = raw_table(kind)
                conn.execute(
                    "select pg_advisory_xact_lock(%s)",
                    (zlib.crc32(f"raw.{table}".encode()) & 0x7FFFFFFF,),
                )
                columns = m.source.get("metrics", {})
                ensure_raw_table(conn, kind, columns)
                inserted = _copy_rows(conn, store, m, table, list(columns))
                loaded_rows = conn.execute(
                    sql.SQL("select count(*) from raw.{} where _batch_id = %s").format(
                        sql.Identifier(table)
                    ),
                    (m.batch_id,),
                ).fetchone()[0]
            conn.execute(
                "update governance.stream_batch set state = 'loaded', loaded_rows = %s, "
                "load_conflicts = %s, loaded_at = now() where kind = %s and batch_id = %s",
                (loaded_rows, landed - loaded_rows, kind, m.batch_id),
            )
        result = StreamLoadResult(
            kind=kind,
            batch_id=m.batch_id,
            landed=landed,
            inserted=inserted,
            loaded_rows=loaded_rows,
            conflicts=landed - loaded_rows,
            seconds=time.monotonic() - started,
        )
        lineage.loaded(m, m.source.get("metrics", {}), result, store)
    return result


def _copy_rows(
    conn: psycopg.Connection, store: ObjectStore, m: Manifest, table: str, metrics: list[str]
) -> int:
    columns = [*FIXED_COLUMNS, *metrics]
    conn.execute(
        sql.SQL(
            "create temporary table stream_load (like raw.{} including defaults) on commit drop"
        ).format(sql.Identifier(table))
    )
    with tempfile.TemporaryDirectory(prefix="govlake-stream-load-") as scratch:
        for part in m.parts:
            local = Path(scratch) / part["name"]
            store.download(part["key"], local)
            if _sha256(local) != part["sha256"]:
                raise StreamLoadError(
                    f"sensor batch {m.resource}/{m.batch_id}: part {part['key']} does not "
                    f"match its manifest checksum; the object store copy is damaged"
                )
            rows = pq.read_table(local, columns=columns).to_pylist()
            with conn.cursor().copy(
                sql.SQL("copy stream_load ({}, _batch_id) from stdin").format(
                    sql.SQL(", ").join(map(sql.Identifier, columns))
                )
            ) as copy:
                for row in rows:
                    copy.write_row([*(row[c] for c in columns), m.batch_id])
    cursor = conn.execute(
        sql.SQL(
            "insert into raw.{table} ({cols}, _batch_id) select {cols}, _batch_id from "
            "stream_load order by observed_at, msg_id on conflict (msg_id) do nothing"
        ).format(table=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
    )
    inserted = cursor.rowcount
    conn.execute("drop table stream_load")
    return inserted


def load_pending(
    kinds: Iterable[str] | None = None, *, limit: int | None = None, store=None
) -> list[StreamLoadResult]:
    """Load every committed batch not loaded yet, oldest first."""
    store = store or open_store()
    wanted = list(kinds) if kinds is not None else None
    with connect() as conn:
        ensure_stream_schema(conn)
        rows = conn.execute(
            "select manifest_key from governance.stream_batch where state = 'landed' "
            "and (%s::text[] is null or kind = any(%s::text[])) order by committed_at, batch_id "
            "limit %s",
            (wanted, wanted, limit),
        ).fetchall()
    return [load_stream_batch(key, store=store) for (key,) in rows]
