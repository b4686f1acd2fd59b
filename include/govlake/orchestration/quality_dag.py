"""The nightly quality audit: every resource's batch of the day, batch delivery and the
libraries, then scores, work orders and the daily quality report (R5.3 定期稽核)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from govlake.config import TIMEZONE
from govlake.orchestration.dag_factory import START_DATE, business_date

DAG_ID = "quality_audit"


def build_quality_dag() -> DAG:
    with DAG(
        dag_id=DAG_ID,
        description="数据质量稽核 Nightly quality audit, scores, work orders and report",
        doc_md=__doc__
        + """
#### 故障处理 Triage
A failed run means an audit could not be evaluated (a rule's SQL, the warehouse): the
log names the table and rule. Failing rules never fail this DAG — they are results,
scores and work orders. Rerunning is safe: each run is recorded on its own.

Runs at 06:00 Kaiping time, after the night's ingestion and libraries, for the day
before. Rerun a day with `{"business_date": "YYYY-MM-DD"}`. By hand:
`govlake quality run all --date YYYY-MM-DD`. The report is written to the output folder
(`quality/index.html`); GX data docs to `data_docs/`.
""",
        schedule=CronTriggerTimetable("0 6 * * *", timezone=TIMEZONE, interval=timedelta(days=1)),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["quality"],
        default_args={"owner": "govdata", "retries": 2, "retry_delay": timedelta(minutes=5)},
        params={
            "business_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="业务日期 business date to audit, YYYY-MM-DD",
            )
        },
    ) as dag:

        @task(task_id="audit_day")
        def audit(**context: Any) -> dict:
            from govlake.quality.nightly import audit_and_report

            return audit_and_report(business_date(context), trigger="schedule")

        audit()
    return dag
