"""``govlake quality``: rules, audits on demand, suites, scores and the daily report.

Registered by the main command line as ``app.add_typer(quality.cli.app, name="quality")``.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from govlake.quality.model import DIMENSIONS, SEVERITIES, TEMPLATES

app = typer.Typer(
    help="数据质量 Quality auditing: rules, audits, scores, reports.", no_args_is_help=True
)
console = Console(width=None if sys.stdout.isatty() else 160)


def _fail(message: str) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]")
    raise typer.Exit(1)


def _rules():
    from govlake.quality.rules import RuleConfigError, all_rules

    try:
        return all_rules()
    except RuleConfigError as error:
        _fail(str(error))


def _business_date(on: str | None) -> date:
    """The day given, else yesterday in Kaiping (a nightly audit covers the day before)."""
    if on:
        return date.fromisoformat(on)
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from govlake.config import TIMEZONE

    return (datetime.now(ZoneInfo(TIMEZONE)) - timedelta(days=1)).date()


@app.command("rules")
def rules_command(
    table: Annotated[str | None, typer.Option(help="only this table (schema.table)")] = None,
    department: Annotated[str | None, typer.Option(help="only this department")] = None,
    dimension: Annotated[str | None, typer.Option(help="only this dimension")] = None,
    template: Annotated[str | None, typer.Option(help="only this template")] = None,
    show: Annotated[bool, typer.Option("--list", help="list the rules themselves")] = False,
) -> None:
    """列出规则 List and count the rules by table, department, dimension and template."""
    rules = [
        r
        for r in _rules()
        if (table is None or r.table == table)
        and (department is None or r.department == department)
        and (dimension is None or r.dimension == dimension)
        and (template is None or r.template == template)
    ]
    if not rules:
        _fail("没有符合条件的规则 no rule matches")
    if show:
        listing = Table(title=f"质量规则 quality rules ({len(rules)})")
        for heading in ("规则 rule", "维度 dimension", "级别 severity", "来源 origin", "说明"):
            listing.add_column(heading, overflow="fold")
        for r in rules:
            listing.add_row(
                r.rule_id, DIMENSIONS[r.dimension][0], SEVERITIES[r.severity][0], r.origin,
                r.description_zh,
            )  # fmt: skip
        console.print(listing)
    for title, key, names in (
        ("按表 by table", lambda r: r.table, None),
        ("按部门 by department", lambda r: r.department, None),
        ("按维度 by dimension", lambda r: r.dimension, DIMENSIONS),
        ("按模板 by template", lambda r: r.template, TEMPLATES),
    ):
        counts = Counter(key(r) for r in rules)
        blocking = Counter(key(r) for r in rules if r.blocking)
        generated = Counter(key(r) for r in rules if r.origin == "generated")
        summary = Table(title=title)
        for heading in ("", "规则 rules", "阻断 blocking", "生成 generated", "配置 configured"):
            summary.add_column(heading)
        for name in sorted(counts):
            label = f"{names[name][0]} {name}" if names else name
            summary.add_row(
                label, str(counts[name]), str(blocking[name]), str(generated[name]),
                str(counts[name] - generated[name]),
            )  # fmt: skip
        summary.add_row("合计 total", str(len(rules)), str(sum(blocking.values())),
                        str(sum(generated.values())),
                        str(len(rules) - sum(generated.values())), style="bold")  # fmt: skip
        console.print(summary)


@app.command("sync")
def sync_command(
    check: Annotated[
        bool, typer.Option("--check", help="fail if the suites in expectations/ are stale")
    ] = False,
) -> None:
    """生成套件 Write the GX suites in expectations/ from the catalog and rule files."""
    from govlake.quality.gx_engine import stale_suites, write_suites
    from govlake.quality.rules import gx_rules, suites

    rules = gx_rules(_rules())
    if check:
        stale = stale_suites(rules)
        if stale:
            _fail(
                "expectations/ is out of date (run `govlake quality sync`): "
                + ", ".join(p.name for p in stale)
            )
        console.print(
            f"[green]✓[/green] {len(suites(rules))} suites match the catalog and rule files"
        )
        return
    paths = write_suites(rules, prune=True)
    console.print(f"[green]✓[/green] wrote {len(paths)} suites")


@app.command("run")
def run_command(
    target: Annotated[
        str, typer.Argument(help="a resource (police.person), a table/suite, or 'all'")
    ],
    on: Annotated[str | None, typer.Option("--date", help="business date, YYYY-MM-DD")] = None,
    batch: Annotated[str | None, typer.Option(help="audit this batch (default: the day's)")] = None,
) -> None:
    """按需审计 Audit on demand: one resource's batch, one table, or the whole day."""
    from govlake.catalog.loader import default_catalog
    from govlake.quality import audit

    business_date = _business_date(on)
    catalog = default_catalog()
    results = []
    if target == "all":
        results = audit.audit_day(business_date, trigger="manual")
        _scores_and_report(business_date)
    elif target in catalog.resources or target.replace("__", ".") in catalog.resources:
        resource_id = target if target in catalog.resources else target.replace("__", ".")
        batch_id = batch or audit.latest_batch(resource_id, business_date)
        if batch_id is None:
            _fail(f"{resource_id} 在 {business_date} 没有已入库批次 has no loaded batch that day")
        results = [audit.audit_batch(resource_id, batch_id, business_date, trigger="manual")]
    elif target.startswith("raw.") and any(
        r.raw_table == target[4:] for r in catalog.resources.values()
    ):
        resource = next(r for r in catalog.resources.values() if r.raw_table == target[4:])
        batch_id = batch or audit.latest_batch(resource.id, business_date)
        if batch_id is None:
            _fail(f"{resource.id} 在 {business_date} 没有已入库批次 has no loaded batch that day")
        results = [audit.audit_batch(resource.id, batch_id, business_date, trigger="manual")]
    else:
        try:
            results = [audit.audit_library(target, business_date, trigger="manual")]
        except KeyError as error:
            _fail(str(error.args[0]))
    _print_results(results)
    if any(r.blocking_failed for r in results):
        raise typer.Exit(2)


