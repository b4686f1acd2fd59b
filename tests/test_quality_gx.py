"""The Great Expectations engine of the quality audits, against a real PostgreSQL.

Every test gets a warehouse database of its own (the ``platform`` fixture) with a small
raw table whose defects are known row by row; the engine must count them, name the
failing rows by their keys, mask sensitive samples, keep to the batch it is given, fill
suite parameters, and keep everything it writes outside the repository.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from govlake import config
from govlake.quality import gx_engine
from govlake.quality.masking import is_sensitive, mask
from govlake.quality.model import Rule
from govlake.standards.check_sql import apply_check_functions
from govlake.standards.checks import id_check_char

TABLE = "raw.people"
KEY = ("person_id",)
AS_OF = "2026-11-03"


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


V1 = _id("44078319900101123")
V2 = _id("44078319850505224")
V5 = _id("44078320000202335")
V6 = _id("44078320000202446")
_V3_GOOD = _id("44078319700707557")
V3_BAD_CHECK = _V3_GOOD[:17] + ("0" if _V3_GOOD[17] != "0" else "1")
V4_MALFORMED = "4407831990010112"  # 16 characters

COLUMNS = (
    "person_id text, id_number text, name text, sex text, birth_date date, phone text, "
    "household text, area text, updated_at timestamp, _batch_id text"
)


def _row(pid, id_number, name, sex, birth, phone, household, area="440783", **other) -> tuple:
    updated, batch = other.get("updated", "2026-10-30 09:00"), other.get("batch", "B1")
    return (pid, id_number, name, sex, birth, phone, household, area, updated, batch)


# batch B1: one defect of each kind, known by person_id
B1 = [
    _row("P1", V1, "关志强", "1", "1990-01-01", "13800001111", "H1", updated="2026-11-01 08:00"),
    _row("P2", V2, None, "2", "1985-05-05", "13800002222", "H1"),
    _row("P3", V3_BAD_CHECK, "张敏", "3", "1850-01-01", None, "H2", area="999999"),
    _row("P4", V4_MALFORMED, "李华", "1", "2030-01-01", "13800004444", "H2"),
    _row("P5", V5, "陈芳", "2", "2000-02-02", "13800005555", "H3"),
    _row("P5", V6, "陈芳", "2", "2000-02-02", "13800006666", "H3"),
]
# batch B2: clean but for two missing names
B2 = [
    _row("P7", V1, None, "1", "1990-01-01", "13800007777", "H7", batch="B2"),
    _row("P8", V2, None, "2", "1985-05-05", "13800008888", "H8", batch="B2"),
    _row("P9", V5, "周杰", "1", "2000-02-02", "13800009999", "H9", batch="B2"),
]


def _rule(name: str, expectation_type: str, kwargs: dict, **extra) -> Rule:
    template = extra.pop("template", "completeness")
    return Rule(
        rule_id=f"{TABLE}:{template}:{name}",
        table=extra.pop("table", TABLE),
        department="police",
        template=template,
        dimension=extra.pop("dimension", "completeness"),
        severity=extra.pop("severity", "warning"),
        expectation_type=expectation_type,
        kwargs=kwargs,
        description_zh=f"测试规则 {name}",
        description_en=f"test rule {name}",
        column=extra.pop("column", kwargs.get("column")),
        sensitivity=extra.pop("sensitivity", "L1"),
        key_columns=extra.pop("key_columns", KEY),
        **extra,
    )


def _area_codes() -> list[str]:
    path = config.STANDARDS_DIR / "code_sets" / "gbt_2260.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["code"] for row in csv.DictReader(handle)]


def _rules() -> list[Rule]:
    areas = _area_codes()
    assert len(areas) > 7000  # the value set is the whole GB/T 2260 list
    return [
        _rule("name", "ExpectColumnValuesToNotBeNull", {"column": "name"}, sensitivity="L3"),
        _rule(
            "phone",
            "ExpectColumnValuesToNotBeNull",
            {"column": "phone", "mostly": 0.8},
            sensitivity="L3",
        ),
        _rule(
            "id_number",
            "ExpectColumnValuesToMatchRegex",
            {"column": "id_number", "regex": r"^\d{17}[\dX]$"},
            template="format",
            dimension="normativity",
            sensitivity="L4",
        ),
        _rule(
            "sex",
            "ExpectColumnValuesToBeInSet",
            {"column": "sex", "value_set": ["0", "1", "2", "9"]},
            template="value_domain",
            dimension="normativity",
            sensitivity="L2",
        ),
        _rule(
            "area",
            "ExpectColumnValuesToBeInSet",
            {"column": "area", "value_set": areas},
            template="value_domain",
            dimension="normativity",
        ),
        _rule(
            "birth_date",
            "ExpectColumnValuesToBeBetween",
            {
                "column": "birth_date",
                "min_value": "1900-01-01",
                "max_value": {"$PARAMETER": "as_of"},
            },
            template="value_domain",
            dimension="accuracy",
            sensitivity="L3",
        ),
        _rule(
            "person_id",
            "ExpectColumnValuesToBeUnique",
            {"column": "person_id"},
            template="uniqueness",
            dimension="accuracy",
            severity="blocking",
        ),
        _rule(
            "household_name",
            "ExpectCompoundColumnsToBeUnique",
            {"column_list": ["household", "name"]},
            template="uniqueness",
            dimension="consistency",
            column=None,
            sensitivity="L3",
        ),
        _rule(
            "rows",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1, "max_value": 5},
            template="fluctuation",
            column=None,
        ),
        _rule(
            "fresh",
            "ExpectColumnMaxToBeBetween",
            {"column": "updated_at", "min_value": {"$PARAMETER": "fresh_after"}},
            template="timeliness",
            dimension="timeliness",
        ),
        _rule(
            "id_check",
            "UnexpectedRowsExpectation",
            {
                "unexpected_rows_query": "select * from {batch} "
                "where standards.citizen_id_problem(id_number) is not null"
            },
            template="check_algorithm",
            dimension="accuracy",
            column="id_number",
            sensitivity="L4",
        ),
        _rule(
            "columns",
            "ExpectTableColumnsToMatchSet",
            {
                "column_set": [
                    "person_id",
                    "id_number",
                    "name",
                    "sex",
                    "birth_date",
                    "phone",
                    "household",
                    "area",
                    "updated_at",
                    "_batch_id",
                ],
                "exact_match": True,
            },
            template="schema",
            dimension="normativity",
            column=None,
        ),
    ]


PARAMETERS = {"as_of": AS_OF, "fresh_after": "2026-11-01T00:00:00"}


@pytest.fixture
def people(platform: dict) -> str:
    """``raw.people`` in the test's warehouse, batches B1 and B2; the check functions."""
    with psycopg.connect(config.libpq_url(config.warehouse_url()), autocommit=True) as conn:
        apply_check_functions(conn)
        conn.execute("create schema if not exists raw")
        conn.execute(f"create table {TABLE} ({COLUMNS})")
        with conn.cursor() as cur:
            cur.executemany(
                f"insert into {TABLE} values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", B1 + B2
            )
    return TABLE


