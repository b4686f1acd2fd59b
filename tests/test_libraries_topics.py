"""The thematic and special-topic libraries, judged against the simulated city's own state.

A small city is simulated for two days, every resource is ingested day by day, and the
whole dbt project is built after each day (day 2 runs the incremental models
incrementally). The key figures of the libraries are then compared with what the
simulator itself knows — its replayed ``City`` — never with a second copy of the SQL:

* roster entries to verify = roster entries whose person the police register holds as
  dead or moved out;
* zombie enterprises = the existing enterprises that paid no tax and had nobody insured
  in the 12 months, and every enterprise the simulator put to sleep is among them;
* low-income reasons = the recipients' enterprises, properties and contribution bases,
  and every anomaly the simulator planted is found;
* the hotline's due times, counted back in working days, give the simulator's own
  "N working days" of each category; overdue flags and rates follow its tickets;
* the incremental models equal a full rebuild.

The city is simulated without injected defects (``defects=False``) so that each figure
has one exact expected value; the defects are the quality audits' business and are
exercised by the ingestion tests.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from govlake.catalog.loader import load_catalog
from govlake.governance.store import connect
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate
from govlake.simulate.calendar import day_end, is_working_day
from govlake.simulate.city import City
from govlake.simulate.names import HOTLINE_TOPICS
from govlake.standards.check_sql import apply_check_functions
from govlake.transform.dbt import run_dbt

SCALE, SEED, DAYS = 800, 11, 2
ACTIVE_STATUSES = ("存续", "在业")
CONTRIBUTING = "参保缴费"
BASE_LINE = 12000  # var low_income_contribution_base_line
REASON_OF_FLAG = {
    "enterprise": "legal_representative",
    "property": "property_owner",
    "high_base": "high_contribution_base",
}
# incremental models -> (key, columns left out of the comparison: watermarks only)
INCREMENTAL = {
    "thematic.industry_economy": ("economy_key", {"last_tax_updated_at", "last_entity_updated_at"}),
    "special.hotline_handling": ("ticket_id", set()),
    "special.hotline_hotspots": ("hotspot_key", set()),
    "special.hotline_department_performance": ("performance_key", set()),
}


# --- the platform side ------------------------------------------------------------------------


def _ingest_day(day: int) -> None:
    simulate(scale=SCALE, seed=SEED, day=day, defects=False)
    on = business_date(day)
    for resource_id in sorted(load_catalog().resources):
        manifest = extract_resource(resource_id, on)
        load_resource(resource_id, on, manifest["batch_id"])


def _build(*args: str) -> None:
    result = run_dbt("build", *args, capture=True)
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"dbt build {' '.join(args)} failed:\n{tail}"


def _query(sql: str, args: tuple = ()) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, args).fetchall()


def _table_rows(table: str, key: str, left_out: set[str]) -> list[tuple]:
    schema, name = table.split(".")
    columns = [
        column
        for (column,) in _query(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, name),
        )
        if column not in left_out
    ]
    return _query(f"select {', '.join(columns)} from {table} order by {key}")


# --- the simulator side -----------------------------------------------------------------------


def _replayed_city(days: int) -> City:
    """The simulator's own state as of the end of ``days`` (what simulate() writes)."""
    city = City(SCALE, SEED)
    for day in range(1, days + 1):
        city.advance(day)
    return city


def _window(on: date) -> tuple[date, date]:
    """The 12-month window the libraries document: (on - 12 months + 1 day, on)."""
    return on.replace(year=on.year - 1) + timedelta(days=1), on


def _working_days_between(start: datetime, end: datetime) -> int:
    """Mon-Fri dates after start's date up to and including end's date, day by day."""
    count, current = 0, start.date()
    while current < end.date():
        current += timedelta(days=1)
        count += is_working_day(current)
    return count


def _active_enterprises(city: City) -> list:
    return [e for e in city.enterprises.values() if e.status in ACTIVE_STATUSES]


def _expected_zombies(city: City, on: date) -> set[str]:
    start, end = _window(on)
    paid = {p.uscc for p in city.payments.values() if start <= p.paid_at.date() <= end}
    insured = {
        job.uscc
        for job in city.jobs
        if job.uscc and job.start_date <= end and (job.end_date is None or job.end_date >= start)
    }
    return {
        e.uscc
        for e in _active_enterprises(city)
        if e.established_date <= start and e.uscc not in paid and e.uscc not in insured
    }


