"""``govlake metadata``: the metadata store (元数据) — harvest, look, compare, complete by
hand, and who may see sample values.

Registered by the main command line as ``app.add_typer(metadata_cli.app, name="metadata")``.
Who acts: ``--by``, else ``GOVLAKE_USER``, else the operating-system user. This module
imports only typer and rich; the work is imported when a command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="元数据 The metadata store: harvest, show, diff, history, manual additions, grants.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 160)

By = Annotated[
    str | None, typer.Option("--by", help="操作人 who acts (default: GOVLAKE_USER / OS user)")
]
Dataset = Annotated[
    str, typer.Argument(help="数据集 dataset key, e.g. basic.population", show_default=False)
]


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]", highlight=False)
    raise typer.Exit(code)


def connect_or_fail() -> psycopg.Connection:
    """A warehouse connection, or a message saying how to get one (the lineage commands)."""
    from govlake import config
    from govlake.governance.store import connect

    try:
        return connect()
    except (config.ConfigError, psycopg.OperationalError) as error:
        _fail(
            f"无法连接数据仓库 cannot reach the warehouse: {error} "
            "(start it with `govlake up`, or set GOVLAKE_PG_URL)"
        )


@contextmanager
def _conn(*, write: bool = False) -> Iterator[psycopg.Connection]:
    """A warehouse connection. Writers (``write=True``) create or update the store's tables
    first; readers only require them (no DDL, no lock: a reader never waits for a harvest,
    and a read-only role can read)."""
    from govlake.lineage.store import MetadataError, ensure_store, require_store

    with connect_or_fail() as conn:
        try:
            if write:
                ensure_store(conn)
            else:
                require_store(conn)
            yield conn
        except MetadataError as error:
            _fail(str(error))


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(title: str, columns: tuple[str, ...], rows: list[tuple], keep=()) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in keep)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _field_ref(dataset: str, name: str) -> str:
    return f"{dataset}.{name}" if name else dataset


# --- harvest, snapshots, diff ------------------------------------------------------------


@app.command()
def harvest(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="只采集 harvest only these (repeat): catalog, dbt, information_schema, "
            "openlineage (default: all)",
        ),
    ] = None,
    dbt_target: Annotated[
        Path | None,
        typer.Option(help="dbt 的 target 目录 dbt's target folder (default dbt_project/target)"),
    ] = None,
    label: Annotated[str | None, typer.Option(help="快照标签 a label for the snapshot")] = None,
    by: By = None,
) -> None:
    """采集元数据 Harvest the catalog, dbt, the warehouse and OpenLineage events.

    Every change is recorded (`govlake metadata history`) and a snapshot taken."""
    from govlake.lineage.manual import actor
    from govlake.lineage.store import DEFAULT_SOURCES
    from govlake.lineage.store import harvest as run_harvest

    with _conn(write=True) as conn:
        summary = run_harvest(
            conn,
            by=f"harvest:{actor(by)}",
            sources=tuple(source) if source else DEFAULT_SOURCES,
            dbt_target=dbt_target,
            label=label,
        )
    rows = [
        (origin, counts["datasets"], counts["fields"], counts["edges"])
        for origin, counts in summary.observed.items()
    ]
    _table(
        "采集来源 what each origin saw",
        ("来源 origin", "数据集 datasets", "字段 fields", "血缘边 edges"),
        rows,
    )
    if summary.changes:
        _table(
            "变更 changes recorded",
            ("动作 action", "对象 object", "数量 count"),
            [(a, k, n) for (a, k), n in sorted(summary.changes.items())],
        )
    for note in summary.notes:
        console.print(f"[yellow]! {note}[/yellow]", highlight=False)
    console.print(
        f"[green]✓[/green] 快照 snapshot {summary.snapshot_id}: {summary.datasets} 个数据集 "
        f"datasets, {summary.fields} 个字段 fields, {summary.edges} 条血缘边 edges; "
        f"{summary.changed} 项变更 changes; {summary.events} 个 OpenLineage 事件 events read, "
        f"{summary.drift_recorded} 次模式漂移 schema drift recorded",
        highlight=False,
    )


@app.command()
def snapshot(
    label: Annotated[str | None, typer.Option(help="快照标签 a label")] = None,
    by: By = None,
) -> None:
    """记录快照 Record the store as it is now, to compare with later (no harvest)."""
    from govlake.lineage.manual import actor
    from govlake.lineage.store import take_snapshot

    with _conn(write=True) as conn:
        taken = take_snapshot(conn, by=actor(by), label=label, reason="manual snapshot")
    console.print(
        f"[green]✓[/green] 快照 snapshot {taken.snapshot_id} at {_when(taken.taken_at)}"
        + (f" ({taken.label})" if taken.label else ""),
        highlight=False,
    )


@app.command()
def snapshots(limit: Annotated[int, typer.Option(help="最多 at most")] = 20) -> None:
    """快照列表 List the latest snapshots (ids for `diff`)."""
    with _conn() as conn:
        rows = conn.execute(
            "select s.snapshot_id, s.taken_at, s.taken_by, s.label, s.reason, "
            "(select count(*) from governance.md_snapshot_field f "
            " where f.snapshot_id = s.snapshot_id and f.field = ''), "
            "(select count(*) from governance.md_snapshot_edge e "
            " where e.snapshot_id = s.snapshot_id) "
            "from governance.md_snapshot s order by s.snapshot_id desc limit %s",
            (limit,),
        ).fetchall()
    _table(
        "元数据快照 snapshots",
        ("快照 id", "时间 taken at", "操作人 by", "标签 label", "原因 reason", "数据集 datasets",
         "血缘边 edges"),
        rows,
    )  # fmt: skip


@app.command()
def diff(
    from_ref: Annotated[
        str,
        typer.Option(
            "--from",
            help="起点 from: snapshot id, latest, previous, a date (2026-11-03: its last "
            "snapshot) or a time",
        ),
    ] = "previous",
    to_ref: Annotated[str, typer.Option("--to", help="终点 to (same forms)")] = "latest",
) -> None:
    """比较快照 Compare the store at two times: datasets, fields, lineage, schema drift."""
    from govlake.lineage.store import diff as compare

    with _conn() as conn:
        result = compare(conn, from_ref, to_ref)
    before, after = result.from_snapshot, result.to_snapshot
    console.print(
        f"[bold]元数据变化 metadata changes[/bold]: snapshot {before.snapshot_id} "
        f"({_when(before.taken_at)}) → {after.snapshot_id} ({_when(after.taken_at)})",
        highlight=False,
    )
    if result.empty:
        console.print("无变化 no changes")
        return
    sections = [
        ("新增数据集 datasets added", ("数据集 dataset", "类型 kind"), result.datasets_added),
        ("删除数据集 datasets dropped", ("数据集 dataset", "类型 kind"), result.datasets_dropped),
        ("新增字段 fields added", ("数据集 dataset", "字段 field", "类型 type"),
         result.fields_added),
        ("删除字段 fields removed", ("数据集 dataset", "字段 field", "类型 type"),
         result.fields_removed),
        ("字段类型变化 fields retyped",
         ("数据集 dataset", "字段 field", "原类型 was", "新类型 now"), result.fields_retyped),
        ("新增血缘 lineage edges added", ("来源 from", "去向 to"),
         [(_field_ref(*e[:2]), _field_ref(*e[2:])) for e in result.edges_added]),
        ("删除血缘 lineage edges removed", ("来源 from", "去向 to"),
         [(_field_ref(*e[:2]), _field_ref(*e[2:])) for e in result.edges_removed]),
        ("模式漂移 schema drift found at ingestion",
         ("发现时间 detected at", "对象 object", "变化 change", "批次 batch", "由 by"),
         [(d["at"], d["object"], d.get("change"), d.get("batch_id"), d["by"])
          for d in result.drift]),
    ]  # fmt: skip
    for title, columns, rows in sections:
        if rows:
            _table(f"{title} ({len(rows)})", columns, rows)


# --- looking ---------------------------------------------------------------------------


@app.command()
def show(
    target: Annotated[
        str,
        typer.Argument(
            help="数据集或字段 <dataset>[.<field>], e.g. raw.police__person.id_number",
            show_default=False,
        ),
    ],
    principal: Annotated[
        str | None,
        typer.Option("--as", help="以谁的权限取样 show samples as this principal (default: you)"),
    ] = None,
    samples: Annotated[int, typer.Option(help="样例个数 sample values to show")] = 5,
) -> None:
    """查看 Show a dataset or a field: entry, fields, lineage, changes, samples.

    Sample values of a field are masked above the principal's clearance."""
    from govlake.lineage import store
    from govlake.lineage.manual import actor

    with _conn() as conn:
        dataset, name = store.find(conn, target)
        entry = store.dataset_row(conn, dataset)
        edges = store.edge_rows(conn, dataset, name)
        if name is None:
            _show_dataset(entry, store.field_rows(conn, dataset))
        else:
            field_entry = next(f for f in store.field_rows(conn, dataset) if f["name"] == name)
            _show_field(entry, field_entry)
            if samples > 0:
                _show_samples(conn, dataset, name, actor(principal), samples)
        _show_edges(dataset, name, edges)
        changes = store.history(conn, _field_ref(dataset, name or ""), limit=8)
    if changes:
        _table(
            "最近变更 recent changes",
            ("时间 at", "操作人 by", "动作 action", "对象 object", "原因 reason"),
            [(c["changed_at"], c["changed_by"], c["action"], c["object"], c["reason"])
             for c in changes],
        )  # fmt: skip


