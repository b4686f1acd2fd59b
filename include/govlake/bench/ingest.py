"""``make bench-ingest``: the ingestion path against plain COPY and pandas ``to_sql``.

All three move the same N generated persons (12 columns) into PostgreSQL, in one run:

- baseline ``psql \\copy`` of the persons' CSV into a table of the same 12 typed columns;
- the platform: a departmental PostgreSQL table → Parquet batch in the object store →
  validated → COPY into ``raw`` (extract and load timed apart), in a child process whose
  peak resident memory is measured;
- pandas ``DataFrame.to_sql`` with its defaults, on a sample (it is ~100× slower), as
  rows per second.
"""

from __future__ import annotations

import json
import os
import random
import resource as rusage
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from govlake import config

COLUMNS = (
    "person_id", "id_number", "name", "sex", "birth_date", "ethnicity", "household_no",
    "address", "town_code", "phone", "status", "updated_at",
)  # fmt: skip
DDL_COLUMNS = (
    "person_id text, id_number text, name text, sex text, birth_date date, ethnicity text, "
    "household_no text, address text, town_code text, phone text, status text, "
    "updated_at timestamp"
)
BENCH_DAY = date(2026, 11, 1)


def generate_persons(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    surnames = "关司徒谢张周梁黄李陈吴胡邓方许余"
    given = "志强敏华伟芳丽军娟明杰婷建国秀英"
    towns = [f"4407830{n:02d}" for n in (1, 2)] + [f"440783{n}" for n in range(100, 113)]
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            birth = date(1930, 1, 1) + timedelta(days=rng.randrange(33_000))
            out.write(
                f"P{i:09d},440783{birth:%Y%m%d}{i % 1000:03d}{rng.choice('0123456789X')},"
                f"{rng.choice(surnames)}{rng.choice(given)}{rng.choice(given)},"
                f"{rng.choice('12')},{birth.isoformat()},01,H{i // 3:08d},"
                f"开平市第{i % 997}号路{i % 211}号,{rng.choice(towns)},"
                f"13{rng.randrange(10**9):09d},正常,2026-11-01 0{i % 10}:00:00\n"
            )


def _psql() -> str:
    from govlake.runtime.embedded_pg import bin_dir

    bundled = bin_dir() / "psql"
    return str(bundled) if bundled.exists() else "psql"


def _bench_resource(conn_id: str):
    """A catalog resource for the benchmark's departmental table, built like any other."""
    from govlake.catalog.loader import default_catalog
    from govlake.catalog.model import Extract, Resource, System

    person = default_catalog().resource("police.person")
    fields = tuple(person.field(name) for name in COLUMNS)
    return Resource(
        department="bench", code="person", name_zh="基准测试人口", name_en="benchmark persons",
        description="benchmark", system=System("bench_db", "bench", "基准库", "bench",
                                               "postgresql", conn_id),
        owner="bench", sharing_type="不予共享", open_type="不予开放", update_frequency="daily",
        extract=Extract(mode="full", table="person", primary_key=("person_id",)),
        fields=fields, source_file="(benchmark)",
    )  # fmt: skip


def _child(conn_id: str) -> None:
    """The platform's path, alone in this process so its peak memory is its own."""
    # import everything the path uses first: the timings measure work, not imports
    import adbc_driver_postgresql.dbapi  # noqa: F401
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    from govlake.pipeline.ingest import extract_resource, load_resource

    resource = _bench_resource(conn_id)
    started = time.perf_counter()
    manifest = extract_resource(resource, BENCH_DAY, mode="full", force=True)
    extracted = time.perf_counter()
    result = load_resource(resource, BENCH_DAY, manifest["batch_id"])
    loaded = time.perf_counter()
    print(
        json.dumps(
            {
                "extract_s": extracted - started,
                "load_s": loaded - extracted,
                "loaded_rows": result.loaded_rows,
                "quarantined": result.quarantined,
                "parquet_bytes": manifest["bytes"],
            }
        )
    )


def run_benchmark(rows: int, to_sql_rows: int, console: Console, repeats: int = 3) -> dict:
    """Each measurement ``repeats`` times, interleaved; the figures are medians."""
    import pandas as pd
    import psycopg
    import sqlalchemy as sa

    from govlake.runtime.services import ensure_database, up

    up()
    warehouse = config.libpq_url(config.warehouse_url())
    server = warehouse.rsplit("/", 1)[0]
    ensure_database(config.warehouse_url(), "kp_bench")
    conn_id = "kp_bench"
    os.environ[config.connection_env_var(conn_id)] = (
        server.replace("postgresql://", "postgres://", 1) + "/kp_bench"
    )

    with tempfile.TemporaryDirectory(prefix="govlake-bench-") as scratch:
        csv_path = Path(scratch) / "persons.csv"
        console.print(f"generating {rows:,} persons …")
        generate_persons(csv_path, rows)

        console.print("loading the departmental source table (setup, not timed) …")
        with psycopg.connect(server + "/kp_bench", autocommit=True) as conn:
            conn.execute("drop table if exists person")
            conn.execute(f"create table person ({DDL_COLUMNS})")
            with (
                conn.cursor().copy("copy person from stdin with (format csv, header true)") as copy,
                csv_path.open("rb") as handle,
            ):
                while block := handle.read(1 << 20):
                    copy.write(block)
            # the primary key the catalog entry declares (the extract orders by it)
            conn.execute("alter table person add primary key (person_id)")
            conn.execute("vacuum analyze person")
        with psycopg.connect(warehouse, autocommit=True) as conn:
            conn.execute("create schema if not exists bench")
            conn.execute("drop table if exists bench.person_copy")
            conn.execute(f"create table bench.person_copy ({DDL_COLUMNS})")

        copy_runs, platform_runs, to_sql_runs = [], [], []
        frame = pd.read_csv(csv_path, nrows=to_sql_rows, dtype=str)
        engine = sa.create_engine(config.warehouse_url())
        for attempt in range(1, repeats + 1):
            console.print(f"round {attempt}/{repeats}: psql \\copy …")
            with psycopg.connect(warehouse, autocommit=True) as conn:
                # both targets start empty each round: a first load, not a rerun
                conn.execute("truncate bench.person_copy")
                conn.execute("drop table if exists raw.bench__person")
            started = time.perf_counter()
            subprocess.run(
                [_psql(), warehouse, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                 f"\\copy bench.person_copy from '{csv_path}' with (format csv, header true)"],
                check=True,
            )  # fmt: skip
            copy_runs.append(time.perf_counter() - started)

            console.print(f"round {attempt}/{repeats}: platform (source → Parquet → raw) …")
            child = subprocess.run(
                [sys.executable, "-m", "govlake.bench.ingest", "--child", conn_id],
                check=True, capture_output=True, text=True, env=dict(os.environ),
            )  # fmt: skip
            platform = json.loads(child.stdout.strip().splitlines()[-1])
            assert platform["loaded_rows"] == rows, platform
            platform_runs.append(platform)

            console.print(f"round {attempt}/{repeats}: pandas to_sql on {to_sql_rows:,} rows …")
            started = time.perf_counter()
            frame.to_sql("person_to_sql", engine, schema="bench", if_exists="replace", index=False)
            to_sql_runs.append(time.perf_counter() - started)
        engine.dispose()
        # the platform ran in child processes only: their peak is the platform's peak
        peak_rss_mb = rusage.getrusage(rusage.RUSAGE_CHILDREN).ru_maxrss / 1024

    copy_s = statistics.median(copy_runs)
    to_sql_s = statistics.median(to_sql_runs)
    platform = {
        key: statistics.median(run[key] for run in platform_runs)
        for key in ("extract_s", "load_s", "parquet_bytes")
    }
    copy_rows_s = rows / copy_s
    platform_s = platform["extract_s"] + platform["load_s"]
    figures = {
        "rows": rows,
        "platform_rows_s": rows / platform_s,
        "extract_rows_s": rows / platform["extract_s"],
        "load_rows_s": rows / platform["load_s"],
        "copy_rows_s": copy_rows_s,
        "to_sql_rows_s": to_sql_rows / to_sql_s,
        "load_vs_copy": (rows / platform["load_s"]) / copy_rows_s,
        "path_vs_to_sql": (rows / platform_s) / (to_sql_rows / to_sql_s),
        "peak_rss_mb": peak_rss_mb,
    }
    console.print(
        f"copy {copy_s:.2f}s · extract {platform['extract_s']:.2f}s · "
        f"load {platform['load_s']:.2f}s · to_sql {to_sql_s:.2f}s for {to_sql_rows:,} rows · "
        f"parquet {platform['parquet_bytes'] / 1e6:.1f} MB"
    )
    print(
        f"bench-ingest rows={rows} platform_rows_s={figures['platform_rows_s']:.0f} "
        f"copy_rows_s={copy_rows_s:.0f} to_sql_rows_s={figures['to_sql_rows_s']:.0f} "
        f"load_vs_copy={figures['load_vs_copy']:.2f} "
        f"path_vs_to_sql={figures['path_vs_to_sql']:.1f} peak_rss_mb={peak_rss_mb:.0f}"
    )
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        raise SystemExit("usage: python -m govlake.bench.ingest --child CONN_ID")
