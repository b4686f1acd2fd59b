"""The metadata store (元数据) filled from a simulated city, and how it follows the city.

One platform: three resources (a CSV drop, two departmental databases) are ingested day
after day through their Airflow DAGs, so raw tables, batch partitions and the platform's
own OpenLineage events are real; dbt builds two staging models and writes its docs
(manifest and catalog.json); then the store is harvested. The assertions compare the store
with what each origin says on its own terms — the catalog files, dbt's manifest, the
warehouse's information_schema, the events file, governance.schema_drift — never with the
store's own logic. From day 3 the simulator adds a column to two sources (schema drift);
between harvests the test alters a table the way a DBA would.

The last test feeds a small hand-written event log to the event harvester: it is a parser
unit test for parts of the OpenLineage spec the platform's emitters do not use (indirect
lineage, masking, FAIL, START and RUNNING events, superseding, a line still being written,
lines that are JSON but not events the harvester can apply), not a stand-in for real
events.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from govlake import config
from govlake.catalog.loader import load_catalog
from govlake.cli import app
from govlake.governance.store import connect
from govlake.lineage import naming
from govlake.lineage.access import grant, revoke, samples
from govlake.lineage.manual import add_edge, annotate, set_owner
from govlake.lineage.store import MetadataError, diff, harvest, history, resolve_snapshot
from govlake.lineage.transport import events_file
from govlake.orchestration.runner import run_ingest_dag
from govlake.quality.masking import mask_text
from govlake.simulate import business_date, simulate
from govlake.transform.dbt import run_dbt
from govlake.transform.prepare import prepare_warehouse
from typer.testing import CliRunner

SCALE, SEED = 300, 3
RESOURCES = ("civil.low_income", "market.enterprise", "police.person")
MODELS = ("stg_civil__low_income", "stg_market__enterprise")  # none reads police.person
DRIFT = {"market.enterprise": "website", "civil.low_income": "disability_grade"}


def _rows(query: str, params: tuple | dict = ()) -> list[tuple]:
    with connect() as conn:
        return conn.execute(query, params).fetchall()


def _ingest(day: int) -> None:
    simulate(scale=SCALE, seed=SEED, day=day)
    for resource_id in RESOURCES:
        run = run_ingest_dag(resource_id, business_date(day))
        assert run.state == "success", (day, resource_id, run.task_states)


def _build(target: Path) -> None:
    prepare_warehouse()
    selection = [f"+{model}" for model in MODELS]
    for args in (
        ("build", "--select", *selection, "--resource-type", "model", "seed"),
        ("docs", "generate"),
    ):
        result = run_dbt(*args, "--target-path", str(target), capture=True)
        assert result.returncode == 0, result.stdout[-4000:]


def _harvest(target: Path, **options):
    with connect() as conn:
        return harvest(conn, dbt_target=target, **options)


def _columns(schema: str, table: str) -> dict[str, str]:
    """What the warehouse itself says: column → information_schema data_type."""
    return dict(
        _rows(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s",
            (schema, table),
        )
    )


def _fields(dataset: str) -> dict[str, dict]:
    with connect() as conn:
        cur = conn.execute(
            "select * from governance.md_field where dataset = %s and dropped_at is null",
            (dataset,),
        )
        names = [c.name for c in cur.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def _dataset(dataset: str) -> dict | None:
    with connect() as conn:
        cur = conn.execute("select * from governance.md_dataset where dataset = %s", (dataset,))
        row = cur.fetchone()
        names = [c.name for c in cur.description]
        return None if row is None else dict(zip(names, row, strict=True))


def _live_edges(origin: str) -> set[tuple]:
    return set(
        _rows(
            "select source_dataset, source_field, target_dataset, target_field "
            "from governance.md_edge where origin = %s and retired_at is null",
            (origin,),
        )
    )


def _change_count() -> int:
    return _rows("select count(*) from governance.md_change")[0][0]


@pytest.fixture
def city(platform, departments, hotline_api, airflow_db, tmp_path) -> Path:
    """Day 1 ingested, staging built and documented; returns dbt's target folder."""
    target = tmp_path / "dbt_target"
    _ingest(1)
    _build(target)
    return target


