"""Load one landed batch into ``raw.<department>__<resource>``, all or nothing.

In one transaction: lock the resource, delete whatever an earlier attempt of this batch
left, COPY the accepted rows (Arrow → CSV → ``COPY FROM STDIN``, never row by row),
record quarantined rows and schema drift, and mark the batch loaded. A crash anywhere
rolls the whole of it back; a rerun of the same batch replaces, never duplicates.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from govlake.catalog.model import Resource
from govlake.governance.store import ensure_schema
from govlake.lake.batch import (
    BatchRef,
    Manifest,
    QuarantineSpool,
    Rejected,
    iter_parts,
)
from govlake.lake.storage import ObjectStore
from govlake.load.validate import judge

COPY_CHUNK_BYTES = 8 << 20


@dataclass
class LoadResult:
    resource_id: str
    batch_id: str
    source_rows: int
    landed_rows: int
    loaded_rows: int
    quarantined: int  # extract + load
    added_columns: list[str]
    missing_columns: list[str]
    seconds: float

    @property
    def reconciled(self) -> bool:
        return self.source_rows == self.loaded_rows + self.quarantined


def raw_table_ddl(resource: Resource) -> sql.Composed:
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(f.pg_type)) for f in resource.fields
    ]
    columns += [
        sql.SQL("_extra jsonb"),
        sql.SQL("_batch_id text not null"),
        sql.SQL("_source_file text"),
        sql.SQL("_source_row bigint"),
        sql.SQL("_loaded_at timestamptz not null default now()"),
    ]
    return sql.SQL("create table if not exists raw.{} ({})").format(
        sql.Identifier(resource.raw_table), sql.SQL(", ").join(columns)
    )


def ensure_raw_table(conn: psycopg.Connection, resource: Resource) -> None:
    """Create the raw table, or add the fields the catalog gained since it was created."""
    conn.execute(raw_table_ddl(resource))
    for f in resource.fields:
        conn.execute(
            sql.SQL("alter table raw.{} add column if not exists {} {}").format(
                sql.Identifier(resource.raw_table), sql.Identifier(f.name), sql.SQL(f.pg_type)
            )
        )
    conn.execute(
        sql.SQL("create index if not exists {} on raw.{} (_batch_id)").format(
            sql.Identifier(f"{resource.raw_table}__batch"), sql.Identifier(resource.raw_table)
        )
    )


def _lock_key(resource: Resource) -> int:
    return zlib.crc32(resource.id.encode()) & 0x7FFFFFFF


def _csv_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def load_batch(
    conn: psycopg.Connection,
    resource: Resource,
    manifest: Manifest,
    store: ObjectStore,
    extract_rejected: Iterable[Rejected] = (),
) -> LoadResult:
    started = time.monotonic()
    ref = BatchRef(
        resource.department, resource.code, _date(manifest.ingest_date), manifest.batch_id
    )
    ensure_schema(conn)
    target = sql.Identifier(resource.raw_table)
    column_names = [*resource.field_names, "_extra", "_source_file", "_source_row"]
    copy_sql = sql.SQL("copy raw.{} ({}, _batch_id) from stdin with (format csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, column_names))
    )

    loaded = 0
    added: dict[str, str | None] = {}
    missing: dict[str, str | None] = {}
    with (
        tempfile.TemporaryDirectory(prefix="govlake-quarantine-") as scratch,
        conn.transaction(),
    ):
        load_rejected = QuarantineSpool(Path(scratch) / "load.jsonl")
        conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(resource),))
        ensure_raw_table(conn, resource)
        conn.execute(
            sql.SQL("delete from raw.{} where _batch_id = %s").format(target), (manifest.batch_id,)
        )
        # the queued writer sends to the server from a worker thread while this thread
        # validates and encodes the next chunk (Arrow releases the GIL while it works)
        with conn.cursor() as cur, cur.copy(copy_sql, writer=QueuedLibpqWriter(cur)) as copy:
            for part, record_batch in iter_parts(store, manifest):
                judgement = judge(resource, record_batch)
                for column in judgement.added_columns:
                    added.setdefault(column, part["stream"])
                for column in judgement.missing_columns:
                    missing.setdefault(column, part["stream"])
                for rejected in judgement.rejected:
                    load_rejected.add(rejected)
                accepted = judgement.accepted.append_column(
                    "_batch_id",
                    pa.array([manifest.batch_id] * judgement.accepted.num_rows, pa.string()),
                )
                for slice_ in accepted.to_batches(max_chunksize=65_536):
                    copy.write(_csv_bytes(pa.Table.from_batches([slice_])))
                loaded += accepted.num_rows
        load_rejected.close()
        if load_rejected.count:
            store.put_file(ref.quarantine_key("load"), load_rejected.path)
        _record(
            conn,
            resource,
            manifest,
            ref,
            loaded,
            load_rejected,
            extract_rejected,
            added,
            missing,
            time.monotonic() - started,
        )
    return LoadResult(
        resource_id=resource.id,
        batch_id=manifest.batch_id,
        source_rows=manifest.source_rows,
        landed_rows=manifest.rows,
        loaded_rows=loaded,
        quarantined=manifest.extract_quarantined + load_rejected.count,
        added_columns=sorted(added),
        missing_columns=sorted(missing),
        seconds=time.monotonic() - started,
    )


def _date(text: str):
    from datetime import date

    return date.fromisoformat(text)


def _quarantine_rows(resource_id: str, batch_id: str, stage: str, rejected: Iterable[Rejected]):
    for r in rejected:
        record = r.record if isinstance(r.record, dict) else {"raw": r.record}
        yield (
            resource_id, batch_id, stage, r.source_file, r.source_row, r.field, r.reason,
            json.dumps(record, ensure_ascii=False, default=str),
        )  # fmt: skip


def _record(
    conn: psycopg.Connection,
    resource: Resource,
    manifest: Manifest,
    ref: BatchRef,
    loaded: int,
    load_rejected: QuarantineSpool,
    extract_rejected: Iterable[Rejected],
    added: dict[str, str | None],
    missing: dict[str, str | None],
    seconds: float,
) -> None:
    rid, bid = resource.id, manifest.batch_id
    conn.execute(
        "delete from governance.quarantine where resource_id = %s and batch_id = %s", (rid, bid)
    )
    with conn.cursor() as cur:
        with cur.copy(
            "copy governance.quarantine (resource_id, batch_id, stage, source_file, source_row, "
            "field, reason, record) from stdin"
        ) as copy:
            for row in _quarantine_rows(rid, bid, "extract", extract_rejected):
                copy.write_row(row)
            for row in _quarantine_rows(rid, bid, "load", load_rejected):
                copy.write_row(row)
        for changes, kind in ((added, "added"), (missing, "missing")):
            cur.executemany(
                "insert into governance.schema_drift (resource_id, batch_id, source_file, "
                "column_name, change) values (%s, %s, %s, %s, %s) on conflict do nothing",
                [(rid, bid, stream, column, kind) for column, stream in changes.items()],
            )
        cur.execute(
            "insert into governance.batch (resource_id, batch_id, ingest_date, mode, "
            "window_start, window_end, object_prefix, source_rows, landed_rows, "
            "extract_quarantined, loaded_rows, load_quarantined, state, watermark_max, "
            "extract_seconds, load_seconds, loaded_at, message) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'loaded', %s, %s, %s, now(), %s) "
            "on conflict (resource_id, batch_id) do update set "
            "source_rows = excluded.source_rows, landed_rows = excluded.landed_rows, "
            "extract_quarantined = excluded.extract_quarantined, "
            "loaded_rows = excluded.loaded_rows, load_quarantined = excluded.load_quarantined, "
            "state = 'loaded', watermark_max = excluded.watermark_max, "
            "extract_seconds = excluded.extract_seconds, load_seconds = excluded.load_seconds, "
            "loaded_at = now(), message = excluded.message",
            (
                rid, bid, manifest.ingest_date, manifest.mode, manifest.window_start,
                manifest.window_end, ref.prefix, manifest.source_rows, manifest.rows,
                manifest.extract_quarantined, loaded, load_rejected.count,
                manifest.watermark.get("max_seen"), manifest.duration_s, seconds,
                manifest.source.get("note"),
            ),
        )  # fmt: skip
        high = manifest.watermark.get("max_seen")
        if high is not None:
            cur.execute(
                "insert into governance.watermark values (%s, %s, %s, %s, now()) "
                "on conflict (resource_id) do update set column_name = excluded.column_name, "
                "high_value = greatest(governance.watermark.high_value, excluded.high_value), "
                "batch_id = excluded.batch_id, updated_at = now()",
                (rid, manifest.watermark.get("column"), str(high), bid),
            )