def _show_dataset(entry: dict, fields: list[dict]) -> None:
    state = f"[red]已删除 dropped {_when(entry['dropped_at'])}[/red]" if entry["dropped_at"] else ""
    console.print(
        f"[bold]{entry['dataset']}[/bold] {entry['name_zh'] or ''} {entry['name_en'] or ''} "
        f"{state}",
        highlight=False,
    )
    for label, key in (("类型 kind", "kind"), ("层 layer", "layer"), ("说明 description",
                       "description"), ("责任单位 owner", "owner"), ("部门 department",
                       "department"), ("资源 resource", "resource_id"), ("最高敏感级 grade",
                       "grade"), ("标签 tags", "tags"), ("来源 origins", "origins"),
                       ("OpenLineage", "ol_name"), ("首次 first seen", "first_seen"),
                       ("最近 last seen", "last_seen")):  # fmt: skip
        if entry.get(key):
            console.print(f"  {label}: {_cell(entry[key])}", highlight=False)
    _table(
        f"字段 fields ({sum(1 for f in fields if not f['dropped_at'])})",
        ("字段 field", "类型 type", "数据元 element", "敏感级 grade", "依据 basis",
         "说明 description", "来源 origins", "已删除 dropped"),
        [(f["name"], f["data_type"], f["data_element"], f["grade"], f["grade_basis"],
          f["description"], f["origins"], f["dropped_at"]) for f in fields],
    )  # fmt: skip


