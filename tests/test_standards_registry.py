"""The standards registry: complete, valid, and kept valid by every change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from govlake import config
from govlake.catalog import load_catalog
from govlake.standards.edit import (
    add_element,
    add_term,
    delete_element,
    delete_term,
    update_element,
    update_term,
)
from govlake.standards.files import read_registry, registry_texts, write_registry
from govlake.standards.model import Element, Term
from govlake.standards.registry import load_registry
from govlake.standards.validate import RegistryError, validate


@pytest.fixture
def standards(tmp_path: Path) -> Path:
    """A copy of the repository's standards to change."""
    root = tmp_path / "standards"
    shutil.copytree(config.STANDARDS_DIR, root)
    return root


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- the repository's standards --------------------------------------------------------------


def test_repository_registry_is_valid_and_complete():
    registry = load_registry()
    assert set(registry.code_sets) >= {
        "gbt_2261_1",
        "gbt_2261_2",
        "gbt_3304",
        "gbt_2260",
        "gbt_4761",
        "gbt_4754_2017",
        "kp_town",
        "gb_32100_org_type",
    }
    for code_set in registry.code_sets.values():
        assert code_set.edition and code_set.source, code_set.id
        assert code_set.columns[0] == "code" and code_set.file == f"{code_set.id}.csv"
    codes = {cid: c.codes() for cid, c in registry.code_sets.items()}
    assert set(codes["gbt_2261_1"]) == {"0", "1", "2", "9"}
    assert len(codes["gbt_3304"]) == 58 and codes["gbt_3304"]["01"]["name"] == "汉族"
    assert codes["gbt_3304"]["56"]["name"] == "基诺族" and "98" in codes["gbt_3304"]
    assert {"10", "20", "30", "40", "90"} <= set(codes["gbt_2261_2"])
    assert codes["gbt_4761"]["02"]["name"] == "户主" and codes["gbt_4761"]["99"]["name"] == "非亲属"
    sections = [c for c, v in codes["gbt_4754_2017"].items() if v["level"] == "section"]
    divisions = [c for c, v in codes["gbt_4754_2017"].items() if v["level"] == "division"]
    assert sections == list("ABCDEFGHIJKLMNOPQRST") and len(divisions) == 97
    assert len(codes["kp_town"]) == 15
    assert len(registry.terms) >= 25
    for term in (
        "户籍人口",
        "常住人口",
        "法人",
        "市场主体",
        "统一社会信用代码",
        "僵尸企业",
        "低保",
        "特困",
        "华侨",
        "二标四实",
        "标准地址",
        "一数一源",
    ):
        assert any(t.term == term for t in registry.terms.values()), term


def test_every_element_has_definition_format_and_the_old_fields():
    registry = load_registry()
    for element in registry.elements.values():
        assert element.definition and element.format, element.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in element.definition), element.id
    # the value domains the catalog relied on are still there
    assert registry.elements["KP.DE.0102"].check == "gb11643"
    assert registry.elements["KP.DE.0102"].pattern == r"^\d{17}[\dX]$"
    assert registry.elements["KP.DE.0104"].code_set == "gbt_2261_1"
    assert registry.elements["KP.DE.0106"].code_set == "gbt_3304"
    assert registry.elements["KP.DE.0202"].code_set == "kp_town"
    assert registry.elements["KP.DE.0706"].range_min == 1


def test_every_catalog_field_names_an_existing_element():
    catalog = load_catalog()
    registry = load_registry()
    for resource in catalog.resources.values():
        for field in resource.fields:
            assert field.element.id in registry.elements, (resource.id, field.name)


def test_mappings_cover_what_the_simulator_emits():
    from govlake.simulate.defects import NONSTANDARD_SEX
    from govlake.simulate.names import towns

    registry = load_registry()
    for department in ("police", "overseas"):
        rows = {r.local_code: r.standard_code for r in registry.mappings[f"{department}__sex"].rows}
        for standard, locals_ in NONSTANDARD_SEX.items():
            assert all(rows[local] == standard for local in locals_)
        assert {rows[c] for c in ("男", "女", "M", "F", "1", "2", "0", "9")} == {"0", "1", "2", "9"}
    towns_by_name = {
        r.local_code: r.standard_code for r in registry.mappings["civil__town_code"].rows
    }
    for town in towns():
        assert towns_by_name[town.name] == town.code and towns_by_name[town.code] == town.code


def test_files_are_in_canonical_form():
    registry, problems = read_registry()
    assert problems == []
    for path, text in registry_texts(registry).items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: run `govlake standards format`"


# --- dangling references ---------------------------------------------------------------------


def test_dangling_references_are_all_reported(standards: Path):
    registry, _ = read_registry(standards)
    registry.elements["KP.DE.0106"].code_set = "gbt_3304_old"
    registry.terms["KP.BT.018"].elements = ("KP.DE.0501", "KP.DE.9999")
    mapping = registry.mappings["police__sex"]
    mapping.rows[0] = type(mapping.rows[0])("0", "7", "gbt_2261_1")
    mapping.rows[1] = type(mapping.rows[1])("1", "1", "no_such_set")
    registry.terms["KP.BT.002"].id = "KP.BT.001"
    del registry.elements["KP.DE.0103"]
    problems = validate(registry)
    assert any("KP.DE.0106: unknown code set 'gbt_3304_old'" in p for p in problems)
    assert any("KP.BT.018" in p and "KP.DE.9999" in p for p in problems)
    assert any("police__sex.csv line 2: '7' is not a code of gbt_2261_1" in p for p in problems)
    assert any("police__sex.csv line 3: unknown code set 'no_such_set'" in p for p in problems)
    assert any(
        "KP.DE.0103 is named by catalog field(s)" in p and "police.person.name" in p
        for p in problems
    )
    assert any("KP.BT.024" in p and "KP.DE.0103" in p for p in problems)  # 侨眷 names 姓名


