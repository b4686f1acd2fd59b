"""Audits: run a table's rules at a hand-over and record what they found.

* :func:`audit_batch` — a raw batch, after it is loaded and before it flows on. A failing
  blocking rule marks the batch ``blocked`` (staging leaves it out) and the caller (the
  ingestion DAG's ``audit`` task) fails with the reasons; warnings pass and are recorded.
* :func:`audit_library` — a staging or library table after the libraries are built.
* :func:`audit_day` — everything for a business day: each resource's batch of the day,
  whether each was delivered, and every library table; then scores, work orders and the
  daily report (the nightly DAG and ``govlake quality run all``).

Great Expectations evaluates the rules in SQL inside PostgreSQL
(:mod:`govlake.quality.gx_engine`); the load gate and batch delivery are evaluated here
from the platform's own ledger. Results go to ``governance.quality_run``,
``quality_result`` and ``quality_failure``; failing rules open work orders.
"""

from __future__ import annotations

import json
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg

from govlake.catalog.loader import default_catalog
from govlake.governance.store import connect, ensure_schema
from govlake.lineage.steps import quality_recorded
from govlake.quality.masking import mask
from govlake.quality.model import DIMENSIONS, Rule, RuleOutcome
from govlake.quality.rules import (
    AS_OF,
    BATCH_DELIVERED,
    LOAD_GATE,
    PLATFORM_TYPES,
    SENSOR_ALERTS,
    all_rules,
    gx_rules,
    suites,
)

SAMPLE_SIZE = 20
_VALUE = "\0value"  # carries a failing key's value from the engine to the record
FAILING_CAP = 1000  # failing records kept per rule and run (the list a department fixes)


class AuditBlocked(RuntimeError):
    """A blocking rule failed: the batch does not flow on."""


