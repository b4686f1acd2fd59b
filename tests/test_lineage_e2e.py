"""A column's whole way, from a department's system to a special-topic library, and what a
change to it would touch — from real runs only.

The 12345 hotline's tickets come from the hotline system's REST API: the ingestion DAG runs
through Airflow (extract → load → audit, each step sending its OpenLineage events), dbt
builds the special-topic library ``special.hotline_handling`` and its upstream models
through dbt-ol (its events carry column lineage parsed from the compiled SQL), and the
metadata store harvests the catalog, dbt's artefacts, the warehouse and the events. The
field ``status`` is renamed on its way (``ticket_status`` in staging), so following it proves
the column lineage is read from the SQL, not guessed from names.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest
from govlake.catalog.loader import default_catalog
from govlake.cli import app
from govlake.governance.store import connect
from govlake.lineage import naming
from govlake.lineage.graph import impact, lineage
from govlake.lineage.store import harvest
from govlake.lineage.transport import events_file
from govlake.lineage.validate import validate_file
from govlake.orchestration.runner import run_ingest_dag
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate
from govlake.transform.dbt import run_dbt
from govlake.transform.prepare import prepare_warehouse
from typer.testing import CliRunner

SCALE, SEED = 200, 5
RESOURCE = "govdata.hotline_ticket"
SPECIAL = "special.hotline_handling"


@pytest.fixture
def hotline_city(platform, departments, hotline_api, airflow_db, tmp_path) -> Path:
    simulate(scale=SCALE, seed=SEED, day=1)
    on = business_date(1)
    run = run_ingest_dag(RESOURCE, on)  # through Airflow: the provider's events as well
    assert run.state == "success", run.task_states
    # the business-date model reads every raw table: the other resources land directly
    for other in sorted(set(default_catalog().resources) - {RESOURCE}):
        landed = extract_resource(other, on)
        load_resource(other, on, landed["batch_id"])
    prepare_warehouse()
    target = tmp_path / "dbt_target"
    build = ("build", "--select", "+hotline_handling", "--indirect-selection", "cautious")
    for args in (build, ("docs", "generate")):
        result = run_dbt(*args, "--target-path", str(target), capture=True)
        assert result.returncode == 0, result.stdout[-4000:]
    with connect() as conn:
        harvest(conn, dbt_target=target)
    return target


def _into(graph) -> dict[tuple[str, str], list]:
    """Each (dataset, field) of a column-level graph → the edges that lead into it."""
    into: dict[tuple[str, str], list] = {}
    for edge in graph.edges:
        into.setdefault((edge.target, edge.target_field), []).append(edge)
    return into


def test_a_source_field_reaches_a_special_topic_field_and_back(hotline_city):
    resource = default_catalog().resource(RESOURCE)
    source = naming.source_key(resource)
    lake = f"lake:{naming.lake_prefix(resource)}"
    raw = f"raw.{resource.raw_table}"
    staging = "staging.stg_govdata__hotline_ticket"

    # every event this city produced is valid OpenLineage
    assert validate_file(events_file()) == []

    with connect() as conn:
        up = lineage(conn, f"{SPECIAL}.ticket_status", "up", None)
    into = _into(up)
    chain = [
        ((SPECIAL, "ticket_status"), (staging, "ticket_status")),
        ((staging, "ticket_status"), (raw, "status")),
        ((raw, "status"), (lake, "status")),
        ((lake, "status"), (source, "status")),
    ]
    for target, expected_source in chain:
        sources = {(e.source, e.source_field) for e in into.get(target, [])}
        assert expected_source in sources, (target, sorted(sources))
    # the renamed step is known from the model's SQL (an OpenLineage column-lineage edge),
    # not inferred from equal names
    renamed = [e for e in into[(staging, "ticket_status")] if e.source_field == "status"]
    assert renamed and not any(e.inferred for e in renamed)
    assert "openlineage" in renamed[0].origins
    # the extract and load steps are the platform's own events, with the job that ran them
    extract = next(e for e in into[(lake, "status")] if e.source == source)
    assert "openlineage" in extract.origins and extract.job.endswith(f"extract.{RESOURCE}")

    # downstream from the department's field, the same way in reverse
    with connect() as conn:
        down = lineage(conn, f"{source}.status", "down", None)
    reached = {(n.dataset, c.name) for n in down.nodes.values() for c in n.columns}
    assert {(lake, "status"), (raw, "status"), (staging, "ticket_status"),
            (SPECIAL, "ticket_status")} <= reached  # fmt: skip


def test_impact_of_a_raw_column_names_models_rules_reports_and_owners(hotline_city):
    resource = default_catalog().resource(RESOURCE)
    raw = f"raw.{resource.raw_table}"
    with connect() as conn:
        found = impact(conn, f"{raw}.status")
        rule_rows = conn.execute(
            "select rule_id from governance.quality_rule where table_name = %s "
            "and column_name = 'status'",
            (raw,),
        ).fetchall()
    touched = {(d.dataset, c.name) for d in found.datasets for c in d.columns}
    assert ("staging.stg_govdata__hotline_ticket", "ticket_status") in touched
    assert (SPECIAL, "ticket_status") in touched
    # the special-topic library belongs to the bureau's application team (dbt meta.owner)
    owners = {d.dataset: d.owner for d in found.datasets}
    assert owners[SPECIAL] == "开平市政务服务数据管理局数据应用科"
    # the quality rules defined on the column are part of what a change touches
    assert rule_rows, "the catalog generates rules for raw.govdata__hotline_ticket.status"
    assert {r[0] for r in rule_rows} <= {rule["rule_id"] for rule in found.rules}
    # and the hotline dashboard, a report built on the special-topic library, with its owner
    reports = {c.dataset: c.owner for c in found.consumers}
    assert any(key.startswith("report:") and "hotline" in key for key in reports), reports
    assert all(reports.values())


def test_the_commands_print_and_draw_it(hotline_city, tmp_path):
    runner = CliRunner()
    svg = tmp_path / "status.svg"
    result = runner.invoke(app, ["lineage", f"{SPECIAL}.ticket_status", "--up", "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    assert "stg_govdata__hotline_ticket" in result.output and "source:" in result.output
    drawing = ElementTree.parse(svg).getroot()
    labels = "".join(drawing.itertext())
    assert "lake:raw/govdata/hotline_ticket" in labels and SPECIAL in labels

    result = runner.invoke(app, ["impact", "raw.govdata__hotline_ticket.status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert SPECIAL in json.dumps(report, ensure_ascii=False)


def test_the_morning_harvest_dag_follows_a_new_day_and_rebuilds_the_site(hotline_city):
    """Day 2 lands through Airflow; the harvest DAG records what changed (who: the DAG)
    in a new snapshot, and rebuilds the catalog site with a page per dataset."""
    from govlake import config
    from govlake.orchestration.runner import run_metadata_dag

    with connect() as conn:
        [(before,)] = conn.execute("select max(snapshot_id) from governance.md_snapshot")
    simulate(scale=SCALE, seed=SEED, day=2)
    assert run_ingest_dag(RESOURCE, business_date(2)).state == "success"
    run = run_metadata_dag()
    assert run.state == "success", run.task_states
    assert run.task_states == {"harvest": "success", "catalog_site": "success"}
    with connect() as conn:
        [(after, taken_by)] = conn.execute(
            "select snapshot_id, taken_by from governance.md_snapshot "
            "order by snapshot_id desc limit 1"
        )
        [(datasets,)] = conn.execute(
            "select count(*) from governance.md_dataset where dropped_at is null"
        )
    assert after > before and taken_by == "airflow:harvest_metadata"
    site = config.output_dir() / "catalog"
    pages = list((site / "datasets").glob("*.html"))
    assert (site / "index.html").exists() and len(pages) == datasets
