"""The DAG that builds the libraries with dbt, rendered model by model (astronomer-cosmos).

It is scheduled on the raw assets the ingestion DAGs produce: when every resource has
landed a new batch, the libraries are rebuilt. Each dbt model (and its tests) is a task of
its own, so a failure shows, and retries, where it happened. Rendering reads dbt's
``manifest.json`` (``govlake dbt parse`` writes it): parsing this DAG runs no dbt command
and opens no connection.
"""

from __future__ import annotations

from datetime import date, timedelta

from airflow.sdk import DAG, task

from govlake.catalog.model import Catalog
from govlake.orchestration.airflow_env import export_dbt_connection
from govlake.orchestration.dag_factory import START_DATE, raw_asset
from govlake.transform.dbt import DBT_DIR, MANIFEST, dbt_executable

DAG_ID = "build_libraries"


class ManifestMissing(RuntimeError):
    pass


def build_libraries_dag(catalog: Catalog, select: list[str] | None = None) -> DAG:
    """``select``: render only these dbt nodes (dbt selector syntax; tests use a few)."""
    from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import LoadMode, TestBehavior

    from govlake.lineage.dbt_columns import install_callback

    # the tasks' dbt reads the warehouse from GOVLAKE_DBT_*, derived from GOVLAKE_PG_URL
    # (or the embedded runtime): environment only, no connection is opened here
    export_dbt_connection()
    if not MANIFEST.exists():
        raise ManifestMissing(
            f"{MANIFEST} is missing: run `govlake dbt parse` (make demo and the tests do) "
            f"so that the libraries DAG can be rendered without running dbt at parse time"
        )
    dag = DbtDag(
        dag_id=DAG_ID,
        description="基础库·主题库·专题库 Build the basic, thematic and special libraries",
        doc_md=__doc__
        + """
#### 故障处理 Triage
A failed task is one dbt model with its tests (`dbt build --select <model>`): open its log
for dbt's message — a failing test means data broke a rule and the model's consumers
wait; fix the data or the rule, then clear the task. Rerunning is safe: models are
rebuilt from `raw`. Run one model by hand: `govlake dbt run build --select <model>`.
""",
        project_config=ProjectConfig(
            dbt_project_path=DBT_DIR,
            manifest_path=MANIFEST,
            install_dbt_deps=False,
            partial_parse=True,  # reuse the parse `govlake dbt parse` left in target/
        ),
        profile_config=ProfileConfig(
            profile_name="govlake",
            target_name="warehouse",
            profiles_yml_filepath=DBT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(dbt_executable_path=dbt_executable()),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=select or [],
            # the sensor libraries are refreshed by the streaming DAG as batches arrive
            # exposures (reports, exports: dbt_project/models/exposures.yml) are metadata
            # for lineage and impact, not tasks
            exclude=["tag:sensor", "resource_type:exposure"],
            # one `dbt build` task per model (the model, then its tests); a test reading
            # two models (relationships) runs as its own task once both are built
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,
        ),
        # OpenLineage: cosmos computes each task's lineage with openlineage-dbt; column
        # lineage through PostgreSQL's reading of the models' `select *` (lineage/dbt_columns)
        operator_args={"install_deps": False, "on_execute_callback": install_callback},
        # every resource's raw table must have a new batch: the libraries join them all
        schedule=[raw_asset(r) for r in sorted(catalog.resources.values(), key=lambda r: r.id)],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["dbt", "libraries"],
        default_args={
            "owner": "govdata",
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
        },
    )
    with dag:
        roots = list(dag.roots)

        @task(task_id="prepare_warehouse")
        def prepare() -> dict:
            """Catalog and standards into governance; the check functions dbt calls."""
            from govlake.transform.prepare import prepare_warehouse

            return prepare_warehouse()

        leaves = list(dag.leaves)

        @task(task_id="audit_libraries", trigger_rule="all_done")
        def audit_libraries(**context) -> dict:
            """The library-stage quality rules, the day's scores and the quality report."""
            from govlake.quality.nightly import audit_and_report

            # the libraries are built from the newest loaded batches: audit that day
            chosen = (context.get("params") or {}).get("business_date")
            on = date.fromisoformat(str(chosen)) if chosen else None
            return audit_and_report(on, trigger="libraries")

        prepare() >> roots
        leaves >> audit_libraries()
    return dag