@dataclass
class AuditResult:
    run_id: str
    suite: str
    table: str
    trigger: str
    business_date: date
    resource_id: str | None
    batch_id: str | None
    rules: dict[str, Rule]
    outcomes: list[RuleOutcome]
    rows_audited: int | None = None
    data_docs: str | None = None
    stage: str = "batch"
    work_orders: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[RuleOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def blocking_failed(self) -> list[RuleOutcome]:
        return [o for o in self.failed if self.rules[o.rule_id].blocking]

    @property
    def success(self) -> bool:
        return not self.failed

    def reasons(self) -> str:
        """Why the batch is blocked, one line per blocking rule, Chinese first."""
        lines = []
        for o in self.blocking_failed:
            rule = self.rules[o.rule_id]
            if o.error:
                what = f"无法评估 could not be evaluated: {o.error}"
            elif o.observed is not None and o.evaluated <= 1:  # a table-level rule
                what = f"观测值 observed {o.observed}"
            else:
                what = f"{o.failed}/{o.evaluated} 行不符合 rows failed"
            lines.append(
                f"- {rule.description_zh} ({rule.description_en}) [{rule.rule_id}]: {what}"
            )
        return "\n".join(lines)


def _run_id(table: str, business_date: date, trigger: str) -> str:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    return f"{business_date:%Y%m%d}-{trigger}-{table}-{stamp}-{uuid.uuid4().hex[:6]}"


# --- parameters ----------------------------------------------------------------------------


def _parameters(
    conn: psycopg.Connection, rules: list[Rule], business_date: date, batch_id: str | None
) -> dict[str, Any]:
    """Values of the rules' ``$PARAMETER`` bounds for this audit."""
    parameters: dict[str, Any] = {AS_OF: business_date.isoformat()}
    for rule in rules:
        name = rule.options.get("parameter")
        if not name:
            continue
        if rule.template == "fluctuation":
            low, high = _row_count_range(conn, rule, batch_id)
            parameters[f"{name}_min"], parameters[f"{name}_max"] = low, high
        elif rule.template == "timeliness":
            age = timedelta(days=int(rule.options["max_age_days"]))
            fresh_after = datetime.combine(business_date, time.min) - age + timedelta(days=1)
            parameters[name] = fresh_after.isoformat(sep=" ")
    return parameters


def _row_count_range(conn: psycopg.Connection, rule: Rule, batch_id: str | None):
    """The row-count range a full snapshot must fall in: the recent batches' median ±
    tolerance; with no history yet, at least one row."""
    window, tolerance = int(rule.options["window"]), float(rule.options["tolerance"])
    if rule.resource_id and rule.table.startswith("raw."):
        history = [
            row[0]
            for row in conn.execute(
                "select loaded_rows from governance.batch where resource_id = %s "
                "and state = 'loaded' and batch_id < coalesce(%s, '~') "
                "and coalesce(audit_state, 'passed') <> 'blocked' "
                "order by batch_id desc limit %s",
                (rule.resource_id, batch_id, window),
            )
        ]
    else:
        history = [
            row[0]
            for row in conn.execute(
                "select rows_audited from governance.quality_run where table_name = %s "
                "and rows_audited is not null order by started_at desc limit %s",
                (rule.table, window),
            )
        ]
    if not history:
        return 1, None
    median = statistics.median(history)
    return max(1, int(median * (1 - tolerance))), int(median * (1 + tolerance)) + 1


# --- platform-evaluated rules -----------------------------------------------------------------


def _gate_outcomes(
    conn: psycopg.Connection, rules: list[Rule], resource_id: str, batch_id: str
) -> list[RuleOutcome]:
    """The load gate: rows the loader quarantined, by cause, against the rows delivered."""
    batch = conn.execute(
        "select source_rows from governance.batch where resource_id = %s and batch_id = %s",
        (resource_id, batch_id),
    ).fetchone()
    delivered = batch[0] if batch else 0
    rows = conn.execute(
        "select stage, reason, field, source_file, source_row, record "
        "from governance.quarantine where resource_id = %s and batch_id = %s",
        (resource_id, batch_id),
    ).fetchall()
    catalog = default_catalog()
    key_fields = catalog.resource(resource_id).extract.primary_key
    by_gate: dict[str, list[tuple]] = {"rows": [], "required": [], "types": []}
    for row in rows:
        stage, reason = row[0], row[1]
        if stage == "extract":
            by_gate["rows"].append(row)
            continue
        # a row may break several gates (an empty required field and a bad date): it
        # counts in each
        if "必填" in reason:
            by_gate["required"].append(row)
        if "不是有效" in reason or "空字符" in reason:
            by_gate["types"].append(row)
    outcomes = []
    for rule in rules:
        hits = by_gate[rule.kwargs["gate"]]
        keys = []
        for _stage, _reason, _field, source_file, source_row, record in hits[:FAILING_CAP]:
            record = record if isinstance(record, dict) else {}
            key = {k: record.get(k) for k in key_fields if record.get(k) is not None}
            keys.append(key or {"source_file": source_file, "source_row": source_row})
        outcomes.append(
            RuleOutcome(
                rule_id=rule.rule_id,
                success=not hits,
                evaluated=max(delivered, len(hits)),
                failed=len(hits),
                samples=[_gate_sample(rule.kwargs["gate"], h) for h in hits[:SAMPLE_SIZE]],
                failing_keys=keys,
            )
        )
    return outcomes


_GATE_SAMPLE = {
    "rows": "无法解析的行（格式或编码） unparseable row (format or encoding)",
    "required": "必填字段为空 required field empty",
    "types": "字段值不符合类型 value not of its type",
}


def _gate_sample(gate: str, hit: tuple) -> str:
    """Where a quarantined row failed, without its values: a quarantine reason may quote
    the rejected value, and the sample is shown to everyone who reads the results (the
    value itself stays in the quarantine, for those entitled to it)."""
    _stage, _reason, field, source_file, source_row, _record = hit
    where = f"{source_file or '?'} row {source_row}" if source_row else (source_file or "?")
    return f"{where}: {_GATE_SAMPLE[gate]}" + (f" [{field}]" if field else "")


def _delivered_outcome(conn: psycopg.Connection, rule: Rule, business_date: date) -> RuleOutcome:
    row = conn.execute(
        "select batch_id from governance.batch where resource_id = %s and ingest_date = %s "
        "and state = 'loaded' order by batch_id desc limit 1",
        (rule.resource_id, business_date),
    ).fetchone()
    return RuleOutcome(
        rule_id=rule.rule_id,
        success=row is not None,
        evaluated=1,
        failed=0 if row else 1,
        observed=row[0] if row else None,
        samples=[] if row else [f"{business_date} 无已入库批次 no batch loaded"],
    )


def _sensor_outcome(conn: psycopg.Connection, rule: Rule, business_date: date) -> RuleOutcome:
    """A real-time check over one Kaiping day: the consumer's alerts of that check against
    the readings of that kind (offline: devices gone quiet against devices reporting)."""
    check, kind = rule.kwargs["check"], rule.kwargs["kind"]
    day = "(observed_at at time zone 'Asia/Shanghai')::date = %s"
    alerts = []
    if _exists(conn, "governance.sensor_alert"):
        alerts = conn.execute(
            "select device_id, observed_at, message_zh from governance.sensor_alert "
            f"where kind = %s and check_name = %s and {day} order by observed_at, device_id",
            (kind, check, business_date),
        ).fetchall()
    readings = 0
    if _exists(conn, f"raw.sensor__{kind}"):
        column = "distinct device_id" if check == "offline" else "*"
        readings = conn.execute(
            f"select count({column}) from raw.sensor__{kind} where {day}", (business_date,)
        ).fetchone()[0]
    failed = len({a[0] for a in alerts}) if check == "offline" else len(alerts)
    return RuleOutcome(
        rule_id=rule.rule_id,
        success=not alerts,
        evaluated=max(readings, failed),
        failed=failed,
        samples=[a[2] for a in alerts[:SAMPLE_SIZE]],
        failing_keys=[{"device_id": a[0], "observed_at": a[1]} for a in alerts[:FAILING_CAP]],
    )


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


# --- running and recording ------------------------------------------------------------------


def _gx_outcomes(
    suite: str,
    rules: list[Rule],
    where: str | None,
    run_id: str,
    parameters: dict[str, Any],
) -> tuple[list[RuleOutcome], int | None, str | None, str | None]:
    if not rules:
        return [], None, None, None
    from govlake.quality.gx_engine import run_suite

    run = run_suite(
        suite, rules, where=where, run_id=run_id, parameters=parameters, failing_cap=FAILING_CAP
    )
    for outcome in run.outcomes:
        # the failing values (masked by the engine), in the order of the failing keys
        values = run.failing_values.get(outcome.rule_id) or []
        outcome.failing_keys = [
            {**key, _VALUE: values[i] if i < len(values) else None}
            for i, key in enumerate(outcome.failing_keys)
        ]
    docs = str(run.data_docs) if run.data_docs else None
    return run.outcomes, run.rows_audited, run.gx_result_id, docs


def _record(
    conn: psycopg.Connection,
    result: AuditResult,
    started: datetime,
    gx_result_id: str | None,
) -> None:
    failed = result.failed
    with conn.transaction():
        conn.execute(
            "insert into governance.quality_run (run_id, suite, table_name, resource_id, "
            "batch_id, trigger, stage, business_date, started_at, finished_at, rows_audited, "
            "rules, rules_failed, blocking_failed, success, gx_result_id, data_docs, message) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, %s, "
            "%s, %s, %s)",
            (
                result.run_id, result.suite, result.table, result.resource_id, result.batch_id,
                result.trigger, result.stage, result.business_date, started, result.rows_audited,
                len(result.outcomes), len(failed), len(result.blocking_failed), result.success,
                gx_result_id, result.data_docs, result.reasons() or None,
            ),
        )  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                "insert into governance.quality_result (run_id, rule_id, suite, table_name, "
                "department, column_name, template, dimension, severity, evaluated, failed, "
                "success, observed, sample, error) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        result.run_id, o.rule_id, result.suite, result.table,
                        result.rules[o.rule_id].department, result.rules[o.rule_id].column,
                        result.rules[o.rule_id].template, result.rules[o.rule_id].dimension,
                        result.rules[o.rule_id].severity, o.evaluated,
                        min(o.failed, max(o.evaluated, 1)), o.success,
                        _json(o.observed), _json(_masked(result.rules[o.rule_id], o.samples)),
                        o.error,
                    )
                    for o in result.outcomes
                ],
            )  # fmt: skip
            with cur.copy(
                "copy governance.quality_failure (run_id, rule_id, row_key, value) from stdin"
            ) as copy:
                for o in result.outcomes:
                    rule = result.rules[o.rule_id]
                    for key in o.failing_keys[:FAILING_CAP]:
                        key = dict(key)
                        value = key.pop(_VALUE, None)
                        copy.write_row(
                            (
                                result.run_id, o.rule_id,
                                json.dumps(_masked_key(rule, key), ensure_ascii=False, default=str),
                                None if value is None else mask(str(value), rule.sensitivity),
                            )
                        )  # fmt: skip