def test_the_metadata_store_follows_the_city(city: Path, monkeypatch):
    first = _harvest(city)
    assert first.snapshot_id is not None and first.events > 0
    assert first.unreadable_events == 0, first.notes  # every real event can be applied
    _catalog_datasets_fields_and_edges(first)
    _dbt_models_and_the_warehouse_columns(city)
    _openlineage_events_of_the_runs()
    _harvesting_again_changes_nothing(city)
    baseline = _manual_additions_survive_harvests(city, monkeypatch)

    _ingest(2)
    _ingest(3)  # the simulator's schema drift starts on day 3
    after_drift = _harvest(city)
    _the_diff_shows_the_drift_with_its_time(baseline, after_drift)
    _an_altered_table_shows_in_the_diff(city)
    _samples_are_masked_unless_granted()
    _snapshots_by_date()
    _the_command_line(baseline)


def _catalog_datasets_fields_and_edges(summary) -> None:
    catalog = load_catalog()
    assert summary.changes[("added", "dataset")] == summary.datasets
    for resource in catalog.resources.values():  # every resource, ingested or not
        for key in (naming.source_key(resource), f"lake:{naming.lake_prefix(resource)}",
                    f"raw.{resource.raw_table}"):  # fmt: skip
            entry = _dataset(key)
            assert entry is not None, key
            assert (entry["resource_id"], entry["owner"], entry["department"]) == (
                resource.id, resource.owner, resource.department), key  # fmt: skip
            assert entry["dropped_at"] is None and "catalog" in entry["origins"]
            assert entry["grade"] == resource.max_grade, key

    resource = catalog.resource("civil.low_income")
    raw = _fields("raw.civil__low_income")
    warehouse = _columns("raw", "civil__low_income")
    assert set(raw) == set(warehouse)  # exactly the columns the table has (_extra, _batch_id …)
    for f in resource.fields:
        assert raw[f.name]["data_element"] == f.element.id
        assert raw[f.name]["grade"] == f.grade and raw[f.name]["grade_basis"] == "catalog"
        assert raw[f.name]["data_type"].startswith(warehouse[f.name])
    assert set(_fields(naming.source_key(resource))) >= set(resource.field_names)

    source, lake = naming.source_key(resource), f"lake:{naming.lake_prefix(resource)}"
    catalog_edges = _live_edges("catalog")
    for name in resource.field_names:
        assert (source, name, lake, name) in catalog_edges
        assert (lake, name, "raw.civil__low_income", name) in catalog_edges
    extract = _rows(
        "select transformation, job, description from governance.md_edge "
        "where origin = 'catalog' and source_dataset = %s and source_field = 'id_number'",
        (source,),
    )
    assert extract == [("DIRECT/IDENTITY", "ingest__civil__low_income.extract", extract[0][2])]
    assert extract[0][2].startswith("抽取 extract")

    # batch partitions (attached ones, at least one per load) are not datasets of their own
    partitions = _rows(
        "select count(*) from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'raw'"
    )
    assert partitions[0][0] >= len(RESOURCES)
    assert not _rows("select dataset from governance.md_dataset where dataset ~ '__b[0-9]'")
    added = _rows(
        "select count(*) from governance.md_change where changed_by = 'harvest' "
        "and action = 'added' and object_kind = 'dataset'"
    )
    assert added[0][0] == summary.datasets


