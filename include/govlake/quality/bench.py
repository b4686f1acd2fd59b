"""``make bench-quality``: the GX audit of a raw batch against one hand-written SQL query.

Both audit the same N generated persons (``govlake.bench.ingest.generate_persons``, with
the catalog's other person fields filled in and a few defects of every kind planted), held
as one batch of a stand-in raw table ``bench.police__person`` (the raw DDL of
``police.person``):

- the platform: :func:`govlake.quality.gx_engine.run_suite` with the table's full generated
  suite (``rules_for_table("raw.police__person")``, the rules GX evaluates), restricted to
  the batch, in a child process whose peak resident memory is measured — including storing
  the validation result and building its data docs;
- baseline: ONE hand-written query computing the same counts in one scan (uniqueness by a
  window over the key), as a person would write it for this table.

Each ``repeats`` times, interleaved; figures are medians. The two must agree on every
rule's count of failing rows, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource as rusage
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from govlake import config

TABLE = "bench.police__person"
SOURCE_TABLE = "raw.police__person"
BATCH_ID = "BENCH-QUALITY-1"
AS_OF = "2026-11-03"
STAGING_COLUMNS = (
    "person_id", "id_number", "name", "sex", "birth_date", "ethnicity", "household_no",
    "address", "town_code", "phone", "status", "updated_at",
)  # fmt: skip
# planted defects, by row number n: each rule finds some failing rows
LOAD_SQL = f"""
insert into {TABLE} (
    person_id, id_number, name, sex, birth_date, ethnicity, marital_status, household_no,
    relation_to_head, address, town_code, phone, status, death_date, updated_at,
    _extra, _batch_id, _source_file, _source_row)
select
    case when n % 20000 = 1 then 'P' || lpad((n - 1)::text, 9, '0') else person_id end,
    case when n % 5000 = 2 then left(id_number, 17) else id_number end,
    case when n % 2000 = 3 then null else name end,
    case when n % 4000 = 4 then '3' else sex end,
    case when n % 10000 = 10 then date '2030-01-01' else birth_date end,
    case when n % 10000 = 5 then '99' else ethnicity end,
    case when n % 10000 = 6 then '77'
         else (array['10', '20', '21', '22', '30', '40'])[n % 6 + 1] end,
    household_no,
    case when n % 10000 = 7 then 'ZZ' else (array['01', '02', '10', '20', '30'])[n % 5 + 1] end,
    address,
    case when n % 10000 = 8 then '440783999' else town_code end,
    case when n % 5000 = 9 then '1234' else phone end,
    status,
    case when n % 100000 = 12 then birth_date - 1
         when n % 50 = 11 then least(birth_date + 70 * 365, date '2026-10-01') end,
    updated_at,
    case when n % 50000 = 13 then '{{{{"fax": "0750-1234567"}}}}'::jsonb end,
    {{batch}}, 'bench.csv', n
from (select *, substr(person_id, 2)::bigint as n from bench_staging) as s
"""


def _ddl() -> str:
    from govlake.catalog.loader import default_catalog

    person = default_catalog().resource("police.person")
    columns = [f'"{f.name}" {f.pg_type}' for f in person.fields]
    columns += [
        "_extra jsonb",
        "_batch_id text not null",
        "_source_file text",
        "_source_row bigint",
        "_loaded_at timestamptz not null default now()",
    ]
    return f"create table {TABLE} ({', '.join(columns)})"


def bench_rules() -> list:
    """The population table's generated GX rules, pointed at the stand-in table."""
    from govlake.quality.rules import gx_rules, rules_for_table

    rules = gx_rules(rules_for_table(SOURCE_TABLE))
    return [
        replace(rule, table=TABLE, rule_id=rule.rule_id.replace(SOURCE_TABLE, TABLE, 1))
        for rule in rules
    ]


