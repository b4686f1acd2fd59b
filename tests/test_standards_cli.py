"""``govlake standards`` as a data engineer uses it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from govlake import config
from govlake.standards.checks import id_check_char
from govlake.standards.cli import app
from govlake.standards.registry import load_registry
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def standards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The commands work on a copy of the repository's standards."""
    root = tmp_path / "standards"
    shutil.copytree(config.STANDARDS_DIR, root)
    monkeypatch.setattr(config, "STANDARDS_DIR", root)
    return root


def test_search_finds_the_han_ethnic_group():
    result = runner.invoke(app, ["search", "汉族"])
    assert result.exit_code == 0, result.output
    first = next(line for line in result.output.splitlines() if "gbt_3304" in line)
    assert "01" in first and "汉族" in first and "GB/T 3304" in first


def test_search_finds_terms_by_synonym_and_historical_codes():
    result = runner.invoke(app, ["search", "最低生活保障"])
    assert result.exit_code == 0 and "KP.BT.018" in result.output and "低保" in result.output
    result = runner.invoke(app, ["search", "开平县"])
    assert "440724" in result.output and "historical" in result.output
    assert runner.invoke(app, ["search", "没有这个词"]).exit_code == 1


@pytest.mark.parametrize(
    ("target", "value", "code", "words"),
    [
        ("KP.DE.0102", "11010519491231002X", 0, ["有效 valid"]),
        ("KP.DE.0102", "11010519491231002Y", 1, ["无效 invalid", "wrong format"]),
        ("KP.DE.0102", "110105491231002", 1, ["legacy 15-digit"]),
        ("KP.DE.0102", "44072419800101001" + "0", 1, ["wrong check character: expected 4"]),
        ("gb11643", "449007199306010025", 1, ["无效 invalid"]),
        ("KP.DE.0301", "91350100M000100Y43", 0, ["有效 valid"]),
        ("gb32100", "B1350100M000100Y43", 1, ["unknown registration authority B"]),
        ("KP.DE.0111", "13800138000", 0, ["有效 valid"]),
        ("cn_mobile", "+8613800138000", 1, ["无效 invalid"]),
        ("KP.DE.0104", "男", 1, ["not a code of gbt_2261_1"]),
        ("KP.DE.0106", "01", 0, ["有效 valid"]),
        ("KP.DE.0106", "57", 1, ["not a code of gbt_3304"]),
        ("KP.DE.0706", "6", 1, ["above the maximum 5"]),
        ("KP.DE.0502", "两人", 1, ["not a valid integer"]),
        ("KP.DE.0105", "2023-02-29", 1, ["not a valid date"]),
        ("KP.DE.0405", "2026-13", 1, ["does not match the pattern"]),
        ("gbt_2260", "440724", 0, ["有效 valid"]),
        ("kp_town", "440783113", 1, ["not a code of kp_town"]),
    ],
)
def test_check_prints_the_verdict_and_exits_0_or_1(target, value, code, words):
    result = runner.invoke(app, ["check", target, value])
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.output


def test_check_with_as_of_and_unknown_targets():
    value = "44078320270101001" + id_check_char("44078320270101001")
    assert runner.invoke(app, ["check", "gb11643", value]).exit_code == 0
    result = runner.invoke(app, ["check", "gb11643", value, "--as-of", "2026-11-01"])
    assert result.exit_code == 1 and "after 2026-11-01" in result.output
    result = runner.invoke(app, ["check", "KP.DE.9999", "x"])
    assert result.exit_code == 2 and "neither a data element" in result.output


def test_list_and_show():
    for what, expected in (
        ("codesets", "gbt_2260"),
        ("elements", "KP.DE.0102"),
        ("terms", "二标四实"),
        ("mappings", "civil__town_code"),
    ):
        result = runner.invoke(app, ["list", what])
        assert result.exit_code == 0 and expected in result.output, what
    assert runner.invoke(app, ["list", "things"]).exit_code == 2
    shown = runner.invoke(app, ["show", "KP.DE.0102"])
    assert "gb11643" in shown.output and "police.person.id_number" in shown.output
    assert "KP.BT.007" in shown.output
    shown = runner.invoke(app, ["show", "gbt_2261_1"])
    assert "GB/T 2261.1-2003" in shown.output and "未说明的性别" in shown.output
    shown = runner.invoke(app, ["show", "僵尸企业"])
    assert "KP.BT.014" in shown.output and "KP.DE.0405" in shown.output
    assert runner.invoke(app, ["show", "police__sex"]).exit_code == 0
    assert runner.invoke(app, ["show", "nothing"]).exit_code == 1


