"""Quality rules: generated from the catalog, configured from templates, listed by CLI."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from govlake.catalog.loader import load_catalog
from govlake.quality.model import DIMENSIONS, SEVERITIES, TEMPLATES
from govlake.quality.rules import (
    LOAD_GATE,
    RuleConfigError,
    all_rules,
    configured_rules,
    generated_rules,
    suites,
)
from govlake.standards.registry import load_registry
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def rules():
    return all_rules(load_catalog())


def test_every_rule_has_a_dimension_severity_template_and_descriptions(rules):
    assert len({r.rule_id for r in rules}) == len(rules)
    for rule in rules:
        assert rule.dimension in DIMENSIONS, rule.rule_id
        assert rule.severity in SEVERITIES, rule.rule_id
        assert rule.template in TEMPLATES, rule.rule_id
        assert rule.description_zh and rule.description_en, rule.rule_id
        assert rule.department in load_catalog().departments, rule.rule_id
    # all six GB/T 36344 dimensions are covered by some rule
    assert {r.dimension for r in rules} == set(DIMENSIONS)


def test_generated_rules_follow_each_fields_data_element():
    catalog = load_catalog()
    registry = load_registry()
    by_id = {r.rule_id: r for r in generated_rules(catalog)}
    for resource in catalog.resources.values():
        table = f"raw.{resource.raw_table}"
        for f in resource.fields:
            element = registry.elements[f.element.id]
            if element.code_set:
                rule = by_id[f"{table}:value_domain:{f.name}"]
                assert rule.expectation_type == "ExpectColumnValuesToBeInSet"
                codes = set(registry.code_sets[element.code_set].codes())
                assert set(rule.kwargs["value_set"]) == codes
            if element.check:
                rule = by_id[f"{table}:check_algorithm:{f.name}"]
                assert rule.dimension == "accuracy" and rule.sensitivity == f.grade
                assert f"({chr(34)}{f.name}{chr(34)})" in rule.kwargs["unexpected_rows_query"]
            if element.pattern and f.type == "string":
                assert by_id[f"{table}:format:{f.name}"].kwargs["regex"] == element.pattern
            if f.required:
                assert by_id[f"{table}:completeness:{f.name}"].column == f.name
        for key in resource.extract.primary_key:
            assert by_id[f"{table}:completeness:{key}"].blocking
            assert by_id[f"{table}:uniqueness:{key}"].blocking
        assert by_id[f"{table}:gate:required"].expectation_type == LOAD_GATE
        if resource.extract.mode == "full":
            assert by_id[f"{table}:fluctuation:row_count"].blocking


def test_sensitive_columns_are_marked_for_masking(rules):
    rule = next(r for r in rules if r.rule_id == "raw.police__person:check_algorithm:id_number")
    assert rule.sensitivity == "L4"
    assert rule.key_columns == ("person_id",)


def _write(directory: Path, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables:\n  raw.police__person:\n    rules:\n      - template: nonsense\n",
         "rules.yaml: table raw.police__person, rule #1: unknown template 'nonsense'"),
        ("tables:\n  raw.police__person:\n    rules:\n      - {template: completeness, "
         "column: no_such, description_zh: 甲, description_en: a}\n",
         "rule #1: police.person has no field 'no_such'"),
        ("tables:\n  basic.population:\n    rules:\n      - {template: completeness, "
         "column: name, description_zh: 甲, description_en: a}\n",
         "table basic.population: say which department owns it"),
        ("tables:\n  raw.police__person:\n    rules:\n      - {template: uniqueness, "
         "column: name}\n", "rule #1: description_zh is required"),
        ("tables:\n  raw.police__person:\n    rules:\n      - {template: sql, name: x, "
         "query: select 1, dimension: accuracy, description_zh: 甲, description_en: a}\n",
         "must read the audited rows as {batch}"),
        ("tables:\n  raw.police__person:\n    rules:\n      - {template: value_domain, "
         "column: sex, code_set: nope, description_zh: 甲, description_en: a}\n",
         "unknown code set 'nope'"),
    ],
)  # fmt: skip
def test_configuration_errors_name_the_file_table_and_rule(tmp_path, text, message):
    directory = _write(tmp_path / "rules", text)
    with pytest.raises(RuleConfigError) as error:
        configured_rules(load_catalog(), directory)
    assert message in str(error.value)


def test_a_template_applies_to_a_table_by_configuration_alone(tmp_path):
    directory = _write(
        tmp_path / "rules",
        """
tables:
  basic.population:
    department: police
    key: [id_number]
    rules:
      - {template: completeness, columns: [name, sex_code], severity: blocking,
         description_zh: 姓名性别完整, description_en: name and sex present}
      - {template: referential, column: town_code, to: basic.town.town_code,
         description_zh: 镇街存在, description_en: town exists}
      - {template: fluctuation, window: 5, tolerance: 0.1,
         description_zh: 行数稳定, description_en: row count stable}
      - {template: timeliness, column: updated_at, max_age_days: 1,
         description_zh: 一天内更新, description_en: updated within a day}
      - {template: value_domain, column: birth_date, max: as_of, dimension: accuracy,
         description_zh: 出生日期不晚于业务日期, description_en: not born in the future}
""",
    )
    rules = {r.rule_id: r for r in configured_rules(load_catalog(), directory)}
    assert set(rules) == {
        "basic.population:completeness:name",
        "basic.population:completeness:sex_code",
        "basic.population:referential:town_code",
        "basic.population:fluctuation:row_count",
        "basic.population:timeliness:updated_at",
        "basic.population:value_domain:birth_date",
    }
    name = rules["basic.population:completeness:name"]
    assert (name.severity, name.stage, name.origin, name.key_columns) == (
        "blocking", "library", "configured", ("id_number",),
    )  # fmt: skip
    assert (
        "not exists"
        in rules["basic.population:referential:town_code"].kwargs["unexpected_rows_query"]
    )
    fluctuation = rules["basic.population:fluctuation:row_count"]
    assert fluctuation.options["window"] == 5 and fluctuation.options["tolerance"] == 0.1
    assert rules["basic.population:value_domain:birth_date"].kwargs["max_value"] == {
        "$PARAMETER": "as_of"
    }


def test_suites_group_rules_per_table(rules):
    grouped = suites(rules)
    assert "raw.police__person" in grouped and "staging.stg_police__person" in grouped
    assert all(r.table == suite for suite, members in grouped.items() for r in members)


def test_quality_rules_command_counts_by_table_department_dimension_template(rules):
    from govlake.cli import app

    result = CliRunner().invoke(app, ["quality", "rules"])
    assert result.exit_code == 0, result.output
    for heading in ("按表 by table", "按部门 by department", "按维度 by dimension",
                    "按模板 by template"):  # fmt: skip
        assert heading in result.output
    total_lines = [line for line in result.output.splitlines() if "合计 total" in line]
    assert len(total_lines) == 4  # one per grouping, each counting every rule
    assert all(line.split("│")[2].strip() == str(len(rules)) for line in total_lines)
    per_department = Counter(r.department for r in rules)
    filtered = CliRunner().invoke(app, ["quality", "rules", "--department", "civil", "--list"])
    assert filtered.exit_code == 0, filtered.output
    assert "raw.civil__low_income:check_algorithm:id_number" in filtered.output
    assert "raw.police__person" not in filtered.output
    assert str(per_department["civil"]) in filtered.output