def _masked(rule: Rule, samples: list[Any]) -> list[Any]:
    """Samples as stored: masked when the rule's column is graded sensitive (the engine
    masks already; masking twice is harmless and keeps the guarantee in one place)."""
    return [s if s is None else mask(str(s), rule.sensitivity) for s in samples]


def _masked_key(rule: Rule, key: dict[str, Any]) -> dict[str, Any]:
    """A failing row's key, as stored: record identifiers the source system assigned stay
    readable (the department must find the record), personal identifiers (L4, citizen
    identity numbers) are masked."""
    if not rule.resource_id:
        return key
    resource = default_catalog().resource(rule.resource_id)
    masked = {}
    for name, value in key.items():
        grade = resource.field(name).grade if name in resource.field_names else "L1"
        masked[name] = mask(str(value), grade) if value is not None and grade == "L4" else value
    return masked


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)


def _audit(
    conn: psycopg.Connection,
    table: str,
    rules: list[Rule],
    business_date: date,
    trigger: str,
    *,
    resource_id: str | None = None,
    batch_id: str | None = None,
    where: str | None = None,
    stage: str = "batch",
) -> AuditResult:
    started = datetime.now().astimezone()
    _ensure_check_functions(conn)
    run_id = _run_id(table, business_date, trigger)
    parameters = _parameters(conn, rules, business_date, batch_id)
    outcomes, rows, gx_id, docs = _gx_outcomes(table, gx_rules(rules), where, run_id, parameters)
    gates = [r for r in rules if r.expectation_type == LOAD_GATE]
    if gates and resource_id and batch_id:
        outcomes += _gate_outcomes(conn, gates, resource_id, batch_id)
    for rule in rules:
        if rule.expectation_type == BATCH_DELIVERED:
            outcomes.append(_delivered_outcome(conn, rule, business_date))
        elif rule.expectation_type == SENSOR_ALERTS:
            outcomes.append(_sensor_outcome(conn, rule, business_date))
    result = AuditResult(
        run_id=run_id, suite=table, table=table, trigger=trigger, business_date=business_date,
        resource_id=resource_id, batch_id=batch_id, rules={r.rule_id: r for r in rules},
        outcomes=outcomes, rows_audited=rows, data_docs=docs, stage=stage,
    )  # fmt: skip
    _record(conn, result, started, gx_id)
    quality_recorded(result, started)  # OpenLineage: govlake.quality.<table>, its assertions
    result.work_orders = _sync_work_orders(conn, run_id)
    return result