def test_duplicate_codes_and_identifiers_are_reported(standards: Path):
    path = standards / "code_sets" / "gbt_3304.csv"
    path.write_text(path.read_text("utf-8") + "01,汉族,Han\n", encoding="utf-8")
    text = (standards / "business_terms.yaml").read_text("utf-8")
    (standards / "business_terms.yaml").write_text(
        text.replace("id: KP.BT.002", "id: KP.BT.001"), encoding="utf-8"
    )
    with pytest.raises(RegistryError) as raised:
        load_registry(standards)
    problems = raised.value.problems
    assert any("gbt_3304.csv line 60: duplicate code '01'" in p for p in problems)
    assert any("duplicate identifier 'KP.BT.001'" in p for p in problems)


def test_the_catalog_loader_still_reads_the_standards(standards: Path, tmp_path: Path):
    # the catalog's own checks (element → code set) see the extended files
    catalog = load_catalog(config.CATALOG_DIR, standards)
    assert catalog.data_elements["KP.DE.0106"].code_set == "gbt_3304"
    assert "gbt_2260" in catalog.code_sets


# --- create, change, delete ------------------------------------------------------------------


def _element(**changes) -> Element:
    fields = dict(
        id="KP.DE.0116",
        name_zh="文化程度代码",
        name_en="education level code",
        type="string",
        sensitivity="L2",
        definition="人的受教育程度。A person's education.",
        format="2 digits",
        pattern=r"^\d{2}$",
    )
    return Element(**{**fields, **changes})


def test_add_update_delete_an_element(standards: Path):
    before = _files(standards)
    written = add_element(_element(), root=standards)
    assert written == [standards / "data_elements.yaml"]
    registry = load_registry(standards)
    assert registry.elements["KP.DE.0116"].name_zh == "文化程度代码"
    update_element("KP.DE.0116", {"sensitivity": "L3"}, root=standards)
    with pytest.raises(RegistryError, match="a range needs type integer or decimal"):
        update_element("KP.DE.0116", {"range_max": 9}, root=standards)
    update_element("KP.DE.0116", {}, clear=("pattern",), root=standards)
    element = load_registry(standards).elements["KP.DE.0116"]
    assert element.sensitivity == "L3" and element.pattern is None
    delete_element("KP.DE.0116", root=standards)
    assert _files(standards) == before


def test_invalid_changes_write_nothing(standards: Path):
    before = _files(standards)
    with pytest.raises(RegistryError, match="unknown code set 'gbt_9999'"):
        add_element(_element(code_set="gbt_9999"), root=standards)
    with pytest.raises(RegistryError, match="already exists"):
        add_element(_element(id="KP.DE.0102"), root=standards)
    with pytest.raises(RegistryError, match="missing required key 'definition'"):
        add_element(_element(definition=None), root=standards)
    with pytest.raises(RegistryError, match="unknown check algorithm"):
        update_element("KP.DE.0103", {"check": "luhn"}, root=standards)
    with pytest.raises(RegistryError, match="catalog field"):
        delete_element("KP.DE.0103", root=standards)
    with pytest.raises(RegistryError, match="business term"):
        delete_element("KP.DE.0503", root=standards)  # named by a catalog field and terms
    with pytest.raises(RegistryError, match="required field"):
        update_element("KP.DE.0103", {}, clear=("name_zh",), root=standards)
    assert _files(standards) == before


def test_add_update_delete_a_term(standards: Path):
    before = _files(standards)
    term = Term(
        id="KP.BT.099",
        term="失信被执行人",
        term_en="dishonest judgment debtor",
        category="信用 credit",
        definition="被人民法院纳入失信名单的被执行人。Listed by a court.",
        synonyms=("老赖",),
        elements=("KP.DE.0102", "KP.DE.0301"),
    )
    add_term(term, root=standards)
    assert load_registry(standards).terms["KP.BT.099"].synonyms == ("老赖",)
    update_term("KP.BT.099", {"synonyms": ("老赖", "失信人")}, clear=("category",), root=standards)
    changed = load_registry(standards).terms["KP.BT.099"]
    assert changed.synonyms == ("老赖", "失信人") and changed.category is None
    with pytest.raises(RegistryError, match=r"already a term or synonym of KP\.BT\.018"):
        update_term("KP.BT.099", {"synonyms": ("最低生活保障",)}, root=standards)
    with pytest.raises(RegistryError, match=r"unknown data element 'KP\.DE\.0000'"):
        update_term("KP.BT.099", {"elements": ("KP.DE.0000",)}, root=standards)
    delete_term("KP.BT.099", root=standards)
    assert _files(standards) == before


def test_write_registry_reproduces_every_file(standards: Path):
    before = _files(standards)
    registry, _ = read_registry(standards)
    assert write_registry(registry) == []
    assert _files(standards) == before
