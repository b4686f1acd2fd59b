"""The simulated city through every ingestion DAG, judged against the simulator's truth."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import boto3
import pytest
from govlake.catalog.loader import load_catalog
from govlake.governance.store import connect
from govlake.orchestration.runner import run_ingest_dag
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate

from tests._helpers import table_checksum

SCALE, SEED = 300, 3
# defects that make a row unloadable (the rest load, for the quality audits to find)
QUARANTINED_KINDS = {"malformed_row", "wrong_encoding", "missing_value", "invalid_date",
                     "non_numeric"}  # fmt: skip


def _batches(day_date) -> dict[str, tuple]:
    with connect() as conn:
        rows = conn.execute(
            "select resource_id, state, source_rows, landed_rows, extract_quarantined, "
            "loaded_rows, load_quarantined from governance.batch where ingest_date = %s",
            (day_date,),
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def _raw_count(resource_id: str, batch_date) -> int:
    resource = load_catalog().resource(resource_id)
    with connect() as conn:
        return conn.execute(
            f"select count(*) from raw.{resource.raw_table} r join governance.batch b "
            "on b.resource_id = %s and b.batch_id = r._batch_id where b.ingest_date = %s",
            (resource_id, batch_date),
        ).fetchone()[0]


def test_every_ingestion_dag_runs_end_to_end_for_two_days(departments, hotline_api, airflow_db):
    from govlake.pipeline.runs import summarise_runs

    started = datetime.now().astimezone() - timedelta(seconds=5)
    catalog = load_catalog()
    days = {}
    for day in (1, 2):
        result = simulate(scale=SCALE, seed=SEED, day=day)
        on = business_date(day)
        for resource_id in sorted(catalog.resources):
            run = run_ingest_dag(resource_id, on)
            assert run.state == "success", (day, resource_id, run.task_states)
            # extract and load, and whatever tasks follow them (the batch audit), all succeed
            assert {"extract", "load"} <= set(run.task_states), run.task_states
            assert set(run.task_states.values()) == {"success"}, run.task_states
        batches = _batches(on)
        assert set(batches) == set(catalog.resources)
        for resource_id, (state, source, landed, ext_q, loaded, load_q) in batches.items():
            assert state == "loaded", resource_id
            assert source == landed + ext_q and landed == loaded + load_q, resource_id
            assert _raw_count(resource_id, on) == loaded, resource_id
            assert source == result.counts[resource_id], (day, resource_id)
        days[day] = batches

    # rerunning day 1 through Airflow leaves every raw table exactly as it was
    before = {r.id: table_checksum(f"raw.{r.raw_table}", "_batch_id, _source_file, _source_row")
              for r in catalog.resources.values()}  # fmt: skip
    for resource_id in sorted(catalog.resources):
        assert run_ingest_dag(resource_id, business_date(1)).state == "success"
    after = {r.id: table_checksum(f"raw.{r.raw_table}", "_batch_id, _source_file, _source_row")
             for r in catalog.resources.values()}  # fmt: skip
    assert after == before

    # day 2 is incremental for databases and the API: only that day's changes
    for resource_id in ("police.person", "govdata.hotline_ticket"):
        assert 0 < days[2][resource_id][1] < days[1][resource_id][1] / 3, resource_id
    assert days[2]["tax.tax_payment"][1] < days[1]["tax.tax_payment"][1] / 3
    # full snapshots (the roster workbook) deliver everything again
    assert days[2]["overseas.overseas_chinese"][1] >= days[1]["overseas.overseas_chinese"][1]

    summaries = {s.dag_id: s for s in summarise_runs(started)}
    for resource in catalog.resources.values():
        summary = summaries[resource.dag_id]
        assert (summary.runs, summary.succeeded, summary.failed) == (3, 3, 0)
        assert summary.max_seconds > 0


def _truth(day: int, simulation_dir) -> list[dict]:
    path = simulation_dir / "truth" / f"day={day}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_quarantine_matches_the_injected_defects(departments, hotline_api, platform):
    """Every unloadable row the simulator injected is quarantined — and nothing else — on
    each of three days (day 2 delivers the civil CSV in UTF-8, days 1 and 3 in GBK, day 3
    adds schema drift)."""
    catalog = load_catalog()
    kinds_seen: set[str] = set()
    for day in (1, 2, 3):
        simulate(scale=2000, seed=SEED, day=day)  # large enough for every kind of defect
        on = business_date(day)
        for resource_id in catalog.resources:
            manifest = extract_resource(resource_id, on)
            load_resource(resource_id, on, manifest["batch_id"])

        truth = _truth(day, platform["home"] / "sim")
        expected = [t for t in truth if t["defect"] in QUARANTINED_KINDS]
        kinds_seen |= {t["defect"] for t in expected}
        with connect() as conn:
            quarantined = conn.execute(
                "select q.resource_id, q.source_file, q.source_row, q.record "
                "from governance.quarantine q join governance.batch b "
                "using (resource_id, batch_id) where b.ingest_date = %s",
                (on,),
            ).fetchall()

        def identity(resource_id, source_file, source_row, record):
            resource = catalog.resource(resource_id)
            if resource.system.kind == "files":
                return (resource_id, source_row)
            return (resource_id, (record or {}).get(resource.extract.primary_key[0]))

        def truth_identity(t):
            by_row = catalog.resource(t["resource"]).system.kind == "files"
            return (t["resource"], t["row"] if by_row else t["key"])

        found = {identity(*row) for row in quarantined}
        for defect in expected:
            assert truth_identity(defect) in found, f"day {day}: {defect} was not quarantined"
        # and nothing was quarantined that the truth file does not explain
        unexplained = found - {truth_identity(t) for t in truth}
        assert not unexplained, (
            f"day {day}: quarantined without a defect: {sorted(unexplained)[:5]}"
        )
    assert kinds_seen == QUARANTINED_KINDS, "the simulator injected every kind"


def test_the_market_registry_on_mariadb(departments, mariadb_url, hotline_api, platform):
    # departments first: mariadb_url then points AIRFLOW_CONN_KP_MARKET at MariaDB
    result = simulate(scale=SCALE, seed=SEED, day=1)
    on = business_date(1)
    manifest = extract_resource("market.enterprise", on)
    assert manifest["source"]["location"].startswith("mysql:")
    loaded = load_resource("market.enterprise", on, manifest["batch_id"])
    assert loaded.source_rows == result.counts["market.enterprise"]
    assert loaded.reconciled
    with connect() as conn:
        names = conn.execute(
            "select count(*) from raw.market__enterprise where name ~ '[\\u4e00-\\u9fff]'"
        ).fetchone()[0]
    assert names >= loaded.loaded_rows * 0.95  # Chinese text survived utf8mb4 → Parquet → PG


def test_a_dag_run_lands_its_batch_in_s3(s3_platform, departments, hotline_api, airflow_db):
    simulate(scale=SCALE, seed=SEED, day=1)
    on = business_date(1)
    run = run_ingest_dag("govdata.hotline_ticket", on)
    assert run.state == "success", run.task_states
    s3 = boto3.client("s3", endpoint_url=s3_platform["endpoint"])
    listing = s3.list_objects_v2(
        Bucket=s3_platform["bucket"], Prefix="raw/govdata/hotline_ticket/ingest_date=2026-11-01/"
    )
    names = sorted(item["Key"].rsplit("/", 1)[1] for item in listing["Contents"])
    assert len(names) == 2 and names[0] == "_manifest.json"
    assert names[1].startswith("part-a") and names[1].endswith("-0000.parquet")
    [(state, source, landed, _, loaded, _)] = _batches(on).values()
    assert state == "loaded" and source == landed == loaded > 0


@pytest.mark.parametrize("mode", ["full"])
def test_a_manual_full_extraction_of_a_database_resource(mode, departments, hotline_api, platform):
    simulate(scale=SCALE, seed=SEED, day=1)
    simulate(scale=SCALE, seed=SEED, day=2)
    on = business_date(2)
    manifest = extract_resource("police.person", on, mode=mode)
    assert manifest["batch_id"] == "20261102-full" and manifest["window_start"] is None
    result = load_resource("police.person", on, manifest["batch_id"])
    assert result.source_rows > SCALE  # the whole register, not one day's changes


def test_a_missed_day_is_caught_up_by_the_next_run(departments, hotline_api, platform):
    counts = {}
    for day in (1, 2, 3):
        counts[day] = simulate(scale=SCALE, seed=SEED, day=day).counts
        if day == 2:
            continue  # the scheduler was down: day 2 never ran
        for resource_id in ("police.person", "govdata.hotline_ticket"):
            manifest = extract_resource(resource_id, business_date(day))
            result = load_resource(resource_id, business_date(day), manifest["batch_id"])
            if day == 3:
                assert manifest["window_start"] == "2026-11-02 00:00:00"
                assert result.source_rows > counts[3][resource_id]
                if resource_id == "police.person":  # what the register holds for both days
                    import psycopg

                    with psycopg.connect(departments["kp_police"]) as source:
                        changed = source.execute(
                            "select count(*) from person where updated_at >= '2026-11-02' "
                            "and updated_at < '2026-11-04'"
                        ).fetchone()[0]
                    assert result.source_rows == changed
    # a later backfill of day 2 lands day 2 alone
    backfill = extract_resource("police.person", business_date(2))
    assert backfill["window_start"] == "2026-11-02 00:00:00"
    assert backfill["window_end"] == "2026-11-03 00:00:00"


def test_zone_aware_source_timestamps_mean_kaiping_time(departments, platform):
    """A timestamptz watermark: windows and landed values are in Asia/Shanghai time."""
    import psycopg
    from govlake.catalog.model import Extract, Resource, System

    with psycopg.connect(departments["kp_police"], autocommit=True) as source:
        source.execute("set time zone 'UTC'")
        source.execute("create table duty_log (entry_id text primary key, updated_at timestamptz)")
        source.execute(
            "insert into duty_log values ('late', '2026-11-01 23:30:00+08'), "
            "('next-day', '2026-11-02 00:30:00+08')"  # still 1 November in UTC
        )
    person = load_catalog().resource("police.person")
    resource = Resource(
        department="police", code="duty_log", name_zh="值班记录", name_en="duty log",
        description="test", system=System("police_hukou", "police", "户籍", "hukou",
                                          "postgresql", "kp_police"),
        owner="test", sharing_type="不予共享", open_type="不予开放", update_frequency="daily",
        extract=Extract(mode="incremental", table="duty_log", watermark="updated_at",
                        primary_key=("entry_id",)),
        fields=(replace(person.field("person_id"), name="entry_id"), person.field("updated_at")),
        source_file="(test)",
    )  # fmt: skip
    manifest = extract_resource(resource, business_date(1))
    result = load_resource(resource, business_date(1), manifest["batch_id"])
    assert (result.source_rows, result.loaded_rows) == (1, 1)
    with connect() as conn:
        row = conn.execute("select entry_id, updated_at::text from raw.police__duty_log").fetchone()
    assert row == ("late", "2026-11-01 23:30:00")