def _ensure_check_functions(conn: psycopg.Connection) -> None:
    """The SQL check algorithms rules call (``standards.*_problem``): installed on first use
    (a batch can be audited before anything else prepared the warehouse)."""
    installed = conn.execute(
        "select to_regprocedure('standards.citizen_id_problem(text)') is not null "
        "and to_regprocedure('standards.cn_mobile_problem(text)') is not null"
    ).fetchone()[0]
    if not installed:
        from govlake.standards.check_sql import apply_check_functions

        apply_check_functions(conn)


def _sync_work_orders(conn: psycopg.Connection, run_id: str) -> dict[str, Any]:
    from govlake.quality.workorders import sync_from_run

    with conn.transaction():
        return sync_from_run(conn, run_id) or {}


def _batch_where(batch_id: str) -> str:
    return "_batch_id = '" + batch_id.replace("'", "''") + "'"


def sync_rules(conn: psycopg.Connection, rules: list[Rule] | None = None) -> int:
    """Mirror the rules into ``governance.quality_rule`` (the files are the truth)."""
    rules = rules if rules is not None else all_rules()
    ensure_schema(conn)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(4407830004)")
        cur.execute("delete from governance.quality_rule")
        cur.executemany(
            "insert into governance.quality_rule (rule_id, suite, table_name, resource_id, "
            "department, column_name, template, dimension, severity, stage, origin, "
            "expectation_type, kwargs, description_zh, description_en) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    r.rule_id, r.suite, r.table, r.resource_id, r.department, r.column,
                    r.template, r.dimension, r.severity, r.stage, r.origin, r.expectation_type,
                    json.dumps(_stored_kwargs(r), ensure_ascii=False), r.description_zh,
                    r.description_en,
                )
                for r in rules
            ],
        )  # fmt: skip
    return len(rules)