def _dbt_models_and_the_warehouse_columns(target: Path) -> None:
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest["nodes"]
    for model in MODELS:
        node = nodes[f"model.kaiping.{model}"]
        entry = _dataset(f"staging.{model}")
        assert (entry["kind"], entry["layer"]) == ("model", "staging")
        assert entry["description"] == node["description"]
        assert {"dbt", "information_schema"} <= set(entry["origins"])
        fields, warehouse = _fields(f"staging.{model}"), _columns("staging", model)
        assert set(fields) == set(warehouse)
        for name, data_type in warehouse.items():
            assert fields[name]["data_type"].startswith(data_type), (model, name)
        # the model's table edges carry its compiled SQL
        sql = _rows(
            "select sql from governance.md_edge where origin = 'dbt' and target_dataset = %s "
            "and source_dataset = %s",
            (f"staging.{model}", f"raw.{model.removeprefix('stg_')}"),
        )
        assert sql and sql[0][0] == node["compiled_code"] and "{{" not in sql[0][0]
    # a grade follows the data: staging's identity number is as sensitive as raw's (through
    # its column lineage when an origin gives one, else the same-named column upstream)
    id_number = _fields("staging.stg_civil__low_income")["id_number"]
    assert id_number["grade"] == "L4"
    assert id_number["grade_basis"] in (
        "lineage:raw.civil__low_income.id_number",
        "upstream:raw.civil__low_income.id_number",
    )
    # an input with no known grade counts as L3: staging reads disability_grade out of raw
    # `_extra` (what a source sends undeclared), which has no grade and nothing upstream yet
    extra = _fields("raw.civil__low_income")["_extra"]
    assert (extra["grade"], extra["grade_basis"]) == (None, None)
    disability = _fields("staging.stg_civil__low_income")["disability_grade"]
    assert (disability["grade"], disability["grade_basis"]) == (
        "L3", "ungraded:raw.civil__low_income._extra")  # fmt: skip
    # a model not built yet is known from the manifest alone, with its declared columns
    population = nodes["model.kaiping.population"]
    entry = _dataset("basic.population")
    assert (entry["kind"], entry["origins"]) == ("model", ["dbt"])
    assert set(_fields("basic.population")) == set(population["columns"])
    # sources are the raw tables, seeds and exposures datasets of their own
    assert "dbt" in _dataset("raw.police__person")["origins"]
    for seed in (n for n in nodes.values() if n["resource_type"] == "seed"):
        assert _dataset(f"{seed['schema']}.{seed['alias']}")["kind"] == "seed"
    # owners: a model's meta.owner; an exposure's owner, its layer from its meta or type
    for node in (n for n in nodes.values() if n["resource_type"] == "model"):
        owner = node["config"]["meta"].get("owner")
        if owner:
            assert _dataset(f"{node['schema']}.{node['alias']}")["owner"] == owner
    for exposure in manifest["exposures"].values():
        found = _rows(
            "select dataset, layer, owner from governance.md_dataset where kind = 'exposure' "
            "and dataset = any(%s)",
            ([f"report:{exposure['name']}", f"export:{exposure['name']}"],),
        )
        layer = exposure["config"]["meta"].get("layer") or (
            "export" if exposure["type"] in ("application", "ml") else "report")  # fmt: skip
        assert found == [(f"{layer}:{exposure['name']}", layer, exposure["owner"]["name"])]
        parents = _rows(
            "select source_dataset from governance.md_edge where origin = 'dbt' "
            "and target_dataset = %s",
            (found[0][0],),
        )
        assert len(parents) == len(exposure["depends_on"]["nodes"])


def _openlineage_events_of_the_runs() -> None:
    """What the platform's runs emitted is in the store: each job's latest column lineage
    per output as live edges, each quality assertion, and the offset at the log's end."""
    path = events_file()
    size = path.stat().st_size
    offset = _rows("select byte_offset from governance.md_harvest_offset where source = %s",
                   (f"openlineage:{path}",))  # fmt: skip
    assert offset == [(size,)]
    latest: dict[tuple[str, str], dict] = {}
    assertions = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        for dataset in event.get("inputs") or []:
            facet = (dataset.get("inputFacets") or {}).get("dataQualityAssertions")
            for item in (facet or {}).get("assertions", []):
                key = naming.dataset_key(dataset["namespace"], dataset["name"])
                assertions.add(
                    (
                        key,
                        item.get("column") or "",
                        item.get("name") or item["assertion"],
                        event["run"]["runId"],
                    )
                )
        if event.get("eventType") in ("FAIL", "ABORT"):
            continue
        for output in event.get("outputs") or []:
            lineage = (output.get("facets") or {}).get("columnLineage")
            if lineage:
                key = naming.dataset_key(output["namespace"], output["name"])
                latest[(event["job"]["name"], key)] = lineage
    edges = set(
        _rows(
            "select job, source_dataset, source_field, target_dataset, target_field "
            "from governance.md_edge where origin = 'openlineage' and retired_at is null"
        )
    )
    expected = {
        (job, naming.dataset_key(i["namespace"], i["name"]), i["field"], output, field)
        for (job, output), lineage in latest.items()
        for field, spec in lineage["fields"].items()
        for i in spec["inputFields"]
    }
    assert expected and expected <= edges
    # the extract and load steps' own column lineage: source → lake → raw, per field
    resource = load_catalog().resource("civil.low_income")
    lake = f"lake:{naming.lake_prefix(resource)}"
    assert any(e[1:] == (naming.source_key(resource), "id_number", lake, "id_number")
               for e in edges)  # fmt: skip
    assert any(e[1:] == (lake, "id_number", "raw.civil__low_income", "id_number") for e in edges)
    stored = set(_rows("select dataset, field, assertion, run_id from governance.md_assertion"))
    assert assertions and stored == assertions