# --- the hand-written query -------------------------------------------------------------


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _condition(rule, as_of: str) -> tuple[str, str | None]:
    """A rule's failing-row condition in SQL, and the column needing a window count."""
    kwargs = rule.kwargs
    column = f'"{kwargs["column"]}"' if "column" in kwargs else None
    kind = rule.expectation_type
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"{column} is null", None
    if kind == "ExpectColumnValuesToMatchRegex":
        return f"{column} !~ {_literal(kwargs['regex'])}", None
    if kind == "ExpectColumnValuesToBeInSet":
        codes = ", ".join(_literal(v) for v in kwargs["value_set"])
        return f"{column} <> all(array[{codes}])", None
    if kind == "ExpectColumnValuesToBeBetween":
        bounds = []
        for key, op in (("min_value", "<"), ("max_value", ">")):
            bound = kwargs.get(key)
            if isinstance(bound, dict):
                bound = as_of
            if bound is not None:
                bounds.append(f"{column} {op} {_literal(bound)}")
        return " or ".join(bounds) or "false", None
    if kind == "ExpectColumnValuesToBeUnique":
        return f"{column} is not null and n_{kwargs['column']} > 1", kwargs["column"]
    if kind == "UnexpectedRowsExpectation":
        match = re.fullmatch(
            r"\s*select\s+\*\s+from\s+\{batch\}\s+where\s+(.+?)\s*",
            kwargs["unexpected_rows_query"],
            re.IGNORECASE | re.DOTALL,
        )
        if not match:
            raise ValueError(f"{rule.rule_id}: no hand-written equivalent of its query")
        return f"({match.group(1)})", None
    raise ValueError(f"{rule.rule_id}: no hand-written equivalent of {kind}")


def hand_sql(rules: list, batch_id: str = BATCH_ID, as_of: str = AS_OF) -> tuple[str, list]:
    """One query, one scan of the batch: the count of failing rows of every rule."""
    selects, windows, rule_ids = ["count(*)"], [], []
    for rule in rules:
        condition, window = _condition(rule, as_of)
        selects.append(f"count(*) filter (where {condition})")
        rule_ids.append(rule.rule_id)
        if window and window not in windows:
            windows.append(window)
    over = "".join(f', count(*) over (partition by "{c}") as n_{c}' for c in windows)
    query = (
        f"select {', '.join(selects)} from (select *{over} from {TABLE} "
        f"where _batch_id = {_literal(batch_id)}) as batch"
    )
    return query, rule_ids


# --- the two sides -------------------------------------------------------------------------


def _child(batch_id: str, as_of: str) -> None:
    """The GX audit, alone in this process so that its peak memory is its own."""
    from govlake.quality import gx_engine

    gx_engine._install_metric_overrides()  # imports GX and its metrics: not timed
    rules = bench_rules()
    started = time.perf_counter()
    run = gx_engine.run_suite(
        TABLE,
        rules,
        where=f"_batch_id = {_literal(batch_id)}",
        run_id=f"bench-{int(time.time())}",
        parameters={"as_of": as_of},
    )
    seconds = time.perf_counter() - started
    errors = {o.rule_id: o.error for o in run.outcomes if o.error}
    print(
        json.dumps(
            {
                "gx_s": seconds,
                "rows": run.rows_audited,
                "failed": {o.rule_id: o.failed for o in run.outcomes},
                "keys": sum(len(o.failing_keys) for o in run.outcomes),
                "errors": errors,
                "data_docs": str(run.data_docs_index),
            }
        )
    )


def _warehouse() -> str:
    try:
        return config.warehouse_url()
    except config.ConfigError:
        from govlake.runtime.services import up

        up()
        return config.warehouse_url()


