"""Quality scores of a business day (质量评分), from the audits of that day.

The formula is in ``docs/quality.md`` (with a worked example); in short:

- **which results count**: of the runs of the business day (``quality_run.business_date``)
  that finished, the latest one per suite and stage (a raw table's ``batch`` audits, a
  library table's ``library`` audits; scheduled and manual runs take the stage of their
  table's schema) — a re-audit supersedes the earlier run of the day. If one rule appears
  in two counted runs of a table, its latest result is used.
- **a rule's pass rate** = 1 − failed / evaluated; nothing evaluated → 1; a rule that
  could not be evaluated (``error``) → 0.
- **a table's score in a dimension** = 100 × the weighted mean of its rules' pass rates in
  that dimension, weight 3 for blocking rules and 1 for warnings; its overall score
  (``dimension = 'all'``) = the mean of its dimension scores.
- **a department's score** (per dimension and ``'all'``) = the mean of its tables' scores;
  **the overall score** = the mean of the departments' scores.

Only dimensions that have rules get a score: a dimension without rules is not 0, it is
absent. Scores are computed unrounded and stored rounded to two decimals.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg

from govlake.governance.store import ensure_schema

SCOPES = ("overall", "department", "table")
WEIGHTS = {"blocking": 3, "warning": 1}

# The stage a run audits: from its trigger, else from its table's schema.
_RUN_STAGE = (
    "coalesce(r.stage, case r.trigger when 'batch' then 'batch' when 'libraries' then 'library' "
    "else case when r.table_name like 'raw.%%' then 'batch' else 'library' end end)"
)

# The results that count for a business day, one row per (table, rule): a CTE body.
LATEST_RESULTS = f"""
    runs as (
        select r.run_id, r.started_at,
               row_number() over (partition by r.suite, {_RUN_STAGE}
                                  order by r.started_at desc, r.run_id desc) as n
          from governance.quality_run r
         where r.business_date = %(day)s and r.finished_at is not null
    ),
    results as (
        select distinct on (q.table_name, q.rule_id) q.*, runs.started_at
          from governance.quality_result q
          join runs on runs.run_id = q.run_id and runs.n = 1
         order by q.table_name, q.rule_id, runs.started_at desc
    )"""

_COMPUTE = f"""
with {LATEST_RESULTS},
rule as (
    select table_name, department, dimension,
           case when severity = 'blocking' then 3 else 1 end::numeric as weight,
           case when error is not null then 0::numeric
                else greatest(0, 1 - failed::numeric / greatest(evaluated, 1)) end as pass_rate,
           evaluated, failed, (not success or error is not null) as rule_failed
      from results
),
table_dimension as (
    select table_name, dimension,
           100 * sum(weight * pass_rate) / sum(weight) as score,
           count(*) as rules, count(*) filter (where rule_failed) as rules_failed,
           sum(evaluated) as evaluated, sum(failed) as failed
      from rule
     group by table_name, dimension
),
table_department as (
    select table_name, min(department) as department from rule group by table_name
),
table_score as (
    select table_name, dimension, score, rules, rules_failed, evaluated, failed
      from table_dimension
    union all
    select table_name, 'all', avg(score), sum(rules), sum(rules_failed), sum(evaluated),
           sum(failed)
      from table_dimension
     group by table_name
),
department_score as (
    select d.department, t.dimension, avg(t.score) as score, sum(t.rules) as rules,
           sum(t.rules_failed) as rules_failed, sum(t.evaluated) as evaluated,
           sum(t.failed) as failed
      from table_score t
      join table_department d using (table_name)
     group by d.department, t.dimension
),
overall_score as (
    select dimension, avg(score) as score, sum(rules) as rules,
           sum(rules_failed) as rules_failed, sum(evaluated) as evaluated, sum(failed) as failed
      from department_score
     group by dimension
),
scored as (
    select 'table' as scope, table_name as scope_key, dimension, score, rules, rules_failed,
           evaluated, failed
      from table_score
    union all
    select 'department', department, dimension, score, rules, rules_failed, evaluated, failed
      from department_score
    union all
    select 'overall', '*', dimension, score, rules, rules_failed, evaluated, failed
      from overall_score
)
insert into governance.quality_score
    (business_date, scope, scope_key, dimension, score, rules, rules_failed, evaluated, failed)
select %(day)s, scope, scope_key, dimension, round(least(100, greatest(0, score)), 2),
       rules, rules_failed, evaluated, failed
  from scored
"""


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def compute_scores(conn: psycopg.Connection, business_date: date | str) -> int:
    """(Re)compute ``governance.quality_score`` for one business day; returns the rows written.

    Idempotent: the day's earlier scores are replaced. A day without finished runs ends with
    no score rows (the report says so); it is not scored 0 or 100.
    """
    day = _as_date(business_date)
    ensure_schema(conn)
    with conn.transaction():
        conn.execute("delete from governance.quality_score where business_date = %s", (day,))
        cursor = conn.execute(_COMPUTE, {"day": day})
        return cursor.rowcount


def score_trend(
    conn: psycopg.Connection,
    scope: str,
    key: str = "*",
    days: int = 14,
    *,
    dimension: str = "all",
    end: date | str | None = None,
) -> list[tuple[date, float | None]]:
    """Day-by-day scores of one scope (``overall``/'*', ``department``/code, ``table``/name).

    Returns ``days`` consecutive (business_date, score) pairs, oldest first, ending at
    ``end`` (default: the latest scored day, else today); ``None`` where the day has no score.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
    if days < 1:
        raise ValueError("days must be at least 1")
    if end is None:
        latest = conn.execute("select max(business_date) from governance.quality_score").fetchone()
        last = latest[0] if latest and latest[0] else date.today()
    else:
        last = _as_date(end)
    first = last - timedelta(days=days - 1)
    rows = conn.execute(
        "select d::date, s.score from generate_series(%(first)s::date, %(last)s::date, "
        "interval '1 day') d left join governance.quality_score s on s.business_date = d::date "
        "and s.scope = %(scope)s and s.scope_key = %(key)s and s.dimension = %(dim)s order by d",
        {"first": first, "last": last, "scope": scope, "key": key, "dim": dimension},
    ).fetchall()
    return [(day, None if score is None else float(score)) for day, score in rows]


def day_scores(conn: psycopg.Connection, business_date: date | str) -> list[dict[str, Any]]:
    """Every score row of one day, as dicts (scope, scope_key, dimension, score, counts)."""
    cursor = conn.execute(
        "select scope, scope_key, dimension, score::float8 as score, rules, rules_failed, "
        "evaluated, failed from governance.quality_score where business_date = %s "
        "order by scope, scope_key, dimension",
        (_as_date(business_date),),
    )
    names = [c.name for c in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
