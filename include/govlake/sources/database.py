"""Departmental databases through SQLAlchemy, read with server-side cursors.

Any database SQLAlchemy speaks can be a source: the query is built with SQLAlchemy's
expression language (so quoting and parameters are the dialect's), and rows are streamed
(``stream_results`` + ``yield_per``) so memory stays flat however large the table is.
The query selects every column the table has, not just the catalogued ones, so that a
column a department adds is seen — and judged as schema drift at load time.
"""

from __future__ import annotations

import sqlalchemy as sa

from govlake import config
from govlake.catalog.model import Resource
from govlake.lake.batch import SOURCE_TIMEZONE, BatchWriter, RowChunk, Window

FETCH_ROWS = 20_000


def _engine(resource: Resource) -> sa.Engine:
    """The source's engine, its sessions in Kaiping time (naive bounds mean local time)."""
    connection = config.connection(resource.system.connection or "")
    url = connection.sqlalchemy_url()
    connect_args: dict = {}
    if url.startswith("mysql"):
        connect_args["init_command"] = "SET time_zone = '+08:00'"
    elif url.startswith("postgresql"):
        connect_args["options"] = f"-c timezone={SOURCE_TIMEZONE}"
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def extract_table(resource: Resource, window: Window, writer: BatchWriter) -> dict:
    extract = resource.extract
    engine = _engine(resource)
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
        if engine.dialect.name == "postgresql":
            high = _arrow_stream(engine, query, extract.table, extract.watermark, writer)
            return _describe(engine, table, extract, window, high)
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
        return _describe(engine, table, extract, window, high)
    finally:
        engine.dispose()


def _describe(engine: sa.Engine, table: sa.Table, extract, window: Window, high) -> dict:
    return {
        "location": f"{engine.url.get_backend_name()}:{engine.url.database}.{extract.table}",
        "source_types": {c.name: str(c.type) for c in table.columns},
        "watermark": {
            "column": extract.watermark,
            "low": window.start.isoformat(sep=" ") if window.start else None,
            "high": window.end.isoformat(sep=" "),
            "max_seen": high.isoformat(sep=" ") if hasattr(high, "isoformat") else high,
        },
    }


def _arrow_stream(
    engine: sa.Engine,
    query: sa.Select,
    table_name: str,
    watermark: str | None,
    writer: BatchWriter,
) -> str | None:
    """PostgreSQL sources: the same query, read by ADBC straight into Arrow.

    The ADBC PostgreSQL driver runs the query through ``COPY ... TO STDOUT (FORMAT
    binary)`` in C and hands back Arrow record batches, so rows never become Python
    objects. Values are then written as text, as every landed batch is.
    """
    import adbc_driver_postgresql.dbapi as adbc
    import pyarrow.compute as pc

    statement = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    uri = config.libpq_url(engine.url.render_as_string(hide_password=False))
    high = None
    next_row = 1
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        # naive window bounds compared with timestamptz columns mean Kaiping time
        cur.execute(f"set time zone '{SOURCE_TIMEZONE}'")
        cur.execute(statement)
        reader = cur.fetch_record_batch()
        columns = list(reader.schema.names)
        for record_batch in reader:
            arrays = list(record_batch.columns)  # BatchWriter writes them as local text
            if watermark in columns:
                batch_high = pc.max(record_batch.column(columns.index(watermark))).as_py()
                if batch_high is not None and (high is None or batch_high > high):
                    high = batch_high
            writer.add_arrays(table_name, columns, arrays, next_row)
            next_row += record_batch.num_rows
    return high