def _show_field(entry: dict, field_entry: dict) -> None:
    console.print(
        f"[bold]{entry['dataset']}.{field_entry['name']}[/bold] "
        f"({entry['name_zh'] or entry['kind']})",
        highlight=False,
    )
    for label, key in (("类型 type", "data_type"), ("可空 nullable", "nullable"),
                       ("说明 description", "description"), ("数据元 data element",
                       "data_element"), ("代码集 code set", "code_set"), ("敏感级 grade",
                       "grade"), ("敏感级依据 grade from", "grade_basis"), ("来源 origins",
                       "origins"), ("已删除 dropped", "dropped_at")):  # fmt: skip
        if field_entry.get(key) is not None:
            console.print(f"  {label}: {_cell(field_entry[key])}", highlight=False)
    console.print(f"  责任单位 owner: {entry['owner'] or ''}", highlight=False)


def _show_samples(conn: psycopg.Connection, dataset: str, name: str, principal: str, n: int):
    from govlake.lineage.access import samples
    from govlake.lineage.store import MetadataError

    try:
        found = samples(conn, dataset, name, principal, limit=n)
    except MetadataError as error:
        console.print(f"  样例 samples: {error}", highlight=False)
        return
    how = (
        f"已脱敏 masked: {found.effective_grade} > {principal} 可见 may read {found.clearance}"
        if found.masked
        else f"未脱敏 shown: {principal} 可见 may read {found.clearance}"
    )
    console.print(f"  样例 samples ({how}): " + ", ".join(
        "NULL" if v is None else v for v in found.values) or "—", highlight=False)  # fmt: skip


