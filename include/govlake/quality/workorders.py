"""Work orders (问题工单): a failing quality rule becomes a task for the owning department.

One work order per (rule, table), however often the rule fails. Audits drive it
(:func:`sync_from_run`), people work it (:func:`assign`, :func:`start`, :func:`resolve`,
:func:`close`, :func:`reopen`, :func:`comment`), and every change is an event in
``governance.work_order_event`` (who, when, what). States (docs/quality_workorders.md)::

    open ─start→ in_progress ─resolve→ resolved ─(next audit passes)→ verified ─close→ closed
      └──────────────resolve───────────────┘  └──────────close (with a reason)──────────┘
    resolved / verified / closed ─(audit fails again, or reopen by a person)→ reopened
    reopened behaves like open (start, resolve).

The machine never closes an order: a person resolves it, the next passing audit verifies it,
a person closes it. Due dates come from the severity (blocking 1 day, warning 7 days;
``GOVLAKE_WORKORDER_DUE_DAYS_BLOCKING`` / ``_WARNING``), counted from opening and reopening.

:func:`neighbours` answers "what feeds this table, what does it feed" from the metadata
store (``govlake.lineage``): from the departmental source to the reports and exports.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

STATES: dict[str, tuple[str, str]] = {
    "open": ("待处理", "open"),
    "in_progress": ("处理中", "in progress"),
    "resolved": ("已整改待核验", "resolved, awaiting verification"),
    "verified": ("已核验", "verified by a passing audit"),
    "closed": ("已关闭", "closed"),
    "reopened": ("重新打开", "reopened"),
}
ACTIVE = ("open", "in_progress", "reopened")  # a person must act; these can be overdue
SETTLED = ("resolved", "verified", "closed")  # a new failure reopens these
DUE_DAYS = {"blocking": 1.0, "warning": 7.0}
DUE_ENV = {
    "blocking": "GOVLAKE_WORKORDER_DUE_DAYS_BLOCKING",
    "warning": "GOVLAKE_WORKORDER_DUE_DAYS_WARNING",
}
SYSTEM = "system"
_SYNC_LOCK = 4407830010  # serialises syncs (pg_advisory_xact_lock)
_ORDER_COLUMNS = (
    "work_order_id, rule_id, table_name, resource_id, department, assignee, dimension, "
    "severity, state, title, opened_at, due_at, first_run_id, last_run_id, last_failed, "
    "last_seen_at, resolved_at, verified_at, closed_at, reopen_count"
)


class WorkOrderError(ValueError):
    """An illegal move or a bad request; the message is Chinese first, then English."""


class WorkOrderNotFound(WorkOrderError, LookupError):
    pass


class LineageUnavailable(LookupError):
    """The metadata store holds no lineage yet (run ``govlake metadata harvest``)."""


def state_label(state: str) -> str:
    zh, en = STATES.get(state, (state, state))
    return f"{zh} {en}"


def actor(by: str | None = None) -> str:
    """Who is acting: ``--by``, else ``GOVLAKE_USER``, else the operating-system user."""
    if by and by.strip():
        return by.strip()
    from_env = os.environ.get("GOVLAKE_USER", "").strip()
    if from_env:
        return from_env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def due_days(severity: str) -> float:
    """Days to fix an order of this severity (environment overrides the defaults)."""
    if severity not in DUE_DAYS:
        raise WorkOrderError(f"未知严重度 unknown severity {severity!r}: one of {list(DUE_DAYS)}")
    raw = os.environ.get(DUE_ENV[severity], "").strip()
    if not raw:
        return DUE_DAYS[severity]
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if days <= 0:
        raise WorkOrderError(
            f"{DUE_ENV[severity]}={raw!r} 不是正数天数 is not a positive number of days"
        )
    return days


def _title(rule: dict[str, Any]) -> str:
    table = rule["table_name"]
    zh = rule["description_zh"] or rule["rule_id"]
    en = rule["description_en"] or rule["rule_id"]
    if rule["error"]:
        return f"{zh}（{table}，无法评估）· {en} ({table}: could not be evaluated)"
    failed = rule["failed"]
    return f"{zh}（{table}，不通过 {failed}）· {en} ({table}: {failed} failed)"


def _event(
    cur: psycopg.Cursor,
    order_id: int,
    who: str,
    kind: str,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    run_id: str | None = None,
    comment: str | None = None,
) -> None:
    cur.execute(
        "insert into governance.work_order_event (work_order_id, at, actor, kind, from_state, "
        "to_state, run_id, comment) values (%s, clock_timestamp(), %s, %s, %s, %s, %s, %s)",
        (order_id, who, kind, from_state, to_state, run_id, comment),
    )


def _owner(cur: psycopg.Cursor, resource_id: str | None, table_name: str) -> str | None:
    """The catalog's owning unit of a raw table (the governance mirror of the catalog)."""
    row = cur.execute(
        "select owner from governance.resource where resource_id = %s or raw_table = %s "
        "order by (resource_id = %s) desc limit 1",
        (resource_id, table_name, resource_id),
    ).fetchone()
    return row["owner"] if row else None


