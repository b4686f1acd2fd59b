"""Lineage and impact questions asked of the metadata store, on real PostgreSQL.

The store (``governance.md_*``) is filled with SQL the way the harvesters fill it: the
catalog's field edges source → lake → raw, dbt's table edges with SQL between the libraries
and to the exposures, an OpenLineage column edge seen a second time, a retired edge, a
cycle. The graph code, the pictures and the command line are checked against it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import resources

import psycopg
import pytest
from govlake.catalog import load_catalog
from govlake.cli import app
from govlake.governance.store import connect, ensure_schema, sync_catalog
from govlake.lineage import graph as lg
from govlake.lineage.render import lineage_html, lineage_svg, standalone_svg
from typer.testing import CliRunner

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"

SOURCE = "source:kp_police_hukou/public.person"
LAKE = "lake:raw/police/person"
RAW = "raw.police__person"
STG = "staging.stg_police__person"
POP = "basic.population"
ROSTER = "special.overseas_roster_verification"
TSFA = "special.two_standards_four_actuals"
REPORT = "report:quality_daily_report"
EXPORT = "export:open_data_export"
HANDLING = "special.hotline_handling"
HOTSPOTS = "special.hotline_hotspots"
ADDRESS = "basic.standard_address"
STAGING_SQL = "select id_number, name, town_code from raw.police__person where _batch_id < 'z'"

# dataset: (kind, layer, name_zh, name_en, owner, department, resource_id, grade)
DATASETS = {
    SOURCE: ("source", "source", "户籍人员信息", "registered persons", "开平市公安局户政管理大队",
             "police", "police.person", "L4"),
    LAKE: ("lake", "lake", "户籍人员信息", "registered persons", "开平市公安局户政管理大队",
           "police", "police.person", "L4"),
    RAW: ("table", "raw", "户籍人员信息", "registered persons", "开平市公安局户政管理大队",
          "police", "police.person", "L4"),
    STG: ("model", "staging", None, None, None, None, None, "L4"),
    POP: ("model", "basic", "人口基础库", "population library", "开平市政务服务数据管理局",
          None, None, "L4"),
    ROSTER: ("model", "special", "侨情名册核查", "overseas roster verification", "开平市侨务局",
             None, None, "L4"),
    TSFA: ("model", "special", "二标四实", "two standards, four actuals", "基层数据治理组",
           None, None, "L2"),
    REPORT: ("exposure", "report", "开平市政务数据质量日报", None, "数据质量科", None, None, None),
    EXPORT: ("exposure", "export", "公共数据开放（非敏感库）", None, "数据开放科", None, None,
             None),
    HANDLING: ("model", "special", "12345热线工单办理", None, "热线管理中心", None, None, "L2"),
    HOTSPOTS: ("model", "special", "12345热线诉求热点", None, "热线管理中心", None, None, "L1"),
    ADDRESS: ("model", "basic", "标准地址库", None, "开平市自然资源局", None, None, "L1"),
}  # fmt: skip
FIELDS = {
    SOURCE: ["person_id", "id_number", "name", "town_code"],
    LAKE: ["person_id", "id_number", "name", "town_code"],
    RAW: ["person_id", "id_number", "name", "town_code"],
    STG: ["person_id", "id_number", "name", "town_code"],
    POP: ["id_number", "name", "town_code"],
    ROSTER: ["roster_id", "id_number", "name"],
    TSFA: ["standard_address_id", "actual_population"],
    ADDRESS: ["address_id", "town_code"],
}
GRADES = {"id_number": "L4", "name": "L3", "person_id": "L2"}
# (source, source field, target, target field, transformation, description, job, sql, origin)
EDGES = [
    (SOURCE, "", LAKE, "", "DIRECT/IDENTITY", "抽取 extract", "ingest__police__person.extract",
     None, "catalog"),
    (SOURCE, "", LAKE, "", None, None, "ingest__police__person.extract", None, "openlineage"),
    (LAKE, "", RAW, "", "DIRECT/IDENTITY", "装载 load", "ingest__police__person.load", None,
     "catalog"),
    *[(SOURCE, f, LAKE, f, "DIRECT/IDENTITY", "抽取 extract", "ingest__police__person.extract",
       None, "catalog") for f in FIELDS[SOURCE]],
    # lake → raw at table level only: the column walk continues by column name (inferred)
    (RAW, "", STG, "", None, "dbt model stg_police__person (compiled SQL)",
     "model.kaiping.stg_police__person", STAGING_SQL, "dbt"),
    (RAW, "id_number", STG, "id_number", "DIRECT/IDENTITY", "trim(id_number)",
     "model.kaiping.stg_police__person", None, "openlineage"),
    (RAW, "id_number", STG, "id_number", "DIRECT/TRANSFORMATION", None, None, None, "manual"),
    (RAW, "name", STG, "name", "DIRECT/IDENTITY", None, "model.kaiping.stg_police__person",
     None, "openlineage"),
    (RAW, "town_code", STG, "town_code", "DIRECT/IDENTITY", None,
     "model.kaiping.stg_police__person", None, "openlineage"),
    (STG, "", POP, "", None, "dbt model population", "model.kaiping.population",
     "select * from staging.stg_police__person", "dbt"),
    (STG, "id_number", POP, "id_number", "DIRECT/IDENTITY", None, "model.kaiping.population",
     None, "openlineage"),
    (STG, "name", POP, "name", "DIRECT/IDENTITY", None, "model.kaiping.population", None,
     "openlineage"),
    (STG, "town_code", POP, "town_code", "DIRECT/IDENTITY", None, "model.kaiping.population",
     None, "openlineage"),
    # the standard addresses → population at table level only (no column lineage harvested)
    (ADDRESS, "", POP, "", None, "dbt model population", "model.kaiping.population", None,
     "dbt"),
    (POP, "", ROSTER, "", None, "dbt model overseas_roster_verification",
     "model.kaiping.overseas_roster_verification", None, "dbt"),
    (POP, "id_number", ROSTER, "id_number", "INDIRECT/JOIN", "join on id_number",
     "model.kaiping.overseas_roster_verification", None, "openlineage"),
    (POP, "town_code", TSFA, "actual_population", "INDIRECT/AGGREGATION", "count(*) per address",
     "model.kaiping.two_standards_four_actuals", None, "openlineage"),
    (POP, "", REPORT, "", None, "dbt exposure quality_daily_report", None, None, "dbt"),
    (TSFA, "", EXPORT, "", None, "dbt exposure open_data_export", None, None, "dbt"),
    # a cycle: the hotspots feed back into the handling of tickets
    (HANDLING, "", HOTSPOTS, "", None, "dbt model hotline_hotspots", None, None, "dbt"),
    (HOTSPOTS, "", HANDLING, "", None, "热点督办回写 hotspot follow-up", None, None, "manual"),
]  # fmt: skip
RETIRED = (POP, "", "special.low_income_checks", "", None, None, None, None, "dbt")

RULES = [
    # rule_id, table, column, dimension, severity, description
    ("raw.police__person:completeness:id_number", RAW, "id_number", "completeness", "blocking",
     "公民身份号码不能为空"),
    ("raw.police__person:format:town_code", RAW, "town_code", "normativity", "warning",
     "镇街代码符合 kp_town"),
    ("raw.police__person:delivery", RAW, None, "timeliness", "warning", "当日批次已送达"),
    ("staging.stg_police__person:uniqueness:id_number", STG, "id_number", "consistency",
     "warning", "同一公民身份号码只登记为一名户籍人员"),
    ("special.two_standards_four_actuals:value_domain:actual_population", TSFA,
     "actual_population", "accuracy", "warning", "实有人口不为负"),
]  # fmt: skip


def _metadata_ddl() -> str:
    return resources.files("govlake.lineage").joinpath("metadata.sql").read_text("utf-8")


def add_dataset(conn: psycopg.Connection, key: str, row: tuple, fields: list[str]) -> None:
    kind, layer, zh, en, owner, dept, resource, grade = row
    conn.execute(
        "insert into governance.md_dataset (dataset, kind, layer, name_zh, name_en, "
        "description, owner, department, resource_id, grade, origins) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (key, kind, layer, zh, en, f"{zh or key} 的说明", owner, dept, resource, grade,
         ["catalog" if layer in ("source", "lake", "raw") else "dbt"]),
    )  # fmt: skip
    for position, name in enumerate(fields, start=1):
        conn.execute(
            "insert into governance.md_field (dataset, name, position, data_type, grade, "
            "data_element) values (%s, %s, %s, 'text', %s, %s)",
            (key, name, position, GRADES.get(name, "L1"),
             "KP.DE.0102" if name == "id_number" else None),
        )  # fmt: skip


def add_edges(conn: psycopg.Connection, rows: list[tuple], retired: str | None = None) -> None:
    for row in rows:
        conn.execute(
            "insert into governance.md_edge (source_dataset, source_field, target_dataset, "
            "target_field, transformation, description, job, sql, origin, retired_at) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (*row, retired),
        )


def fill_store(conn: psycopg.Connection) -> None:
    """The metadata store as the harvesters leave it, and quality rules and orders."""
    conn.execute(_metadata_ddl())
    for key, row in DATASETS.items():
        add_dataset(conn, key, row, FIELDS.get(key, []))
    add_edges(conn, EDGES)
    add_edges(conn, [RETIRED], retired="2026-11-01")
    conn.execute(  # OpenLineage said the join masks the identity numbers it passes on
        "update governance.md_edge set masking = true where source_dataset = %s "
        "and source_field = 'id_number' and target_dataset = %s",
        (POP, ROSTER),
    )
    for rule_id, table, column, dimension, severity, zh in RULES:
        conn.execute(
            "insert into governance.quality_rule (rule_id, suite, table_name, department, "
            "column_name, template, dimension, severity, stage, origin, expectation_type, "
            "kwargs, description_zh, description_en) values (%s, %s, %s, 'police', %s, "
            "'completeness', %s, %s, 'library', 'generated', 'x', '{}', %s, %s)",
            (rule_id, table, table, column, dimension, severity, zh, zh),
        )
    for rule_id, state in (
        ("raw.police__person:completeness:id_number", "in_progress"),
        ("raw.police__person:format:town_code", "closed"),  # settled: not listed
        ("special.two_standards_four_actuals:value_domain:actual_population", "open"),
    ):
        table = rule_id.split(":")[0]
        conn.execute(
            "insert into governance.work_order (rule_id, table_name, department, dimension, "
            "severity, state, title, due_at, first_run_id, last_run_id, last_failed) values "
            "(%s, %s, 'police', 'completeness', 'warning', %s, %s, now() + interval '1 day', "
            "'r1', 'r1', 3)",
            (rule_id, table, state, f"{table} 工单 {state}"),
        )


@pytest.fixture
def conn(platform: dict) -> Iterator[psycopg.Connection]:
    with connect(autocommit=True) as conn:
        ensure_schema(conn)
        sync_catalog(conn, load_catalog())
        fill_store(conn)
        yield conn


def keys(nodes) -> set[str]:
    return {n.dataset for n in nodes}


def edge(graph: lg.Graph, source: str, target: str, sf: str = "", tf: str = "") -> lg.Edge:
    found = [e for e in graph.edges if e.key == (source, sf, target, tf)]
    assert len(found) == 1, [e.key for e in graph.edges]
    return found[0]


# ---------------------------------------------------------------------------------------
# Table level


def test_upstream_reaches_the_department_source_through_the_lake(conn):
    graph = lg.lineage(conn, POP, "up")
    assert graph.level == "table" and graph.target == POP and graph.field is None
    distances = {n.dataset: n.distance for n in graph.nodes.values()}
    assert distances == {POP: 0, STG: -1, ADDRESS: -1, RAW: -2, LAKE: -3, SOURCE: -4}
    assert graph.downstream() == []
    source = graph.nodes[SOURCE]
    assert (source.layer, source.owner, source.name_zh, source.grade) == (
        "source", "开平市公安局户政管理大队", "户籍人员信息", "L4")  # fmt: skip
    # the staging edge is dbt's table edge with its SQL, and knows its column edges
    staged = edge(graph, RAW, STG)
    assert staged.sql == STAGING_SQL and staged.job == "model.kaiping.stg_police__person"
    assert staged.columns == [("id_number", "id_number"), ("name", "name"),
                              ("town_code", "town_code")]  # fmt: skip
    assert staged.origins == ["manual", "dbt", "openlineage"]


def test_depth_limits_the_walk(conn):
    assert keys(lg.lineage(conn, POP, "up", depth=1).nodes.values()) == {POP, STG, ADDRESS}
    assert keys(lg.lineage(conn, POP, "up", depth=2).nodes.values()) == {POP, STG, ADDRESS, RAW}
    assert keys(lg.lineage(conn, POP, "up", depth=0).nodes.values()) == {POP}


def test_downstream_reaches_reports_and_exports_and_ignores_retired_edges(conn):
    graph = lg.lineage(conn, RAW, "down")
    assert {n.dataset: n.distance for n in graph.downstream()} == {
        STG: 1, POP: 2, ROSTER: 3, TSFA: 3, REPORT: 3, EXPORT: 4,
    }  # fmt: skip
    assert "special.low_income_checks" not in graph.nodes  # its only edge is retired
    assert graph.nodes[REPORT].is_consumer and graph.nodes[EXPORT].layer == "export"
    both = lg.lineage(conn, POP, "both", depth=1)
    assert {n.dataset: n.distance for n in both.nodes.values()} == {
        STG: -1, ADDRESS: -1, POP: 0, ROSTER: 1, TSFA: 1, REPORT: 1,
    }  # fmt: skip


def test_an_edge_seen_by_several_origins_is_one_edge_listing_them(conn):
    graph = lg.lineage(conn, LAKE, "up")
    extract = edge(graph, SOURCE, LAKE)
    assert len(graph.edges) == 1
    assert extract.origins == ["openlineage", "catalog"]  # both rows, one edge
    assert extract.transformation == "DIRECT/IDENTITY"  # the catalog said what it is
    assert extract.description == "抽取 extract"


def test_cycles_end_the_walk(conn):
    graph = lg.lineage(conn, HANDLING, "down")
    assert {n.dataset: n.distance for n in graph.nodes.values()} == {HANDLING: 0, HOTSPOTS: 1}
    assert {e.key for e in graph.edges} == {
        (HANDLING, "", HOTSPOTS, ""), (HOTSPOTS, "", HANDLING, "")}  # fmt: skip
    both = lg.lineage(conn, HOTSPOTS, "both")
    assert both.nodes[HANDLING].distance == 1  # nearest either way; downstream on a tie
    ET.fromstring(lineage_svg(both))  # the picture is drawn despite the cycle


# ---------------------------------------------------------------------------------------
# Column level


def test_column_upstream_follows_field_edges_then_the_same_named_column(conn):
    graph = lg.lineage(conn, f"{POP}.id_number", "up")
    assert graph.level == "column" and (graph.target, graph.field) == (POP, "id_number")
    reached = {(n.dataset, c.name) for n in graph.nodes.values() for c in n.columns}
    assert reached == {(POP, "id_number"), (STG, "id_number"), (RAW, "id_number"),
                       (LAKE, "id_number"), (SOURCE, "id_number")}  # fmt: skip
    staged = edge(graph, RAW, STG, "id_number", "id_number")
    assert staged.origins == ["manual", "openlineage"] and not staged.inferred
    assert staged.transformation == "DIRECT/TRANSFORMATION"  # manual words come first
    assert staged.description == "trim(id_number)"
    loaded = edge(graph, LAKE, RAW, "id_number", "id_number")
    assert loaded.inferred and loaded.job == "ingest__police__person.load"
    extracted = edge(graph, SOURCE, LAKE, "id_number", "id_number")
    assert not extracted.inferred  # the catalog's own field edge
    column = graph.nodes[RAW].columns[0]
    assert (column.name, column.grade, column.data_element) == ("id_number", "L4", "KP.DE.0102")
    # the standard addresses feed the population table, but they have no id_number
    assert ADDRESS not in graph.nodes
    # a field edge from staging does not keep the walk from the standard addresses, whose
    # edge into the population table is known at table level only: by name
    towns = lg.lineage(conn, f"{POP}.town_code", "up")
    assert keys(towns.nodes.values()) == {POP, STG, ADDRESS, RAW, LAKE, SOURCE}
    assert edge(towns, ADDRESS, POP, "town_code", "town_code").inferred
    assert not edge(towns, STG, POP, "town_code", "town_code").inferred


def test_column_downstream_keeps_to_the_column(conn):
    graph = lg.lineage(conn, f"{RAW}.id_number", "down")
    # not via town_code to 二标四实; the report reads the whole population library
    assert keys(graph.downstream()) == {STG, POP, ROSTER, REPORT}
    assert edge(graph, POP, REPORT, "id_number", "").inferred
    joined = edge(graph, POP, ROSTER, "id_number", "id_number")
    assert joined.transformation == "INDIRECT/JOIN" and joined.masking
    assert "脱敏 the step masks the values" in lineage_svg(graph)
    town = lg.lineage(conn, f"{RAW}.town_code", "down")
    assert keys(town.downstream()) == {STG, POP, TSFA, EXPORT, REPORT}
    # no field edge leaves 二标四实: its table edge carries the column to the export
    published = edge(town, TSFA, EXPORT, "actual_population", "")
    assert published.inferred and published.description == "dbt exposure open_data_export"
    assert not edge(town, RAW, STG, "town_code", "town_code").inferred
    assert [c.name for c in town.nodes[TSFA].columns] == ["actual_population"]


def test_a_consumer_known_only_by_a_table_edge_is_reached_from_every_column(conn):
    # the daily report also reads staging directly (a dbt exposure: a table edge only),
    # while staging's columns have field edges into the population library
    add_edges(conn, [(STG, "", REPORT, "", None, "dbt exposure quality_daily_report", None,
                      None, "dbt")])  # fmt: skip
    down = lg.lineage(conn, f"{STG}.id_number", "down")
    assert down.nodes[REPORT].distance == 1 and down.nodes[REPORT].whole
    read = edge(down, STG, REPORT, "id_number", "")
    assert read.inferred and read.description == "dbt exposure quality_daily_report"
    assert not edge(down, STG, POP, "id_number", "id_number").inferred
    found = lg.impact(conn, f"{STG}.id_number")
    assert [(n.dataset, n.owner) for n in found.consumers] == [(REPORT, "数据质量科")]
    assert {o["owner"]: o["consumers"] for o in found.owners}["数据质量科"] == [REPORT]
    shown = runner.invoke(app, ["impact", f"{STG}.id_number"])
    assert shown.exit_code == 0, shown.output
    assert REPORT in shown.output and "数据质量科" in shown.output


def test_a_column_a_model_with_column_lineage_does_not_use_is_not_inferred_into_it(conn):
    # the identity check takes id_number from staging and name from the roster: its column
    # lineage is known, and staging's name is not part of it
    check = "special.identity_check"
    add_dataset(conn, check, ("model", "special", "身份核验", None, "开平市侨务局", None, None,
                              "L4"), ["id_number", "name"])  # fmt: skip
    job = "model.kaiping.identity_check"
    add_edges(conn, [
        (STG, "", check, "", None, "dbt model identity_check", job, None, "dbt"),
        (ROSTER, "", check, "", None, "dbt model identity_check", job, None, "dbt"),
        (STG, "id_number", check, "id_number", "DIRECT/IDENTITY", None, job, None,
         "openlineage"),
        (ROSTER, "name", check, "name", "DIRECT/IDENTITY", None, job, None, "openlineage"),
    ])  # fmt: skip
    assert check not in lg.lineage(conn, f"{STG}.name", "down").nodes
    assert check in lg.lineage(conn, f"{STG}.id_number", "down").nodes
    # upstream alike: from the roster's name, not staging's, and not on into the population
    # library (whose column lineage into the roster carries only id_number)
    up = lg.lineage(conn, f"{check}.name", "up")
    assert keys(up.nodes.values()) == {check, ROSTER}
    assert not edge(up, ROSTER, check, "name", "name").inferred and len(up.edges) == 1


# ---------------------------------------------------------------------------------------
# Resolution


def test_the_longest_dataset_key_wins_and_typos_get_suggestions(conn):
    assert lg.resolve(conn, "basic.population.id_number") == (POP, "id_number")
    assert lg.resolve(conn, "BASIC.Population") == (POP, None)
    assert lg.resolve(conn, SOURCE + ".name") == (SOURCE, "name")
    with pytest.raises(lg.TargetNotFound) as typo:
        lg.resolve(conn, "basic.populaton")
    assert POP in typo.value.suggestions
    assert "no dataset or column 'basic.populaton'" in str(typo.value)
    assert "did you mean" in str(typo.value) and str(typo.value).startswith("元数据库中没有")
    with pytest.raises(lg.TargetNotFound) as column:
        lg.resolve(conn, "basic.population.id_numbr")
    assert "dataset basic.population has no column 'id_numbr'" in str(column.value)
    assert column.value.suggestions == ["basic.population.id_number"]
    with pytest.raises(lg.TargetNotFound) as by_name:
        lg.resolve(conn, "人口基础")
    assert by_name.value.suggestions == [POP]  # found by its Chinese name


def test_an_empty_store_says_to_harvest(platform):
    with connect(autocommit=True) as conn:
        ensure_schema(conn)
        with pytest.raises(lg.StoreUnavailable, match="govlake metadata harvest"):
            lg.lineage(conn, POP)
        conn.execute(_metadata_ddl())  # the tables, but nothing harvested
        with pytest.raises(lg.StoreUnavailable, match="元数据库为空"):
            lg.impact(conn, POP)


# ---------------------------------------------------------------------------------------
# Impact


def test_impact_of_a_table(conn):
    found = lg.impact(conn, RAW)
    assert [n.dataset for n in found.datasets][:2] == [RAW, STG]
    layers = found.by_layer()
    assert list(layers) == ["raw", "staging", "basic", "special", "report", "export"]
    assert keys(layers["special"]) == {ROSTER, TSFA} and ADDRESS not in keys(found.datasets)
    assert {(n.dataset, n.owner) for n in found.consumers} == {
        (REPORT, "数据质量科"), (EXPORT, "数据开放科")}  # fmt: skip
    assert {r["rule_id"] for r in found.rules} == {r[0] for r in RULES}
    assert {(o["table_name"], o["state"]) for o in found.work_orders} == {
        (RAW, "in_progress"),
        (TSFA, "open"),
    }  # the closed order is not listed
    owners = {o["owner"]: o for o in found.owners}
    assert owners["开平市公安局户政管理大队"]["rules"] == 3
    assert owners["开平市公安局户政管理大队"]["work_orders"] == 1
    assert owners["数据开放科"]["consumers"] == [EXPORT]
    assert owners["未登记 unregistered"]["datasets"] == [STG]  # staging has no owner yet


def test_impact_of_a_column_keeps_to_what_it_touches(conn):
    found = lg.impact(conn, f"{RAW}.id_number")
    assert keys(found.datasets) == {RAW, STG, POP, ROSTER, REPORT}
    # the report reads the whole population library (an exposure: a table edge only)
    assert [(n.dataset, n.owner) for n in found.consumers] == [(REPORT, "数据质量科")]
    rules = {r["rule_id"] for r in found.rules}
    assert rules == {
        "raw.police__person:completeness:id_number",
        "raw.police__person:delivery",  # a table-wide rule is touched by any column
        "staging.stg_police__person:uniqueness:id_number",
    }
    assert [o["state"] for o in found.work_orders] == ["in_progress"]
    as_json = json.loads(json.dumps(found.to_dict(), default=str))
    assert as_json["level"] == "column" and as_json["field"] == "id_number"
    assert as_json["by_layer"]["special"] == [ROSTER]


# ---------------------------------------------------------------------------------------
# Pictures


def test_svg_is_well_formed_with_a_box_per_dataset_and_column_rows(conn):
    graph = lg.lineage(conn, f"{POP}.id_number", "both")
    root = ET.fromstring(lineage_svg(graph))
    assert root.tag == f"{SVG}svg"
    boxes = root.findall(f".//{SVG}g[@data-dataset]")
    assert {b.get("data-dataset") for b in boxes} == set(graph.nodes)
    assert len(root.findall(f".//{SVG}g[@data-source]")) == len(graph.edges)
    target = next(b for b in boxes if b.get("data-dataset") == POP)
    assert "target" in target.get("class") and "layer-basic" in target.get("class")
    rows = [t.text for t in target.findall(f"{SVG}text") if t.get("class") == "row"]
    assert rows == ["id_number"]
    titles = [e.find(f"{SVG}title").text for e in root.findall(f".//{SVG}g[@data-source]")]
    assert any("转换 transformation: INDIRECT/JOIN" in t for t in titles)
    assert any("按同名字段推断" in t for t in titles)  # the inferred lake → raw step
    # left to right: upstream boxes sit left of the target, downstream to its right
    x = {b.get("data-dataset"): float(b.find(f"{SVG}rect").get("x")) for b in boxes}
    assert x[SOURCE] < x[LAKE] < x[RAW] < x[STG] < x[POP] < x[ROSTER]
    assert standalone_svg(graph).startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_html_page_is_chinese_first_with_legend_edges_and_escaped_sql(conn):
    graph = lg.lineage(conn, RAW, "both")
    page = lineage_html(graph)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "数据血缘" in page and "Data lineage" in page
    assert 'id="legend"' in page and "原始库 raw" in page and "报表 report" in page
    assert "where _batch_id &lt; &#x27;z&#x27;" in page  # the SQL, escaped
    assert "<script" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")  # fmt: skip
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    ET.fromstring(svg)


# ---------------------------------------------------------------------------------------
# Command line


def test_lineage_and_impact_commands(conn, tmp_path):
    svg, html = tmp_path / "pop.svg", tmp_path / "pop.html"
    result = runner.invoke(
        app, ["lineage", POP, "--up", "--depth", "2", "--svg", str(svg), "--html", str(html)]
    )
    assert result.exit_code == 0, result.output
    assert "数据血缘 Lineage of basic.population" in result.output
    assert STG in result.output and RAW in result.output and LAKE not in result.output
    ET.parse(svg)
    assert "数据血缘" in html.read_text(encoding="utf-8")

    impact = runner.invoke(app, ["impact", RAW])
    assert impact.exit_code == 0, impact.output
    assert "影响分析" in impact.output and EXPORT in impact.output and "数据开放科" in impact.output
    as_json = runner.invoke(app, ["impact", f"{RAW}.id_number", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert {d["dataset"] for d in json.loads(as_json.output)["datasets"]} == {
        RAW, STG, POP, ROSTER, REPORT}  # fmt: skip

    typo = runner.invoke(app, ["lineage", "basic.populaton"])
    assert typo.exit_code == 1
    assert "basic.populaton" in typo.output and POP in typo.output
