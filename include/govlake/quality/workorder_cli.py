"""``govlake workorders``: the quality work orders (问题工单) as departments work them.

Registered by the main command line as ``app.add_typer(workorder_cli.app, name="workorders")``.
Who acts: ``--by``, else ``GOVLAKE_USER``, else the operating-system user.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from govlake.quality import workorders as wo

app = typer.Typer(
    help="问题工单 Quality work orders: list, show, assign, start, resolve, close, reopen.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 160)

By = Annotated[
    str | None, typer.Option("--by", help="操作人 who acts (default: GOVLAKE_USER / OS user)")
]
OrderId = Annotated[int, typer.Argument(help="工单编号 work order id", show_default=False)]


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]")
    raise typer.Exit(code)


@contextmanager
def _conn() -> Iterator[psycopg.Connection]:
    from govlake import config
    from govlake.governance.store import connect, ensure_schema

    try:
        conn = connect()
    except (config.ConfigError, psycopg.OperationalError) as error:
        _fail(f"无法连接数据仓库 cannot reach the warehouse: {error}")
    with conn:
        ensure_schema(conn)
        try:
            yield conn
        except wo.WorkOrderError as error:
            _fail(str(error))


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def _state(order: dict[str, Any]) -> str:
    label = wo.state_label(order["state"])
    return f"[red]{label} · 逾期 overdue[/red]" if order.get("overdue") else label


def _table(
    title: str, columns: tuple[str, ...], rows: list[tuple], keep: tuple[str, ...] = ()
) -> None:
    """A rich table; cells fold rather than lose text, ``keep`` columns stay on one line."""
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in keep)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help=f"状态 state: {' | '.join(wo.STATES)}")] = None,
    department: Annotated[str | None, typer.Option(help="部门代码 department code")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看逾期 only overdue")] = False,
) -> None:
    """列表 List work orders, overdue and most urgent first."""
    with _conn() as conn:
        orders = wo.list_orders(conn, state=state, department=department, overdue=overdue)
    _table(
        f"问题工单 Work orders ({len(orders)})",
        ("编号 id", "状态 state", "严重度 severity", "部门 dept", "责任人 assignee",
         "规则 rule", "失败 failed", "截止 due",
         "重开 reopens"),
        [
            (o["work_order_id"], _state(o), o["severity"], o["department"], o["assignee"],
             o["rule_id"], o["last_failed"], _when(o["due_at"]), o["reopen_count"])
            for o in orders
        ],
        keep=("编号 id", "规则 rule"),
    )  # fmt: skip


@app.command()
def show(order_id: OrderId) -> None:
    """详情 One work order: its history, latest failing samples and lineage neighbours."""
    with _conn() as conn:
        order = wo.show_order(conn, order_id)
    console.print(f"[bold]工单 #{order['work_order_id']}[/bold] {order['title']}")
    _table(
        "工单 Work order",
        ("字段 field", "值 value"),
        [
            ("状态 state", _state(order)),
            ("规则 rule", order["rule_id"]),
            ("表 table", order["table_name"]),
            ("资源 resource", order["resource_id"]),
            ("部门 department", order["department"]),
            ("责任人 assignee", order["assignee"]),
            ("维度 dimension", order["dimension"]),
            ("严重度 severity", order["severity"]),
            ("打开 opened", _when(order["opened_at"])),
            ("截止 due", _when(order["due_at"])),
            ("最近失败 last failed", f"{order['last_failed']} (run {order['last_run_id']})"),
            ("重开次数 reopens", order["reopen_count"]),
        ],
    )
    failure = order["latest_failure"]
    if failure is not None:
        sample = failure["sample"]
        _table(
            "最近失败样例 Latest failing samples (masked 已脱敏)",
            ("运行 run", "业务日期 date", "字段 column", "评估 evaluated", "失败 failed",
             "样例 sample", "错误 error"),
            [(failure["run_id"], failure["business_date"], failure["column_name"],
              failure["evaluated"], failure["failed"],
              json.dumps(sample, ensure_ascii=False) if sample is not None else "",
              failure["error"])],
        )  # fmt: skip
    if order["failing_rows"]:
        _table(
            "失败记录 Failing rows",
            ("主键 row key", "值 value"),
            [(json.dumps(r["row_key"], ensure_ascii=False), r["value"])
             for r in order["failing_rows"]],
        )  # fmt: skip
    _table(
        "处理记录 History",
        ("时间 at", "操作人 actor", "事件 event", "状态 state", "运行 run", "说明 note"),
        [
            (_when(e["at"]), e["actor"], e["kind"],
             f"{e['from_state'] or ''} → {e['to_state']}".strip()
             if e["to_state"] and e["from_state"] != e["to_state"] else "",
             e["run_id"], e["comment"])
            for e in order["events"]
        ],
    )  # fmt: skip
    if order["lineage_error"]:
        console.print(f"[yellow]血缘 lineage: {order['lineage_error']}[/yellow]")
    else:
        lineage = order["neighbours"]
        _table(
            "血缘 Lineage: 上游 upstream / 下游 downstream",
            ("方向 direction", "表 table", "类型 kind", "资源 resource", "责任单位 owner"),
            [("上游 upstream", n["table"], n["kind"], n.get("resource_id"), n.get("owner"))
             for n in lineage["upstream"]]
            + [("下游 downstream", n["table"], n["kind"], n.get("resource_id"), n.get("owner"))
               for n in lineage["downstream"]],
        )  # fmt: skip


def _done(order: dict[str, Any], what: str) -> None:
    console.print(
        f"[green]✓[/green] 工单 #{order['work_order_id']} {what} → {wo.state_label(order['state'])}"
        + (f"，责任人 assignee {order['assignee']}" if order.get("assignee") else "")
    )


def _act(action: Callable[[psycopg.Connection], dict[str, Any]], what: str) -> None:
    with _conn() as conn:
        order = action(conn)
    _done(order, what)


@app.command()
def assign(
    order_id: OrderId,
    to: Annotated[str, typer.Option("--to", help="指派给 unit or person")],
    by: By = None,
) -> None:
    """指派 Assign to a unit or person of the owning department."""
    _act(lambda conn: wo.assign(conn, order_id, to, by=by), "已指派 assigned")


@app.command()
def start(order_id: OrderId, by: By = None) -> None:
    """开始处理 Start work: open / reopened → in_progress."""
    _act(lambda conn: wo.start(conn, order_id, by=by), "开始处理 started")


@app.command()
def resolve(
    order_id: OrderId,
    note: Annotated[str, typer.Option("--note", help="整改说明 what was fixed")],
    by: By = None,
) -> None:
    """已整改 Resolve: the next passing audit verifies it."""
    _act(lambda conn: wo.resolve(conn, order_id, note, by=by), "已整改 resolved")


@app.command()
def close(
    order_id: OrderId,
    reason: Annotated[
        str | None, typer.Option("--reason", help="原因 reason (needed when not verified)")
    ] = None,
    by: By = None,
) -> None:
    """关闭 Close a verified order (a resolved one only with a reason)."""
    _act(lambda conn: wo.close(conn, order_id, reason, by=by), "已关闭 closed")


@app.command()
def reopen(
    order_id: OrderId,
    reason: Annotated[str, typer.Option("--reason", help="原因 why it is reopened")],
    by: By = None,
) -> None:
    """重新打开 Reopen a resolved, verified or closed order (a new due date)."""
    _act(lambda conn: wo.reopen(conn, order_id, reason, by=by), "已重新打开 reopened")


@app.command()
def comment(
    order_id: OrderId,
    text: Annotated[str, typer.Argument(help="备注 the comment", show_default=False)],
    by: By = None,
) -> None:
    """备注 Add a comment."""
    with _conn() as conn:
        wo.comment(conn, order_id, text, by=by)
    console.print(f"[green]✓[/green] 工单 #{order_id} 已备注 comment recorded ({wo.actor(by)})")


@app.command()
def sync(run_id: Annotated[str, typer.Argument(help="审核运行 audit run id")]) -> None:
    """同步 Open / update / verify work orders from an audit run (audits do this themselves)."""
    with _conn() as conn:
        counts = wo.sync_from_run(conn, run_id)
    _table(
        f"工单同步 Work orders from run {run_id}",
        ("结果 outcome", "工单数 orders"),
        [(k, v) for k, v in counts.items() if k != "work_orders"],
    )