def _stored_kwargs(rule: Rule) -> dict[str, Any]:
    kwargs = dict(rule.kwargs)
    if isinstance(kwargs.get("value_set"), list) and len(kwargs["value_set"]) > 50:
        kwargs["value_set"] = f"<{len(kwargs['value_set'])} codes>"
    return kwargs


# --- the hand-overs --------------------------------------------------------------------------


def audit_batch(
    resource_id: str, batch_id: str, business_date: date, trigger: str = "batch"
) -> AuditResult:
    """Audit one loaded raw batch and record the results.

    At the hand-over (``trigger="batch"``, the ingestion DAG's ``audit`` task) the audit
    also decides whether the batch flows on: passed, warned or blocked (detached from
    ``raw``). A re-audit — nightly, on demand — records results and work orders only: it
    never blocks or releases a batch behind the back of whoever decided about it.
    """
    resource = default_catalog().resource(resource_id)
    table = f"raw.{resource.raw_table}"
    rules = [r for r in all_rules() if r.table == table and r.stage == "batch"]
    # autocommit: each step commits at once, so no lock is held while GX runs
    with connect(autocommit=True) as conn:
        ensure_schema(conn)
        sync_rules(conn)
        result = _audit(
            conn, table, rules, business_date, trigger,
            resource_id=resource.id, batch_id=batch_id, where=_batch_where(batch_id),
        )  # fmt: skip
        if trigger == "batch":
            state = (
                "blocked" if result.blocking_failed else ("warned" if result.failed else "passed")
            )
            with conn.transaction():
                conn.execute(
                    "update governance.batch set audit_state = %s, audit_run_id = %s "
                    "where resource_id = %s and batch_id = %s",
                    (state, result.run_id, resource.id, batch_id),
                )
                _set_published(conn, resource, batch_id, published=state != "blocked")
    return result


def _set_published(conn: psycopg.Connection, resource, batch_id: str, published: bool) -> None:
    """Attach or detach the batch's partition of ``raw.<table>``.

    A blocked batch is detached: its rows stay in ``raw`` as a table of their own
    (``raw.<table>__b<batch>``) for inspection, and nothing that reads ``raw.<table>`` —
    staging, the libraries — sees them. Releasing it attaches it again.
    """
    from psycopg import sql

    from govlake.load.loader import _lock_key, partition_name

    table = resource.raw_table
    part = partition_name(table, batch_id)
    conn.execute("select pg_advisory_xact_lock(%s)", (_lock_key(resource),))
    attached = conn.execute(
        "select exists (select 1 from pg_inherits i "
        "join pg_class c on c.oid = i.inhrelid join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relname = %s and i.inhparent = %s::regclass)",
        (part, f"raw.{table}"),
    ).fetchone()[0]
    exists = conn.execute("select to_regclass(%s) is not null", (f"raw.{part}",)).fetchone()[0]
    if not exists or attached == published:
        return
    if published:
        conn.execute(
            sql.SQL("alter table raw.{} attach partition raw.{} for values in ({})").format(
                sql.Identifier(table), sql.Identifier(part), sql.Literal(batch_id)
            )
        )
    else:
        conn.execute(
            sql.SQL("alter table raw.{} detach partition raw.{}").format(
                sql.Identifier(table), sql.Identifier(part)
            )
        )