def _harvesting_again_changes_nothing(target: Path) -> None:
    before = _change_count()
    again = _harvest(target)
    assert again.changed == 0 and again.changes == {}
    assert _change_count() == before
    with connect() as conn:
        assert diff(conn, "previous", "latest").empty


def _manual_additions_survive_harvests(target: Path, monkeypatch) -> int:
    monkeypatch.setenv("GOVLAKE_USER", "zhang.wei")
    catalog_owner = load_catalog().resource("civil.low_income").owner
    with connect() as conn:
        edge_id = add_edge(
            conn, "staging.stg_civil__low_income", "report:low_income_monthly",
            description="民政局每月在平台外用 Excel 制作的低保月报 · the monthly low-income "
            "report the bureau makes in Excel outside the platform",
            job="民政局月报 monthly report",
        )  # fmt: skip
        set_owner(conn, "raw.civil__low_income", "开平市民政局数据管理员 · data steward")
        annotate(conn, "raw.civil__low_income", "category",
                 description="救助类别：低保、特困、低边 · category of assistance")  # fmt: skip
        with pytest.raises(MetadataError, match="no field 'no_such_field'"):
            annotate(conn, "raw.civil__low_income", "no_such_field", description="x")
    audit = _rows(
        "select action, object_kind, object, before, after from governance.md_change "
        "where changed_by = 'zhang.wei' order by change_id"
    )
    by_object = {(action, obj): (kind, before, after) for action, kind, obj, before, after in audit}
    assert ("added", "staging.stg_civil__low_income → report:low_income_monthly") in by_object
    assert by_object[("added", "report:low_income_monthly")][0] == "dataset"
    kind, before, after = by_object[("updated", "raw.civil__low_income")]
    assert (kind, before["owner"], after["owner"]) == (
        "owner", catalog_owner, "开平市民政局数据管理员 · data steward")  # fmt: skip
    after = by_object[("updated", "raw.civil__low_income.category")][2]
    assert after["description"] == "救助类别：低保、特困、低边 · category of assistance"
    assert "manual" in after["origins"]

    later = _harvest(target, label="after manual additions")
    assert later.changed == 0
    edge = _rows("select origin, retired_at, description from governance.md_edge "
                 "where edge_id = %s", (edge_id,))  # fmt: skip
    assert edge[0][:2] == ("manual", None) and "Excel" in edge[0][2]
    assert _dataset("raw.civil__low_income")["owner"] == "开平市民政局数据管理员 · data steward"
    assert _fields("raw.civil__low_income")["category"]["description"].startswith("救助类别")
    report = _dataset("report:low_income_monthly")
    assert (report["kind"], report["layer"], report["origins"]) == ("exposure", "report",
                                                                   ["manual"])  # fmt: skip
    return later.snapshot_id


def _the_diff_shows_the_drift_with_its_time(baseline: int, summary) -> None:
    catalog = load_catalog()
    found = _rows(
        "select resource_id, column_name, batch_id, detected_at from governance.schema_drift "
        "where change = 'added'"
    )
    assert {(r, c) for r, c, *_ in found} == set(DRIFT.items())
    assert summary.drift_recorded == len(found)
    with connect() as conn:
        result = diff(conn, baseline, "latest")
    for resource_id, column, batch_id, detected_at in found:
        resource = catalog.resource(resource_id)
        source, lake = naming.source_key(resource), f"lake:{naming.lake_prefix(resource)}"
        drift = [d for d in result.drift if d["object"] == f"{source}.{column}"]
        assert len(drift) == 1, (resource_id, result.drift)
        assert drift[0]["at"] == detected_at and drift[0]["batch_id"] == batch_id
        assert drift[0]["by"] == f"{resource.dag_id}.load"
        # the column reached the source and lake datasets, and raw through _extra
        added = {(d, f) for d, f, _ in result.fields_added}
        assert {(source, column), (lake, column)} <= added
        assert (lake, column, f"raw.{resource.raw_table}", "_extra") in result.edges_added
        # … where staging reads it out of _extra into a column of its own
        assert column in _fields(f"staging.stg_{resource.raw_table}")
    assert not result.fields_removed and not result.datasets_dropped
    with connect() as conn:
        market = naming.source_key(catalog.resource("market.enterprise"))
        logged = history(conn, f"{market}.website")
    # newest first: the field (and its edges) added by the harvest, after the drift itself
    actions = [(c["action"], c["object_kind"], c["changed_by"]) for c in logged]
    assert actions[-1] == ("drift", "field", "ingest__market__enterprise.load")
    assert ("added", "field", "harvest") in actions and ("added", "edge", "harvest") in actions
    assert _harvest_again_records_no_drift()