def _run(rules: list[Rule], **kwargs) -> gx_engine.SuiteRun:
    kwargs.setdefault("run_id", "Q-test-1")
    kwargs.setdefault("parameters", PARAMETERS)
    return gx_engine.run_suite(TABLE, rules, **kwargs)


# --- masking ----------------------------------------------------------------------------


def test_mask_keeps_length_and_just_enough_of_sensitive_values() -> None:
    assert mask("44078319900101123X", "L3") == "440783***********X"
    assert mask("440783199001011234", "L4") == "440783***********4"
    assert mask("440783900101123", "L4") == "440783********3"  # legacy 15 digits
    assert mask("13812345678", "L3") == "138****5678"
    assert mask("0750-2212345", "L4") == "075*****2345"
    assert mask("关志强", "L3") == "关**"
    assert mask("司徒志强", "L3") == "司***"
    assert mask("开平市长沙街道幕沙路8号", "L3") == "开" + "*" * 10 + "号"
    assert mask("ab", "L3") == "a*"
    assert mask("a", "L4") == "*"
    assert mask(12345, "L3") == "1***5"
    for value in ("44078319900101123X", "13812345678", "关志强", "开平市长沙街道幕沙路8号"):
        assert len(mask(value, "L4")) == len(value)
        assert mask(value, "L1") == value and mask(value, "L2") == value
    assert mask(7, "L2") == 7  # open grades: unchanged, whatever the type
    assert mask(None, "L4") is None
    assert mask("secret", "L9") == "s****t"  # an unknown grade is treated as sensitive
    assert not is_sensitive("L2") and is_sensitive("L3") and is_sensitive(None)


