"""Install the SQL check algorithms (schema ``standards``) in the warehouse.

``apply_check_functions(conn)`` runs ``sql/check_functions.sql`` and loads
``standards.gbt_2260`` from the code set's CSV, so that ``standards.citizen_id_problem``
knows the same GB/T 2260 codes as the Python check. Idempotent; safe to call on every
start and before ``dbt build`` (dbt's seed of the same CSV replaces the rows with the
same rows).
"""

from __future__ import annotations

import csv
from importlib import resources as package_files
from pathlib import Path

import psycopg
from psycopg import sql

from govlake.standards.divisions import gbt_2260_path

ADVISORY_LOCK = 4407830101  # serialises concurrent first applies (parallel DAG runs)


def check_functions_sql() -> str:
    return (
        package_files.files("govlake.standards")
        .joinpath("sql/check_functions.sql")
        .read_text("utf-8")
    )


def _load_divisions(conn: psycopg.Connection, csv_path: Path) -> int:
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in header)
    conn.execute("truncate standards.gbt_2260")
    with conn.cursor() as cur:
        copy_sql = sql.SQL("copy standards.gbt_2260 ({}) from stdin").format(columns)
        with cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([value if value != "" else None for value in row])
    return len(rows)


def apply_check_functions(conn: psycopg.Connection, standards_root: Path | None = None) -> int:
    """Create schema ``standards``, its functions and ``gbt_2260`` (and the HJ 633-2012
    AQI functions with their breakpoint table); return the division codes loaded."""
    from govlake.sensors.aqi import apply_aqi_functions

    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        conn.execute(check_functions_sql())
        loaded = _load_divisions(conn, gbt_2260_path(standards_root))
    apply_aqi_functions(conn)
    return loaded
