"""Import and export as CSV and Excel: a round trip loses nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from govlake import config
from govlake.standards.exchange import (
    KINDS,
    export,
    import_table,
    read_table,
    table,
    write_table,
)
from govlake.standards.files import read_csv
from govlake.standards.registry import load_registry
from govlake.standards.validate import RegistryError
from openpyxl import load_workbook


@pytest.fixture
def standards(tmp_path: Path) -> Path:
    root = tmp_path / "standards"
    shutil.copytree(config.STANDARDS_DIR, root)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_reproduces_every_file(standards: Path, tmp_path: Path, kind: str, suffix: str):
    before = _files(standards)
    registry = load_registry(standards)
    path = tmp_path / f"{kind}{suffix}"
    rows = export(registry, kind, path)
    assert rows == len(table(registry, kind)[1]) > 0
    # the read-back table is the exported one, cell for cell
    assert read_table(path) == table(registry, kind)
    count, changed = import_table(kind, path, replace=True, root=standards)
    assert count == rows and changed == []
    assert _files(standards) == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_import_restores_what_was_changed(standards: Path, tmp_path: Path, suffix: str):
    registry = load_registry(standards)
    before = _files(standards)
    for kind in KINDS:
        export(registry, kind, tmp_path / f"{kind}{suffix}")
    # damage the files by hand: a term dropped, a definition changed, codes deleted
    text = (standards / "business_terms.yaml").read_text("utf-8")
    start = text.index("  - id: KP.BT.037")
    (standards / "business_terms.yaml").write_text(text[:start], encoding="utf-8")
    elements = standards / "data_elements.yaml"
    elements.write_text(elements.read_text("utf-8").replace("人的性别", "性别"), encoding="utf-8")
    header, rows = read_csv(standards / "code_sets" / "gbt_4761.csv")
    (standards / "code_sets" / "gbt_4761.csv").write_text(
        ",".join(header) + "\n" + "\n".join(",".join(r.values()) for r in rows[:50]) + "\n",
        encoding="utf-8",
    )
    assert _files(standards) != before
    for kind in ("elements", "terms", "codes"):
        import_table(kind, tmp_path / f"{kind}{suffix}", root=standards)
    assert _files(standards) == before


def test_excel_cells_are_text(tmp_path: Path):
    path = tmp_path / "codes.xlsx"
    export(load_registry(), "codes", path)
    workbook = load_workbook(path)
    sheet = workbook["codes"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["code_set", "code", "name"]
    han = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "gbt_3304")
    assert han[1].value == "01" and han[1].data_type == "s" and han[1].number_format == "@"


def test_an_invalid_import_writes_nothing(standards: Path, tmp_path: Path):
    before = _files(standards)
    path = tmp_path / "elements.csv"
    export(load_registry(standards), "elements", path)
    path.write_text(
        path.read_text("utf-8").replace(",gbt_2261_1,", ",gbt_2261_9,"), encoding="utf-8"
    )
    with pytest.raises(RegistryError, match="unknown code set 'gbt_2261_9'"):
        import_table("elements", path, root=standards)
    terms = tmp_path / "terms.csv"
    terms.write_text("id,term,definition,elements\nKP.BT.200,新词,定义。Definition.,\n", "utf-8")
    with pytest.raises(RegistryError, match="at least one related data element"):
        import_table("terms", terms, root=standards)
    codes = tmp_path / "codes.csv"
    codes.write_text("code_set,code,name\nno_such_set,1,x\n", "utf-8")
    with pytest.raises(RegistryError, match="import codesets first"):
        import_table("codes", codes, root=standards)
    mappings = tmp_path / "mappings.csv"
    mappings.write_text(
        "mapping,local_code,standard_code,code_set\npolice__sex,男人,3,gbt_2261_1\n", "utf-8"
    )
    with pytest.raises(RegistryError, match="'3' is not a code of gbt_2261_1"):
        import_table("mappings", mappings, root=standards)
    assert _files(standards) == before


def test_import_adds_and_updates_without_replace(standards: Path, tmp_path: Path):
    path = tmp_path / "mappings.csv"
    path.write_text(
        "mapping,local_code,standard_code,code_set\n"
        "police__sex,男士,1,gbt_2261_1\npolice__sex,M,1,gbt_2261_1\n",
        encoding="utf-8",
    )
    count, changed = import_table("mappings", path, root=standards)
    assert count == 2 and changed == [standards / "mappings" / "police__sex.csv"]
    rows = {
        r.local_code: r.standard_code for r in load_registry(standards).mappings["police__sex"].rows
    }
    assert rows["男士"] == "1" and rows["女"] == "2"
    assert len(load_registry(standards).mappings) == 3


def test_replacing_code_sets_removes_a_dropped_file(standards: Path, tmp_path: Path):
    registry = load_registry(standards)
    # drop gb_32100_org_type (no element names it) from an exported index
    path = tmp_path / "codesets.csv"
    export(registry, "codesets", path)
    lines = path.read_text("utf-8").splitlines()
    path.write_text(
        "\n".join(line for line in lines if not line.startswith("gb_32100_org_type,")) + "\n",
        encoding="utf-8",
    )
    _, changed = import_table("codesets", path, replace=True, root=standards)
    assert standards / "code_sets" / "gb_32100_org_type.csv" in changed
    assert not (standards / "code_sets" / "gb_32100_org_type.csv").exists()
    assert "gb_32100_org_type" not in load_registry(standards).code_sets


def test_a_new_code_set_comes_in_through_codesets_then_codes(standards: Path, tmp_path: Path):
    index = tmp_path / "codesets.csv"
    index.write_text(
        "id,name_zh,name_en,standard,edition,source,file\n"
        "kp_assistance,救助类别,assistance categories,,KP 2026.1,开平市民政局,kp_assistance.csv\n",
        encoding="utf-8",
    )
    import_table("codesets", index, root=standards)
    codes = tmp_path / "codes.xlsx"
    rows = [
        {"code_set": "kp_assistance", "code": "01", "name": "低保", "name_en": "minimum allowance"},
        {"code_set": "kp_assistance", "code": "02", "name": "特困", "name_en": "extreme poverty"},
    ]
    write_table(codes, ["code_set", "code", "name", "name_en"], rows, sheet="codes")
    import_table("codes", codes, root=standards)
    assert (standards / "code_sets" / "kp_assistance.csv").read_text("utf-8") == (
        "code,name,name_en\n01,低保,minimum allowance\n02,特困,extreme poverty\n"
    )
    assert load_registry(standards).code_sets["kp_assistance"].codes()["01"]["name"] == "低保"