# --- suites -----------------------------------------------------------------------------


def test_suites_are_deterministic_files_of_a_gx_file_context(tmp_path: Path) -> None:
    rules = _rules()
    root = tmp_path / "expectations"
    paths = gx_engine.write_suites(rules, root)
    suite_file = root / "gx" / "expectations" / "raw" / "people.json"
    assert paths == [suite_file]
    first = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert set(first) == {suite_file, root / "gx" / "great_expectations.yml", root / ".gitignore"}

    # written again, from the rules in another order: byte for byte the same
    shuffled = rules[:]
    random.Random(7).shuffle(shuffled)
    gx_engine.write_suites(shuffled, root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == first
    assert gx_engine.stale_suites(rules, root) == []

    document = json.loads(suite_file.read_text("utf-8"))
    assert document == gx_engine.suite_document(TABLE, shuffled)
    assert document["name"] == TABLE
    ids = [e["meta"]["rule_id"] for e in document["expectations"]]
    assert ids == sorted(r.rule_id for r in rules)
    by_rule = {e["meta"]["rule_id"]: e for e in document["expectations"]}
    regex = by_rule[f"{TABLE}:format:id_number"]
    assert regex["type"] == "expect_column_values_to_match_regex"
    assert regex["kwargs"] == {"column": "id_number", "regex": r"^\d{17}[\dX]$"}
    assert regex["meta"]["dimension"] == "normativity"
    assert regex["meta"]["dimension_zh"] == "规范性"
    assert regex["meta"]["template_zh"] == "格式检查"
    assert regex["meta"]["sensitivity"] == "L4"
    assert regex["meta"]["key_columns"] == ["person_id"]
    assert regex["meta"]["description_zh"] == "测试规则 id_number"
    assert by_rule[f"{TABLE}:uniqueness:person_id"]["severity"] == "critical"  # blocking
    assert by_rule[f"{TABLE}:value_domain:birth_date"]["kwargs"]["max_value"] == {
        "$PARAMETER": "as_of"
    }
    # ids: the same for the same rule, everywhere
    assert len({e["id"] for e in document["expectations"]}) == len(rules)
    assert gx_engine.suite_document(TABLE, rules[:3])["id"] == document["id"]
    assert "测试规则" in suite_file.read_text("utf-8")  # readable in a diff

    # a changed rule makes the file stale; a table without rules any more is extra
    changed = [replace(rules[0], kwargs={"column": "phone"}), *rules[1:]]
    assert gx_engine.stale_suites(changed, root) == [suite_file]
    other = [replace(r, table="raw.other") for r in rules]
    assert set(gx_engine.stale_suites(other, root)) == {
        suite_file,
        root / "gx" / "expectations" / "raw" / "other.json",
    }
    gx_engine.write_suites(other, root, prune=True)
    assert not suite_file.exists()


def test_gx_opens_the_file_context_and_leaves_the_committed_files_alone(tmp_path: Path) -> None:
    import great_expectations as gx

    rules = _rules()
    root = tmp_path / "expectations"
    gx_engine.write_suites(rules, root)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    context = gx.get_context(mode="file", project_root_dir=str(root))
    suite = context.suites.get(TABLE)
    assert len(suite.expectations) == len(rules)
    assert {e.meta["rule_id"] for e in suite.expectations} == {r.rule_id for r in rules}
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert {p: after[p] for p in before} == before
    new = [p.relative_to(root).as_posix() for p in set(after) - set(before)]
    assert all(p.startswith("gx/uncommitted/") for p in new), new  # ignored by git


def test_invalid_rules_are_refused_when_writing_suites() -> None:
    bad = _rule("x", "ExpectColumnValuesToBeFabulous", {"column": "name"})
    with pytest.raises(ValueError, match="not a GX expectation type"):
        gx_engine.suite_document(TABLE, [bad])
    with pytest.raises(ValueError, match="invalid ExpectColumnValuesToNotBeNull kwargs"):
        gx_engine.suite_document(
            TABLE, [_rule("y", "ExpectColumnValuesToNotBeNull", {"colum": "name"})]
        )


# --- runs -------------------------------------------------------------------------------


def test_every_expectation_type_counts_names_and_masks_the_failing_rows(people: str) -> None:
    run = _run(_rules(), where="_batch_id = 'B1'")
    assert run.rows_audited == 6
    outcome = {o.rule_id.split(":", 1)[1]: o for o in run.outcomes}
    values = {k.split(":", 1)[1]: v for k, v in run.failing_values.items()}
    assert all(o.error is None for o in run.outcomes), [o.error for o in run.outcomes]

    name = outcome["completeness:name"]
    assert (name.success, name.evaluated, name.failed) == (False, 6, 1)
    assert name.failing_keys == [{"person_id": "P2"}]
    assert name.samples == []  # the failing value is NULL: nothing to show

    phone = outcome["completeness:phone"]  # mostly 0.8: 5 of 6 present passes
    assert (phone.success, phone.failed) == (True, 1)
    assert phone.failing_keys == [{"person_id": "P3"}]

    regex = outcome["format:id_number"]
    assert (regex.success, regex.evaluated, regex.failed) == (False, 6, 1)
    assert regex.failing_keys == [{"person_id": "P4"}]
    assert regex.samples == ["440783*********2"]  # L4: masked, length kept
    assert values["format:id_number"] == ["440783*********2"]

    sex = outcome["value_domain:sex"]
    assert (sex.success, sex.failed, sex.samples) == (False, 1, ["3"])  # L2: as it is
    assert sex.failing_keys == [{"person_id": "P3"}]

    area = outcome["value_domain:area"]  # a value set of 7,000+ codes
    assert (area.success, area.failed, area.samples) == (False, 1, ["999999"])
    assert area.failing_keys == [{"person_id": "P3"}]

    birth = outcome["value_domain:birth_date"]  # min 1900-01-01, max $as_of
    assert (birth.success, birth.failed) == (False, 2)
    assert sorted(k["person_id"] for k in birth.failing_keys) == ["P3", "P4"]
    assert sorted(birth.samples) == ["1********1", "2********1"]  # L3 dates, masked

    unique = outcome["uniqueness:person_id"]
    assert (unique.success, unique.failed) == (False, 2)
    assert unique.failing_keys == [{"person_id": "P5"}, {"person_id": "P5"}]
    assert unique.samples == ["P5", "P5"]

    compound = outcome["uniqueness:household_name"]
    assert (compound.success, compound.evaluated, compound.failed) == (False, 6, 2)
    assert compound.failing_keys == [{"person_id": "P5"}, {"person_id": "P5"}]
    assert values["uniqueness:household_name"] == ["H***芳"] * 2  # "H3|陈芳", masked

    rows = outcome["fluctuation:rows"]  # 6 rows, at most 5 expected
    assert (rows.success, rows.evaluated, rows.failed, rows.observed) == (False, 1, 1, 6)

    fresh = outcome["timeliness:fresh"]  # latest update 2026-11-01 08:00 >= $fresh_after
    assert (fresh.success, fresh.failed) == (True, 0)
    assert fresh.observed == "2026-11-01T08:00:00"

    check = outcome["check_algorithm:id_check"]  # hand-written SQL with {batch}
    assert (check.success, check.evaluated, check.failed, check.observed) == (False, 6, 2, 2)
    assert sorted(k["person_id"] for k in check.failing_keys) == ["P3", "P4"]
    assert sorted(check.samples) == sorted([mask(V3_BAD_CHECK, "L4"), "440783*********2"])
    assert V3_BAD_CHECK not in check.samples

    columns = outcome["schema:columns"]
    assert (columns.success, columns.evaluated, columns.failed) == (True, 1, 0)
    assert sorted(columns.observed) == sorted(
        ["person_id", "id_number", "name", "sex", "birth_date", "phone", "household",
         "area", "updated_at", "_batch_id"]
    )  # fmt: skip
    assert not run.success


def test_where_restricts_the_audit_to_one_batch(people: str) -> None:
    rules = [_rule("name", "ExpectColumnValuesToNotBeNull", {"column": "name"})]
    b1 = _run(rules, where="_batch_id = 'B1'")
    b2 = _run(rules, where="_batch_id = 'B2'", run_id="Q-test-2")
    everything = _run(rules, where=None, run_id="Q-test-3")
    assert (b1.rows_audited, b1.outcomes[0].failed) == (6, 1)
    assert (b2.rows_audited, b2.outcomes[0].failed) == (3, 2)
    assert sorted(k["person_id"] for k in b2.outcomes[0].failing_keys) == ["P7", "P8"]
    assert (everything.rows_audited, everything.outcomes[0].failed) == (9, 3)
    # the batch's view is gone after each run
    with psycopg.connect(config.libpq_url(config.warehouse_url())) as conn:
        views = conn.execute(
            "select count(*) from information_schema.views where table_schema = %s",
            (gx_engine.BATCH_VIEW_SCHEMA,),
        ).fetchone()
    assert views == (0,)


def test_suite_parameters_fill_the_bounds_at_run_time(people: str) -> None:
    rules = [
        _rule(
            "birth_date", "ExpectColumnValuesToBeBetween",
            {"column": "birth_date", "max_value": {"$PARAMETER": "as_of"}},
            template="value_domain",
        ),
        _rule(
            "fresh", "ExpectColumnMaxToBeBetween",
            {"column": "updated_at", "min_value": {"$PARAMETER": "fresh_after"}},
            template="timeliness", column="updated_at",
        ),
    ]  # fmt: skip
    where = "_batch_id = 'B1'"
    late = _run(rules, where=where, parameters={"as_of": "2026-11-03", "fresh_after": "2026-11-01"})
    early = _run(
        rules, where=where, run_id="Q-test-2",
        parameters={"as_of": "1989-12-31", "fresh_after": "2026-11-01T09:00:00"},
    )  # fmt: skip
    birth, fresh = (f"{TABLE}:value_domain:birth_date", f"{TABLE}:timeliness:fresh")
    assert (late.outcome(birth).failed, late.outcome(fresh).failed) == (1, 0)  # 2030 only
    # born after 1989-12-31: P1 (1990), P4 (2030), P5 twice (2000); not fresh enough
    assert (early.outcome(birth).failed, early.outcome(fresh).failed) == (4, 1)
    assert not early.outcome(fresh).success
    assert early.outcome(fresh).observed == "2026-11-01T08:00:00"
    missing = _run(rules, where=where, run_id="Q-test-3", parameters={"as_of": AS_OF})
    assert missing.outcome(birth).error is None
    assert missing.outcome(fresh).error  # $fresh_after was not given: that rule errs


def test_failing_keys_are_capped(people: str) -> None:
    rules = [
        _rule(
            "sex", "ExpectColumnValuesToBeInSet", {"column": "sex", "value_set": ["9"]},
            template="value_domain",
        ),
        _rule(
            "id_check", "UnexpectedRowsExpectation",
            {"unexpected_rows_query": "select * from {batch} where id_number like '4%'"},
            template="sql", column="id_number", sensitivity="L4",
        ),
    ]  # fmt: skip
    run = _run(rules, failing_cap=2)
    sex, check = run.outcomes[1], run.outcomes[0]
    assert check.rule_id.endswith(":id_check")
    assert (sex.failed, len(sex.failing_keys)) == (9, 2)
    assert (check.failed, len(check.failing_keys)) == (9, 2)
    assert all(s.startswith("440783") and "*" in s for s in check.samples)


def test_results_and_data_docs_live_outside_the_repo_and_hide_sensitive_values(
    people: str, platform: dict
) -> None:
    run = _run(_rules(), where="_batch_id = 'B1'")
    home = Path(platform["home"]).resolve()
    assert run.result_path is not None and run.result_path.exists()
    assert run.result_path.is_relative_to(home / "quality" / "gx")
    assert run.data_docs_index == home / "output" / "data_docs" / "index.html"
    assert run.data_docs_index.exists()
    assert run.data_docs_page is not None and run.data_docs_page.exists()
    assert run.data_docs_page.is_relative_to(home / "output" / "data_docs")
    for path in (run.result_path, run.data_docs_index, run.data_docs_page):
        assert not path.is_relative_to(config.PROJECT_ROOT)
    assert run.gx_result_id and run.gx_result_id.startswith("raw/people/Q-test-1/")

    stored = json.loads(run.result_path.read_text("utf-8"))
    assert stored["meta"]["govlake_run_id"] == "Q-test-1"
    rule_ids = [r["expectation_config"]["meta"]["rule_id"] for r in stored["results"]]
    assert rule_ids == sorted(r.rule_id for r in _rules())
    page = run.data_docs_page.read_text("utf-8")
    assert "raw.people" in page
    for secret in (V3_BAD_CHECK, V4_MALFORMED, "1850-01-01", "2030-01-01"):
        assert secret not in run.result_path.read_text("utf-8"), secret
        assert secret not in page, secret
    assert "440783*********2" in page  # the masked sample is what the docs show


def test_a_rule_gx_cannot_evaluate_errs_alone(people: str) -> None:
    good = _rule("name", "ExpectColumnValuesToNotBeNull", {"column": "name"})
    rules = [
        good,
        _rule("ghost", "ExpectColumnValuesToNotBeNull", {"column": "no_such_column"}),
        _rule("typo", "ExpectColumnValuesToNotBeNull", {"colum": "name"}),
        _rule("what", "ExpectColumnValuesToBeFabulous", {"column": "name"}),
        _rule(
            "broken", "UnexpectedRowsExpectation",
            {"unexpected_rows_query": "select * from {batch} where no_such_function(name)"},
            template="sql",
        ),
        _rule(
            "regex", "ExpectColumnValuesToMatchRegex", {"column": "name", "regex": "(["},
            template="format",
        ),
    ]  # fmt: skip
    run = _run(rules, where="_batch_id = 'B1'")
    by_name = {o.rule_id.rsplit(":", 1)[1]: o for o in run.outcomes}
    assert (by_name["name"].error, by_name["name"].failed) == (None, 1)
    assert "no_such_column" in by_name["ghost"].error
    assert "colum" in by_name["typo"].error
    assert "not a GX expectation type" in by_name["what"].error
    assert "no_such_function" in by_name["broken"].error
    assert by_name["regex"].error
    for name in ("ghost", "typo", "what", "broken", "regex"):
        assert not by_name[name].success and by_name[name].evaluated == 0
    assert run.result_path is not None and run.result_path.exists()


def test_a_missing_table_is_an_error_of_the_run(platform: dict) -> None:
    rule = _rule("name", "ExpectColumnValuesToNotBeNull", {"column": "name"})
    with pytest.raises(gx_engine.GxRunError, match=r"raw\.people"):
        gx_engine.run_suite(TABLE, [rule], run_id="Q-none")


def test_the_bench_query_counts_what_gx_counts(people: str) -> None:
    """The benchmark's hand-written query, on the test table: the same counts as GX."""
    from govlake.quality import bench

    rules = [
        r
        for r in _rules()
        if r.expectation_type
        in {
            "ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToMatchRegex",
            "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToBeBetween",
            "ExpectColumnValuesToBeUnique", "UnexpectedRowsExpectation",
        }
    ]  # fmt: skip
    rules = [replace(r, table="bench.people") for r in rules]
    with psycopg.connect(config.libpq_url(config.warehouse_url()), autocommit=True) as conn:
        conn.execute("create schema bench")
        conn.execute("create table bench.people as select * from raw.people")
        query, rule_ids = bench.hand_sql(rules, batch_id="B1", as_of=AS_OF)
        counts = conn.execute(query.replace(bench.TABLE, "bench.people")).fetchone()
    run = gx_engine.run_suite(
        "bench.people", rules, where="_batch_id = 'B1'", run_id="Q-bench", parameters=PARAMETERS
    )
    assert counts[0] == run.rows_audited == 6
    assert dict(zip(rule_ids, counts[1:], strict=True)) == {
        o.rule_id: o.failed for o in run.outcomes
    }


def test_suite_json_matches_gx_serialisation_of_the_same_suite() -> None:
    """What is written is GX's own document of the suite (GX can read it back as is)."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    document = gx_engine.suite_document(TABLE, _rules())
    suite = ExpectationSuite(**document)
    assert [e.id for e in suite.expectations] == [e["id"] for e in document["expectations"]]
    digest = hashlib.sha256(gx_engine.suite_json(TABLE, _rules()).encode()).hexdigest()
    assert digest == hashlib.sha256(gx_engine.suite_json(TABLE, _rules()).encode()).hexdigest()
