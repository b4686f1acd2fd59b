"""``govlake lineage``, ``govlake impact`` and ``govlake catalog site``: the metadata store's
questions on the command line.

Registered by the main command line (``include/govlake/cli.py``)::

    app.command("lineage")(graph_cli.lineage)
    app.command("impact")(graph_cli.impact)
    catalog_app.command("site")(graph_cli.site)

This module imports only typer and rich; the work is imported when a command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import psycopg
import typer
from rich.console import Console

console = Console(width=None if sys.stdout.isatty() else 160)

Target = Annotated[
    str,
    typer.Argument(
        help="数据集或字段 <dataset>[.<column>], e.g. basic.population or "
        "basic.population.id_number",
        show_default=False,
    ),
]


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _conn() -> Iterator[psycopg.Connection]:
    from govlake.lineage.cli import connect_or_fail
    from govlake.lineage.graph import LineageError

    with connect_or_fail() as conn:
        try:
            yield conn
        except LineageError as error:
            _fail(str(error))


def _write(path: Path, text: str, what: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        _fail(f"无法写入{what} cannot write the {what} file {path}: {error.strerror}")
    console.print(f"  {what}: {path}", highlight=False)


def lineage(
    target: Target,
    up: Annotated[
        bool, typer.Option("--up", help="只看上游 only upstream (where it comes from)")
    ] = False,
    down: Annotated[
        bool, typer.Option("--down", help="只看下游 only downstream (what uses it)")
    ] = False,
    depth: Annotated[
        int | None, typer.Option("--depth", min=0, help="最多几层 at most N hops (default: all)")
    ] = None,
    svg: Annotated[
        Path | None, typer.Option("--svg", help="血缘图写入 write the picture (SVG)")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="写入独立网页 write a standalone HTML page")
    ] = None,
) -> None:
    """数据血缘 Lineage of a dataset or a column: upstream, downstream, or both (default).

    Table level for a dataset, column level for <dataset>.<column>; from the metadata store."""
    from govlake.lineage.graph import lineage as walk
    from govlake.lineage.render import lineage_html, print_graph, standalone_svg

    direction = "both" if up == down else "up" if up else "down"
    with _conn() as conn:
        graph = walk(conn, target, direction, depth)
    print_graph(graph, console)
    if svg:
        _write(svg, standalone_svg(graph), "SVG")
    if html:
        _write(html, lineage_html(graph), "HTML")


def impact(
    target: Target,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON print JSON")] = False,
) -> None:
    """影响分析 Impact: what a change to a dataset or column would touch downstream.

    Datasets by layer, quality rules, open work orders, reports and exports, their owners."""
    from govlake.lineage.graph import impact as analyse
    from govlake.lineage.render import print_impact

    with _conn() as conn:
        found = analyse(conn, target)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    print_impact(found, console)


def site(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="输出目录 output folder (default: <output>/catalog)"),
    ] = None,
    principal: Annotated[
        str,
        typer.Option(
            "--as",
            help="以谁的权限展示样例 show sample values as this principal may see them "
            "(the site is published: default public)",
        ),
    ] = "public",
) -> None:
    """数据目录网站 Write the catalog site (static pages, searchable, works from file://).

    One page per dataset: entry, terms, fields with masked samples, lineage, quality, owner."""
    from govlake import config
    from govlake.lineage.site import build_site

    folder = out if out is not None else config.output_dir() / "catalog"
    with _conn() as conn:
        try:
            built = build_site(conn, folder, principal=principal)
        except OSError as error:
            _fail(f"无法写入目录网站 cannot write the catalog site into {folder}: {error}")
    console.print(
        f"[green]✓[/green] 数据目录 catalog site: {built.pages} 个数据集页面 dataset pages "
        f"（样例按 {principal} 的权限脱敏 samples as {principal} may see them）",
        highlight=False,
    )
    for note in built.notes:
        console.print(f"  [yellow]{note}[/yellow]", highlight=False)
    console.print(f"  {built.index}", highlight=False)
