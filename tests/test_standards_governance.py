"""The standards loaded into the governance schema of a real PostgreSQL."""

from __future__ import annotations

from govlake.catalog import load_catalog
from govlake.governance.store import connect, sync_catalog
from govlake.standards.cli import app
from govlake.standards.governance import load_into_governance
from govlake.standards.registry import load_registry
from typer.testing import CliRunner


def test_standards_load_into_governance(platform):
    registry = load_registry()
    with connect() as conn:
        sync_catalog(conn, load_catalog())  # the catalog first, as the platform does
        counts = load_into_governance(conn, registry)
        again = load_into_governance(conn, registry)  # idempotent
        tables = {
            name: conn.execute(f"select count(*) from governance.{name}").fetchone()[0]
            for name in (
                "code_set",
                "code_value",
                "code_mapping",
                "business_term",
                "term_element",
                "data_element",
            )
        }
        han = conn.execute(
            "select name, name_en from governance.code_value where code_set = 'gbt_3304' "
            "and code = '01'"
        ).fetchone()
        kaiping = conn.execute(
            "select name, attributes ->> 'valid_from', attributes ->> 'status' "
            "from governance.code_value where code_set = 'gbt_2260' and code = '440724'"
        ).fetchone()
        element = conn.execute(
            "select definition, format, code_set, range_min, range_max "
            "from governance.data_element where id = 'KP.DE.0706'"
        ).fetchone()
        term_elements = conn.execute(
            "select array_agg(element_id order by position) from governance.term_element "
            "where term_id = (select id from governance.business_term where term = '僵尸企业')"
        ).fetchone()[0]
        mapped = conn.execute(
            "select m.standard_code, v.name from governance.code_mapping m "
            "join governance.code_value v on (v.code_set, v.code) = (m.code_set, m.standard_code) "
            "where m.mapping = 'civil__town_code' and m.local_code = '赤坎镇'"
        ).fetchone()
    assert counts == again
    assert tables["code_set"] == len(registry.code_sets) == counts["code_sets"]
    assert tables["code_value"] == sum(len(c.values) for c in registry.code_sets.values())
    assert tables["business_term"] == len(registry.terms) >= 25
    assert tables["term_element"] == counts["term_elements"]
    assert tables["code_mapping"] == counts["code_mappings"]
    assert tables["data_element"] == len(registry.elements)
    assert han == ("汉族", "Han")
    assert kaiping == ("开平县", "1983", "historical")
    assert element[1:] == ("1 digit", None, 1, 5) and "满意" in element[0]
    assert term_elements == list(registry.terms["KP.BT.014"].elements)
    assert mapped == ("440783108", "赤坎镇")


def test_load_command_installs_the_check_functions(platform):
    result = CliRunner().invoke(app, ["load"])
    assert result.exit_code == 0, result.output
    assert "code_values" in result.output and "standards.gbt_2260" in result.output
    with connect() as conn:
        row = conn.execute(
            "select standards.citizen_id_problem('44072419800101001' || '4'), "
            "(select count(*) from governance.business_term)"
        ).fetchone()
    assert row[0] is None and row[1] == len(load_registry().terms)
