"""The safety-production libraries, judged against the simulated city's own inspections.

A small city is simulated for two days and every resource is ingested day by day, so the
emergency bureau's inspections arrive as two CSV drops: day 1 with the twelve months of
history, day 2 with that day's inspections and the earlier ones it updated (a follow-up
that finds the hazards rectified dates the whole chain). The warehouse is prepared and
dbt builds ``safety_production`` and ``safety_hazard_rectification`` with everything
upstream — staging, the basic libraries, their data tests and the unit tests of the check
algorithms and of the safety formulas.

The figures are then compared with the simulator's replayed ``City`` — the inspections as
it holds them at the end of day 2 — computed here in plain Python, never with the SQL:
inspections per enterprise in the 12-month window, hazards found, open hazards, overdue
rectifications and days overdue as of the business date, and the documented risk level.
The city is simulated without injected defects so that each figure has one exact value.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from govlake.catalog.loader import load_catalog
from govlake.governance.store import connect
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate
from govlake.simulate.city import City
from govlake.simulate.safety import FOLLOW_UP, ROUTINE, SPECIAL
from govlake.transform.dbt import run_dbt
from govlake.transform.prepare import prepare_warehouse

# a city where day 2 rectifies an earlier chain, and hazards are open, overdue and major
SCALE, SEED, DAYS = 1200, 1, 2
LONG_OVERDUE_DAYS = 30  # var safety_risk_long_overdue_days
MODELS = ("safety_production", "safety_hazard_rectification")
UNIT_TESTS = {
    "stg_police__person_checks_id_numbers",
    "stg_market__enterprise_checks_usccs",
    "safety_hazard_rectification_overdue_rule",
    "safety_production_counts_and_risk_level",
}


@dataclass
class Enterprise:
    """What the simulator's inspections say about one enterprise, as of the business date."""

    inspections: int = 0
    routine: int = 0
    special: int = 0
    follow_up: int = 0
    hazards_found: int = 0
    major_hazards: int = 0
    open_hazards: int = 0
    open_major_hazards: int = 0
    overdue: int = 0
    max_days_overdue: int = 0
    last_inspection: date | None = None

    def risk_level(self) -> str:
        if self.open_major_hazards or self.max_days_overdue > LONG_OVERDUE_DAYS:
            return "高"
        if self.open_hazards or self.overdue or self.major_hazards:
            return "中"
        return "低"


def _query(sql: str, args: tuple = ()) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, args).fetchall()


def _window(on: date) -> tuple[date, date]:
    """The 12-month window the libraries document: (on - 12 months + 1 day, on)."""
    return on.replace(year=on.year - 1) + timedelta(days=1), on


def _rectified_as_of(inspection, on: date) -> date | None:
    done = inspection.rectified_date
    return done if done is not None and done <= on else None


def _expected_enterprises(city: City, on: date) -> dict[str, Enterprise]:
    start, end = _window(on)
    expected: dict[str, Enterprise] = defaultdict(Enterprise)
    for inspection in city.inspections.values():
        if inspection.inspection_date > on:
            continue
        open_ = inspection.hazards_found and _rectified_as_of(inspection, on) is None
        in_window = start <= inspection.inspection_date <= end
        if not in_window and not open_:
            continue
        enterprise = expected[inspection.uscc]
        opened_chain = inspection.inspection_type != FOLLOW_UP
        if in_window:
            enterprise.inspections += 1
            enterprise.routine += inspection.inspection_type == ROUTINE
            enterprise.special += inspection.inspection_type == SPECIAL
            enterprise.follow_up += inspection.inspection_type == FOLLOW_UP
            if opened_chain:
                enterprise.hazards_found += inspection.hazards_found
                enterprise.major_hazards += inspection.major_hazards
            last = enterprise.last_inspection
            enterprise.last_inspection = max(last or inspection.inspection_date,
                                             inspection.inspection_date)  # fmt: skip
        if open_ and opened_chain:
            enterprise.open_hazards += inspection.hazards_found
            enterprise.open_major_hazards += inspection.major_hazards
        if open_ and inspection.rectification_due < on:
            enterprise.overdue += 1
            days = (on - inspection.rectification_due).days
            enterprise.max_days_overdue = max(enterprise.max_days_overdue, days)
    # the grain: enterprises inspected in the window (open hazards alone do not make a row)
    return {uscc: e for uscc, e in expected.items() if e.inspections}


def _replayed_city(days: int) -> tuple[City, dict[str, date | None]]:
    """The simulator's state after ``days``, and the rectified dates as day 1 delivered them."""
    city = City(SCALE, SEED)
    city.advance(1)
    day_one = {key: i.rectified_date for key, i in city.inspections.items()}
    for day in range(2, days + 1):
        city.advance(day)
    return city, day_one


