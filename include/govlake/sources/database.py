"""Departmental databases through SQLAlchemy, read with server-side cursors.

Any database SQLAlchemy speaks can be a source: the query is built with SQLAlchemy's
expression language (so quoting and parameters are the dialect's), and rows are streamed
(``stream_results`` + ``yield_per``) so memory stays flat however large the table is.
The query selects every column the table has, not just the catalogued ones, so that a
column a department adds is seen — and judged as schema drift at load time.
"""

from __future__ import annotations

import csv

import sqlalchemy as sa

from govlake import config
from govlake.catalog.model import Resource
from govlake.lake.batch import BatchWriter, RowChunk, Window

FETCH_ROWS = 20_000
COPY_BLOCK_BYTES = 16 << 20


def _engine(resource: Resource) -> sa.Engine:
    connection = config.connection(resource.system.connection or "")
    return sa.create_engine(connection.sqlalchemy_url(), pool_pre_ping=True)


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
            high = _copy_out(engine, query, extract.table, extract.watermark, writer)
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


def _copy_out(
    engine: sa.Engine,
    query: sa.Select,
    table_name: str,
    watermark: str | None,
    writer: BatchWriter,
) -> str | None:
    """PostgreSQL sources: stream ``COPY (query) TO STDOUT`` through Arrow's CSV reader.

    The same query as the generic path, but the rows never become Python objects: the
    server writes CSV, Arrow parses it in C++ into text columns. Unquoted empty fields
    are NULL and quoted empty fields are empty strings, exactly as PostgreSQL wrote them.
    """
    import tempfile
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    statement = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    raw = engine.raw_connection()
    high = None
    try:
        with tempfile.TemporaryDirectory(prefix="govlake-copy-") as scratch:
            dump = Path(scratch) / "out.csv"
            command = f"copy ({statement}) to stdout with (format csv, header true)"
            with (
                raw.driver_connection.cursor() as cur,
                dump.open("wb") as out,
                cur.copy(command) as copy,
            ):
                for block in copy:
                    out.write(block)
            with dump.open("rb") as handle:
                header = next(iter(handle), b"").decode("utf-8").rstrip("\r\n")
            columns = next(csv.reader([header]), [])
            if not columns:
                return None
            reader = pacsv.open_csv(
                dump,
                read_options=pacsv.ReadOptions(block_size=COPY_BLOCK_BYTES),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in columns},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            next_row = 1
            for record_batch in reader:
                arrays = [record_batch.column(i) for i in range(record_batch.num_columns)]
                writer.add_arrays(table_name, columns, arrays, next_row)
                next_row += record_batch.num_rows
                if watermark in columns:
                    batch_high = pc.max(record_batch.column(columns.index(watermark))).as_py()
                    if batch_high is not None and (high is None or batch_high > high):
                        high = batch_high
    finally:
        raw.close()
    return high