@app.command("release")
def release_command(
    resource: Annotated[str, typer.Argument(help="the resource, e.g. civil.low_income")],
    batch: Annotated[str, typer.Argument(help="the blocked batch id")],
    reason: Annotated[str, typer.Option(help="why it may flow on (recorded)")],
    by: Annotated[str | None, typer.Option(help="who decides (default: GOVLAKE_USER)")] = None,
) -> None:
    """放行 Let a blocked batch flow on after all (attached to raw again; recorded)."""
    from govlake.quality.audit import release_batch

    try:
        release_batch(resource, batch, reason, by)
    except (KeyError, ValueError) as error:
        _fail(str(error.args[0]))
    console.print(f"[green]✓[/green] {resource} {batch} 已放行 released: {reason}")


def _print_results(results) -> None:
    table = Table(title="审计结果 audit results")
    for heading in ("表 table", "批次 batch", "规则 rules", "未通过 failed", "阻断 blocking",
                    "结果 result", "数据文档 data docs"):  # fmt: skip
        table.add_column(heading, overflow="fold")
    for r in results:
        verdict = (
            "阻断 blocked" if r.blocking_failed else ("警告 warned" if r.failed else "通过 passed")
        )
        table.add_row(
            r.table, r.batch_id or "—", str(len(r.outcomes)), str(len(r.failed)),
            str(len(r.blocking_failed)), verdict, r.data_docs or "—",
        )  # fmt: skip
    console.print(table)
    for r in results:
        for outcome in r.failed:
            rule = r.rules[outcome.rule_id]
            detail = outcome.error or f"{outcome.failed}/{outcome.evaluated}"
            console.print(
                f"  [{'red' if rule.blocking else 'yellow'}]{SEVERITIES[rule.severity][0]}"
                f"[/] {rule.rule_id}: {rule.description_zh} — {detail}"
                + (f" e.g. {outcome.samples[:3]}" if outcome.samples else "")
            )


def _scores_and_report(business_date: date):
    from govlake.governance.store import connect
    from govlake.quality.report import build_report
    from govlake.quality.scores import compute_scores

    with connect() as conn:
        compute_scores(conn, business_date)
        conn.commit()
        path = build_report(conn, business_date)
    console.print(f"质量日报 quality report: {path}")
    return path


@app.command("report")
def report_command(
    on: Annotated[str | None, typer.Option("--date", help="business date, YYYY-MM-DD")] = None,
) -> None:
    """质量日报 Compute the day's scores and write the daily quality report (HTML)."""
    _scores_and_report(_business_date(on))


@app.command("scores")
def scores_command(
    on: Annotated[str | None, typer.Option("--date", help="business date, YYYY-MM-DD")] = None,
) -> None:
    """质量评分 Print the day's scores by department and dimension."""
    from govlake.governance.store import connect
    from govlake.quality.scores import compute_scores

    business_date = _business_date(on)
    with connect() as conn:
        compute_scores(conn, business_date)
        conn.commit()
        rows = conn.execute(
            "select scope, scope_key, dimension, score, rules, rules_failed from "
            "governance.quality_score where business_date = %s and scope <> 'table' "
            "order by scope desc, scope_key, dimension",
            (business_date,),
        ).fetchall()
    if not rows:
        _fail(f"{business_date} 没有审计结果 no audit results that day")
    table = Table(title=f"质量评分 quality scores {business_date}")
    for heading in ("范围 scope", "对象 key", "维度 dimension", "得分 score", "规则 rules",
                    "未通过 failed"):  # fmt: skip
        table.add_column(heading)
    for scope, key, dimension, score, rules, failed in rows:
        label = f"{DIMENSIONS[dimension][0]} {dimension}" if dimension in DIMENSIONS else dimension
        table.add_row(scope, key, label, f"{score:.2f}", str(rules), str(failed))
    console.print(table)