def test_safety_libraries_agree_with_the_simulated_inspections(
    platform, departments, hotline_api, tmp_path: Path
):
    resources = sorted(load_catalog().resources)
    assert "emergency.safety_inspection" in resources
    for day in range(1, DAYS + 1):
        simulate(scale=SCALE, seed=SEED, day=day, defects=False)
        on = business_date(day)
        for resource_id in resources:
            manifest = extract_resource(resource_id, on)
            load_resource(resource_id, on, manifest["batch_id"])
    prepare_warehouse()  # catalog, standards and the check functions staging calls
    target = tmp_path / "dbt-target"  # this test's artifacts, apart from other dbt runs
    result = run_dbt(
        "build", "--select", *(f"+{model}" for model in MODELS),
        "--indirect-selection", "cautious", "--target-path", str(target), capture=True,
    )  # fmt: skip
    tail = "\n".join(result.stdout.splitlines()[-40:])
    assert result.returncode == 0, f"dbt build failed:\n{tail}"
    outcomes = {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("unit_test.")
    }
    assert {name: outcomes.get(name) for name in UNIT_TESTS} == dict.fromkeys(UNIT_TESTS, "pass")

    city, day_one = _replayed_city(DAYS)
    on = business_date(DAYS)
    window_start, _ = _window(on)
    [(as_of, start)] = _query("select business_date, window_start from thematic.business_date")
    assert (as_of, start) == (on, window_start)

    _check_hazard_rectification(city, day_one, on)
    _check_safety_production(city, on)


def _check_hazard_rectification(city: City, day_one: dict, on: date) -> None:
    found = {
        row[0]: row[1:]
        for row in _query(
            "select inspection_id, uscc, hazards_found, rectification_due, rectified_date, "
            "is_rectified, is_overdue, days_overdue from thematic.safety_hazard_rectification"
        )
    }
    with_hazards = {
        key: i for key, i in city.inspections.items() if i.hazards_found and i.inspection_date <= on
    }
    assert set(found) == set(with_hazards)
    for key, inspection in with_hazards.items():
        rectified = _rectified_as_of(inspection, on)
        overdue = rectified is None and inspection.rectification_due < on
        days = (on - inspection.rectification_due).days if overdue else 0
        assert found[key] == (
            inspection.uscc,
            inspection.hazards_found,
            inspection.rectification_due,
            rectified,
            rectified is not None,
            overdue,
            days,
        ), key
    overdue_total = sum(1 for row in found.values() if row[5])
    assert overdue_total, "the simulated city has overdue rectifications"
    # day 2's drop rectified chains that day 1 delivered as open: staging keeps the update
    updated = [
        key
        for key, inspection in with_hazards.items()
        if key in day_one and day_one[key] is None and inspection.rectified_date is not None
    ]
    assert updated, "day 2 rectified a chain that day 1 delivered as open"
    assert all(found[key][3] == city.inspections[key].rectified_date for key in updated)


def _check_safety_production(city: City, on: date) -> None:
    expected = _expected_enterprises(city, on)
    rows = _query(
        "select uscc, inspections_12m, routine_inspections_12m, special_inspections_12m, "
        "follow_up_inspections_12m, hazards_found_12m, major_hazards_12m, open_hazards, "
        "open_major_hazards, overdue_rectifications, max_days_overdue, last_inspection_date, "
        "days_since_last_inspection, risk_level, is_known_entity, name "
        "from thematic.safety_production"
    )
    found = {row[0]: row[1:] for row in rows}
    assert set(found) == set(expected)
    for uscc, e in expected.items():
        assert e.last_inspection is not None
        assert found[uscc] == (
            e.inspections,
            e.routine,
            e.special,
            e.follow_up,
            e.hazards_found,
            e.major_hazards,
            e.open_hazards,
            e.open_major_hazards,
            e.overdue,
            e.max_days_overdue,
            e.last_inspection,
            (on - e.last_inspection).days,
            e.risk_level(),
            True,
            city.enterprises[uscc].name,
        ), uscc
    # the totals an analyst would quote
    [(inspections, overdue)] = _query(
        "select sum(inspections_12m), sum(overdue_rectifications) from thematic.safety_production"
    )
    start, _ = _window(on)
    assert inspections == sum(
        1 for i in city.inspections.values() if start <= i.inspection_date <= on
    )
    assert overdue == sum(e.overdue for e in expected.values())
    # a property of the chosen city (SEED): every risk level occurs, so every rule is exercised
    assert {level for *_, level, _, _ in found.values()} == {"高", "中", "低"}
