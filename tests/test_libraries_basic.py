"""The basic libraries (schema ``basic``) built by dbt from a simulated city, judged against
the simulator's truth.

One fresh platform: the city is simulated for two days, every resource is ingested each
day (so raw holds two batches per resource and staging has to pick the latest version),
the warehouse is prepared (standards, check functions) and ``dbt build`` runs the staging
and basic models with their data and unit tests. The test then compares the libraries
with what the simulator wrote — its departmental databases as they were on each day, and
the truth files listing every injected defect — never with the libraries' own logic.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time

import psycopg
import pytest
from govlake import config
from govlake.catalog.loader import load_catalog
from govlake.governance.store import connect
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate
from govlake.simulate.truth import read_summary, read_truth
from govlake.standards.checks import id_check_char
from govlake.transform.dbt import run_dbt
from govlake.transform.prepare import prepare_warehouse

# large enough for every defect kind the assertions rely on (the fixture checks they occur)
SCALE, SEED, DAYS = 2000, 7, (1, 2)
SEX_SPELLINGS = {"男": "1", "M": "1", "女": "2", "F": "2"}
QUARANTINED_KINDS = {"malformed_row", "wrong_encoding", "missing_value", "invalid_date",
                     "non_numeric"}  # fmt: skip
# resource -> (staging model, key column, {damaged source field: (staging column, problem column)})
CHECKED_IDENTIFIERS = {
    "police.person": ("stg_police__person", "person_id",
                      {"id_number": ("id_number", "id_number_problem")}),
    "police.residence_move": ("stg_police__residence_move", "move_id",
                              {"id_number": ("id_number", "id_number_problem")}),
    "market.enterprise": ("stg_market__enterprise", "uscc",
                          {"legal_rep_id_number": ("legal_rep_id_number",
                                                   "legal_rep_id_number_problem")}),
    "hrss.social_insurance": ("stg_hrss__social_insurance", "enrolment_id",
                              {"id_number": ("id_number", "id_number_problem")}),
    "tax.tax_payment": ("stg_tax__tax_payment", "payment_id", {"uscc": ("uscc", "uscc_problem")}),
    "overseas.overseas_chinese": ("stg_overseas__overseas_chinese", "roster_id",
                                  {"id_number": ("id_number", "id_number_problem")}),
    "civil.low_income": ("stg_civil__low_income", "recipient_id",
                         {"id_number": ("id_number", "id_number_problem")}),
    "natres.real_estate": ("stg_natres__real_estate", "certificate_no",
                           {"owner_id": ("owner_id", "owner_id_problem")}),
    "govdata.e_licence": ("stg_govdata__e_licence", "licence_no",
                          {"holder_id": ("holder_id", "holder_id_problem")}),
}  # fmt: skip


@dataclass
class City:
    """What the simulator delivered: per day, the register tables and the truth."""

    # day -> rows of the police person table: (person_id, id_number, updated_at)
    persons: dict[int, list[tuple]] = field(default_factory=dict)
    # day -> rows of the market enterprise table: (uscc, updated_at)
    enterprises: dict[int, list[tuple]] = field(default_factory=dict)
    truth: dict[int, list[dict]] = field(default_factory=dict)
    summary: dict[int, dict] = field(default_factory=dict)

    def defects(self, resource: str, kind: str, days=DAYS) -> list[dict]:
        return [t for d in days for t in self.truth[d]
                if t["resource"] == resource and t["defect"] == kind]  # fmt: skip


def _query(sql: str, params: tuple = ()) -> list[tuple]:
    with connect() as conn:
        return conn.execute(sql, params).fetchall()


def _day_start(day: int) -> datetime:
    return datetime.combine(business_date(day), time())


def _register(rows_by_day: dict[int, list[tuple]], missing: dict[int, set], value_at: int):
    """Key -> value of the newest version the loader accepted (a required field left empty
    by a missing_value defect sends a version to quarantine). Day 1 delivers every row;
    day 2 the rows updated that day."""
    register = {}
    for day in DAYS:
        for row in rows_by_day[day]:
            key, updated_at = row[0], row[-1]
            delivered = day == 1 or updated_at >= _day_start(day)
            if delivered and key not in missing[day]:
                register[key] = row[value_at]
    return register


@pytest.fixture
def city(platform, departments, hotline_api) -> City:
    catalog = load_catalog()
    delivered = City()
    for day in DAYS:
        simulate(scale=SCALE, seed=SEED, day=day)
        with psycopg.connect(departments["kp_police"]) as police:
            delivered.persons[day] = police.execute(
                "select person_id, id_number, updated_at from person"
            ).fetchall()
        with psycopg.connect(departments["kp_market"]) as market:
            delivered.enterprises[day] = market.execute(
                "select uscc, updated_at from enterprise"
            ).fetchall()
        delivered.truth[day] = read_truth(day)
        delivered.summary[day] = read_summary(day)
        on = business_date(day)
        for resource_id in sorted(catalog.resources):
            manifest = extract_resource(resource_id, on)
            load_resource(resource_id, on, manifest["batch_id"])
    prepare_warehouse()  # catalog, standards and the check functions staging calls
    # staging and basic with everything upstream of them (sources, code-set seeds); tests
    # only when all their parents are built (the other libraries are not)
    result = run_dbt("build", "--select", "+path:models/staging", "+path:models/basic",
                     "--indirect-selection", "cautious", capture=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:]
    for resource, kind in [("police.person", "duplicate"), ("police.person", "bad_check_char"),
                           ("police.person", "nonstandard_code"),
                           ("police.person", "missing_value"),
                           ("hrss.social_insurance", "bad_check_char"),
                           ("civil.low_income", "nonstandard_code")]:  # fmt: skip
        assert delivered.defects(resource, kind), f"the simulator injected no {kind} in {resource}"
    return delivered


def test_basic_libraries_agree_with_the_simulated_city(city: City):
    _population_is_the_police_register_plus_unknown_identities(city)
    _every_duplicate_person_appears_once(city)
    _every_nonstandard_code_is_mapped(city)
    _every_bad_check_character_is_flagged(city)
    _staging_keeps_the_latest_version(city)
    _legal_entities_are_the_market_register(city)
    _addresses_and_licences(city)


def _population_is_the_police_register_plus_unknown_identities(city: City) -> None:
    missing = {d: {t["key"] for t in city.defects("police.person", "missing_value", [d])}
               for d in DAYS}  # fmt: skip
    register = _register(city.persons, missing, value_at=1)  # person_id -> id_number
    expected = set(register.values())
    population = _query("select id_number, in_police_register, is_unknown_identity, "
                        "is_valid_id_number from basic.population")  # fmt: skip
    in_police = {row[0] for row in population if row[1]}
    assert in_police == expected
    assert all(row[1] != row[2] for row in population)  # in the register xor unknown

    # an identity only other departments hold is explained by the truth: a wrong check
    # character typed by that department, the right number of a person police holds under
    # a wrong one, or a person whose every police version was quarantined
    typed_wrong = {t["value"] for r in ("hrss.social_insurance", "civil.low_income",
                                        "overseas.overseas_chinese")
                   for t in city.defects(r, "bad_check_char")}  # fmt: skip
    police_wrong = {t["value"][:17] + id_check_char(t["value"][:17])
                    for t in city.defects("police.person", "bad_check_char")}  # fmt: skip
    lost = {row[1] for day in DAYS for row in city.persons[day]} - expected
    unknown = {row[0] for row in population if row[2]}
    assert unknown, "no unknown identities: the departments' own typing errors must show"
    assert unknown <= typed_wrong | police_wrong | lost, unknown - typed_wrong - police_wrong - lost
    invalid_unknown = {row[0] for row in population if row[2] and not row[3]}
    assert invalid_unknown <= typed_wrong


def _every_duplicate_person_appears_once(city: City) -> None:
    twins = city.defects("police.person", "duplicate")
    id_of = {row[0]: row[1] for day in DAYS for row in city.persons[day]}
    for twin in twins:
        twin_key, original_key = twin["key"], twin["value"]
        rows = _query("select police_record_count, police_person_ids from basic.population "
                      "where id_number = %s", (id_of[twin_key],))  # fmt: skip
        assert len(rows) == 1, twin
        count, person_ids = rows[0]
        assert count >= 2 and {twin_key, original_key} <= set(person_ids.split(",")), twin


def _every_nonstandard_code_is_mapped(city: City) -> None:
    checked = 0
    for resource, model, key in [("police.person", "stg_police__person", "person_id"),
                                 ("overseas.overseas_chinese", "stg_overseas__overseas_chinese",
                                  "roster_id")]:  # fmt: skip
        for defect in city.defects(resource, "nonstandard_code"):
            if defect["field"] != "sex":
                continue
            rows = _query(f"select sex_source_value, sex_code, sex_code_is_standard "
                          f"from staging.{model} where {key} = %s", (defect["key"],))  # fmt: skip
            if not rows or rows[0][0] != defect["value"]:
                continue  # changed (or quarantined) since: no longer carries the defect
            assert rows[0][1:] == (SEX_SPELLINGS[defect["value"]], False), defect
            checked += 1
    assert checked, "no non-standard sex value was still current"

    with (config.STANDARDS_DIR / "code_sets" / "kp_town.csv").open(encoding="utf-8") as handle:
        town_code_of = {row["name"]: row["code"] for row in csv.DictReader(handle)}
    towns_checked = 0
    for defect in city.defects("civil.low_income", "nonstandard_code", [DAYS[-1]]):
        rows = _query("select town_code_source_value, town_code, town_code_is_standard "
                      "from staging.stg_civil__low_income where recipient_id = %s",
                      (defect["key"],))  # fmt: skip
        assert rows, defect  # the newest snapshot carries it
        assert rows[0] == (defect["value"], town_code_of[defect["value"]], False), defect
        towns_checked += 1
    assert towns_checked


def _every_bad_check_character_is_flagged(city: City) -> None:
    checked = 0
    for resource, (model, key, fields) in CHECKED_IDENTIFIERS.items():
        for defect in city.defects(resource, "bad_check_char"):
            column, problem = fields[defect["field"]]
            rows = _query(f"select {column}, {problem} from staging.{model} where {key} = %s",
                          (defect["key"],))  # fmt: skip
            if not rows or rows[0][0] != defect["value"]:
                continue  # changed (or quarantined) since
            assert rows[0][1] and "校验码" in rows[0][1], (defect, rows[0])
            checked += 1
    assert checked >= 10
    for defect in city.defects("police.person", "bad_check_char"):
        rows = _query("select is_valid_id_number from basic.population where id_number = %s",
                      (defect["value"],))  # fmt: skip
        assert rows in ([], [(False,)]), defect


def _staging_keeps_the_latest_version(city: City) -> None:
    day2 = _day_start(2)
    missing2 = {t["key"] for t in city.defects("police.person", "missing_value", [2])}
    changed = {
        row[0]: row[2] for row in city.persons[2] if row[2] >= day2 and row[0] not in missing2
    }
    assert changed, "nobody changed on day 2"
    staged = dict(_query("select person_id, updated_at from staging.stg_police__person "
                         "where person_id = any(%s)", (list(changed),)))  # fmt: skip
    assert staged == changed
    batches = _query("select distinct _batch_id from staging.stg_police__person "
                     "where person_id = any(%s)", (list(changed),))  # fmt: skip
    assert batches == [(f"{business_date(2):%Y%m%d}-incr",)]

    # full snapshots: the newest file's rows only, less the rows quarantined from it
    for resource, model in [("overseas.overseas_chinese", "stg_overseas__overseas_chinese"),
                            ("civil.low_income", "stg_civil__low_income")]:  # fmt: skip
        delivered = city.summary[2]["resources"][resource]["rows"]
        rejected = {t["row"] for t in city.truth[2]
                    if t["resource"] == resource and t["defect"] in QUARANTINED_KINDS}  # fmt: skip
        rows = _query(f"select _batch_id, count(*) from staging.{model} group by 1")
        assert rows == [(f"{business_date(2):%Y%m%d}-full", delivered - len(rejected))], resource


def _legal_entities_are_the_market_register(city: City) -> None:
    missing = {d: {t["key"] for t in city.defects("market.enterprise", "missing_value", [d])}
               for d in DAYS}  # fmt: skip
    register = _register(city.enterprises, missing, value_at=0)
    entities = {row[0] for row in _query("select uscc from basic.legal_entity")}
    assert entities == set(register)
    # every entity has exactly one current status
    rows = _query("select count(*) from basic.legal_entity_status_history where is_current")
    assert rows == [(len(entities),)]


def _addresses_and_licences(city: City) -> None:
    confidences = dict(_query("select match_confidence, count(*) from basic.address_match "
                              "where source_resource = 'police.person' group by 1"))  # fmt: skip
    assert set(confidences) == {"exact"}  # the register writes standard addresses
    unreadable = _query("select count(*) from basic.address_match "
                        "where source_resource = 'govdata.hotline_ticket' "
                        "and (match_confidence = 'unmatched' or house_number is null)")  # fmt: skip
    assert unreadable == [(0,)]
    as_of: date = business_date(DAYS[-1])
    assert _query("select distinct as_of_date from basic.e_licence") == [(as_of,)]
    wrong = _query("select count(*) from basic.e_licence where validity = 'expired' "
                   "and not valid_until < as_of_date")  # fmt: skip
    assert wrong == [(0,)]
    validities = {row[0] for row in _query("select distinct validity from basic.e_licence")}
    assert validities == {"valid", "expired", "revoked"}


def test_every_injected_cross_department_conflict_is_in_the_conflicts_model(
    platform, departments, hotline_api
):
    """多元校核: what another department records differently from the police register."""
    simulate(scale=SCALE, seed=SEED, day=1)
    for resource_id in sorted(load_catalog().resources):
        manifest = extract_resource(resource_id, business_date(1))
        load_resource(resource_id, business_date(1), manifest["batch_id"])
    prepare_warehouse()
    result = run_dbt("build", "--select", "+population_conflicts", "--indirect-selection",
                     "cautious", capture=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:]
    injected = [t for t in read_truth(1) if t["defect"] == "conflict"]
    assert {t["resource"] for t in injected} == {
        "hrss.social_insurance", "civil.low_income", "overseas.overseas_chinese"
    }  # fmt: skip
    found = set(
        _query(
            "select id_number, attribute, authoritative_value, other_value "
            "from basic.population_conflicts"
        )
    )
    for conflict in injected:
        # the library names a coded attribute after its standardised column (sex → sex_code)
        candidates = {
            (conflict["id_number"], attribute, conflict["authoritative_value"], conflict["value"])
            for attribute in (conflict["field"], f"{conflict['field']}_code")
        }
        assert candidates & found, f"injected conflict not in population_conflicts: {conflict}"