def _harvest_again_records_no_drift() -> bool:
    with connect() as conn:
        again = harvest(conn, sources=("information_schema",))
    return again.drift_recorded == 0 and again.changed == 0


def _an_altered_table_shows_in_the_diff(target: Path) -> None:
    with connect() as conn:
        conn.execute("alter table raw.police__person drop column ethnicity")
        conn.execute("alter table raw.police__person alter column relation_to_head "
                     "type varchar(20)")  # fmt: skip
    _harvest(target)
    with connect() as conn:
        result = diff(conn, "previous", "latest")
    assert result.fields_removed == [("raw.police__person", "ethnicity", "text")]
    assert result.fields_retyped == [
        ("raw.police__person", "relation_to_head", "text", "character varying(20)")]  # fmt: skip
    assert not result.datasets_added and not result.datasets_dropped
    logged = {
        obj: (action, before, after)
        for obj, action, before, after in _rows(
            "select object, action, before, after from governance.md_change "
            "where changed_by = 'harvest' and object_kind = 'field' and action <> 'added' "
            "and object like 'raw.police__person.%%'"
        )
    }
    assert logged.keys() == {"raw.police__person.ethnicity", "raw.police__person.relation_to_head"}
    action, before, _ = logged["raw.police__person.ethnicity"]
    assert (action, before["data_type"]) == ("removed", "text")
    assert logged["raw.police__person.relation_to_head"] == (
        "updated", {"data_type": "text"}, {"data_type": "character varying(20)"})  # fmt: skip
    dropped = _rows("select dropped_at from governance.md_field where dataset = "
                    "'raw.police__person' and name = 'ethnicity'")  # fmt: skip
    assert dropped[0][0] is not None


def _samples_are_masked_unless_granted() -> None:
    real = [r[0] for r in _rows("select distinct id_number from raw.civil__low_income "
                                "where id_number is not null order by 1 limit 5")]  # fmt: skip
    reads = "select count(*) from governance.md_change where action = 'read'"
    with connect() as conn:
        hidden = samples(conn, "raw.civil__low_income", "id_number", "li.ming")
    assert (hidden.grade, hidden.clearance, hidden.masked) == ("L4", "L2", True)
    assert hidden.values == [mask_text(v) for v in real] and hidden.values != real
    assert _rows(reads)[0][0] == 0

    with connect() as conn:
        grant(conn, "li.ming", "L4", "raw.civil__low_income", by="wang.fang")
        shown = samples(conn, "raw.civil__low_income", "id_number", "li.ming")
        town = samples(conn, "raw.civil__low_income", "town_code", "li.ming")  # L1: no log
        staging = samples(conn, "staging.stg_civil__low_income", "id_number", "li.ming")
        # the loader's bookkeeping is L1 and readable; `_extra` (what a source sent
        # undeclared) has no grade of its own, and since day 3 holds the drifted column,
        # which has none either: computed from an unknown grade, it is L3
        batch = samples(conn, "raw.civil__low_income", "_batch_id", "public")
        extra = samples(conn, "raw.civil__low_income", "_extra", "public")
    assert (shown.masked, shown.values) == (False, real)
    assert not town.masked and town.values
    assert staging.masked  # the grant is on the raw table only
    assert (batch.grade, batch.masked) == ("L1", False) and batch.values
    assert batch.values[0].startswith("2026")
    assert (extra.grade, extra.masked) == ("L3", True)
    source = naming.source_key(load_catalog().resource("civil.low_income"))
    drifted = _fields("lake:raw/civil/low_income")["disability_grade"]
    assert (drifted["grade"], drifted["grade_basis"]) == (
        "L3", f"ungraded:{source}.disability_grade")  # fmt: skip
    assert _fields(source)["disability_grade"]["grade"] is None  # nothing known upstream
    assert _fields("raw.civil__low_income")["_extra"]["grade_basis"] == (
        "lineage:lake:raw/civil/low_income.disability_grade")  # fmt: skip
    logged = _rows(
        "select changed_by, object, after from governance.md_change where action = 'read'"
    )
    assert logged == [("li.ming", "raw.civil__low_income.id_number",
                       {"grade": "L4", "clearance": "L4", "values": len(real)})]  # fmt: skip

    with connect() as conn:
        assert revoke(conn, "li.ming", "raw.civil__low_income", by="wang.fang")
        assert samples(conn, "raw.civil__low_income", "id_number", "li.ming").masked
        with pytest.raises(MetadataError, match="not a warehouse table"):
            samples(conn, "lake:raw/civil/low_income", "id_number", "li.ming")
    audit = _rows(
        "select action, changed_by, object, after->>'principal', "
        "coalesce(after->>'max_grade', before->>'max_grade') from governance.md_change "
        "where object_kind = 'grant' order by change_id"
    )
    assert audit == [
        ("granted", "wang.fang", "raw.civil__low_income", "li.ming", "L4"),
        ("revoked", "wang.fang", "raw.civil__low_income", None, "L4"),
    ]


