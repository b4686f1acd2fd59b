"""Departmental databases: PostgreSQL through ADBC, any other through SQLAlchemy.

Both read the same query: every column the table has, not just the catalogued ones (so
that a column a department adds is seen — and judged as schema drift at load time), the
window on the watermark column, ordered by the watermark and the primary key (so a
re-extraction numbers rows the same way). Rows are streamed, so memory stays flat however
large the table is.

- PostgreSQL: the ADBC driver runs the query through ``COPY ... TO STDOUT (FORMAT
  binary)`` in C and hands back Arrow record batches — rows never become Python objects.
  The query is composed with psycopg's SQL quoting; no SQLAlchemy engine or reflection.
- Others (MariaDB/MySQL, …): SQLAlchemy's expression language builds the query (quoting
  and parameters are the dialect's), read with a server-side cursor
  (``stream_results`` + ``yield_per``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from govlake import config
from govlake.catalog.model import Resource
from govlake.lake.batch import SOURCE_TIMEZONE, BatchWriter, RowChunk, Window, read_ahead

if TYPE_CHECKING:
    import sqlalchemy as sa

FETCH_ROWS = 20_000


def extract_table(resource: Resource, window: Window, writer: BatchWriter) -> dict:
    connection = config.connection(resource.system.connection or "")
    url = connection.sqlalchemy_url()
    if url.startswith("postgresql"):
        return _extract_postgresql(resource, window, writer, config.libpq_url(url))
    return _extract_sqlalchemy(resource, window, writer, url)


def _engine(url: str) -> sa.Engine:
    """The source's engine, its sessions in Kaiping time (naive bounds mean local time)."""
    import sqlalchemy as sa

    connect_args: dict = {}
    if url.startswith("mysql"):
        connect_args["init_command"] = "SET time_zone = '+08:00'"
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _extract_sqlalchemy(resource: Resource, window: Window, writer: BatchWriter, url: str) -> dict:
    import sqlalchemy as sa

    extract = resource.extract
    engine = _engine(url)
    try:
        table = sa.Table(extract.table, sa.MetaData(), autoload_with=engine)
        query = sa.select(table)
        watermark = table.c[extract.watermark] if extract.watermark else None
        if window.mode == "incremental" and watermark is not None:
            if window.start is not None:
                query = query.where(watermark >= window.start)
            query = query.where(watermark < window.end)
        order = [table.c[k] for k in extract.primary_key if k in table.c]
        if watermark is not None:
            order.insert(0, watermark)
        query = query.order_by(*order)
        high = None
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
                query
            )
            columns = list(result.keys())
            position = columns.index(extract.watermark) if extract.watermark in columns else None
            next_row = 1
            for partition in result.partitions(FETCH_ROWS):
                rows = [list(row) for row in partition]
                if position is not None:
                    chunk_high = max(
                        (r[position] for r in rows if r[position] is not None), default=None
                    )
                    if chunk_high is not None and (high is None or chunk_high > high):
                        high = chunk_high
                writer.add(RowChunk(extract.table, columns, rows, next_row))
                next_row += len(rows)
        location = f"{engine.url.get_backend_name()}:{engine.url.database}.{extract.table}"
        types = {c.name: str(c.type) for c in table.columns}
        return _describe(location, types, extract, window, high)
    finally:
        engine.dispose()


def _describe(location: str, source_types: dict, extract, window: Window, high) -> dict:
    return {
        "location": location,
        "source_types": source_types,
        "watermark": {
            "column": extract.watermark,
            "low": window.start.isoformat(sep=" ") if window.start else None,
            "high": window.end.isoformat(sep=" "),
            "max_seen": high.isoformat(sep=" ") if hasattr(high, "isoformat") else high,
        },
    }


def _extract_postgresql(resource: Resource, window: Window, writer: BatchWriter, uri: str) -> dict:
    """PostgreSQL sources: the query read by ADBC straight into Arrow.

    Dates, timestamps, integers and booleans land typed (the source's types already
    vouch for every value; see ``landed_column``), the rest as text. A reader thread
    fetches the next record batch while this one is written to Parquet (both release
    the GIL).
    """
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow.compute as pc
    from psycopg import sql

    extract = resource.extract
    table = sql.Identifier(*(extract.table or "").split("."))
    high = None
    next_row = 1
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        # naive window bounds compared with timestamptz columns mean Kaiping time
        cur.execute(f"set time zone '{SOURCE_TIMEZONE}'")
        cur.execute(
            "select current_database()::text, a.attname::text, "
            "format_type(a.atttypid, a.atttypmod) from pg_attribute a "
            "where a.attrelid = to_regclass($1) and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum",
            (table.as_string(None),),
        )
        described = cur.fetchall()
        if not described:
            raise LookupError(f"{resource.id}: table {extract.table!r} not found in {uri}")
        database = described[0][0]
        source_types = {name: kind for _, name, kind in described}
        if extract.watermark and extract.watermark not in source_types:
            raise LookupError(
                f"{resource.id}: watermark column {extract.watermark!r} not in "
                f"{extract.table!r} (columns: {', '.join(source_types)})"
            )
        conditions = []
        if window.mode == "incremental" and extract.watermark:
            # bounds as untyped literals: PostgreSQL reads them as the column's type
            if window.start is not None:
                conditions.append(
                    sql.SQL("{} >= {}").format(
                        sql.Identifier(extract.watermark),
                        sql.Literal(window.start.isoformat(sep=" ")),
                    )
                )
            conditions.append(
                sql.SQL("{} < {}").format(
                    sql.Identifier(extract.watermark), sql.Literal(window.end.isoformat(sep=" "))
                )
            )
        order = [k for k in extract.primary_key if k in source_types]
        if extract.watermark:
            order.insert(0, extract.watermark)
        query = sql.SQL("select {} from {}").format(
            sql.SQL(", ").join(map(sql.Identifier, source_types)), table
        )
        if conditions:
            query += sql.SQL(" where ") + sql.SQL(" and ").join(conditions)
        if order:
            query += sql.SQL(" order by ") + sql.SQL(", ").join(map(sql.Identifier, order))
        cur.execute(query.as_string(None))
        reader = cur.fetch_record_batch()
        columns = list(reader.schema.names)
        with contextlib.closing(read_ahead(reader)) as batches:
            for record_batch in batches:
                if extract.watermark in columns:
                    position = columns.index(extract.watermark)
                    batch_high = pc.max(record_batch.column(position)).as_py()
                    if batch_high is not None and (high is None or batch_high > high):
                        high = batch_high
                writer.add_arrays(
                    extract.table or "", columns, list(record_batch.columns), next_row, typed=True
                )
                next_row += record_batch.num_rows
    location = f"postgresql:{database}.{extract.table}"
    return _describe(location, source_types, extract, window, high)