def release_batch(resource_id: str, batch_id: str, reason: str, by: str | None = None) -> None:
    """Let a blocked batch flow on after all (a person decided the block was wrong, or the
    rule's threshold is): the partition is attached again, the decision recorded."""
    from govlake.quality.workorders import actor

    resource = default_catalog().resource(resource_id)
    with connect() as conn, conn.transaction():
        row = conn.execute(
            "select audit_state from governance.batch where resource_id = %s and batch_id = %s",
            (resource.id, batch_id),
        ).fetchone()
        if row is None:
            raise KeyError(f"没有批次 no batch {batch_id} of {resource.id}")
        if row[0] != "blocked":
            raise ValueError(
                f"批次未被阻断 batch {batch_id} of {resource.id} is {row[0]}, not blocked"
            )
        _set_published(conn, resource, batch_id, published=True)
        conn.execute(
            "update governance.batch set audit_state = 'warned', message = %s "
            "where resource_id = %s and batch_id = %s",
            (f"放行 released by {actor(by)}: {reason}", resource.id, batch_id),
        )


def audit_library(table: str, business_date: date, trigger: str = "libraries") -> AuditResult:
    """Audit a whole staging or library table (or a raw table's library-stage rules)."""
    rules = [r for r in all_rules() if r.table == table and r.stage == "library"]
    if not rules:
        raise KeyError(f"没有规则 no library-stage rules for {table}")
    resource_id = rules[0].resource_id if table.startswith("raw.") else None
    with connect(autocommit=True) as conn:
        ensure_schema(conn)
        result = _audit(
            conn, table, rules, business_date, trigger, resource_id=resource_id, stage="library"
        )
    return result


def library_tables(rules: list[Rule] | None = None) -> list[str]:
    rules = rules if rules is not None else all_rules()
    return sorted({r.table for r in rules if r.stage == "library"})


def audit_libraries(business_date: date, trigger: str = "libraries") -> list[AuditResult]:
    """Every library-stage suite, after the libraries are built."""
    with connect() as conn:
        sync_rules(conn)
    return [audit_library(table, business_date, trigger) for table in library_tables()]


def latest_batch(resource_id: str, business_date: date) -> str | None:
    with connect() as conn:
        row = conn.execute(
            "select batch_id from governance.batch where resource_id = %s and ingest_date = %s "
            "and state = 'loaded' order by batch_id desc limit 1",
            (resource_id, business_date),
        ).fetchone()
    return row[0] if row else None


def audit_day(business_date: date, trigger: str = "schedule") -> list[AuditResult]:
    """Everything for one business day: each resource's batch, delivery and the libraries."""
    results = []
    catalog = default_catalog()
    for resource_id in sorted(catalog.resources):
        batch_id = latest_batch(resource_id, business_date)
        if batch_id is not None:
            results.append(audit_batch(resource_id, batch_id, business_date, trigger))
    results += audit_libraries(business_date, trigger)
    return results


def dimension_name(dimension: str) -> str:
    zh, _ = DIMENSIONS[dimension]
    return f"{zh} {dimension}"


__all__ = [
    "PLATFORM_TYPES",
    "AuditBlocked",
    "AuditResult",
    "audit_batch",
    "audit_day",
    "audit_libraries",
    "audit_library",
    "suites",
    "sync_rules",
]