def _expected_low_income(city: City, on: date) -> set[tuple[str, str]]:
    representatives = {e.legal_rep_id_number for e in _active_enterprises(city)}
    homes: Counter = Counter()
    premises: Counter = Counter()
    for record in city.real_estate.values():
        if record.owner_type == "个人":
            (homes if record.usage == "住宅" else premises)[record.owner_id] += 1
    high_base = {
        city.persons[job.person_id].id_number
        for job in city.jobs
        if job.status == CONTRIBUTING
        and job.start_date <= on
        and (job.end_date is None or job.end_date >= on)
        and job.base > BASE_LINE
    }
    expected = set()
    for recipient in city.low_income.values():
        if recipient.status != "在保":
            continue
        id_number = city.persons[recipient.person_id].id_number
        if id_number in representatives:
            expected.add((recipient.recipient_id, "legal_representative"))
        if homes[id_number] > 1 or premises[id_number] > 0:
            expected.add((recipient.recipient_id, "property_owner"))
        if id_number in high_base:
            expected.add((recipient.recipient_id, "high_contribution_base"))
    return expected


# --- the test ---------------------------------------------------------------------------------


def test_topic_libraries_agree_with_the_simulated_city(platform, departments, hotline_api):
    with connect() as conn:
        apply_check_functions(conn)
    for day in range(1, DAYS + 1):
        _ingest_day(day)
        _build()  # day 1 creates the incremental models, day 2 grows them

    # incremental runs leave exactly what a full rebuild computes
    grown = {table: _table_rows(table, *spec) for table, spec in INCREMENTAL.items()}
    _build("--full-refresh", "--select", " ".join(t.split(".")[1] for t in INCREMENTAL))
    rebuilt = {table: _table_rows(table, *spec) for table, spec in INCREMENTAL.items()}
    for table in INCREMENTAL:
        assert grown[table] == rebuilt[table], f"{table}: incremental differs from a full rebuild"
        assert grown[table], f"{table} is empty"

    city = _replayed_city(DAYS)
    on = business_date(DAYS)
    window_start, _ = _window(on)
    [(as_of, start)] = _query("select business_date, window_start from thematic.business_date")
    assert (as_of, start) == (on, window_start), "business date derived from the raw batches"

    _check_roster_verification(city)
    zombies = _check_zombie_enterprises(city, on)
    _check_zombie_workers(city, zombies)
    _check_credit_lists(city, zombies)
    _check_low_income(city, on)
    _check_hotline(city, on)
    _check_industry_economy(city, on)
    _check_two_standards_four_actuals(city)


def _check_roster_verification(city: City) -> None:
    reason_of_status = {"死亡": "deceased", "迁出": "moved_out"}
    expected = {
        entry.roster_id: reason_of_status[city.persons[entry.person_id].status]
        for entry in city.roster.values()
        if entry.person_id and city.persons[entry.person_id].status in reason_of_status
    }
    flagged = dict(
        _query("select roster_id, verification_reason from special.overseas_roster_verification")
    )
    assert expected, "the simulated roster names dead and emigrated persons"
    assert flagged == expected
    # every roster entry with a domestic number was checked: the others are alive and here
    alive = [e for e in city.roster.values() if e.person_id and e.roster_id not in expected]
    assert all(city.persons[e.person_id].status == "正常" for e in alive)


def _check_zombie_enterprises(city: City, on: date) -> set[str]:
    expected = _expected_zombies(city, on)
    found = {uscc for (uscc,) in _query("select uscc from thematic.zombie_enterprise")}
    assert found == expected
    # the enterprises the simulator put to sleep long before the window are all caught
    # (two months' margin: a period's tax is paid up to the 28th of the next month)
    window_start, _ = _window(on)
    dormant = {
        e.uscc
        for e in _active_enterprises(city)
        if e.dormant_since is not None and e.dormant_since < window_start - timedelta(days=62)
    }
    assert dormant, "the simulator planted dormant enterprises"
    assert dormant <= found
    flagged = {
        uscc
        for (uscc,) in _query(
            "select uscc from thematic.market_supervision_risk "
            "where flag_zombie and is_abnormal_operation"
        )
    }
    assert flagged == expected
    return expected


def _check_zombie_workers(city: City, zombies: set[str]) -> None:
    expected = {
        (city.persons[job.person_id].id_number, job.uscc)
        for job in city.jobs
        if job.uscc in zombies
    }
    found = set(_query("select id_number, uscc from special.zombie_enterprise_workers"))
    assert found == expected


def _check_credit_lists(city: City, zombies: set[str]) -> None:
    black = _query("select uscc, is_revoked, is_zombie from thematic.credit_black_list")
    revoked = {e.uscc for e in city.enterprises.values() if e.status == "吊销"}
    assert {uscc for uscc, is_revoked, _ in black if is_revoked} == revoked
    assert {uscc for uscc, _, is_zombie in black if is_zombie} == zombies
    red = _query(
        "select red.uscc, rating.credit_grade, rating.registration_status "
        "from thematic.credit_red_list as red "
        "join thematic.credit_rating as rating using (uscc)"
    )
    assert red, "some entities earn the red list"
    assert {grade for _, grade, _ in red} == {"A"}
    assert {status for _, _, status in red} <= set(ACTIVE_STATUSES)
    assert not {uscc for uscc, _, _ in red} & {uscc for uscc, _, _ in black}
    [(entities, mismatched)] = _query(
        "select count(*), count(*) filter (where credit_score <> registration_score "
        "+ abnormal_operation_score + tax_score + social_insurance_score + licence_score) "
        "from thematic.credit_rating"
    )
    assert (entities, mismatched) == (len(city.enterprises), 0)


