"""Run generated DAGs through Airflow itself (``dag.test``: a real DagRun, real task
instances in Airflow's metadata database, no scheduler needed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from govlake.orchestration import airflow_env


@dataclass
class DagRunResult:
    dag_id: str
    state: str
    task_states: dict[str, str]


def _result(dag_id: str, run) -> DagRunResult:
    return DagRunResult(
        dag_id=dag_id,
        state=str(run.state),
        task_states={ti.task_id: str(ti.state) for ti in run.get_task_instances()},
    )


def run_ingest_dag(
    resource_id: str, business_date: date, mode: str | None = None, force: bool = False
) -> DagRunResult:
    airflow_env.migrate()
    from govlake.catalog.loader import default_catalog
    from govlake.orchestration.dag_factory import build_ingest_dag

    resource = default_catalog().resource(resource_id)
    dag = build_ingest_dag(resource)
    conf: dict = {"business_date": business_date.isoformat(), "force": force}
    if mode:
        conf["mode"] = mode
    run = dag.test(run_conf=conf)
    return _result(dag.dag_id, run)


def run_libraries_dag() -> DagRunResult:
    """Parse the dbt project, then run the libraries DAG (one task per model) once."""
    airflow_env.migrate()
    from govlake.catalog.loader import default_catalog
    from govlake.orchestration.libraries_dag import build_libraries_dag
    from govlake.transform.dbt import run_dbt

    parsed = run_dbt("parse", capture=True)
    if parsed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{parsed.stdout[-4000:]}")
    dag = build_libraries_dag(default_catalog())
    run = dag.test()
    return _result(dag.dag_id, run)


def run_sensor_dag() -> DagRunResult:
    """Run the sensor-batch DAG once: load every committed micro-batch not yet loaded, then
    refresh the sensor libraries (what each announced batch event triggers)."""
    airflow_env.migrate()
    from govlake.orchestration.sensor_dag import build_sensor_load_dag

    dag = build_sensor_load_dag()
    run = dag.test()
    return _result(dag.dag_id, run)


def run_metadata_dag() -> DagRunResult:
    """Harvest the metadata store and rebuild the catalog site through Airflow, once."""
    airflow_env.migrate()
    from govlake.orchestration.metadata_dag import build_metadata_dag

    dag = build_metadata_dag()
    run = dag.test()
    return _result(dag.dag_id, run)