def test_validate_names_every_problem(standards: Path):
    assert runner.invoke(app, ["validate"]).exit_code == 0
    path = standards / "data_elements.yaml"
    path.write_text(path.read_text("utf-8").replace("code_set: gbt_3304", "code_set: gbt_3305"))
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert "KP.DE.0106: unknown code set 'gbt_3305'" in result.output


def test_add_update_delete_through_the_command(standards: Path):
    added = runner.invoke(
        app,
        [
            "add",
            "element",
            "KP.DE.0116",
            "--name-zh",
            "文化程度代码",
            "--name-en",
            "education level code",
            "--type",
            "string",
            "--sensitivity",
            "L2",
            "--definition",
            "人的受教育程度。A person's education.",
            "--format",
            "2 digits",
            "--pattern",
            r"^\d{2}$",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "data_elements.yaml" in added.output
    assert load_registry(standards).elements["KP.DE.0116"].pattern == r"^\d{2}$"
    updated = runner.invoke(
        app, ["update", "element", "KP.DE.0116", "--sensitivity", "L3", "--clear", "pattern"]
    )
    assert updated.exit_code == 0, updated.output
    element = load_registry(standards).elements["KP.DE.0116"]
    assert element.sensitivity == "L3" and element.pattern is None
    refused = runner.invoke(app, ["update", "element", "KP.DE.0116", "--code-set", "nope"])
    assert refused.exit_code == 1 and "nothing written" in refused.output
    term = runner.invoke(
        app,
        [
            "add",
            "term",
            "KP.BT.099",
            "--term",
            "学历",
            "--definition",
            "受教育程度。Education.",
            "--element",
            "KP.DE.0116",
            "--synonym",
            "文化程度",
        ],
    )
    assert term.exit_code == 0, term.output
    refused = runner.invoke(app, ["delete", "element", "KP.DE.0116"])
    assert refused.exit_code == 1 and "KP.BT.099" in refused.output
    assert (
        runner.invoke(app, ["update", "term", "KP.BT.099", "--element", "KP.DE.0103"]).exit_code
        == 0
    )
    assert runner.invoke(app, ["delete", "element", "KP.DE.0116"]).exit_code == 0
    assert runner.invoke(app, ["delete", "term", "KP.BT.099"]).exit_code == 0
    assert runner.invoke(app, ["delete", "element", "KP.DE.0103"]).exit_code == 1


def test_export_and_import_through_the_command(standards: Path, tmp_path: Path):
    path = tmp_path / "terms.xlsx"
    exported = runner.invoke(app, ["export", "terms", str(path)])
    assert exported.exit_code == 0 and path.exists(), exported.output
    imported = runner.invoke(app, ["import", "terms", str(path), "--replace"])
    assert imported.exit_code == 0 and "imported 37 terms" in imported.output
    bad = tmp_path / "terms.csv"
    bad.write_text("id,term,definition,elements\nKP.BT.1,x,y,KP.DE.0102\n", encoding="utf-8")
    refused = runner.invoke(app, ["import", "terms", str(bad)])
    assert refused.exit_code == 1 and "id must look like KP.BT.001" in refused.output
    assert runner.invoke(app, ["export", "things", str(path)]).exit_code == 2
    assert runner.invoke(app, ["export", "terms", str(tmp_path / "terms.json")]).exit_code == 2


def test_format_puts_hand_edits_in_canonical_form(standards: Path):
    path = standards / "data_elements.yaml"
    canonical = path.read_text("utf-8")
    entry = canonical[canonical.index("  - id: KP.DE.0113") : canonical.index("  - id: KP.DE.0114")]
    path.write_text(canonical.replace(entry, "") + entry.replace("'", ""), encoding="utf-8")
    result = runner.invoke(app, ["format"])
    assert result.exit_code == 0 and "data_elements.yaml" in result.output
    assert path.read_text("utf-8") == canonical