# --- audits drive the orders -------------------------------------------------------------


def sync_from_run(conn: psycopg.Connection, run_id: str) -> dict[str, Any]:
    """Open, update, reopen and verify work orders from one audit run's results.

    Returns counts per outcome (``opened``, ``failed_again``, ``reopened``, ``verified``,
    ``passed``, ``unchanged``) and ``work_orders``: the ids touched. Syncing a run again
    changes nothing (its events are already recorded); a run older than an order's latest
    failure does not change that order (``unchanged``).
    """
    counts: dict[str, Any] = dict.fromkeys(
        ("opened", "failed_again", "reopened", "verified", "passed", "unchanged"), 0
    )
    touched: list[int] = []
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (_SYNC_LOCK,))
        run = cur.execute(
            "select run_id, resource_id, coalesce(finished_at, started_at) as seen_at "
            "from governance.quality_run where run_id = %s",
            (run_id,),
        ).fetchone()
        if run is None:
            raise WorkOrderNotFound(f"审核运行 {run_id!r} 不存在 · audit run {run_id!r} not found")
        results = cur.execute(
            "select r.rule_id, r.table_name, coalesce(q.department, r.department) as department, "
            "r.dimension, r.severity, r.failed, r.success, r.error, q.description_zh, "
            "q.description_en, coalesce(q.resource_id, %s) as resource_id "
            "from governance.quality_result r left join governance.quality_rule q "
            "on q.rule_id = r.rule_id where r.run_id = %s order by r.table_name, r.rule_id",
            (run["resource_id"], run_id),
        ).fetchall()
        for result in results:
            order = cur.execute(
                f"select {_ORDER_COLUMNS} from governance.work_order "
                "where rule_id = %s and table_name = %s for update",
                (result["rule_id"], result["table_name"]),
            ).fetchone()
            if order is not None and (
                cur.execute(
                    "select 1 from governance.work_order_event "
                    "where work_order_id = %s and run_id = %s limit 1",
                    (order["work_order_id"], run_id),
                ).fetchone()
                or run["seen_at"] < order["last_seen_at"]
            ):
                counts["unchanged"] += 1
                continue
            outcome = (
                _passed(cur, run, order) if result["success"] else _failed(cur, run, result, order)
            )
            if outcome is None:
                continue
            counts[outcome[0]] += 1
            touched.append(outcome[1])
    counts["work_orders"] = sorted(set(touched))
    return counts