def _check_low_income(city: City, on: date) -> None:
    expected = _expected_low_income(city, on)
    found = set(_query("select recipient_id, reason_code from special.low_income_checks"))
    assert found == expected
    planted = {
        (r.recipient_id, REASON_OF_FLAG[r.flag])
        for r in city.low_income.values()
        if r.flag and r.status == "在保"
    }
    assert planted, "the simulator planted anomalies among the recipients still in care"
    assert planted <= found, f"planted anomalies not found: {sorted(planted - found)}"
    # a property of the chosen city (SEED): every reason occurs, so every rule is exercised
    assert {reason for _, reason in found} == set(REASON_OF_FLAG.values())


def _check_hotline(city: City, on: date) -> None:
    as_of = day_end(DAYS)
    tickets = [row for t in city.tickets.values() if (row := t.row_as_of(as_of)) is not None]
    handled = {
        row[0]: row[1:]
        for row in _query(
            "select ticket_id, due_working_days, handling_working_days, is_overdue, "
            "created_month, handling_department from special.hotline_handling"
        )
    }
    assert set(handled) == {t["ticket_id"] for t in tickets}
    per_group: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # assessable, overdue
    for ticket in tickets:
        due, handling, overdue, month, department = handled[ticket["ticket_id"]]
        # the simulator gave each category a due time of N working days (add_working_days)
        assert due == HOTLINE_TOPICS[ticket["category"]][2], ticket["ticket_id"]
        closed = ticket["closed_at"]
        if closed is not None:
            assert handling == _working_days_between(ticket["created_at"], closed)
            expected_overdue = closed > ticket["due_at"]
        else:
            assert handling is None
            expected_overdue = ticket["due_at"] < as_of
        assert overdue == expected_overdue, ticket["ticket_id"]
        assert month == ticket["created_at"].date().replace(day=1)
        if closed is not None or expected_overdue:
            group = per_group[(month, department)]
            group[0] += 1
            group[1] += expected_overdue
    rates = {
        (month, department): rate
        for month, department, rate in _query(
            "select month, handling_department, overdue_rate "
            "from special.hotline_department_performance"
        )
    }
    for key, (assessable, overdue) in per_group.items():
        expected_rate = (Decimal(overdue) / assessable).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        assert rates[key] == expected_rate, key
    [(tickets_counted,)] = _query("select sum(tickets) from special.hotline_hotspots")
    assert tickets_counted == len(tickets)


def _check_industry_economy(city: City, on: date) -> None:
    paid = [p for p in city.payments.values() if p.paid_at.date() <= on]
    [(by_period, by_payment)] = _query(
        "select sum(tax_amount), sum(tax_paid_amount) from thematic.industry_economy"
    )
    assert by_period == by_payment == sum(p.amount for p in paid)
    this_month = on.replace(day=1)
    sections = dict(
        _query(
            "select industry_section_code, sum(market_entities) from thematic.industry_economy "
            "where month = %s group by 1",
            (this_month,),
        )
    )
    expected = Counter(e.industry_code[0] for e in _active_enterprises(city))
    assert {k: v for k, v in sections.items() if v} == dict(expected)
    last_period_start = (this_month - timedelta(days=1)).replace(day=1)
    by_period_last = dict(
        _query(
            "select industry_section_code, sum(tax_amount) from thematic.industry_economy "
            "where month = %s group by 1",
            (last_period_start,),
        )
    )
    expected_last: Counter = Counter()
    for payment in paid:
        if payment.tax_period == f"{last_period_start:%Y-%m}":
            expected_last[city.enterprises[payment.uscc].industry_code[0]] += payment.amount
    assert {k: v for k, v in by_period_last.items() if v} == dict(expected_last)


def _check_two_standards_four_actuals(city: City) -> None:
    [(population, houses, facilities, units)] = _query(
        "select sum(actual_population), sum(houses), sum(facilities), sum(units) "
        "from special.two_standards_four_actuals"
    )
    residents = sum(1 for p in city.persons.values() if p.status == "正常")
    homes = sum(1 for r in city.real_estate.values() if r.usage == "住宅")
    assert population == residents
    assert (houses, facilities) == (homes, len(city.real_estate) - homes)
    assert units == len(_active_enterprises(city))
