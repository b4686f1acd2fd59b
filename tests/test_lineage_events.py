"""OpenLineage events from every step, to column level, validated against the spec.

Real runs only: ingestion through Airflow (the provider's task events and the platform's
step events under them), a quality audit, dbt through dbt-ol (``run_dbt``) and through
cosmos (the libraries DAG), a sensor micro-batch load. Every event written to
``$GOVLAKE_HOME/lineage/events.jsonl`` is validated against the shipped OpenLineage spec
(and each facet against its schema); ``GOVLAKE_LINEAGE_STRICT=1`` makes the platform's own
steps validate each event before sending it, so a bad event fails where it is made.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from govlake.catalog.loader import default_catalog
from govlake.governance.store import connect
from govlake.lineage import naming
from govlake.lineage.emit import StepRun, nominal_day
from govlake.lineage.transport import events_file
from govlake.lineage.validate import validate_event, validate_file, validate_lines
from govlake.pipeline.ingest import extract_resource, load_resource
from govlake.simulate import business_date, simulate

SCALE, SEED = 200, 11
FACETS_URL = "https://github.com/kaiping-govlake/govlake/blob/main/include/govlake/lineage/facets/"


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVLAKE_LINEAGE_STRICT", "1")


# --- reading the event log ------------------------------------------------------------------


def _events() -> list[dict]:
    path = events_file()
    assert path.exists(), f"no event log at {path}"
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _assert_all_valid() -> list[dict]:
    problems = validate_file(events_file())
    assert not problems, "invalid OpenLineage events:\n" + "\n".join(map(str, problems))
    return _events()


def _of(events: list[dict], job: str, state: str | None = None) -> list[dict]:
    return [
        e for e in events
        if e["job"]["name"] == job and (state is None or e["eventType"] == state)
    ]  # fmt: skip


def _one(events: list[dict], job: str, state: str) -> dict:
    found = _of(events, job, state)
    assert len(found) == 1, (job, state, [(e["job"]["name"], e["eventType"]) for e in events])
    return found[0]


def _key(dataset: dict) -> str:
    return naming.dataset_key(dataset["namespace"], dataset["name"])


def _output(event: dict, key: str) -> dict:
    outputs = {_key(o): o for o in event.get("outputs", [])}
    assert key in outputs, (key, sorted(outputs))
    return outputs[key]


def _column_lineage(event: dict, key: str) -> dict[str, set[tuple[str, str]]]:
    """Output field → {(input dataset key, input field)} of one output of an event."""
    facet = _output(event, key)["facets"]["columnLineage"]
    return {
        column: {(naming.dataset_key(i["namespace"], i["name"]), i["field"])
                 for i in spec["inputFields"]}
        for column, spec in facet["fields"].items()
    }  # fmt: skip


def _parent(event: dict) -> tuple[str, str, str | None]:
    parent = event["run"]["facets"]["parent"]
    root = (parent.get("root") or {}).get("run", {}).get("runId")
    return parent["job"]["name"], parent["run"]["runId"], root


# --- the validator itself ---------------------------------------------------------------------


def _sample_event() -> dict:
    from govlake.lineage.emit import PRODUCER, GovlakeBatchRunFacet
    from openlineage.client.event_v2 import RunState
    from openlineage.client.serde import Serde

    step = StepRun(job_name="govlake.extract.test.sample", job_type="EXTRACT",
                   nominal=nominal_day(business_date(1)))  # fmt: skip
    step.run_facets["govlake_batch"] = GovlakeBatchRunFacet(
        stage="extract", resource="test.sample", batchId="20261101-incr", ingestDate="2026-11-01",
        sourceRows=3, landedRows=3, manifestUri="file:///lake/_manifest.json", producer=PRODUCER,
    )  # fmt: skip
    return Serde.to_dict(step.event(RunState.COMPLETE))


def test_the_validator_names_what_is_wrong_in_an_event():
    event = _sample_event()
    assert validate_event(event) == []

    bad_run = json.loads(json.dumps(event))
    bad_run["run"]["runId"] = "not-a-uuid"
    assert any("run.runId" in p and "uuid" in p for p in validate_event(bad_run))

    wrong_type = json.loads(json.dumps(event))
    wrong_type["run"]["facets"]["govlake_batch"]["batchId"] = 42
    problems = validate_event(wrong_type)
    assert any(p.startswith("run facet 'govlake_batch'.batchId") for p in problems), problems

    unknown = json.loads(json.dumps(event))
    unknown["run"]["facets"]["mystery"] = {
        "_producer": "https://example.org/x", "_schemaURL": "https://example.org/Mystery.json",
    }  # fmt: skip
    problems = validate_event(unknown)
    assert len(problems) == 1 and "'mystery'" in problems[0], problems
    assert "not available locally" in problems[0]

    other_spec = json.loads(json.dumps(event))
    other_spec["schemaURL"] = "https://openlineage.io/spec/1-0-5/OpenLineage.json#/$defs/RunEvent"
    assert any("1-0-5" in p for p in validate_event(other_spec))

    # openlineage-integration-common's dbt facets name a schema by URL without a pointer
    from openlineage.common.schema import GITHUB_LOCATION

    dbt = json.loads(json.dumps(event))
    dbt["run"]["facets"]["dbt_version"] = {
        "_producer": "https://example.org/x",
        "_schemaURL": GITHUB_LOCATION + "dbt-version-run-facet.json",
        "version": "1.11.0",
    }
    assert validate_event(dbt) == []
    dbt["run"]["facets"]["dbt_version"]["version"] = 1
    assert any("'dbt_version'" in p for p in validate_event(dbt))

    # the Airflow provider's facets name the generic RunFacet: its own schema applies too
    airflow = json.loads(json.dumps(event))
    airflow["run"]["facets"]["airflow"] = {
        "_producer": "https://github.com/apache/airflow/tree/providers-openlineage/2.20.3",
        "_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet",
        "dag": {"dag_id": "x"},
    }
    problems = validate_event(airflow)
    assert any("'airflow'" in p and "dagRun" in p for p in problems), problems

    broken = list(validate_lines([json.dumps(event), "{not json"]))
    assert [(b.line, b.problems[0][:8]) for b in broken] == [(2, "not JSON")]


def test_the_validate_command_lists_invalid_events_and_exits_non_zero(tmp_path: Path):
    from govlake.lineage.validate_cli import app
    from typer.testing import CliRunner

    event = _sample_event()
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps(event) + "\n", encoding="utf-8")
    event["run"]["runId"] = "nope"
    bad.write_text(json.dumps(_sample_event()) + "\n" + json.dumps(event) + "\n", "utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0 and "1 个事件均符合规范" in ok.output, ok.output
    failed = runner.invoke(app, ["validate", str(bad)])
    assert failed.exit_code == 1, failed.output
    assert "line 2" in failed.output and "govlake.extract.test.sample" in failed.output
    assert "1/2" in failed.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


# --- ingestion, quality and dbt -----------------------------------------------------------------


def test_ingestion_quality_and_dbt_events_are_valid_and_trace_a_field_to_staging(
    departments, hotline_api, airflow_db, strict
):
    from govlake.orchestration.runner import run_ingest_dag
    from govlake.transform.dbt import run_dbt
    from govlake.transform.prepare import prepare_warehouse

    simulate(scale=SCALE, seed=SEED, day=1)
    on = business_date(1)
    catalog = default_catalog()
    person = catalog.resource("police.person")

    # police.person through Airflow: extract → load → audit
    run = run_ingest_dag("police.person", on)
    assert run.state == "success", run.task_states
    # a file drop outside Airflow: the steps' runs have no parent
    manifest = extract_resource("civil.low_income", on)
    load_resource("civil.low_income", on, manifest["batch_id"])

    prepare_warehouse()
    built = run_dbt("build", "--select", "+stg_police__person",
                    "--indirect-selection", "cautious", capture=True)  # fmt: skip
    assert built.returncode == 0, built.stdout[-4000:]
    # dbt's own output is what callers read; the wrapper adds nothing to it
    assert "Completed successfully" in built.stdout
    assert "OpenLineage" not in built.stdout and "OpenLineage" not in built.stderr
    # a failing model: dbt's exit code, and FAIL events
    failed = run_dbt("run", "--select", "stg_police__household", capture=True)
    assert failed.returncode == 1 and "police__household" in failed.stdout

    events = _assert_all_valid()

    # -- each step is a START and a COMPLETE of one run, under its Airflow task's run
    airflow_runs = {}
    for task in ("extract", "load", "audit"):
        start = _one(events, f"ingest__police__person.{task}", "START")
        airflow_runs[task] = (start["run"]["runId"], _parent(start)[1])  # task run, DAG run
    steps = {
        "extract": "govlake.extract.police.person",
        "load": "govlake.load.police.person",
        "audit": "govlake.quality.raw.police__person",
    }
    completes = {}
    for task, job in steps.items():
        start, complete = _one(events, job, "START"), _one(events, job, "COMPLETE")
        assert start["run"]["runId"] == complete["run"]["runId"]
        assert complete["job"]["namespace"] == "govlake"
        task_run, dag_run = airflow_runs[task]
        assert _parent(complete) == (f"ingest__police__person.{task}", task_run, dag_run)
        job_type = complete["job"]["facets"]["jobType"]
        assert (job_type["integration"], job_type["processingType"]) == ("GOVLAKE", "BATCH")
        assert complete["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith(
            "2026-11-01T00:00:00+08:00"
        )
        completes[task] = complete
    assert [completes[t]["job"]["facets"]["jobType"]["jobType"] for t in steps] == [
        "EXTRACT", "LOAD", "QUALITY"
    ]  # fmt: skip
    outside = _one(events, "govlake.extract.civil.low_income", "COMPLETE")
    assert "parent" not in outside["run"]["facets"]

    # -- the batch: counts as governance.batch holds them
    with connect() as conn:
        batch = conn.execute(
            "select batch_id, source_rows, landed_rows, extract_quarantined, loaded_rows, "
            "load_quarantined from governance.batch where resource_id = 'police.person'"
        ).fetchone()
    landed = completes["extract"]["run"]["facets"]["govlake_batch"]
    assert landed["_schemaURL"] == (
        f"{FACETS_URL}GovlakeBatchRunFacet.json#/$defs/GovlakeBatchRunFacet"
    )
    assert (landed["batchId"], landed["sourceRows"], landed["landedRows"],
            landed["extractQuarantined"], landed["reused"]) == (*batch[:4], False)  # fmt: skip
    assert landed["manifestUri"].endswith(f"batch%3D{batch[0]}/_manifest.json")
    loaded = completes["load"]["run"]["facets"]["govlake_batch"]
    assert (loaded["loadedRows"], loaded["loadQuarantined"]) == batch[4:]

    # -- datasets: source → lake (typed as landed) → raw (catalog types + platform columns)
    source_key, lake_key = naming.source_key(person), "lake:raw/police/person"
    extract = completes["extract"]
    assert [_key(i) for i in extract["inputs"]] == [source_key] == ["source:police_hukou/person"]
    source_schema = {
        f["name"]: f["type"] for f in extract["inputs"][0]["facets"]["schema"]["fields"]
    }
    assert source_schema == {f.name: f.pg_type for f in person.fields}
    lake = _output(extract, lake_key)
    assert lake["facets"]["version"]["datasetVersion"] == batch[0]
    assert lake["outputFacets"]["outputStatistics"]["rowCount"] == batch[2]
    lake_types = {f["name"]: f["type"] for f in lake["facets"]["schema"]["fields"]}
    assert lake_types["birth_date"] == "date32[day]"  # a typed source lands typed
    assert lake_types["_source_row"] == "int64"
    text_lake = _output(outside, "lake:raw/civil/low_income")
    assert {f["type"] for f in text_lake["facets"]["schema"]["fields"]
            if f["name"] != "_source_row"} == {"string"}  # fmt: skip
    raw = _output(completes["load"], "raw.police__person")
    raw_fields = [f["name"] for f in raw["facets"]["schema"]["fields"]]
    assert raw_fields == [*person.field_names, "_extra", "_batch_id", "_source_file",
                          "_source_row", "_loaded_at"]  # fmt: skip
    assert raw["outputFacets"]["outputStatistics"]["rowCount"] == batch[4]
    assert completes["load"]["inputs"][0]["facets"]["version"]["datasetVersion"] == batch[0]

    # -- one field, column by column: source → lake → raw → staging (a rename on the way)
    to_lake = _column_lineage(extract, lake_key)
    assert set(to_lake) == set(person.field_names)
    assert all(inputs == {(source_key, field)} for field, inputs in to_lake.items())
    transformation = lake["facets"]["columnLineage"]["fields"]["name"]["inputFields"][0][
        "transformations"
    ][0]
    assert (transformation["type"], transformation["subtype"]) == ("DIRECT", "IDENTITY")
    to_raw = _column_lineage(completes["load"], "raw.police__person")
    assert to_raw["name"] == {(lake_key, "name")}
    assert to_raw["_source_row"] == {(lake_key, "_source_row")}
    model = _one(events, _model_job(events, "stg_police__person"), "COMPLETE")
    to_staging = _column_lineage(model, "staging.stg_police__person")
    assert to_staging["name"] == {("raw.police__person", "name")}
    assert to_staging["person_status"] == {("raw.police__person", "status")}
    assert to_staging["is_valid_id_number"] == {("raw.police__person", "id_number")}
    assert [_key(i) for i in model["inputs"]] == ["raw.police__person"]
    assert model["job"]["namespace"] == "govlake"
    wrapper = _one(events, "dbt-run-kaiping", "COMPLETE")
    assert _parent(model)[:2] == ("dbt-run-kaiping", wrapper["run"]["runId"])
    assert "parent" not in wrapper["run"]["facets"]  # run_dbt outside Airflow

    household = _model_job(events, "stg_police__household", run=True)
    assert _one(events, household, "FAIL")["run"]["runId"]
    assert _of(events, "dbt-run-kaiping", "FAIL")

    # -- the audit: one assertion per rule, as governance.quality_result recorded it
    audit = completes["audit"]
    recorded = audit["run"]["facets"]["govlake_quality"]
    with connect() as conn:
        results = conn.execute(
            "select rule_id, success, column_name from governance.quality_result where run_id = %s",
            (recorded["qualityRunId"],),
        ).fetchall()
    audited = audit["inputs"][0]
    assert _key(audited) == "raw.police__person"
    assertions = audited["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {(a["assertion"], a["success"], a.get("column")) for a in assertions} == set(results)
    assert recorded["rules"] == len(results) and len(results) > 10
    assert {a["severity"] for a in assertions} <= {"error", "warn"}
    metrics = audited["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == batch[4]
    assert metrics["columnMetrics"]["person_id"]["nullCount"] == 0


def _model_job(events: list[dict], model: str, run: bool = False) -> str:
    """The job name dbt-ol gives a model's run: ``<db>.<schema>.<project>.<model>.build.run``
    under ``dbt build``, without ``.build.run`` under ``dbt run``."""
    suffix = f".{model}" if run else f".{model}.build.run"
    names = {e["job"]["name"] for e in events if e["job"]["name"].endswith(suffix)}
    assert len(names) == 1, names
    return names.pop()


# --- failures --------------------------------------------------------------------------------


def test_a_failing_step_sends_fail_with_its_error(departments, strict):
    on = business_date(1)  # nothing simulated: the household register has no tables yet
    with pytest.raises(Exception) as raised:
        extract_resource("police.person", on)
    events = _assert_all_valid()
    start = _one(events, "govlake.extract.police.person", "START")
    fail = _one(events, "govlake.extract.police.person", "FAIL")
    assert not _of(events, "govlake.extract.police.person", "COMPLETE")
    assert fail["run"]["runId"] == start["run"]["runId"]
    error = fail["run"]["facets"]["errorMessage"]
    assert error["programmingLanguage"] == "python"
    assert str(raised.value).splitlines()[0] in error["message"]
    assert type(raised.value).__name__ in error["stackTrace"]


def test_an_error_leaves_the_platform_without_the_values_it_quotes(platform, strict):
    """Database errors quote the values they choke on; the FAIL event keeps the primary
    message with identity numbers and names masked, and the frames without the values."""
    from govlake.lineage.emit import step_run

    identity = "44078319900101123X"
    with pytest.raises(ValueError), step_run("govlake.load.civil.low_income", job_type="LOAD"):
        raise ValueError(
            f"duplicate key value (id_number)=({identity}) of 关志强\nDETAIL: {identity}"
        )
    [fail] = _of(_assert_all_valid(), "govlake.load.civil.low_income", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert (
        error["message"]
        == "ValueError: duplicate key value (id_number)=(440783***********X) of 关**"
    )
    assert identity not in json.dumps(fail, ensure_ascii=False)
    assert "关志强" not in json.dumps(fail, ensure_ascii=False)
    assert error["stackTrace"].endswith("ValueError") and "line" in error["stackTrace"]


def test_lineage_that_cannot_be_sent_never_fails_the_step(
    departments, tmp_path, monkeypatch, caplog
):
    simulate(scale=100, seed=SEED, day=1)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    transport = {"type": "govlake.lineage.transport.LineageFile",
                 "path": str(not_a_folder / "events.jsonl")}  # fmt: skip
    monkeypatch.setenv("GOVLAKE_LINEAGE_TRANSPORT", json.dumps(transport))
    on = business_date(1)
    with caplog.at_level(logging.WARNING, logger="govlake.lineage.emit"):
        manifest = extract_resource("police.person", on)
    assert manifest["rows"] > 0  # the data step did its work
    assert any("血缘事件未发送" in r.getMessage() and "govlake.extract.police.person"
               in r.getMessage() for r in caplog.records)  # fmt: skip
    # strict (the tests' mode): the same failure is an error
    monkeypatch.setenv("GOVLAKE_LINEAGE_STRICT", "1")
    with pytest.raises(OSError, match="a-file"):
        load_resource("police.person", on, manifest["batch_id"])


def test_dbt_keeps_its_exit_code_when_openlineage_dbt_itself_fails(platform, monkeypatch):
    from govlake.transform.dbt import run_dbt

    # a transport openlineage-dbt cannot build: the wrapper fails before dbt runs
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT", json.dumps({"type": "no.such.Transport"}))
    result = run_dbt("seed", "--select", "police__sex", capture=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Completed successfully" in result.stdout
    assert "openlineage-dbt failed" in result.stderr
    assert not events_file().exists()  # no lineage, and dbt did its work all the same
    with connect() as conn:
        assert conn.execute("select count(*) from standards.police__sex").fetchone()[0] > 0


# --- dbt inside Airflow: cosmos ---------------------------------------------------------------


def test_the_libraries_dag_sends_model_events_with_column_lineage(
    departments, hotline_api, airflow_db, dbt_manifest, strict, monkeypatch
):
    from govlake.orchestration.libraries_dag import build_libraries_dag
    from govlake.transform.dbt import connection_env

    # cosmos's dbt reads GOVLAKE_DBT_* from the environment, where an earlier test's
    # Airflow configuration may have left another warehouse: this test's, explicitly
    for key, value in connection_env().items():
        monkeypatch.setenv(key, value)
    simulate(scale=SCALE, seed=SEED, day=1)
    on = business_date(1)
    manifest = extract_resource("police.person", on)
    load_resource("police.person", on, manifest["batch_id"])

    # a few nodes of the libraries DAG, rendered by cosmos: the staging model, the seeds it
    # reads and prepare_warehouse (its tests that need other models are left out)
    dag = build_libraries_dag(default_catalog(), select=["+stg_police__person"])
    model_task = "stg_police__person_model_build"
    subset = dag.partial_subset([model_task], include_upstream=True, include_downstream=False)
    assert {"prepare_warehouse", model_task, "kp_town_seed_build"} <= set(subset.task_ids)
    run = subset.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states

    events = _assert_all_valid()
    start = _one(events, f"build_libraries.{model_task}", "START")
    complete = _one(events, f"build_libraries.{model_task}", "COMPLETE")
    assert _parent(complete)[0] == "build_libraries"
    assert _parent(complete)[1] == _parent(start)[1]
    assert "raw.police__person" in {_key(i) for i in complete["inputs"]}
    to_staging = _column_lineage(complete, "staging.stg_police__person")
    assert to_staging["name"] == {("raw.police__person", "name")}
    assert to_staging["person_status"] == {("raw.police__person", "status")}
    schema = _output(complete, "staging.stg_police__person")["facets"]["schema"]
    assert "is_valid_id_number" in {f["name"] for f in schema["fields"]}


# --- the sensor stream ------------------------------------------------------------------------


def _end_session(url: str, client_id: str) -> None:
    """Remove the consumer's persistent session from the shared broker (expiry 0)."""
    import time

    import paho.mqtt.client as paho
    from govlake.stream.broker import parse_url
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    address = parse_url(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    client.connect(address.host, address.port, clean_start=True, properties=properties)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def test_a_sensor_micro_batch_load_sends_lake_to_raw_lineage(platform, mqtt_url, strict):
    import uuid

    from govlake.stream import simulator
    from govlake.stream.consumer import StreamConsumer
    from govlake.stream.devices import catalog_devices, sample
    from govlake.stream.load import load_pending
    from govlake.stream.messages import KAIPING

    token = uuid.uuid4().hex[:10]
    topic_root, client_id = f"govlake-test/{token}/kaiping/sensors", f"govlake-lineage-{token}"
    devices = sample(catalog_devices(), {"air_quality": 3, "hydrology": 2})
    consumer = StreamConsumer(
        mqtt_url, client_id=client_id, topic_root=topic_root, batch_event_topic=None,
        batch_seconds=0.3, batch_messages=500,
    )  # fmt: skip
    thread = threading.Thread(target=consumer.run, kwargs={"idle_exit": 3.0}, daemon=True)
    thread.start()
    assert consumer.subscribed.wait(30), "the consumer did not subscribe"
    try:
        simulator.publish(mqtt_url, devices=devices, minutes=20, rate=None, seed=5,
                          faults=False, topic_root=topic_root,
                          start=datetime(2026, 11, 1, 6, 0, tzinfo=KAIPING))  # fmt: skip
        thread.join(60)
    finally:
        consumer.stop()
        thread.join(10)
        _end_session(mqtt_url, client_id)
    results = load_pending()
    assert results and all(r.reconciled for r in results)

    events = _assert_all_valid()
    by_kind = defaultdict(list)
    for result in results:
        by_kind[result.kind].append(result)
    for kind, loads in by_kind.items():
        job = f"govlake.stream.load.{kind}"
        completes = _of(events, job, "COMPLETE")
        assert len(completes) == len(loads) == len(_of(events, job, "START"))
        complete = completes[0]
        assert complete["job"]["facets"]["jobType"]["processingType"] == "STREAMING"
        batch = complete["run"]["facets"]["govlake_batch"]
        assert batch["stage"] == "stream_load" and batch["resource"] == f"sensor.{kind}"
        loaded = next(r for r in loads if r.batch_id == batch["batchId"])
        assert batch["loadedRows"] == loaded.loaded_rows
        assert complete["inputs"][0]["facets"]["version"]["datasetVersion"] == loaded.batch_id
        assert _key(complete["inputs"][0]) == f"lake:raw/sensor/{kind}"
        lineage = _column_lineage(complete, f"raw.sensor__{kind}")
        assert lineage["msg_id"] == {(f"lake:raw/sensor/{kind}", "msg_id")}
        metric = "pm25" if kind == "air_quality" else "river_level"
        assert lineage[metric] == {(f"lake:raw/sensor/{kind}", metric)}