def _failed(cur: psycopg.Cursor, run: dict, result: dict, order: dict | None) -> tuple[str, int]:
    run_id, title = run["run_id"], _title(result)
    note = (
        "无法评估 could not be evaluated"
        if result["error"]
        else f"不通过 failed: {result['failed']}"
    )
    if order is None:
        due = timedelta(days=due_days(result["severity"]))
        order_id = cur.execute(
            "insert into governance.work_order (rule_id, table_name, resource_id, department, "
            "assignee, dimension, severity, state, title, opened_at, due_at, first_run_id, "
            "last_run_id, last_failed, last_seen_at) values (%s, %s, %s, %s, %s, %s, %s, "
            "'open', %s, now(), now() + %s, %s, %s, %s, %s) returning work_order_id",
            (
                result["rule_id"], result["table_name"], result["resource_id"],
                result["department"],
                _owner(cur, result["resource_id"], result["table_name"]),
                result["dimension"], result["severity"], title, due, run_id, run_id,
                result["failed"], run["seen_at"],
            ),
        ).fetchone()["work_order_id"]  # fmt: skip
        _event(cur, order_id, SYSTEM, "opened", to_state="open", run_id=run_id, comment=note)
        return "opened", order_id
    order_id = order["work_order_id"]
    seen = (title, run_id, result["failed"], run["seen_at"], result["severity"],
            result["dimension"], result["department"])  # fmt: skip
    update = (
        "update governance.work_order set title = %s, last_run_id = %s, last_failed = %s, "
        "last_seen_at = %s, severity = %s, dimension = %s, department = %s"
    )
    if order["state"] in ACTIVE:
        cur.execute(update + " where work_order_id = %s", (*seen, order_id))
        _event(cur, order_id, SYSTEM, "failed_again", run_id=run_id, comment=note)
        return "failed_again", order_id
    due = timedelta(days=due_days(result["severity"]))
    cur.execute(
        update + ", state = 'reopened', reopen_count = reopen_count + 1, due_at = now() + %s, "
        "resolved_at = null, verified_at = null, closed_at = null where work_order_id = %s",
        (*seen, due, order_id),
    )
    _event(cur, order_id, SYSTEM, "state", from_state=order["state"], to_state="reopened",
           run_id=run_id, comment=f"规则再次不通过 the rule failed again · {note}")  # fmt: skip
    return "reopened", order_id


def _passed(cur: psycopg.Cursor, run: dict, order: dict | None) -> tuple[str, int] | None:
    if order is None:
        return None  # a passing rule without an order: nothing to track
    run_id, order_id = run["run_id"], order["work_order_id"]
    # only an audit after the resolution verifies it
    if order["state"] == "resolved" and run["seen_at"] >= order["resolved_at"]:
        cur.execute(
            "update governance.work_order set state = 'verified', verified_at = now() "
            "where work_order_id = %s",
            (order_id,),
        )
        _event(cur, order_id, SYSTEM, "state", from_state="resolved", to_state="verified",
               run_id=run_id, comment="审核通过 the audit passed")  # fmt: skip
        return "verified", order_id
    if order["state"] == "closed":
        return None  # closed stays quiet: no event per passing audit, forever
    # an open order is not closed by the machine: a person resolves it
    _event(cur, order_id, SYSTEM, "passed", run_id=run_id, comment="审核通过 the audit passed")
    return "passed", order_id


# --- people work the orders --------------------------------------------------------------


def _locked(cur: psycopg.Cursor, order_id: int) -> dict[str, Any]:
    order = cur.execute(
        f"select {_ORDER_COLUMNS} from governance.work_order where work_order_id = %s for update",
        (order_id,),
    ).fetchone()
    if order is None:
        raise WorkOrderNotFound(f"工单 #{order_id} 不存在 · work order #{order_id} not found")
    return order


def _illegal(order: dict, verb_zh: str, verb_en: str, allowed: tuple[str, ...]) -> WorkOrderError:
    state = order["state"]
    return WorkOrderError(
        f"工单 #{order['work_order_id']} 状态为「{STATES[state][0]}」，不能{verb_zh}"
        f"（仅限：{'、'.join(STATES[s][0] for s in allowed)}）· "
        f"work order #{order['work_order_id']} is {state}: cannot {verb_en} "
        f"(only from {', '.join(allowed)})"
    )


def _required(text: str | None, what_zh: str, what_en: str, order_id: int) -> str:
    if text is None or not text.strip():
        raise WorkOrderError(
            f"工单 #{order_id}：需要{what_zh} · work order #{order_id}: {what_en} is required"
        )
    return text.strip()


def _move(
    conn: psycopg.Connection,
    order_id: int,
    to_state: str,
    allowed: tuple[str, ...],
    verb: tuple[str, str],
    by: str | None,
    note: str | None,
    extra_sql: str = "",
    extra: Callable[[dict], tuple] = lambda order: (),
    check: Callable[[dict], None] = lambda order: None,
) -> dict[str, Any]:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        order = _locked(cur, order_id)
        if order["state"] not in allowed:
            raise _illegal(order, *verb, allowed)
        check(order)
        cur.execute(
            f"update governance.work_order set state = %s{extra_sql} where work_order_id = %s",
            (to_state, *extra(order), order_id),
        )
        _event(cur, order_id, actor(by), "state", from_state=order["state"], to_state=to_state,
               comment=note)  # fmt: skip
        return _locked(cur, order_id)