def _show_edges(dataset: str, name: str | None, edges: list[dict]) -> None:
    upstream = [e for e in edges if e["target_dataset"] == dataset
                and (name is None or e["target_field"] == name)]  # fmt: skip
    downstream = [e for e in edges if e not in upstream]
    for title, rows in (("上游 upstream", upstream), ("下游 downstream", downstream)):
        if not rows:
            continue
        if name is None:  # a dataset: one line per neighbour and origin, fields counted
            grouped: dict[tuple, int] = {}
            for e in rows:
                other = e["source_dataset"] if e in upstream else e["target_dataset"]
                key = (other, e["origin"], e["job"])
                grouped[key] = grouped.get(key, 0) + (1 if e["source_field"] else 0)
            _table(
                f"{title} ({len({k[0] for k in grouped})})",
                ("数据集 dataset", "来源 origin", "作业 job", "字段边 field edges"),
                [(*key, count) for key, count in sorted(grouped.items())],
            )
        else:
            _table(
                f"{title} ({len(rows)})",
                ("来源 from", "去向 to", "转换 transformation", "说明 description",
                 "来源 origin", "作业 job"),
                [(_field_ref(e["source_dataset"], e["source_field"]),
                  _field_ref(e["target_dataset"], e["target_field"]), e["transformation"],
                  e["description"], e["origin"], e["job"]) for e in rows],
            )  # fmt: skip


@app.command()
def history(
    target: Annotated[
        str | None,
        typer.Argument(help="对象 a dataset, dataset.field or principal (default: all)"),
    ] = None,
    limit: Annotated[int, typer.Option(help="最多 at most")] = 50,
) -> None:
    """变更历史 The change log: who changed what, when, before and after."""
    import json

    from govlake.lineage import store

    with _conn() as conn:
        changes = store.history(conn, target, limit=limit)
    if not changes:
        console.print("无记录 no changes recorded" + (f" for {target}" if target else ""))
        return

    def brief(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)[:160]

    _table(
        f"变更历史 history{f' — {target}' if target else ''} ({len(changes)})",
        ("时间 at", "操作人 by", "动作 action", "类别 kind", "对象 object", "之前 before",
         "之后 after", "原因 reason"),
        [(c["changed_at"], c["changed_by"], c["action"], c["object_kind"], c["object"],
          brief(c["before"]), brief(c["after"]), c["reason"]) for c in changes],
    )  # fmt: skip


# --- by hand ---------------------------------------------------------------------------


@app.command("add-edge")
def add_edge(
    source: Dataset,
    target: Annotated[
        str,
        typer.Argument(
            help="去向 target dataset (report:<name> / export:<name> are registered on first use)",
            show_default=False,
        ),
    ],
    source_field: Annotated[str, typer.Option(help="来源字段 source field")] = "",
    target_field: Annotated[str, typer.Option(help="去向字段 target field")] = "",
    description: Annotated[str | None, typer.Option(help="说明 how the target is made")] = None,
    transformation: Annotated[
        str | None, typer.Option(help="转换 e.g. DIRECT/IDENTITY, INDIRECT/AGGREGATION")
    ] = None,
    job: Annotated[str | None, typer.Option(help="作业 the job or process that makes it")] = None,
    by: By = None,
) -> None:
    """手工血缘 Record lineage no harvester sees (e.g. a report built outside the platform)."""
    from govlake.lineage.manual import actor
    from govlake.lineage.manual import add_edge as record

    with _conn(write=True) as conn:
        edge_id = record(
            conn, source, target, source_field=source_field, target_field=target_field,
            transformation=transformation, description=description, job=job, by=by,
        )  # fmt: skip
    console.print(
        f"[green]✓[/green] 血缘边 edge {edge_id}: {_field_ref(source, source_field)} → "
        f"{_field_ref(target, target_field)} (manual, by {actor(by)})",
        highlight=False,
    )