def _load(conn, rows: int, console: Console) -> None:
    from govlake.bench.ingest import generate_persons
    from govlake.standards.check_sql import apply_check_functions

    apply_check_functions(conn)
    with tempfile.TemporaryDirectory(prefix="govlake-bench-quality-") as scratch:
        csv_path = Path(scratch) / "persons.csv"
        console.print(f"generating {rows:,} persons …")
        generate_persons(csv_path, rows)
        console.print("loading the stand-in raw table (setup, not timed) …")
        conn.execute("create schema if not exists bench")
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(_ddl())
        types = {"birth_date": "date", "updated_at": "timestamp"}
        columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in STAGING_COLUMNS)
        conn.execute(f"create temp table bench_staging ({columns})")
        with (
            conn.cursor().copy(
                "copy bench_staging from stdin with (format csv, header true)"
            ) as copy,
            csv_path.open("rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        conn.execute(LOAD_SQL.format(batch=_literal(BATCH_ID)))  # no parameters: % is modulo
        conn.execute("drop table bench_staging")
        conn.execute(f"create index on {TABLE} (_batch_id)")
        conn.execute(f"vacuum analyze {TABLE}")


def run_benchmark(rows: int, console: Console, repeats: int = 3) -> dict:
    """GX and the hand-written query, ``repeats`` rounds interleaved; medians."""
    import psycopg

    warehouse = _warehouse()
    rules = bench_rules()
    query, rule_ids = hand_sql(rules)
    with psycopg.connect(config.libpq_url(warehouse), autocommit=True) as conn:
        _load(conn, rows, console)
        conn.execute(f"select count(*) from {TABLE}")  # warm the cache for both sides

    gx_runs, sql_runs, child = [], [], {}
    with tempfile.TemporaryDirectory(prefix="govlake-bench-quality-home-") as home:
        env = {
            **os.environ,
            "GOVLAKE_PG_URL": warehouse,
            "GOVLAKE_HOME": home,  # results and data docs of the bench stay out of the way
            "GOVLAKE_OUTPUT_DIR": str(Path(home) / "output"),
        }
        for attempt in range(1, repeats + 1):
            console.print(f"round {attempt}/{repeats}: GX ({len(rules)} rules) …")
            done = subprocess.run(
                [sys.executable, "-m", "govlake.quality.bench", "--child",
                 "--batch", BATCH_ID, "--as-of", AS_OF],
                check=True, capture_output=True, text=True, env=env,
            )  # fmt: skip
            child = json.loads(done.stdout.strip().splitlines()[-1])
            if child["errors"]:
                raise RuntimeError(f"GX could not evaluate: {child['errors']}")
            gx_runs.append(child["gx_s"])

            console.print(f"round {attempt}/{repeats}: hand-written SQL …")
            with psycopg.connect(config.libpq_url(warehouse), autocommit=True) as conn:
                started = time.perf_counter()
                counts = conn.execute(query).fetchone()
                sql_runs.append(time.perf_counter() - started)
        # the GX side ran in child processes only: their peak is its peak
        peak_rss_mb = rusage.getrusage(rusage.RUSAGE_CHILDREN).ru_maxrss / 1024

    assert counts is not None
    expected = dict(zip(rule_ids, counts[1:], strict=True))
    mismatched = {
        rule_id: (child["failed"].get(rule_id), n)
        for rule_id, n in expected.items()
        if child["failed"].get(rule_id) != n
    }
    if counts[0] != child["rows"] or mismatched:
        raise RuntimeError(
            f"GX and the hand-written SQL disagree: rows {child['rows']} vs {counts[0]}, "
            f"rules (gx, sql): {mismatched}"
        )
    gx_s, sql_s = statistics.median(gx_runs), statistics.median(sql_runs)
    figures = {
        "rows": rows,
        "rules": len(rules),
        "gx_s": gx_s,
        "sql_s": sql_s,
        "ratio": gx_s / sql_s,
        "peak_rss_mb": peak_rss_mb,
        "failing_rows": sum(expected.values()),
        "failing_keys": child["keys"],
    }
    console.print(
        f"{len(rules)} rules agree on {figures['failing_rows']:,} failing rows; "
        f"GX rounds {', '.join(f'{s:.2f}' for s in gx_runs)} s, "
        f"SQL rounds {', '.join(f'{s:.2f}' for s in sql_runs)} s; "
        f"{child['keys']:,} failing keys kept"
    )
    print(
        f"bench-quality rows={rows} gx_s={gx_s:.2f} sql_s={sql_s:.2f} "
        f"ratio={figures['ratio']:.2f} peak_rss_mb={peak_rss_mb:.0f}"
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m govlake.quality.bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", default=BATCH_ID, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", default=AS_OF, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.batch, args.as_of)
    else:
        run_benchmark(args.rows, Console(stderr=True), repeats=args.repeats)


if __name__ == "__main__":
    main()
