"""Every DAG, as a reviewer of DAG code checks it (see apache/airflow's example-DAG tests)."""

from __future__ import annotations

import socket
from datetime import date, timedelta
from pathlib import Path

import pendulum
import pytest
from govlake import config
from govlake.catalog.loader import load_catalog

DAG_FILES = sorted(config.DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag(airflow_db, dbt_manifest):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(config.DAGS_DIR))


def test_dag_files_import_without_errors(dagbag):
    assert DAG_FILES, "no DAG files found"
    assert dagbag.import_errors == {}
    catalog = load_catalog()
    assert {r.dag_id for r in catalog.resources.values()} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_parsing_opens_no_connection(dag_file: Path, airflow_db, dbt_manifest, monkeypatch):
    """A DAG file is parsed every 30 s by the dag-processor: it must not touch the network."""
    from airflow.dag_processing.dagbag import DagBag

    attempts: list[object] = []

    def refuse(self, address):
        attempts.append(address)
        raise OSError(f"DAG parsing tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    bag = DagBag(dag_folder=str(dag_file))
    assert bag.import_errors == {}
    assert attempts == []
    assert bag.dag_ids


def test_every_dag_has_owner_retries_tags_and_doc(dagbag):
    from govlake.orchestration.dag_factory import tag_vocabulary

    vocabulary = tag_vocabulary(list(load_catalog().departments))
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and "Triage" in dag.doc_md, dag_id
        assert not dag.catchup, dag_id
        assert set(dag.tags) <= vocabulary, (dag_id, set(dag.tags) - vocabulary)
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), (dag_id, task.task_id)
            assert task.retries >= 2, (dag_id, task.task_id)


def test_schedules_follow_the_update_frequency_in_kaiping_time(dagbag):
    catalog = load_catalog()
    for resource in catalog.resources.values():
        dag = dagbag.dags[resource.dag_id]
        assert resource.update_frequency == "daily"
        assert dag.timetable.summary == "0 1 * * *", resource.id
        assert str(dag.timezone) == "Asia/Shanghai"


def test_business_date_is_the_day_before_the_nightly_run():
    from govlake.orchestration.dag_factory import business_date

    tz = "Asia/Shanghai"
    nightly = {
        "data_interval_start": pendulum.datetime(2026, 11, 1, 1, tz=tz),
        "data_interval_end": pendulum.datetime(2026, 11, 2, 1, tz=tz),
        "params": {},
    }
    assert business_date(nightly) == date(2026, 11, 1)
    # 01:00 in Kaiping is 17:00 UTC the day before: the date is taken in Kaiping's time
    utc = {k: v.in_timezone("UTC") if k != "params" else v for k, v in nightly.items()}
    assert business_date(utc) == date(2026, 11, 1)
    manual = {"logical_date": pendulum.datetime(2026, 11, 3, 9, tz=tz), "params": {}}
    assert business_date(manual) == date(2026, 11, 3) - timedelta(days=1)

    class Run:  # `airflow dags trigger` without a logical date: only run_after is known
        run_after = pendulum.datetime(2026, 11, 5, 10, tz=tz)

    assert business_date({"params": {}, "dag_run": Run()}) == date(2026, 11, 4)
    chosen = {**nightly, "params": {"business_date": "2026-10-31"}}
    assert business_date(chosen) == date(2026, 10, 31)


def test_the_libraries_dag_waits_for_every_raw_asset_and_renders_each_model(dagbag):
    from govlake.orchestration.libraries_dag import DAG_ID

    dag = dagbag.dags[DAG_ID]
    catalog = load_catalog()
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"  # every one of them, not any
    scheduled_on = {asset.name for asset in condition.objects}
    assert scheduled_on == {f"raw.{r.raw_table}" for r in catalog.resources.values()}
    import json

    from govlake.transform.dbt import MANIFEST

    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    # the sensor libraries are refreshed by the streaming DAG, event by event, not here
    batch_nodes = [n for n in nodes if "sensor" not in n.get("tags", [])]
    models = {n["name"] for n in batch_nodes if n["resource_type"] == "model"}
    seeds = {n["name"] for n in batch_nodes if n["resource_type"] == "seed"}
    sensor_models = {n["name"] for n in nodes if "sensor" in n.get("tags", [])
                     and n["resource_type"] == "model"}  # fmt: skip
    assert sensor_models, "the sensor models are tagged sensor"
    task_ids = " ".join(dag.task_ids)
    for name in models | seeds:
        assert name in task_ids, f"{name} has no task"
    for name in sensor_models:
        assert name not in task_ids, f"{name} is built by the streaming DAG"
