"""Quality work orders (问题工单) on a real PostgreSQL: audits open, update, reopen and verify
them; people assign, start, resolve, close, reopen and comment; every change is an event."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
from govlake.catalog import load_catalog
from govlake.governance.store import connect, ensure_schema, sync_catalog
from govlake.lineage.store import harvest
from govlake.quality import workorders as wo
from govlake.quality.workorder_cli import app
from typer.testing import CliRunner

runner = CliRunner()

ID_RULE = "raw.police__person:completeness:id_number"
PHONE_RULE = "raw.police__person:format:phone"
POP_RULE = "basic.population:uniqueness:person_id"
RULES = {
    # rule_id: (table, department, resource, column, template, dimension, severity, zh, en)
    ID_RULE: ("raw.police__person", "police", "police.person", "id_number", "completeness",
              "completeness", "blocking", "公民身份号码不能为空", "id_number is not blank"),
    PHONE_RULE: ("raw.police__person", "police", "police.person", "phone", "format",
                 "normativity", "warning", "联系电话格式符合手机号码", "phone is a mobile number"),
    POP_RULE: ("basic.population", "police", None, "person_id", "uniqueness", "consistency",
               "warning", "人口库每人一行", "one row per person in population"),
}  # fmt: skip


@pytest.fixture
def conn(platform: dict) -> Iterator[psycopg.Connection]:
    """The governance schema with the catalog mirrored (owners) and three quality rules."""
    with connect(autocommit=True) as conn:
        ensure_schema(conn)
        sync_catalog(conn, load_catalog())
        for rule_id, (table, dept, resource, column, template, dim, sev, zh, en) in RULES.items():
            conn.execute(
                "insert into governance.quality_rule (rule_id, suite, table_name, resource_id, "
                "department, column_name, template, dimension, severity, stage, origin, "
                "expectation_type, kwargs, description_zh, description_en) values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, 'batch', 'generated', "
                "'ExpectColumnValuesToNotBeNull', %s, %s, %s)",
                (rule_id, table, table, resource, dept, column, template, dim, sev,
                 json.dumps({"column": column}), zh, en),
            )  # fmt: skip
        yield conn


def audit(conn: psycopg.Connection, outcomes: dict[str, int], sample: list | None = None) -> str:
    """Record an audit run as the auditor does: failed rows per rule (0 = passed)."""
    run_id = f"run-{uuid.uuid4().hex[:10]}"
    table = RULES[next(iter(outcomes))][0]
    conn.execute(
        "insert into governance.quality_run (run_id, suite, table_name, resource_id, trigger, "
        "business_date, started_at, finished_at, rules, rules_failed, success) values "
        "(%s, %s, %s, %s, 'manual', current_date, clock_timestamp(), clock_timestamp(), %s, %s, "
        "%s)",
        (run_id, table, table, RULES[next(iter(outcomes))][2], len(outcomes),
         sum(1 for f in outcomes.values() if f), not any(outcomes.values())),
    )  # fmt: skip
    for rule_id, failed in outcomes.items():
        tbl, dept, _, column, template, dim, sev, _, _ = RULES[rule_id]
        conn.execute(
            "insert into governance.quality_result (run_id, rule_id, suite, table_name, "
            "department, column_name, template, dimension, severity, evaluated, failed, success, "
            "sample) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1000, %s, %s, %s)",
            (run_id, rule_id, tbl, tbl, dept, column, template, dim, sev, failed, failed == 0,
             json.dumps(sample) if failed and sample else None),
        )  # fmt: skip
    return run_id


def order_of(conn: psycopg.Connection, rule_id: str) -> dict:
    orders = [o for o in wo.list_orders(conn) if o["rule_id"] == rule_id]
    assert len(orders) == 1, orders
    return orders[0]


def events(conn: psycopg.Connection, order_id: int) -> list[tuple]:
    return conn.execute(
        "select kind, actor, from_state, to_state, run_id, comment "
        "from governance.work_order_event where work_order_id = %s order by at, event_id",
        (order_id,),
    ).fetchall()


def snapshot(conn: psycopg.Connection) -> tuple[list, list]:
    return (
        conn.execute("select * from governance.work_order order by work_order_id").fetchall(),
        conn.execute(
            "select * from governance.work_order_event order by work_order_id, event_id"
        ).fetchall(),
    )


def test_the_whole_lifecycle(conn, monkeypatch):
    monkeypatch.setenv("GOVLAKE_USER", "li.na")
    run1 = audit(conn, {ID_RULE: 12}, sample=["4407**********1234"])
    assert wo.sync_from_run(conn, run1)["opened"] == 1
    order = order_of(conn, ID_RULE)
    oid = order["work_order_id"]
    assert order["state"] == "open" and order["first_run_id"] == order["last_run_id"] == run1
    assert order["department"] == "police" and order["severity"] == "blocking"
    assert order["assignee"] == "开平市公安局户政管理大队"  # the catalog's owning unit
    assert order["resource_id"] == "police.person" and order["last_failed"] == 12
    assert order["title"].startswith("公民身份号码不能为空（raw.police__person，不通过 12）")
    assert "id_number is not blank" in order["title"]
    assert order["due_at"] - order["opened_at"] == timedelta(days=1)

    run2 = audit(conn, {ID_RULE: 5})
    counts = wo.sync_from_run(conn, run2)
    assert counts["failed_again"] == 1 and counts["opened"] == 0 and counts["work_orders"] == [oid]
    again = order_of(conn, ID_RULE)
    assert again["work_order_id"] == oid and again["state"] == "open"
    assert again["last_run_id"] == run2 and again["last_failed"] == 5
    assert again["first_run_id"] == run1 and again["last_seen_at"] > order["last_seen_at"]
    assert "不通过 5" in again["title"] and again["due_at"] == order["due_at"]

    assert wo.start(conn, oid)["state"] == "in_progress"
    resolved = wo.resolve(conn, oid, note="户政大队已补录 5 条身份证号", by="wang.wei")
    assert resolved["state"] == "resolved" and resolved["resolved_at"] is not None

    run3 = audit(conn, {ID_RULE: 0})
    assert wo.sync_from_run(conn, run3)["verified"] == 1
    verified = order_of(conn, ID_RULE)
    assert verified["state"] == "verified" and verified["verified_at"] is not None

    assert wo.close(conn, oid)["state"] == "closed"

    run4 = audit(conn, {ID_RULE: 2})
    assert wo.sync_from_run(conn, run4)["reopened"] == 1
    reopened = order_of(conn, ID_RULE)
    assert reopened["work_order_id"] == oid and reopened["state"] == "reopened"
    assert reopened["reopen_count"] == 1 and reopened["last_failed"] == 2
    assert reopened["closed_at"] is None and reopened["resolved_at"] is None
    assert reopened["due_at"] > order["due_at"]  # a new due date, from the reopening
    now = conn.execute("select now()").fetchone()[0]
    assert abs(reopened["due_at"] - (now + timedelta(days=1))) < timedelta(minutes=1)

    assert events(conn, oid) == [
        ("opened", "system", None, "open", run1, "不通过 failed: 12"),
        ("failed_again", "system", None, None, run2, "不通过 failed: 5"),
        ("state", "li.na", "open", "in_progress", None, None),
        ("state", "wang.wei", "in_progress", "resolved", None, "户政大队已补录 5 条身份证号"),
        ("state", "system", "resolved", "verified", run3, "审核通过 the audit passed"),
        ("state", "li.na", "verified", "closed", None, None),
        ("state", "system", "closed", "reopened", run4,
         "规则再次不通过 the rule failed again · 不通过 failed: 2"),
    ]  # fmt: skip
    shown = wo.show_order(conn, oid)
    assert [e["kind"] for e in shown["events"]][-1] == "state"
    assert shown["latest_failure"]["run_id"] == run4


def test_dedup_across_runs_and_idempotent_resync(conn):
    run1 = audit(conn, {ID_RULE: 3, PHONE_RULE: 40})
    first = wo.sync_from_run(conn, run1)
    assert first["opened"] == 2 and len(first["work_orders"]) == 2
    before = snapshot(conn)
    resync = wo.sync_from_run(conn, run1)
    assert resync == {"opened": 0, "failed_again": 0, "reopened": 0, "verified": 0,
                      "passed": 0, "unchanged": 2, "work_orders": []}  # fmt: skip
    assert snapshot(conn) == before

    run2 = audit(conn, {ID_RULE: 1, PHONE_RULE: 0})
    second = wo.sync_from_run(conn, run2)
    assert second["failed_again"] == 1 and second["passed"] == 1 and second["opened"] == 0
    count = conn.execute("select count(*) from governance.work_order").fetchone()[0]
    assert count == 2  # one order per (rule, table), however often it fails
    # a passing audit does not close an open order: a person resolves it
    phone = order_of(conn, PHONE_RULE)
    assert phone["state"] == "open"
    assert events(conn, phone["work_order_id"])[-1][:5] == ("passed", "system", None, None, run2)
    after_second = snapshot(conn)
    assert wo.sync_from_run(conn, run2)["unchanged"] == 2 and snapshot(conn) == after_second
    # an older run synced late does not undo what a newer one saw
    wo.resolve(conn, phone["work_order_id"], note="已按 GB/T 手机号码格式清洗")
    stale = audit(conn, {PHONE_RULE: 0})
    conn.execute(
        "update governance.quality_run set started_at = now() - interval '2 days', "
        "finished_at = now() - interval '2 days' where run_id = %s",
        (stale,),
    )
    assert wo.sync_from_run(conn, stale)["unchanged"] == 1
    assert order_of(conn, PHONE_RULE)["state"] == "resolved"
    with pytest.raises(wo.WorkOrderNotFound, match="no-such-run"):
        wo.sync_from_run(conn, "no-such-run")


def test_illegal_transitions_are_rejected_with_a_clear_message(conn):
    wo.sync_from_run(conn, audit(conn, {ID_RULE: 1}))
    oid = order_of(conn, ID_RULE)["work_order_id"]
    recorded = len(events(conn, oid))
    with pytest.raises(
        wo.WorkOrderError, match=rf"工单 #{oid} 状态为「待处理」，不能关闭"
    ) as error:
        wo.close(conn, oid, reason="x")
    assert f"work order #{oid} is open: cannot close (only from verified, resolved)" in str(
        error.value
    )
    with pytest.raises(wo.WorkOrderError, match=rf"#{oid} is open: cannot reopen"):
        wo.reopen(conn, oid, reason="again")
    with pytest.raises(wo.WorkOrderError, match=r"a note \(--note\) is required"):
        wo.resolve(conn, oid, note="  ")
    wo.resolve(conn, oid, note="已修复")
    with pytest.raises(wo.WorkOrderError, match=rf"#{oid} is resolved: cannot start"):
        wo.start(conn, oid)
    with pytest.raises(wo.WorkOrderError, match=rf"#{oid} is resolved: cannot resolve"):
        wo.resolve(conn, oid, note="again")
    # closing what no audit has verified needs a reason
    with pytest.raises(wo.WorkOrderError, match=r"需要关闭原因.*a reason \(--reason\)"):
        wo.close(conn, oid)
    assert wo.close(conn, oid, reason="源系统已停用 the source is retired")["state"] == "closed"
    with pytest.raises(wo.WorkOrderError, match=rf"#{oid} is closed: cannot assign"):
        wo.assign(conn, oid, "someone")
    with pytest.raises(wo.WorkOrderError, match=rf"#{oid} is closed: cannot close"):
        wo.close(conn, oid, reason="twice")
    with pytest.raises(
        wo.WorkOrderNotFound, match="工单 #9999 不存在 · work order #9999 not found"
    ):
        wo.start(conn, 9999)
    with pytest.raises(wo.WorkOrderError, match="unknown state 'done'"):
        wo.list_orders(conn, state="done")
    kinds = [e[0] for e in events(conn, oid)]
    assert len(kinds) == recorded + 2 and kinds[-2:] == ["state", "state"]  # resolve, close
    reopened = wo.reopen(conn, oid, reason="群众投诉仍有空号码 complaints", by="zhao.lei")
    assert reopened["state"] == "reopened" and reopened["reopen_count"] == 1


def test_comments_assignments_and_actors(conn, monkeypatch):
    wo.sync_from_run(conn, audit(conn, {PHONE_RULE: 7}))
    oid = order_of(conn, PHONE_RULE)["work_order_id"]
    monkeypatch.delenv("GOVLAKE_USER", raising=False)
    import getpass

    os_user = getpass.getuser()
    wo.comment(conn, oid, "先核对源系统 check the source first")
    monkeypatch.setenv("GOVLAKE_USER", "chen.jing")
    wo.assign(conn, oid, "户政管理大队 数据组")
    wo.comment(conn, oid, "已联系 contacted", by="liu.yang")
    with pytest.raises(wo.WorkOrderError, match="comment text is required"):
        wo.comment(conn, oid, "")
    assert events(conn, oid)[1:] == [
        ("comment", os_user, "open", "open", None, "先核对源系统 check the source first"),
        ("assigned", "chen.jing", "open", "open", None, "户政管理大队 数据组"),
        ("comment", "liu.yang", "open", "open", None, "已联系 contacted"),
    ]
    assert order_of(conn, PHONE_RULE)["assignee"] == "户政管理大队 数据组"
    at = conn.execute(
        "select min(at), max(at) from governance.work_order_event where work_order_id = %s",
        (oid,),
    ).fetchone()
    assert isinstance(at[0], datetime) and at[0] < at[1]


def test_due_dates_by_severity_and_configuration(conn, monkeypatch):
    wo.sync_from_run(conn, audit(conn, {ID_RULE: 1, PHONE_RULE: 1}))
    blocking, warning = order_of(conn, ID_RULE), order_of(conn, PHONE_RULE)
    assert blocking["due_at"] - blocking["opened_at"] == timedelta(days=1)
    assert warning["due_at"] - warning["opened_at"] == timedelta(days=7)

    monkeypatch.setenv("GOVLAKE_WORKORDER_DUE_DAYS_WARNING", "3")
    monkeypatch.setenv("GOVLAKE_WORKORDER_DUE_DAYS_BLOCKING", "0.5")
    wo.sync_from_run(conn, audit(conn, {POP_RULE: 4}))
    population = order_of(conn, POP_RULE)
    assert population["due_at"] - population["opened_at"] == timedelta(days=3)
    assert population["assignee"] is None  # a library table has no catalog owner
    assert wo.due_days("blocking") == 0.5
    monkeypatch.setenv("GOVLAKE_WORKORDER_DUE_DAYS_WARNING", "soon")
    with pytest.raises(wo.WorkOrderError, match="GOVLAKE_WORKORDER_DUE_DAYS_WARNING='soon'"):
        wo.due_days("warning")


def test_overdue_listing(conn):
    wo.sync_from_run(conn, audit(conn, {ID_RULE: 1, PHONE_RULE: 1}))
    wo.sync_from_run(conn, audit(conn, {POP_RULE: 2}))
    late, resolved_late = order_of(conn, ID_RULE), order_of(conn, POP_RULE)
    # the clock moves on: both orders are past their due date
    conn.execute(
        "update governance.work_order set due_at = now() - interval '1 hour' "
        "where work_order_id = any(%s)",
        ([late["work_order_id"], resolved_late["work_order_id"]],),
    )
    wo.resolve(conn, resolved_late["work_order_id"], note="去重完成")  # resolved: not overdue
    overdue = wo.list_orders(conn, overdue=True)
    assert [o["work_order_id"] for o in overdue] == [late["work_order_id"]]
    everything = wo.list_orders(conn)
    assert everything[0]["work_order_id"] == late["work_order_id"] and everything[0]["overdue"]
    assert len(everything) == 3 and sum(o["overdue"] for o in everything) == 1
    assert [o["rule_id"] for o in wo.list_orders(conn, state="resolved")] == [POP_RULE]
    assert len(wo.list_orders(conn, department="police")) == 3
    assert wo.list_orders(conn, department="tax") == []

    result = runner.invoke(app, ["list", "--overdue"])
    assert result.exit_code == 0, result.output
    assert "逾期 overdue" in result.output and ID_RULE in result.output
    assert PHONE_RULE not in result.output


def test_the_command_line(conn, dbt_manifest):
    harvest(conn, by="test", sources=("catalog", "dbt"), dbt_target=dbt_manifest.parent)
    run = audit(conn, {ID_RULE: 2}, sample=["4407**********12X3", "(空)"])
    conn.execute(
        "insert into governance.quality_failure values (%s, %s, %s, %s)",
        (run, ID_RULE, json.dumps({"person_id": "P000123"}), "4407**********12X3"),
    )
    wo.sync_from_run(conn, run)
    oid = order_of(conn, ID_RULE)["work_order_id"]

    listed = runner.invoke(app, ["list", "--state", "open", "--department", "police"])
    assert listed.exit_code == 0, listed.output
    assert (
        "编号 id" in listed.output and str(oid) in listed.output and "待处理 open" in listed.output
    )

    assigned = runner.invoke(app, ["assign", str(oid), "--to", "户政大队数据组", "--by", "ops"])
    assert assigned.exit_code == 0, assigned.output
    assert f"工单 #{oid}" in assigned.output and "户政大队数据组" in assigned.output

    commented = runner.invoke(app, ["comment", str(oid), "正在核对", "--by", "ops"])
    assert commented.exit_code == 0 and "comment recorded (ops)" in commented.output

    bad = runner.invoke(app, ["close", str(oid), "--reason", "x"])
    assert bad.exit_code == 1
    assert f"#{oid}" in bad.output and "is open: cannot close" in bad.output

    resolved = runner.invoke(app, ["resolve", str(oid), "--note", "已补录", "--by", "ops"])
    assert resolved.exit_code == 0 and "resolved" in resolved.output

    shown = runner.invoke(app, ["show", str(oid)])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "公民身份号码不能为空" in out and "已整改待核验" in out
    assert "4407**********12X3" in out and "P000123" in out  # masked samples and row keys
    assert "户政大队数据组" in out and "正在核对" in out and "已补录" in out
    assert "raw.police__person" in out and "basic.population" in out  # downstream lineage
    assert "lake:raw/police/person" in out and "source:police_hukou/person" in out  # upstream
    assert "report:quality_daily_report" in out and "数据质量科" in out  # a report, its owner

    missing = runner.invoke(app, ["show", "424242"])
    assert missing.exit_code == 1 and "work order #424242 not found" in missing.output
    assert runner.invoke(app, ["reopen", str(oid)]).exit_code == 2  # --reason is required


def test_neighbours_from_the_lineage_store(conn, dbt_manifest):
    with pytest.raises(wo.LineageUnavailable, match="govlake metadata harvest"):
        wo.neighbours("basic.population", conn)  # nothing harvested yet
    harvest(conn, by="test", sources=("catalog", "dbt"), dbt_target=dbt_manifest.parent)
    population = wo.neighbours("basic.population", conn)
    upstream = {n["table"]: n for n in population["upstream"]}
    assert upstream["raw.police__person"]["kind"] == "table"
    assert upstream["raw.police__person"]["resource_id"] == "police.person"
    assert upstream["raw.police__person"]["owner"] == "开平市公安局户政管理大队"
    assert upstream["staging.stg_police__person"]["kind"] == "model"
    assert "basic.population" not in upstream
    # upstream now reaches the department: the lake batches and the source system
    assert upstream["lake:raw/police/person"]["layer"] == "lake"
    assert upstream["source:police_hukou/person"]["owner"] == "开平市公安局户政管理大队"

    person = wo.neighbours("raw.police__person", conn)
    downstream = {n["table"]: n for n in person["downstream"]}
    assert {"staging.stg_police__person", "basic.population"} <= set(downstream)
    assert [n["table"] for n in person["upstream"]] == [
        "lake:raw/police/person", "source:police_hukou/person"]  # fmt: skip
    # downstream now reaches the reports and exports, with their owners
    report = downstream["report:quality_daily_report"]
    assert report["kind"] == "exposure" and report["owner"] == "开平市政务服务数据管理局数据质量科"
    # transitively: what is built on the population library is downstream of the raw table
    built_on_population = {n["table"] for n in population["downstream"]}
    assert built_on_population and built_on_population <= set(downstream)

    assert wo.neighbours("raw.no_such_table", conn) == {"upstream": [], "downstream": []}
