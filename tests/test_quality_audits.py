"""Quality audits judged against the simulator's truth file, and the blocking behaviour.

* recall: every kind of injected defect is found (≥ 99 % of each kind), by the load
  gate (quarantined rows) or by a rule's failing records, on three simulated days;
* a clean city raises nothing;
* a blocking failure stops the batch: marked blocked, left out of staging, and through
  Airflow the ingestion DAG fails with the reasons and announces no asset event.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from govlake.catalog.loader import load_catalog
from govlake.governance.store import connect
from govlake.load.loader import partition_name
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.quality.audit import audit_batch, audit_libraries, release_batch
from govlake.simulate import business_date, simulate
from govlake.simulate.truth import read_truth
from govlake.transform.dbt import run_dbt
from govlake.transform.prepare import prepare_warehouse

SCALE, SEED, DAYS = 2000, 7, (1, 2, 3)
QUARANTINED_KINDS = {"malformed_row", "wrong_encoding", "missing_value", "invalid_date",
                     "non_numeric"}  # fmt: skip
ALL_KINDS = QUARANTINED_KINDS | {"bad_check_char", "nonstandard_code", "duplicate",
                                 "future_date", "schema_drift", "conflict"}  # fmt: skip


def _build_libraries() -> None:
    prepare_warehouse()
    # staging and basic with the code-set seeds they read; not their dbt tests (the
    # quality audits are what this exercises)
    result = run_dbt("build", "--select", "+path:models/staging", "+path:models/basic",
                     "--exclude-resource-type", "test", capture=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:]


def _ingest_and_audit(day: int, defects: bool = True) -> list:
    catalog = load_catalog()
    simulate(scale=SCALE, seed=SEED, day=day, defects=defects)
    on = business_date(day)
    results = []
    for resource_id in sorted(catalog.resources):
        manifest = extract_resource(resource_id, on)
        loaded = load_resource(resource_id, on, manifest["batch_id"])
        results.append(audit_batch(resource_id, loaded.batch_id, on))
    _build_libraries()
    results += audit_libraries(on)
    return results


def _findings(day: int) -> tuple[set, set, set]:
    """What the audits of one business day found: (resource, key or row) identities of
    quarantined rows and of failing records, and (resource, rule template) of failures."""
    catalog = load_catalog()
    on = business_date(day)
    with connect() as conn:
        quarantined = conn.execute(
            "select q.resource_id, q.source_row, q.record from governance.quarantine q "
            "join governance.batch b using (resource_id, batch_id) where b.ingest_date = %s",
            (on,),
        ).fetchall()
        failing = conn.execute(
            "select r.resource_id, f.row_key, r.template from governance.quality_failure f "
            "join governance.quality_run u using (run_id) "
            "join governance.quality_rule r using (rule_id) where u.business_date = %s",
            (on,),
        ).fetchall()
    by_row, by_key, rules_failed = set(), set(), set()
    for resource_id, source_row, record in quarantined:
        resource = catalog.resource(resource_id)
        by_row.add((resource_id, source_row))
        by_key.add((resource_id, (record or {}).get(resource.extract.primary_key[0])))
    for resource_id, row_key, template in failing:
        rules_failed.add((resource_id, template))
        if resource_id:
            key_field = catalog.resource(resource_id).extract.primary_key[0]
            by_key.add((resource_id, row_key.get(key_field)))
    return by_row, by_key, rules_failed


def _found(defect: dict, by_row: set, by_key: set, rules_failed: set) -> bool:
    resource = defect["resource"]
    if defect["defect"] == "schema_drift":
        return (resource, "schema") in rules_failed
    if defect["defect"] in ("malformed_row", "wrong_encoding"):
        return (resource, defect["row"]) in by_row
    if defect["row"] is not None and (resource, defect["row"]) in by_row:
        return True
    return (resource, defect["key"]) in by_key


@pytest.fixture
def audited_city(platform, departments, hotline_api):
    days = {}
    for day in DAYS:
        days[day] = _ingest_and_audit(day)
    return days


def test_audits_find_every_kind_of_injected_defect(audited_city):
    found, injected = defaultdict(int), defaultdict(int)
    missed = defaultdict(list)
    for day in DAYS:
        by_row, by_key, rules_failed = _findings(day)
        for defect in read_truth(day):
            kind = defect["defect"]
            injected[kind] += 1
            if _found(defect, by_row, by_key, rules_failed):
                found[kind] += 1
            else:
                missed[kind].append(defect)
    assert set(injected) == ALL_KINDS, f"the simulator injected {sorted(injected)}"
    recall = {kind: found[kind] / injected[kind] for kind in injected}
    print("recall by defect kind:", json.dumps(recall, indent=1))
    for kind, value in recall.items():
        assert value >= 0.99, (kind, value, missed[kind][:5])

    # the load gate's rules account for every quarantined row of every batch audit
    with connect() as conn:
        gates = conn.execute(
            "select b.resource_id, b.batch_id, b.extract_quarantined, b.load_quarantined, "
            "max(q.failed) filter (where q.rule_id like '%%:gate:rows'), "
            "max(q.failed) filter (where q.rule_id like '%%:gate:required'), "
            "max(q.failed) filter (where q.rule_id like '%%:gate:types') "
            "from governance.batch b join governance.quality_run r "
            "on r.resource_id = b.resource_id and r.batch_id = b.batch_id and r.trigger = 'batch' "
            "join governance.quality_result q on q.run_id = r.run_id "
            "group by 1, 2, 3, 4"
        ).fetchall()
    assert len(gates) == 12 * len(DAYS)
    for resource_id, batch_id, extract_q, load_q, rows, required, types in gates:
        assert rows == extract_q, (resource_id, batch_id)
        assert max(required, types) <= load_q <= required + types, (resource_id, batch_id)
    assert sum(g[2] + g[3] for g in gates) > 0

    # warnings pass: no batch of the defective city is blocked, and failing rules opened
    # one work order each, assigned to the owning department, however many days they fail
    with connect() as conn:
        states = dict(
            conn.execute(
                "select audit_state, count(*) from governance.batch group by audit_state"
            ).fetchall()
        )
        orders = conn.execute(
            "select rule_id, department, state, last_run_id <> first_run_id "
            "from governance.work_order"
        ).fetchall()
        samples = conn.execute(
            "select sample from governance.quality_result "
            "where rule_id = 'raw.police__person:check_algorithm:id_number' and not success"
        ).fetchall()
    assert "blocked" not in states and states.get("warned", 0) > 0, states
    by_rule = {rule_id: (department, state, seen_again) for rule_id, department, state,
               seen_again in orders}  # fmt: skip
    assert len(by_rule) == len(orders)
    # a person registered twice stays so every day: one order, seen again
    department, state, seen_again = by_rule["staging.stg_police__person:uniqueness:id_number"]
    assert (department, state, seen_again) == ("police", "open", True)
    assert by_rule["raw.police__person:check_algorithm:id_number"][:2] == ("police", "open")
    assert by_rule["staging.stg_hrss__social_insurance:sql:name_agrees_with_register"][0] == "hrss"
    # failing identity numbers are shown masked, never in full
    assert samples and all(samples_of_day for (samples_of_day,) in samples)
    for (values,) in samples:
        for value in values:
            assert "*" in value and len(value) == 18, value


def test_a_clean_city_raises_nothing(platform, departments, hotline_api):
    for day in (1, 2):
        results = _ingest_and_audit(day, defects=False)
        failures = [
            (r.table, o.rule_id, o.failed, o.error, o.samples[:3])
            for r in results
            for o in r.outcomes
            if not o.success
        ]
        assert failures == [], f"day {day}: rules failed on clean data: {failures}"
    with connect() as conn:
        assert conn.execute("select count(*) from governance.work_order").fetchone()[0] == 0


def _landed(department: str, day: int, pattern: str) -> list:
    from govlake import config

    return sorted(
        (config.landing_dir() / department / business_date(day).isoformat()).glob(pattern)
    )


def _truncate_lines(path, keep: int) -> int:
    """Keep the header and ``keep`` data lines, whatever the file's encoding (a department's
    export that broke off); the number of data lines there were."""
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[: keep + 1]) + b"\n")
    return len([line for line in lines[1:] if line.strip()])


def test_a_blocking_failure_stops_the_batch_from_flowing_on(platform, departments, hotline_api):
    """A full snapshot that arrives with a few of its rows is blocked by the row-count
    fluctuation rule: it stays in raw, staging keeps yesterday's snapshot."""
    resource_id = "civil.low_income"
    simulate(scale=SCALE, seed=SEED, day=1, defects=False)
    day1 = business_date(1)
    manifest = extract_resource(resource_id, day1)
    loaded = load_resource(resource_id, day1, manifest["batch_id"])
    first = audit_batch(resource_id, loaded.batch_id, day1)
    assert not first.blocking_failed, first.reasons()

    simulate(scale=SCALE, seed=SEED, day=2, defects=False)
    day2 = business_date(2)
    (landed_file,) = _landed("civil", 2, "low_income_*.csv")
    total = _truncate_lines(landed_file, keep=5)
    assert total >= 30
    manifest = extract_resource(resource_id, day2)
    loaded = load_resource(resource_id, day2, manifest["batch_id"])
    second = audit_batch(resource_id, loaded.batch_id, day2)
    assert [o.rule_id for o in second.blocking_failed] == [
        "raw.civil__low_income:fluctuation:row_count"
    ]
    assert "全量批次行数" in second.reasons() and "observed 5" in second.reasons()
    with connect() as conn:
        state = conn.execute(
            "select audit_state from governance.batch where resource_id = %s and batch_id = %s",
            (resource_id, loaded.batch_id),
        ).fetchone()[0]
    assert state == "blocked"
    prepare_warehouse()
    result = run_dbt("build", "--select", "+stg_civil__low_income",
                     "--exclude-resource-type", "test", capture=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    with connect() as conn:
        staged = conn.execute(
            "select count(*), min(_batch_id), max(_batch_id) from staging.stg_civil__low_income"
        ).fetchone()
    assert staged == (first.rows_audited, first.batch_id, first.batch_id)
    with connect() as conn:  # the blocked rows are kept in raw, apart, for inspection
        kept = conn.execute(
            f"select count(*) from raw.{partition_name('civil__low_income', loaded.batch_id)}"
        ).fetchone()[0]
    assert kept == loaded.loaded_rows == 5

    # a person decides the short snapshot is right after all: released, it flows on
    release_batch(resource_id, loaded.batch_id, "民政局确认名单已缩减 confirmed", by="tester")
    result = run_dbt("build", "--select", "stg_civil__low_income",
                     "--exclude-resource-type", "test", capture=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    with connect() as conn:
        staged = conn.execute(
            "select count(*), max(_batch_id) from staging.stg_civil__low_income"
        ).fetchone()
        state, message = conn.execute(
            "select audit_state, message from governance.batch "
            "where resource_id = %s and batch_id = %s",
            (resource_id, loaded.batch_id),
        ).fetchone()
    assert staged == (5, loaded.batch_id)
    assert state == "warned" and "released by tester" in message

    # the nightly re-audit records the failure again but does not undo the decision
    nightly = audit_batch(resource_id, loaded.batch_id, day2, trigger="schedule")
    assert [o.rule_id for o in nightly.blocking_failed] == [
        "raw.civil__low_income:fluctuation:row_count"
    ]
    with connect() as conn:
        state = conn.execute(
            "select audit_state from governance.batch where resource_id = %s and batch_id = %s",
            (resource_id, loaded.batch_id),
        ).fetchone()[0]
        visible = conn.execute(
            "select count(*) from raw.civil__low_income where _batch_id = %s", (loaded.batch_id,)
        ).fetchone()[0]
    assert (state, visible) == ("warned", 5)


def test_through_airflow_a_blocked_batch_fails_its_dag_and_announces_nothing(
    platform, departments, hotline_api, airflow_db
):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from govlake.orchestration.runner import run_ingest_dag

    resource_id = "civil.low_income"
    simulate(scale=SCALE, seed=SEED, day=1, defects=True)
    good = run_ingest_dag(resource_id, business_date(1))
    assert good.state == "success", good.task_states
    assert good.task_states == {"extract": "success", "load": "success", "audit": "success"}

    simulate(scale=SCALE, seed=SEED, day=2, defects=True)
    (landed_file,) = _landed("civil", 2, "low_income_*.csv")
    _truncate_lines(landed_file, keep=5)

    with create_session() as session:
        before = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "raw.civil__low_income")
            .count()
        )
    bad = run_ingest_dag(resource_id, business_date(2))
    assert bad.state == "failed"
    assert bad.task_states == {"extract": "success", "load": "success", "audit": "failed"}
    with create_session() as session:
        after = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "raw.civil__low_income")
            .count()
        )
    assert after == before, "a blocked batch must not announce the raw asset"