def assign(conn: psycopg.Connection, order_id: int, to: str, by: str | None = None) -> dict:
    """Give the order to a unit or person of the owning department."""
    to = _required(to, "指派对象", "an assignee (--to)", order_id)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        order = _locked(cur, order_id)
        if order["state"] == "closed":
            raise _illegal(order, "指派", "assign", (*ACTIVE, "resolved", "verified"))
        cur.execute(
            "update governance.work_order set assignee = %s where work_order_id = %s",
            (to, order_id),
        )
        _event(cur, order_id, actor(by), "assigned", from_state=order["state"],
               to_state=order["state"], comment=to)  # fmt: skip
        return _locked(cur, order_id)


def start(conn: psycopg.Connection, order_id: int, by: str | None = None) -> dict:
    """开始处理: open / reopened → in_progress."""
    return _move(conn, order_id, "in_progress", ("open", "reopened"), ("开始处理", "start"),
                 by, None)  # fmt: skip


def resolve(conn: psycopg.Connection, order_id: int, note: str, by: str | None = None) -> dict:
    """已整改: open / in_progress / reopened → resolved, with a note of what was done."""
    note = _required(note, "整改说明", "a note (--note)", order_id)
    return _move(conn, order_id, "resolved", ACTIVE, ("标记已整改", "resolve"), by, note,
                 ", resolved_at = now()")  # fmt: skip


def close(
    conn: psycopg.Connection, order_id: int, reason: str | None = None, by: str | None = None
) -> dict:
    """关闭: verified → closed; resolved → closed only with a reason (not verified by audit)."""

    def unverified_needs_a_reason(order: dict) -> None:
        if order["state"] == "resolved":
            _required(reason, "关闭原因（未经审核核验）", "a reason (--reason) to close an "
                      "order no audit has verified", order_id)  # fmt: skip

    reason = reason.strip() if reason and reason.strip() else None
    return _move(conn, order_id, "closed", ("verified", "resolved"), ("关闭", "close"), by,
                 reason, ", closed_at = now()", check=unverified_needs_a_reason)  # fmt: skip


def reopen(conn: psycopg.Connection, order_id: int, reason: str, by: str | None = None) -> dict:
    """重新打开: resolved / verified / closed → reopened, with a reason; a new due date."""
    reason = _required(reason, "重新打开的原因", "a reason (--reason)", order_id)
    return _move(
        conn, order_id, "reopened", SETTLED, ("重新打开", "reopen"), by, reason,
        ", reopen_count = reopen_count + 1, due_at = now() + %s, resolved_at = null, "
        "verified_at = null, closed_at = null",
        extra=lambda order: (timedelta(days=due_days(order["severity"])),),
    )  # fmt: skip


def comment(conn: psycopg.Connection, order_id: int, text: str, by: str | None = None) -> None:
    """备注: a comment on the order, in any state."""
    text = _required(text, "备注内容", "comment text", order_id)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        order = _locked(cur, order_id)
        _event(cur, order_id, actor(by), "comment", from_state=order["state"],
               to_state=order["state"], comment=text)  # fmt: skip


# --- lineage -------------------------------------------------------------------------------

# what a neighbour says about itself, from the metadata store
_NEIGHBOUR_ATTRS = ("kind", "layer", "name_zh", "name_en", "resource_id", "department", "owner")