@app.command("remove-edge")
def remove_edge(
    edge_id: Annotated[int, typer.Argument(help="血缘边编号 edge id", show_default=False)],
    by: By = None,
) -> None:
    """删除手工血缘 Retire an edge that was added by hand."""
    from govlake.lineage.manual import remove_edge as retire

    with _conn(write=True) as conn:
        retire(conn, edge_id, by=by)
    console.print(f"[green]✓[/green] 已删除血缘边 edge {edge_id} retired")


@app.command()
def annotate(
    dataset: Dataset,
    field: Annotated[str | None, typer.Option(help="字段 a field of the dataset")] = None,
    description: Annotated[
        str | None, typer.Option(help='说明 description ("" clears yours)')
    ] = None,
    data_element: Annotated[
        str | None, typer.Option(help='数据元 data element id, e.g. KP.DE.0102 ("" clears)')
    ] = None,
    grade: Annotated[str | None, typer.Option(help='敏感级 grade L1-L4 ("" clears)')] = None,
    by: By = None,
) -> None:
    """手工标注 Describe a dataset or field by hand (harvests never overwrite it)."""
    from govlake.lineage.manual import annotate as record

    with _conn(write=True) as conn:
        record(conn, dataset, field, description=description, data_element=data_element,
               grade=grade, by=by)  # fmt: skip
    console.print(
        f"[green]✓[/green] 已标注 annotated {_field_ref(dataset, field or '')}", highlight=False
    )


@app.command()
def owner(
    dataset: Dataset,
    name: Annotated[
        str, typer.Argument(help='责任单位或责任人 the owner ("" gives it back to harvests)')
    ],
    by: By = None,
) -> None:
    """设置责任单位 Set a dataset's owner by hand."""
    from govlake.lineage.manual import set_owner

    with _conn(write=True) as conn:
        set_owner(conn, dataset, name, by=by)
    console.print(f"[green]✓[/green] {dataset} 责任单位 owner: {name or '(harvested)'}")


# --- permissions -----------------------------------------------------------------------


@app.command()
def grant(
    principal: Annotated[str, typer.Argument(help="主体 a user or account", show_default=False)],
    grade: Annotated[str, typer.Argument(help="最高可见敏感级 L1-L4", show_default=False)],
    dataset: Annotated[str, typer.Option(help="数据集 a dataset, or * for all")] = "*",
    by: By = None,
) -> None:
    """授权 Let a principal read sample values up to a grade (default clearance: L2)."""
    from govlake.lineage.access import grant as allow

    with _conn(write=True) as conn:
        allow(conn, principal, grade, dataset, by=by)
    console.print(
        f"[green]✓[/green] {principal} 可见 may read {grade.upper()} on {dataset}", highlight=False
    )


@app.command()
def revoke(
    principal: Annotated[str, typer.Argument(help="主体 a user or account", show_default=False)],
    dataset: Annotated[str, typer.Option(help="数据集 a dataset, or * for all")] = "*",
    by: By = None,
) -> None:
    """撤销授权 Withdraw a principal's grant."""
    from govlake.lineage.access import revoke as withdraw

    with _conn(write=True) as conn:
        if not withdraw(conn, principal, dataset, by=by):
            _fail(f"{principal} 在 {dataset} 上没有授权 has no grant on {dataset}")
    console.print(f"[green]✓[/green] 已撤销 revoked {principal} on {dataset}", highlight=False)


@app.command()
def grants(
    principal: Annotated[str | None, typer.Argument(help="主体 (default: all)")] = None,
) -> None:
    """授权列表 List grants."""
    from govlake.lineage.access import DEFAULT_CLEARANCE
    from govlake.lineage.access import grants as listed

    with _conn() as conn:
        rows = listed(conn, principal)
    _table(
        f"授权 grants (未授权者可见 {DEFAULT_CLEARANCE} · default clearance {DEFAULT_CLEARANCE})",
        ("主体 principal", "数据集 dataset", "最高敏感级 max grade", "授权人 by", "时间 at"),
        [(g.principal, g.dataset, g.max_grade, g.granted_by, g.granted_at) for g in rows],
    )
