"""The design's guarantees: idempotent reruns, crash safety, reconciled counts, S3 for real."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import boto3
import pyarrow.parquet as pq
import pytest
from govlake import config
from govlake.governance.store import connect
from govlake.pipeline.ingest import extract_resource, load_resource

from tests._helpers import table_checksum

DAY = date(2026, 11, 1)
HEADER = (
    "recipient_id,name,id_number,town_code,category,household_size,monthly_amount,start_date,status"
)


def _write_recipients(rows: int, bad_every: int = 0) -> None:
    folder = config.landing_dir() / "civil" / f"{DAY:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "low_income_20261101.csv").open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for i in range(1, rows + 1):
            amount = "约800" if bad_every and i % bad_every == 0 else f"{600 + i % 400}"
            out.write(
                f"R{i:07d},关{i},44078319900101{i % 10000:04d},440783001,低保,{1 + i % 5},"
                f"{amount},2024-01-01,在册\n"
            )


def test_rerunning_a_day_leaves_identical_tables(platform):
    _write_recipients(500, bad_every=50)
    first = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, first["batch_id"])
    before = table_checksum("raw.civil__low_income", "_source_row")

    again = extract_resource("civil.low_income", DAY)  # reuses the immutable batch
    assert again["reused"] is True and again["batch_id"] == first["batch_id"]
    load_resource("civil.low_income", DAY, again["batch_id"])
    assert table_checksum("raw.civil__low_income", "_source_row") == before

    forced = extract_resource("civil.low_income", DAY, force=True)  # re-extract from source
    assert forced["reused"] is False
    result = load_resource("civil.low_income", DAY, forced["batch_id"])
    assert table_checksum("raw.civil__low_income", "_source_row") == before
    assert before[0] == 490 and result.quarantined == 10
    with connect() as conn:
        quarantined = conn.execute("select count(*) from governance.quarantine").fetchone()[0]
        batches = conn.execute("select count(*) from governance.batch").fetchone()[0]
    assert (quarantined, batches) == (10, 1)


def test_every_batch_reconciles_and_the_database_enforces_it(platform):
    _write_recipients(120, bad_every=7)
    manifest = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, manifest["batch_id"])
    with connect() as conn:
        row = conn.execute(
            "select source_rows, landed_rows, extract_quarantined, loaded_rows, "
            "load_quarantined, state from governance.batch"
        ).fetchone()
        assert row == (120, 120, 0, 103, 17, "loaded")
        raw_rows = conn.execute("select count(*) from raw.civil__low_income").fetchone()[0]
        assert raw_rows == 103
        # a record that does not add up is refused by the table itself
        import psycopg

        try:
            conn.execute("update governance.batch set loaded_rows = loaded_rows + 1")
        except psycopg.errors.CheckViolation:
            conn.rollback()
        else:
            raise AssertionError("governance.batch accepted counts that do not reconcile")


def _active_copy(pid: int) -> bool:
    with connect(autocommit=True) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where query ilike 'copy raw.%%' "
            "and state = 'active' and application_name = %s",
            (f"govlake-load-{pid}",),
        ).fetchone()
    return row[0] > 0


def test_a_load_killed_midway_leaves_nothing_and_the_rerun_completes(platform):
    _write_recipients(400_000)
    manifest = extract_resource("civil.low_income", DAY)
    script = (
        "import os, datetime\n"
        "os.environ['PGAPPNAME'] = f'govlake-load-{os.getpid()}'\n"
        "from govlake.pipeline.ingest import load_resource\n"
        f"load_resource('civil.low_income', datetime.date(2026, 11, 1), {manifest['batch_id']!r})\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    deadline = time.monotonic() + 60
    while not _active_copy(process.pid):
        assert process.poll() is None, "the load finished before it could be killed"
        assert time.monotonic() < deadline, "the load never started its COPY"
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()

    with connect() as conn:
        exists = conn.execute("select to_regclass('raw.civil__low_income')").fetchone()[0]
        state = conn.execute("select state, loaded_rows from governance.batch").fetchone()
        if exists:
            assert conn.execute("select count(*) from raw.civil__low_income").fetchone()[0] == 0
    assert state == ("landed", None)

    result = load_resource("civil.low_income", DAY, manifest["batch_id"])
    assert result.loaded_rows == 400_000 and result.reconciled
    count, _ = table_checksum("raw.civil__low_income", "_source_row")
    assert count == 400_000


def test_batches_land_in_a_real_s3_endpoint(s3_platform):
    _write_recipients(300, bad_every=100)
    manifest = extract_resource("civil.low_income", DAY)
    result = load_resource("civil.low_income", DAY, manifest["batch_id"])
    assert (result.loaded_rows, result.quarantined) == (297, 3)

    s3 = boto3.client("s3", endpoint_url=s3_platform["endpoint"])
    keys = sorted(
        item["Key"] for item in s3.list_objects_v2(Bucket=s3_platform["bucket"])["Contents"]
    )
    prefix = "raw/civil/low_income/ingest_date=2026-11-01/batch=20261101-full/"
    attempt = manifest["attempt"]
    assert keys == sorted(
        [
            prefix + "_manifest.json",
            prefix + f"part-{attempt}-0000.parquet",
            prefix + f"source/{attempt}/low_income_20261101.csv",
            "quarantine/civil/low_income/ingest_date=2026-11-01/batch=20261101-full/load.jsonl",
        ]
    )
    body = s3.get_object(Bucket=s3_platform["bucket"], Key=prefix + f"part-{attempt}-0000.parquet")
    import io

    table = pq.read_table(io.BytesIO(body["Body"].read()))
    assert table.num_rows == 300
    assert table.column("_source_row").to_pylist()[:3] == [1, 2, 3]


def test_an_extraction_that_dies_leaves_the_published_batch_intact(platform):
    _write_recipients(50, bad_every=10)
    first = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, first["batch_id"])
    before = table_checksum("raw.civil__low_income", "_source_row")

    import govlake.lake.batch as batch_module

    def die(self, manifest):  # the process dies after writing parts, before the manifest
        self._close_part()
        raise SystemExit("killed")

    _write_recipients(80)
    with pytest.MonkeyPatch.context() as patch, contextlib.suppress(SystemExit):
        patch.setattr(batch_module.BatchWriter, "publish", die)
        extract_resource("civil.low_income", DAY, force=True)

    again = extract_resource("civil.low_income", DAY)  # the published batch still stands
    assert again["reused"] and again["attempt"] == first["attempt"]
    load_resource("civil.low_income", DAY, again["batch_id"])
    assert table_checksum("raw.civil__low_income", "_source_row") == before

    forced = extract_resource("civil.low_income", DAY, force=True)  # now it succeeds
    result = load_resource("civil.low_income", DAY, forced["batch_id"])
    assert (result.source_rows, result.quarantined) == (80, 0)
    keys = config.storage_settings().root / "govlake" / "raw" / "civil"
    parts = sorted(p.name for p in keys.rglob("part-*.parquet"))
    assert parts == [f"part-{forced['attempt']}-0000.parquet"]  # the dead attempt is cleaned


def _partitions(table: str) -> list[str]:
    with connect() as conn:
        return [
            row[0]
            for row in conn.execute(
                "select pg_get_expr(c.relpartbound, c.oid) from pg_inherits i "
                "join pg_class c on c.oid = i.inhrelid where i.inhparent = %s::regclass "
                "order by 1",
                (table,),
            )
        ]


def test_each_batch_is_one_partition_and_a_rerun_replaces_it(platform):
    _write_recipients(40)
    first = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, first["batch_id"])
    second = extract_resource("civil.low_income", date(2026, 11, 2))  # no delivery: empty
    load_resource("civil.low_income", date(2026, 11, 2), second["batch_id"])
    load_resource("civil.low_income", DAY, first["batch_id"])  # a rerun of day 1
    assert _partitions("raw.civil__low_income") == [
        "FOR VALUES IN ('20261101-full')",
        "FOR VALUES IN ('20261102-full')",
    ]
    with connect() as conn:
        counts = conn.execute(
            "select _batch_id, count(*) from raw.civil__low_income group by 1 order by 1"
        ).fetchall()
    assert counts == [("20261101-full", 40)]


def test_a_raw_table_from_before_partitioning_is_partitioned_by_its_batches(platform):
    _write_recipients(30)
    manifest = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, manifest["batch_id"])
    before = table_checksum("raw.civil__low_income", "_source_row")
    with connect() as conn:  # the shape raw tables had: one plain table, a _batch_id index
        conn.execute("create table raw.legacy as select * from raw.civil__low_income")
        conn.execute("update raw.legacy set _batch_id = '20261031-full' where _source_row > 20")
        conn.execute("drop table raw.civil__low_income")
        conn.execute("alter table raw.legacy rename to civil__low_income")
        conn.execute("create index civil__low_income__batch on raw.civil__low_income (_batch_id)")

    load_resource("civil.low_income", DAY, manifest["batch_id"])  # a rerun of day 1

    assert _partitions("raw.civil__low_income") == [
        "FOR VALUES IN ('20261031-full')",
        "FOR VALUES IN ('20261101-full')",
    ]
    with connect() as conn:
        counts = conn.execute(
            "select _batch_id, count(*) from raw.civil__low_income group by 1 order by 1"
        ).fetchall()
    assert counts == [("20261031-full", 10), ("20261101-full", 30)]
    with connect() as conn:
        conn.execute("delete from raw.civil__low_income where _batch_id = '20261031-full'")
    assert table_checksum("raw.civil__low_income", "_source_row") == before


def test_a_typed_postgresql_source_lands_typed_and_loads_what_text_would(departments):
    import psycopg
    from govlake.catalog.loader import default_catalog

    with psycopg.connect(departments["kp_police"], autocommit=True) as conn:
        conn.execute(
            "create table person (person_id text primary key, id_number text, name text, "
            "sex text, birth_date date, ethnicity text, marital_status text, household_no "
            "text, relation_to_head text, address text, town_code text, phone text, "
            "status text, death_date text, updated_at timestamptz, points integer)"
        )
        conn.execute("set time zone 'UTC'")
        conn.execute(
            "insert into person values "
            "('P1', '440783199001011234', '关志强', '1', '1990-01-01', '01', null, 'H1', "
            "null, '开平市', '440783001', null, '正常', '', '2026-11-01 01:30:00', 7), "
            "('P2', '440783199001011235', '司徒敏', '2', '1991-02-03', '01', null, 'H1', "
            "null, '开平市', '440783001', null, '死亡', '2026-02-30', "
            "'2026-11-01 02:00:00.25', null), "
            "('P3', '440783199001011236', '谢安', '1', null, '01', null, 'H2', "
            "null, '开平市', '440783001', null, '正常', ' 2025-06-01 ', "
            "'2026-10-31 17:00:00', 3)"
        )
    resource = default_catalog().resource("police.person")
    manifest = extract_resource(resource, DAY, mode="full")
    [part] = manifest["parts"]
    landed = pq.read_schema(config.storage_settings().root / "govlake" / part["key"])
    assert str(landed.field("birth_date").type) == "date32[day]"
    assert str(landed.field("updated_at").type) == "timestamp[us]"  # zone-aware → local
    assert str(landed.field("death_date").type) == "string"
    assert str(landed.field("points").type) == "int32"

    result = load_resource(resource, DAY, manifest["batch_id"])
    assert (result.loaded_rows, result.quarantined) == (1, 2)  # a bad date, a blank one
    assert result.added_columns == ["points"]
    with connect() as conn:
        rows = conn.execute(
            "select person_id, birth_date::text, death_date::text, updated_at::text, _extra "
            "from raw.police__person order by person_id"
        ).fetchall()
        reasons = conn.execute(
            "select source_row, field, reason from governance.quarantine order by source_row"
        ).fetchall()
    assert rows == [("P1", "1990-01-01", None, "2026-11-01 09:30:00", {"points": "7"})]
    # rows come in watermark order: P3 (01:00 Kaiping time), P1, P2
    assert [(row, field) for row, field, _ in reasons] == [(1, "birth_date"), (3, "death_date")]
    assert "'2026-02-30'" in reasons[1][2]


def test_a_damaged_part_fails_the_load_and_changes_nothing(platform):
    _write_recipients(60)
    manifest = extract_resource("civil.low_income", DAY)
    load_resource("civil.low_income", DAY, manifest["batch_id"])
    before = table_checksum("raw.civil__low_income", "_source_row")
    [part] = manifest["parts"]
    stored = config.storage_settings().root / "govlake" / part["key"]
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="does not match its manifest checksum"):
        load_resource("civil.low_income", DAY, manifest["batch_id"])
    assert table_checksum("raw.civil__low_income", "_source_row") == before


def test_the_binary_copy_encoding_round_trips_every_wire_type(platform):
    import datetime as dt

    import pyarrow as pa
    from govlake.load.loader import COPY_SIGNATURE, COPY_TRAILER, copy_rows

    rows = pa.table({
        "s": pa.array(["ab", None, "", "中文", "x" * 70_000, "q"]),
        "d": pa.array([dt.date(2000, 1, 2), None, dt.date(1999, 12, 31), dt.date(1, 1, 1),
                       dt.date(9999, 12, 31), dt.date(1970, 1, 1)]),
        "t": pa.array([dt.datetime(2000, 1, 1, 0, 0, 1), None,
                       dt.datetime(1969, 12, 31, 23, 59, 59, 999999), dt.datetime(1, 1, 1),
                       dt.datetime(9999, 12, 31, 23, 59, 59), dt.datetime(2026, 11, 1, 9, 30)],
                      pa.timestamp("us")),
        "i": pa.array([1, None, -2, 2**63 - 1, -(2**63), 0], pa.int64()),
        "j": pa.array(['{"a": "二"}', None, "{}", "[1, 2]", '"x"', None]),
    })  # fmt: skip
    for table in (rows, rows.slice(1), rows.slice(2, 3)):
        with connect() as conn:
            conn.execute("create temp table x (s text, d date, t timestamp, i bigint, j jsonb)")
            with conn.cursor().copy("copy x from stdin (format binary)") as copy:
                copy.write(COPY_SIGNATURE)
                for data in copy_rows(table, jsonb=("j",)):
                    copy.write(memoryview(data))
                copy.write(COPY_TRAILER)
            got = conn.execute("select s, d, t, i, j from x").fetchall()
        want = [
            (r["s"], r["d"], r["t"], r["i"], None if r["j"] is None else json.loads(r["j"]))
            for r in table.to_pylist()
        ]
        assert got == want