def neighbours(table_name: str, conn: psycopg.Connection | None = None) -> dict[str, list[dict]]:
    """What feeds a table and what is built on it, transitively, from the metadata store
    (``governance.md_*``, filled by ``govlake metadata harvest``).

    ``table_name`` is a dataset key: ``raw.police__person``, ``basic.population``.
    Upstream reaches the departmental source (``source:<system>/<object>``) and the lake
    batches (``lake:raw/<dept>/<resource>``) through the raw table; downstream reaches the
    libraries built on it and the reports and exports (dbt exposures) that consume them.
    Each neighbour is ``{"table", "kind", "layer", "name_zh", "name_en", "resource_id",
    "department", "owner", "distance"}`` (hops away), sorted by table. A table the store does
    not know has none. Raises :class:`LineageUnavailable` when nothing has been harvested.
    """
    if conn is None:
        from govlake.governance.store import connect

        with connect() as own:
            return neighbours(table_name, own)
    from govlake.lineage import graph as lineage_graph

    if not lineage_graph.store_ready(conn):
        raise LineageUnavailable(
            "元数据库为空，尚无血缘信息：先运行 `govlake metadata harvest` · the metadata store "
            "is empty: run `govlake metadata harvest` to collect lineage"
        )
    graph = lineage_graph.walk(conn, table_name, None, "both", None)

    def describe(nodes: list) -> list[dict]:
        found = [
            {"table": n.dataset, **{a: getattr(n, a) for a in _NEIGHBOUR_ATTRS},
             "distance": abs(n.distance)}
            for n in nodes
        ]  # fmt: skip
        return sorted(found, key=lambda n: n["table"])

    return {"upstream": describe(graph.upstream()), "downstream": describe(graph.downstream())}


# --- queries -------------------------------------------------------------------------------


def list_orders(
    conn: psycopg.Connection,
    state: str | None = None,
    department: str | None = None,
    overdue: bool = False,
) -> list[dict[str, Any]]:
    """Orders, most urgent first (overdue, then by due date); ``overdue`` keeps only the
    active orders (open / in progress / reopened) past their due date."""
    if state is not None and state not in STATES:
        raise WorkOrderError(f"未知状态 unknown state {state!r}: one of {', '.join(STATES)}")
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"select {_ORDER_COLUMNS}, (state = any(%(active)s) and due_at < now()) as overdue "
            "from governance.work_order "
            "where (%(state)s::text is null or state = %(state)s) "
            "and (%(department)s::text is null or department = %(department)s) "
            "and (not %(overdue)s or (state = any(%(active)s) and due_at < now())) "
            "order by (state = any(%(active)s) and due_at < now()) desc, "
            "(state = any(%(active)s)) desc, due_at, work_order_id",
            {"state": state, "department": department, "overdue": overdue,
             "active": list(ACTIVE)},
        ).fetchall()  # fmt: skip


def show_order(conn: psycopg.Connection, order_id: int) -> dict[str, Any]:
    """One order with its events, the latest failing result (masked samples, failing row
    keys) and its lineage neighbours (``lineage_error`` when the metadata store is empty)."""
    with conn.cursor(row_factory=dict_row) as cur:
        order = cur.execute(
            f"select {_ORDER_COLUMNS}, (state = any(%s) and due_at < now()) as overdue "
            "from governance.work_order where work_order_id = %s",
            (list(ACTIVE), order_id),
        ).fetchone()
        if order is None:
            raise WorkOrderNotFound(f"工单 #{order_id} 不存在 · work order #{order_id} not found")
        order["events"] = cur.execute(
            "select at, actor, kind, from_state, to_state, run_id, comment "
            "from governance.work_order_event where work_order_id = %s order by at, event_id",
            (order_id,),
        ).fetchall()
        order["latest_failure"] = cur.execute(
            "select r.run_id, run.business_date, run.started_at, r.column_name, r.evaluated, "
            "r.failed, r.observed, r.sample, r.error from governance.quality_result r "
            "join governance.quality_run run on run.run_id = r.run_id "
            "where r.rule_id = %s and r.table_name = %s and not r.success "
            "order by run.started_at desc, r.run_id desc limit 1",
            (order["rule_id"], order["table_name"]),
        ).fetchone()
        order["failing_rows"] = []
        if order["latest_failure"] is not None:
            order["failing_rows"] = cur.execute(
                "select row_key, value from governance.quality_failure "
                "where run_id = %s and rule_id = %s limit 20",
                (order["latest_failure"]["run_id"], order["rule_id"]),
            ).fetchall()
    order["lineage_error"] = None
    try:
        order["neighbours"] = neighbours(order["table_name"], conn)
    except LineageUnavailable as error:
        order["neighbours"] = {"upstream": [], "downstream": []}
        order["lineage_error"] = str(error)
    return order
