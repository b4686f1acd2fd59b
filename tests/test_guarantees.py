"""The design's guarantees: idempotent reruns, crash safety, reconciled counts, S3 for real."""

from __future__ import annotations

import contextlib
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
