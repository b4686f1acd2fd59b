"""Load one landed batch into ``raw.<department>__<resource>``, all or nothing.

Raw tables are partitioned by batch: ``raw.<table>`` is list-partitioned on ``_batch_id``
and each batch is one partition of its own (``raw.<table>__b<batch>``). In one
transaction: lock the resource, create the batch's new partition as a table of its own,
COPY the accepted rows into it (binary COPY, encoded from Arrow by Arrow compute kernels,
never row by row), record quarantined rows and schema drift, drop the partition an
earlier load of the batch left (a rerun), attach the new one and mark the batch loaded. A
crash anywhere rolls the whole of it back; a rerun of the same batch replaces, never
duplicates. Readers of ``raw.<table>`` are not blocked by a first load (attaching takes a
lock that only blocks DDL); a rerun's drop of the old partition blocks them briefly at
the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import struct
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from govlake.catalog.model import Resource
from govlake.governance.store import ensure_schema
from govlake.lake.batch import (
    META_COLUMNS,
    BatchRef,
    Manifest,
    QuarantineSpool,
    Rejected,
    iter_parts,
    read_ahead,
)
from govlake.lake.storage import ObjectStore
from govlake.load.validate import SERVER_CAST_TYPES, WIRE_TYPES, judge

IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1


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


# ---------------------------------------------------------------------------------------
# Raw tables: one partition per batch


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
    return sql.SQL("create table if not exists raw.{} ({}) partition by list (_batch_id)").format(
        sql.Identifier(resource.raw_table), sql.SQL(", ").join(columns)
    )


def _short_name(name: str, unique: str) -> str:
    """``name`` if PostgreSQL can hold it whole, else a prefix and a digest of ``unique``."""
    if len(name.encode()) <= IDENTIFIER_BYTES:
        return name
    return f"{name[:40]}__{hashlib.sha1(unique.encode()).hexdigest()[:16]}"


def partition_name(raw_table: str, batch_id: str) -> str:
    """The partition of ``raw.<raw_table>`` that holds batch ``batch_id``."""
    if re.fullmatch(r"\d{8}-(incr|full)", batch_id):
        return _short_name(f"{raw_table}__b{batch_id.replace('-', '_')}", raw_table + batch_id)
    # not a batch id this platform makes: named by digest, never by a lossy slug
    return _short_name(f"{raw_table}__b" + "x" * 64, raw_table + batch_id)


def ensure_raw_table(conn: psycopg.Connection, resource: Resource) -> None:
    """Create the partitioned raw table, partition one made before partitioning, or add
    the fields the catalog gained since it was created (only then: ALTER locks readers
    out)."""
    table = resource.raw_table
    kind = conn.execute(
        "select c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relname = %s",
        (table,),
    ).fetchone()
    if kind is None:
        conn.execute(raw_table_ddl(resource))
        return
    if kind[0] == "r":
        _partition_legacy(conn, table)
    existing = {
        name
        for (name,) in conn.execute(
            "select a.attname::text from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'raw' "
            "and c.relname = %s and a.attnum > 0 and not a.attisdropped",
            (table,),
        )
    }
    for f in resource.fields:
        if f.name not in existing:
            conn.execute(
                sql.SQL("alter table raw.{} add column {} {}").format(
                    sql.Identifier(table), sql.Identifier(f.name), sql.SQL(f.pg_type)
                )
            )


def _partition_legacy(conn: psycopg.Connection, table: str) -> None:
    """A raw table from before partitioning becomes one partition per batch it holds."""
    legacy = _short_name(f"{table}__unpartitioned", table + "/unpartitioned")
    conn.execute(
        sql.SQL("alter table raw.{} rename to {}").format(
            sql.Identifier(table), sql.Identifier(legacy)
        )
    )
    conn.execute(
        sql.SQL("create table raw.{} (like raw.{} including defaults) partition by list "
                "(_batch_id)").format(sql.Identifier(table), sql.Identifier(legacy))
    )  # fmt: skip
    batches = conn.execute(
        sql.SQL("select distinct _batch_id from raw.{}").format(sql.Identifier(legacy))
    ).fetchall()
    for (batch_id,) in batches:
        part = partition_name(table, batch_id)
        conn.execute(
            sql.SQL("create table raw.{} (like raw.{} including defaults)").format(
                sql.Identifier(part), sql.Identifier(table)
            )
        )
        conn.execute(
            sql.SQL("insert into raw.{} select * from raw.{} where _batch_id = %s").format(
                sql.Identifier(part), sql.Identifier(legacy)
            ),
            (batch_id,),
        )
        _attach(conn, table, part, batch_id)
    conn.execute(sql.SQL("drop table raw.{}").format(sql.Identifier(legacy)))


def _attach(conn: psycopg.Connection, table: str, part: str, batch_id: str) -> None:
    conn.execute(
        sql.SQL("alter table raw.{} attach partition raw.{} for values in ({})").format(
            sql.Identifier(table), sql.Identifier(part), sql.Literal(batch_id)
        )
    )


def _lock_key(resource: Resource) -> int:
    return zlib.crc32(resource.id.encode()) & 0x7FFFFFFF


# ---------------------------------------------------------------------------------------
# Binary COPY, encoded with Arrow compute
#
# A row of PostgreSQL's binary COPY format is an int16 field count, then per field an
# int32 byte length (-1: NULL) and the value in the type's binary form, all big-endian.
# Each column becomes one or two binary arrays ("pieces") — length prefixes, values —
# and one element-wise join of all pieces gives every row's bytes, back to back in one
# buffer that goes to the server as it is.

COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
COPY_CHUNK_BYTES = 256 << 20  # bytes encoded at once (offsets of a join are int32)
_U32, _U64 = pa.uint32(), pa.uint64()
_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.binary())
_NOTHING = pa.scalar(b"", pa.binary())
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_PG_EPOCH_US = 946_684_800_000_000


def _bswap32(values: pa.Array) -> pa.Array:
    """uint32 values with their bytes reversed (native little-endian → network order)."""

    def u32(value: int) -> pa.Scalar:
        return pa.scalar(value, _U32)

    return pc.bit_wise_or(
        pc.bit_wise_or(
            pc.shift_left(values, u32(24)),
            pc.bit_wise_and(pc.shift_left(values, u32(8)), u32(0x00FF0000)),
        ),
        pc.bit_wise_or(
            pc.bit_wise_and(pc.shift_right(values, u32(8)), u32(0x0000FF00)),
            pc.shift_right(values, u32(24)),
        ),
    )


def _bswap64(values: pa.Array) -> pa.Array:
    """uint64 values with their bytes reversed: each half swapped, then the halves."""
    count, offset = len(values), values.offset
    words = pa.Array.from_buffers(_U32, 2 * (count + offset), [None, values.buffers()[1]])
    halves = _bswap32(words.slice(2 * offset))
    swapped = pa.Array.from_buffers(_U64, len(values), [None, halves.buffers()[1]])
    return pc.bit_wise_or(
        pc.shift_left(swapped, pa.scalar(32, _U64)), pc.shift_right(swapped, pa.scalar(32, _U64))
    )


def _plain(values: pa.Array, storage: pa.DataType) -> pa.Array:
    """The data buffer of a fixed-width column as ``storage`` values, nulls ignored."""
    plain = pa.Array.from_buffers(storage, len(values) + values.offset, [None, values.buffers()[1]])
    return plain.slice(values.offset) if values.offset else plain


def _bytes(words: pa.Array, width: int) -> pa.Array:
    """Fixed-width unsigned integers (offset 0) as binary values of their memory bytes."""
    assert words.offset == 0 and words.null_count == 0
    fixed = pa.Array.from_buffers(pa.binary(width), len(words), [None, words.buffers()[1]])
    return fixed.cast(pa.binary())


def _or_null(values: pa.Array, encoded: pa.Array) -> pa.Array:
    if values.null_count == 0:
        return encoded
    return pc.if_else(pc.is_valid(values), encoded, _NULL)


def _pieces(values: pa.Array, jsonb: bool = False) -> list[pa.Array]:
    """The pieces whose element-wise join is ``values`` in binary COPY form."""
    kind = values.type
    if pa.types.is_string(kind):
        data = values.cast(pa.binary())
        if jsonb:  # jsonb's binary form: a version byte, then the JSON text
            version = pa.scalar(b"\x01", pa.binary())
            data = pc.binary_join_element_wise(version, data, _NOTHING)
        lengths = pc.binary_length(data).fill_null(-1).view(pa.uint32())
        return [_bytes(_bswap32(lengths), 4), data]
    if pa.types.is_date32(kind):
        days = pc.subtract(_plain(values, pa.int32()), pa.scalar(_PG_EPOCH_DAYS, pa.int32()))
        # length 4 and the value in one 8-byte word: memory order 00 00 00 04 | value
        value = pc.shift_left(_bswap32(days.view(_U32)).cast(_U64), pa.scalar(32, _U64))
        word = pc.bit_wise_or(value, pa.scalar(0x04000000, _U64))
        return [_or_null(values, _bytes(word, 8))]
    if pa.types.is_timestamp(kind) or pa.types.is_int64(kind):
        if pa.types.is_timestamp(kind):
            assert kind.unit == "us" and kind.tz is None, kind
        number = _plain(values, pa.int64())
        if pa.types.is_timestamp(kind):
            number = pc.subtract(number, pa.scalar(_PG_EPOCH_US, pa.int64()))
        length = pa.scalar(b"\x00\x00\x00\x08", pa.binary())
        value = _bytes(_bswap64(number.view(_U64)), 8)
        return [_or_null(values, pc.binary_join_element_wise(length, value, _NOTHING))]
    raise TypeError(f"no binary COPY encoding for Arrow type {kind}")


def copy_rows(table: pa.Table, jsonb: tuple[str, ...] = ()) -> Iterator[pa.Buffer]:
    """``table``'s rows in PostgreSQL's binary COPY format (without signature and trailer):
    strings (text, or jsonb for the columns named), int64, date32 and timestamp[us]."""
    if table.num_rows == 0:
        return
    step = max(1, table.num_rows * COPY_CHUNK_BYTES // max(1, table.nbytes))
    field_count = pa.scalar(struct.pack("!h", table.num_columns), pa.binary())
    for start in range(0, table.num_rows, step):
        chunk = table.slice(start, step).combine_chunks()
        pieces = [field_count]
        for name, column in zip(chunk.column_names, chunk.columns, strict=True):
            pieces += _pieces(column.chunk(0) if column.num_chunks else column, name in jsonb)
        rows = pc.binary_join_element_wise(
            *pieces, _NOTHING, null_handling="replace", null_replacement=b""
        )
        offsets = rows.buffers()[1]
        first = struct.unpack_from("<i", offsets, 4 * rows.offset)[0]
        last = struct.unpack_from("<i", offsets, 4 * (rows.offset + len(rows)))[0]
        yield rows.buffers()[2][first:last]


# ---------------------------------------------------------------------------------------
# The load


def _wire_schema(resource: Resource, manifest: Manifest) -> pa.Schema:
    """What the COPY carries: the catalog fields as ``WIRE_TYPES``, ``_extra`` (jsonb)
    when a part has columns the catalog does not know, and where each row came from."""
    fields = [pa.field(f.name, WIRE_TYPES[f.type]) for f in resource.fields]
    known = set(resource.field_names) | set(META_COLUMNS)
    if any(c not in known for part in manifest.parts for c in part["columns"]):
        fields.append(pa.field("_extra", pa.string()))
    fields += [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64())]
    return pa.schema(fields)


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
    table = resource.raw_table
    part = partition_name(table, manifest.batch_id)
    staging = _short_name(f"{part}__load", f"{table}/{manifest.batch_id}/load")
    server_cast = [f for f in resource.fields if f.type in SERVER_CAST_TYPES]
    schema = _wire_schema(resource, manifest)
    copy_sql = sql.SQL("copy raw.{} ({}) from stdin (format binary)").format(
        sql.Identifier(staging), sql.SQL(", ").join(map(sql.Identifier, schema.names))
    )

    loaded = 0
    added: dict[str, str | None] = {}
    missing: dict[str, str | None] = {}

    def encoded(load_rejected: QuarantineSpool) -> Iterator[pa.Buffer]:
        nonlocal loaded
        for part_info, record_batch in iter_parts(store, manifest):
            judgement = judge(resource, record_batch)
            for column in judgement.added_columns:
                added.setdefault(column, part_info["stream"])
            for column in judgement.missing_columns:
                missing.setdefault(column, part_info["stream"])
            for rejected in judgement.rejected:
                load_rejected.add(rejected)
            loaded += judgement.accepted.num_rows
            accepted = judgement.accepted.select(schema.names).cast(schema)
            yield from copy_rows(accepted, jsonb=("_extra",))

    with (
        tempfile.TemporaryDirectory(prefix="govlake-quarantine-") as scratch,
        conn.transaction(),
    ):
        load_rejected = QuarantineSpool(Path(scratch) / "load.jsonl")
        conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(resource),))
        ensure_raw_table(conn, resource)
        # the batch's partition-to-be, a table of its own until it is attached: this COPY
        # neither maintains an index nor touches the rows readers see
        conn.execute(
            sql.SQL(
                "create table raw.{} (like raw.{} including defaults, "
                "constraint {} check (_batch_id = {}))"
            ).format(
                sql.Identifier(staging),
                sql.Identifier(table),
                sql.Identifier(f"{staging}__batch"[:IDENTIFIER_BYTES]),
                sql.Literal(manifest.batch_id),
            )
        )
        settings = [
            sql.SQL("alter column _batch_id set default {}").format(sql.Literal(manifest.batch_id))
        ]
        settings += [
            sql.SQL("alter column {} type text").format(sql.Identifier(f.name)) for f in server_cast
        ]
        conn.execute(
            sql.SQL("alter table raw.{} {}").format(
                sql.Identifier(staging), sql.SQL(", ").join(settings)
            )
        )
        # a thread reads, checks, judges and encodes the next record batch while this
        # one is sent (Parquet and Arrow compute release the GIL)
        with (
            conn.cursor() as cur,
            cur.copy(copy_sql) as copy,
            contextlib.closing(read_ahead(encoded(load_rejected))) as chunks,
        ):
            copy.write(COPY_SIGNATURE)
            for data in chunks:
                copy.write(memoryview(data))
            copy.write(COPY_TRAILER)
        if server_cast:
            # numbers and booleans: PostgreSQL's own input functions, as a text COPY would
            # have applied them (the validator has vouched for every value)
            conn.execute(
                sql.SQL("alter table raw.{} {}").format(
                    sql.Identifier(staging),
                    sql.SQL(", ").join(
                        sql.SQL("alter column {} type {} using {}::{}").format(
                            sql.Identifier(f.name),
                            sql.SQL(f.pg_type),
                            sql.Identifier(f.name),
                            sql.SQL(f.pg_type),
                        )
                        for f in server_cast
                    ),
                )
            )
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
        # a rerun: the batch's earlier rows go as one partition, the new ones come in
        conn.execute(sql.SQL("drop table if exists raw.{}").format(sql.Identifier(part)))
        conn.execute(
            sql.SQL("alter table raw.{} rename to {}").format(
                sql.Identifier(staging), sql.Identifier(part)
            )
        )
        _attach(conn, table, part, manifest.batch_id)
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
        # jsonb cannot hold NUL (a row quarantined for one carries it): U+FFFD instead
        record = {k: v.replace("\x00", "\ufffd") if isinstance(v, str) else v
                  for k, v in record.items()}  # fmt: skip
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
