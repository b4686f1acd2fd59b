"""Run history (R1.5): what Airflow's own records say about the ingestion DAGs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime


@dataclass
class DagRunSummary:
    dag_id: str
    runs: int
    succeeded: int
    failed: int
    running: int
    total_seconds: float
    max_seconds: float
    last_run: datetime | None
    last_state: str | None

    @property
    def mean_seconds(self) -> float:
        finished = self.succeeded + self.failed
        return self.total_seconds / finished if finished else 0.0


def summarise_runs(since: datetime, dag_prefix: str = "") -> list[DagRunSummary]:
    """Runs, successes, failures and durations per DAG since ``since``, from Airflow's DB."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    grouped: dict[str, list] = defaultdict(list)
    with create_session() as session:
        query = session.query(DagRun).filter(DagRun.start_date >= since)
        if dag_prefix:
            query = query.filter(DagRun.dag_id.startswith(dag_prefix))
        for run in query.order_by(DagRun.start_date):
            grouped[run.dag_id].append((str(run.state), run.start_date, run.end_date))
    summaries = []
    for dag_id, runs in sorted(grouped.items()):
        durations = [(end - start).total_seconds() for state, start, end in runs if start and end]
        summaries.append(
            DagRunSummary(
                dag_id=dag_id,
                runs=len(runs),
                succeeded=sum(1 for state, *_ in runs if state == "success"),
                failed=sum(1 for state, *_ in runs if state == "failed"),
                running=sum(1 for state, *_ in runs if state in ("running", "queued")),
                total_seconds=sum(durations),
                max_seconds=max(durations, default=0.0),
                last_run=runs[-1][1],
                last_state=runs[-1][0],
            )
        )
    return summaries