def _snapshots_by_date() -> None:
    today = datetime.now(ZoneInfo(config.TIMEZONE)).date()
    with connect() as conn:
        latest = resolve_snapshot(conn, "latest")
        assert resolve_snapshot(conn, today.isoformat()) == latest
        with pytest.raises(MetadataError, match="no snapshot at or before"):
            resolve_snapshot(conn, (today - timedelta(days=1)).isoformat())


def _the_command_line(baseline: int) -> None:
    runner = CliRunner()
    harvested = runner.invoke(app, ["metadata", "harvest", "--source", "information_schema",
                                    "--by", "zhao.lei"])  # fmt: skip
    assert harvested.exit_code == 0, harvested.output
    assert "快照 snapshot" in harvested.output and "0 项变更 changes" in harvested.output
    table = runner.invoke(app, ["metadata", "show", "raw.civil__low_income"])
    assert table.exit_code == 0, table.output
    assert "KP.DE.0102" in table.output and "lake:raw/civil/low_income" in table.output
    assert "开平市民政局数据管理员" in table.output  # the owner set by hand
    shown = runner.invoke(app, ["metadata", "show", "raw.civil__low_income.id_number",
                                "--as", "li.ming"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "KP.DE.0102" in shown.output and "已脱敏 masked" in shown.output
    real = _rows("select id_number from raw.civil__low_income limit 1")[0][0]
    assert real not in shown.output
    compared = runner.invoke(app, ["metadata", "diff", "--from", str(baseline)])
    assert compared.exit_code == 0, compared.output
    assert "模式漂移" in compared.output and "website" in compared.output
    logged = runner.invoke(app, ["metadata", "history", "raw.civil__low_income"])
    assert logged.exit_code == 0 and "zhang.wei" in logged.output
    missing = runner.invoke(app, ["metadata", "show", "basic.no_such_table"])
    assert missing.exit_code == 1 and "no dataset or field 'basic.no_such_table'" in (
        missing.output)  # fmt: skip
    wrong = runner.invoke(app, ["metadata", "grant", "li.ming", "L5"])
    assert wrong.exit_code == 1 and "invalid grade 'L5'" in wrong.output


# --- the event harvester on its own ------------------------------------------------------

NS = "govlake-example"  # outside the warehouse: OpenLineage alone describes these datasets


def _event(event_type: str, run_id: str, outputs_lineage: dict, **extra) -> dict:
    """A hand-written OpenLineage 2-0-2 RunEvent (for this parser test only)."""
    return {
        "eventType": event_type,
        "eventTime": "2026-11-03T01:00:00+08:00",
        "producer": "https://example.invalid/hand-written-test-event",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "govlake", "name": "example.copy", "facets": {}},
        "inputs": [
            {
                "namespace": NS,
                "name": "orders",
                "facets": {"schema": {"fields": [{"name": "id", "type": "BIGINT"},
                                                 {"name": "phone", "type": "VARCHAR"},
                                                 {"name": "state", "type": "VARCHAR"}]}},
                "inputFacets": extra.get("input_facets", {}),
            }
        ],
        "outputs": [
            {
                "namespace": NS,
                "name": "orders_open",
                "facets": {
                    "schema": {"fields": [{"name": f} for f in outputs_lineage["fields"]]},
                    "columnLineage": outputs_lineage,
                    "documentation": {"description": "未结订单 open orders"},
                    "ownership": {"owners": [{"name": "team:orders"}]},
                },
            }
        ],
    }  # fmt: skip


def _input(field: str, kind: str, subtype: str, masking: bool = False) -> dict:
    return {"namespace": NS, "name": "orders", "field": field,
            "transformations": [{"type": kind, "subtype": subtype, "masking": masking,
                                 "description": f"{subtype.lower()} of {field}"}]}  # fmt: skip


def test_event_harvester_reads_lineage_incrementally_and_supersedes(platform):
    path = events_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    first = _event(
        "COMPLETE", "run-1",
        {"fields": {"id": {"inputFields": [_input("id", "DIRECT", "IDENTITY")]},
                    "phone": {"inputFields": [_input("phone", "DIRECT", "TRANSFORMATION",
                                                     masking=True)]}},
         "dataset": [_input("state", "INDIRECT", "FILTER")]},
        input_facets={"dataQualityAssertions": {"assertions": [
            {"assertion": "not_null", "success": True, "column": "id", "name": "id_present"},
            {"assertion": "row_count", "success": False, "severity": "warn"}]}},
    )  # fmt: skip
    failed = _event(
        "FAIL", "run-2", {"fields": {"state": {"inputFields": [_input("state", "DIRECT",
                                                                      "IDENTITY")]}}},
        input_facets={"dataQualityAssertions": {"assertions": [
            {"assertion": "unique", "success": False, "column": "id"}]}},
    )  # fmt: skip
    second = _event(
        "COMPLETE",
        "run-3",
        {"fields": {"id": {"inputFields": [_input("id", "DIRECT", "IDENTITY")]}}},
    )
    complete = (json.dumps(first) + "\n").encode()
    pending = (json.dumps(failed) + "\n").encode()
    # the first event, then half of the next one: a writer still appending
    path.write_bytes(complete + pending[:40])
    with connect() as conn:
        summary = harvest(conn, sources=("openlineage",))
    assert summary.events == 1
    orders, orders_open = f"{NS}/orders", f"{NS}/orders_open"
    edges = {row[:4]: row[4:] for row in _rows(
        "select source_dataset, source_field, target_dataset, target_field, transformation, "
        "description, masking, job from governance.md_edge where origin = 'openlineage' "
        "and retired_at is null")}  # fmt: skip
    assert edges == {
        (orders, "id", orders_open, "id"): ("DIRECT/IDENTITY", "identity of id", False,
                                            "example.copy"),
        (orders, "phone", orders_open, "phone"): ("DIRECT/TRANSFORMATION",
                                                  "transformation of phone", True, "example.copy"),
        (orders, "state", orders_open, ""): ("INDIRECT/FILTER", "filter of state", False,
                                             "example.copy"),
        (orders, "", orders_open, ""): (None, None, None, "example.copy"),
    }  # fmt: skip
    assert _rows("select byte_offset from governance.md_harvest_offset")[0][0] == len(complete)
    assert set(_fields(orders)) == {"id", "phone", "state"}
    assert _fields(orders)["id"]["data_type"] == "bigint"
    entry = _dataset(orders_open)
    assert (entry["owner"], entry["description"], entry["origins"]) == (
        "team:orders", "未结订单 open orders", ["openlineage"])  # fmt: skip
    assert set(_rows("select field, assertion, classification, success, severity, run_id "
                     "from governance.md_assertion")) == {
        ("id", "id_present", "not_null", True, None, "run-1"),
        ("", "row_count", "row_count", False, "warn", "run-1"),
    }  # fmt: skip

    # the rest of the failed run's line, a line that is not an event, then a later run
    # of the same job that no longer reads `phone` or filters on `state`
    with open(path, "ab") as log:
        log.write(pending[40:] + b"not json\n" + (json.dumps(second) + "\n").encode())
    with connect() as conn:
        again = harvest(conn, sources=("openlineage",))
    assert (again.events, again.unreadable_events) == (2, 1)
    live = _live_edges("openlineage")
    assert live == {(orders, "id", orders_open, "id"), (orders, "", orders_open, "")}
    retired = _rows("select object from governance.md_change where action = 'removed' "
                    "and object_kind = 'edge' order by object")  # fmt: skip
    assert retired == [(f"{orders}.phone → {orders_open}.phone",),
                       (f"{orders}.state → {orders_open}",)]  # fmt: skip
    # the failed run changed no lineage, but its assertion is kept
    assert ("id", "unique", False, "run-2") in set(
        _rows("select field, assertion, success, run_id from governance.md_assertion")
    )
    assert _rows("select byte_offset from governance.md_harvest_offset")[0][0] == (
        path.stat().st_size)  # fmt: skip

    # a later run of the job starts: openlineage-dbt's START carries the new SQL's inputs,
    # column lineage and schema before it has run, and RUNNING may repeat them. Until the
    # run completes they change nothing (its assertions are kept all the same).
    live_before, fields_before = _live_edges("openlineage"), set(_fields(orders_open))
    phone_only = {"fields": {"phone": {"inputFields": [_input("phone", "DIRECT", "IDENTITY")]}}}
    assertion = {"dataQualityAssertions": {"assertions": [
        {"assertion": "not_null", "success": True, "column": "phone"}]}}  # fmt: skip
    started = _event("START", "run-4", phone_only, input_facets=assertion)
    running = _event("RUNNING", "run-4", phone_only)
    # a streaming job writes while it runs and may never complete: its RUNNING events count
    streaming = _event(
        "RUNNING", "run-9",
        {"fields": {"state": {"inputFields": [_input("state", "DIRECT", "IDENTITY")]}}},
    )  # fmt: skip
    streaming["job"] = {"namespace": "govlake", "name": "example.stream", "facets": {
        "jobType": {"processingType": "STREAMING", "integration": "GOVLAKE",
                    "jobType": "STREAM_LOAD"}}}  # fmt: skip
    streaming["outputs"][0]["name"] = "orders_stream"
    # JSON, but not events the harvester can apply: each is skipped whole, with why, and
    # the lines after it are still read (each would change lineage if it were applied)
    not_an_object = _event("COMPLETE", "run-5", phone_only)
    not_an_object["job"] = "x"
    owner_not_text = _event("COMPLETE", "run-6", phone_only)
    owner_not_text["outputs"][0]["facets"]["ownership"] = {"owners": [{"name": 5}]}
    no_time = _event("COMPLETE", "run-7", phone_only, input_facets=assertion)
    del no_time["eventTime"]
    nul = _event("COMPLETE", "run-8", phone_only)
    nul["outputs"][0]["facets"]["documentation"]["description"] = "a\x00b"
    bad = [
        (not_an_object, "job is not an object (str)"),
        (owner_not_text, "outputs[0].facets.ownership.owners[0].name is not a string (int)"),
        (no_time, "eventTime is missing"),
        (nul, "NUL character"),
        ([1, 2], "not a JSON object"),
    ]
    offset = path.stat().st_size
    with open(path, "ab") as log:
        for event in (started, running):
            log.write((json.dumps(event) + "\n").encode())
        expected_notes = []
        for event, why in bad:
            offset = log.tell()
            expected_notes.append((f"line at byte {offset}: ", why))
            log.write((json.dumps(event) + "\n").encode())
        log.write((json.dumps(streaming) + "\n").encode())
    with connect() as conn:
        third = harvest(conn, sources=("openlineage",))
    assert (third.events, third.unreadable_events) == (3, len(bad))
    for where, why in expected_notes:
        assert any(where in note and why in note for note in third.notes), (where, third.notes)
    stream = f"{NS}/orders_stream"
    assert _live_edges("openlineage") == live_before | {
        (orders, "state", stream, "state"), (orders, "", stream, "")}  # fmt: skip
    assert set(_fields(orders_open)) == fields_before == {"id"}
    assert set(_fields(stream)) == {"state"}
    assert _dataset(orders_open)["owner"] == "team:orders"
    assert _rows("select count(*) from governance.md_change where action = 'removed' "
                 "and object_kind = 'edge'")[0][0] == len(retired)  # fmt: skip
    runs = {r[0] for r in _rows("select run_id from governance.md_assertion")}
    assert "run-4" in runs and "run-7" not in runs
    assert _rows("select byte_offset from governance.md_harvest_offset")[0][0] == (
        path.stat().st_size)  # fmt: skip
