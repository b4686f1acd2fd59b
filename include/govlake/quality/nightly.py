"""The audits a schedule runs: after the libraries are built, and every night.

Both end the same way: the day's scores are computed and the daily quality report (and
the GX data docs of every run) are written to the output folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from govlake import config
from govlake.governance.store import connect, ensure_schema


def latest_business_date() -> date | None:
    """The newest business day with a loaded batch: what the libraries were built from."""
    with connect() as conn:
        ensure_schema(conn)
        row = conn.execute(
            "select max(ingest_date) from governance.batch where state = 'loaded'"
        ).fetchone()
    return row[0] if row else None


def scores_and_report(business_date: date) -> Path:
    from govlake.quality.report import build_report
    from govlake.quality.scores import compute_scores

    with connect() as conn:
        compute_scores(conn, business_date)
        conn.commit()
        return build_report(conn, business_date)


def audit_and_report(business_date: date | None = None, trigger: str = "schedule") -> dict:
    """``libraries``: the library-stage rules; ``schedule``: the whole day again (every
    resource's batch, delivery, the libraries). Then scores and the report."""
    from govlake.quality.audit import audit_day, audit_libraries

    business_date = business_date or latest_business_date()
    if business_date is None:
        return {"business_date": None, "runs": 0, "report": None}
    if trigger == "libraries":
        results = audit_libraries(business_date, trigger)
    else:
        results = audit_day(business_date, trigger)
    report = scores_and_report(business_date)
    return {
        "business_date": business_date.isoformat(),
        "runs": len(results),
        "rules_failed": sum(len(r.failed) for r in results),
        "report": str(report),
        "output": str(config.output_dir()),
    }
