"""The resource catalog: what a reviewer of a catalog change relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from govlake import config
from govlake.catalog import CatalogError, load_catalog
from govlake.catalog.model import OPEN_TYPES, SHARING_TYPES
from govlake.governance.store import connect, sync_catalog


def test_repository_catalog_is_valid_and_complete():
    catalog = load_catalog()
    kinds = {r.system.kind for r in catalog.resources.values()}
    assert kinds == {"postgresql", "mysql", "files", "rest"}
    for resource in catalog.resources.values():
        assert resource.sharing_type in SHARING_TYPES
        assert resource.open_type in OPEN_TYPES
        assert resource.owner
        assert resource.extract.primary_key, f"{resource.id} has no primary key"
        for field in resource.fields:
            assert field.element.id.startswith("KP.DE."), (resource.id, field.name)
            assert field.grade in ("L1", "L2", "L3", "L4")
    # identity numbers are graded highly sensitive wherever they appear
    grades = {
        (r.id, f.name): f.grade
        for r in catalog.resources.values()
        for f in r.fields
        if f.element.check == "gb11643"
    }
    assert grades and set(grades.values()) == {"L4"}


def _copy_catalog(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "catalog"
    standards = tmp_path / "standards"
    shutil.copytree(config.CATALOG_DIR, root)
    shutil.copytree(config.STANDARDS_DIR, standards)
    return root, standards


def test_errors_name_the_file_and_the_entry(tmp_path: Path):
    root, standards = _copy_catalog(tmp_path)
    path = root / "resources" / "police.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    person = document["resources"][0]
    person["sharing_type"] = "随便共享"
    person["fields"][2]["element"] = "KP.DE.9999"
    person["extract"]["watermark"] = "no_such_column"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")

    with pytest.raises(CatalogError) as raised:
        load_catalog(root, standards)
    problems = raised.value.problems
    assert any(
        p.startswith("resources/police.yaml: police.person:") and "随便共享" in p for p in problems
    ), problems
    assert any("police.person field 'name'" in p and "KP.DE.9999" in p for p in problems)
    assert any("watermark 'no_such_column' is not a field" in p for p in problems)
    assert len(problems) == 3


def test_a_connection_uri_in_the_catalog_is_refused(tmp_path: Path):
    root, standards = _copy_catalog(tmp_path)
    path = root / "departments.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "connection: kp_police}", "connection: 'postgres://police:secret@db/kp'}"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match="referenced by id only"):
        load_catalog(root, standards)


def test_catalog_syncs_into_the_governance_schema(platform):
    catalog = load_catalog()
    with connect() as conn:
        counts = sync_catalog(conn, catalog)
        counts_again = sync_catalog(conn, catalog)  # idempotent
        resources = conn.execute(
            "select resource_id, sharing_type, raw_table from governance.resource order by 1"
        ).fetchall()
        sensitive = conn.execute(
            "select count(*) from governance.resource_field where sensitivity = 'L4'"
        ).fetchone()[0]
    assert counts == counts_again
    assert [r[0] for r in resources] == sorted(catalog.resources)
    assert ("police.person", "有条件共享", "raw.police__person") in resources
    assert sensitive == sum(
        1 for r in catalog.resources.values() for f in r.fields if f.grade == "L4"
    )


def test_codes_that_would_collide_in_table_names_are_refused(tmp_path: Path):
    root, standards = _copy_catalog(tmp_path)
    path = root / "resources" / "civil.yaml"
    text = path.read_text(encoding="utf-8").replace("code: low_income", "code: low__income")
    text = text.replace("update_frequency: daily", "update_frequency: weekly")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as raised:
        load_catalog(root, standards)
    problems = "\n".join(raised.value.problems)
    assert "civil.low__income: code must be lowercase words joined by single '_'" in problems
    assert "update_frequency 'weekly' is not supported for batch ingestion" in problems
