"""``govlake standards``: code sets, data elements, business terms and mappings.

Registered by the main command line as ``app.add_typer(standards.cli.app, name="standards")``.
Every command that changes a file validates the whole registry first and writes nothing
when a problem is found.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from govlake.standards.model import ELEMENT_KEYS, Element, Registry, Term
from govlake.standards.validate import RegistryError

app = typer.Typer(
    help="数据标准 Data standards: code sets, data elements, business terms, mappings.",
    no_args_is_help=True,
)
add_app = typer.Typer(help="新增 Add a data element or business term.", no_args_is_help=True)
update_app = typer.Typer(help="修改 Change a data element or business term.", no_args_is_help=True)
delete_app = typer.Typer(help="删除 Delete a data element or business term.", no_args_is_help=True)
app.add_typer(add_app, name="add")
app.add_typer(update_app, name="update")
app.add_typer(delete_app, name="delete")
console = Console(width=None if sys.stdout.isatty() else 160)

LISTS = ("codesets", "elements", "terms", "mappings")


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]")
    raise typer.Exit(code)


def _registry() -> Registry:
    from govlake.standards.registry import load_registry

    try:
        return load_registry()
    except RegistryError as error:
        _fail(str(error))


def _written(paths: list[Path], what: str) -> None:
    from govlake import config

    console.print(f"[green]✓[/green] {what}")
    for path in paths:
        try:
            shown = path.relative_to(config.PROJECT_ROOT)
        except ValueError:
            shown = path
        console.print(f"  wrote {shown}")


def _table(title: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


# --- reading -----------------------------------------------------------------------------


@app.command()
def validate() -> None:
    """校验 Validate every standards file; list every problem with its file and entry."""
    registry = _registry()
    console.print(
        f"[green]✓[/green] {len(registry.code_sets)} code sets "
        f"({sum(len(c.values) for c in registry.code_sets.values())} codes), "
        f"{len(registry.elements)} data elements, {len(registry.terms)} business terms, "
        f"{len(registry.mappings)} mappings"
    )


@app.command("format")
def format_() -> None:
    """整理 Rewrite hand-edited files in the canonical form the commands write (content kept)."""
    from govlake.standards.files import write_registry

    _written(write_registry(_registry()), "standards files in canonical form")


@app.command("list")
def list_(what: Annotated[str, typer.Argument(help=" | ".join(LISTS))]) -> None:
    """列表 List code sets, data elements, business terms or mappings."""
    registry = _registry()
    if what == "codesets":
        _table(
            "代码集 Code sets",
            ("id", "名称 name", "标准 edition", "代码数 codes"),
            [(c.id, c.name_zh, c.edition, len(c.values)) for c in registry.code_sets.values()],
        )
    elif what == "elements":
        _table(
            "数据元 Data elements",
            (
                "id",
                "名称 name",
                "name",
                "类型 type",
                "格式 format",
                "值域 value domain",
                "敏感级 grade",
            ),
            [
                (e.id, e.name_zh, e.name_en, e.type, e.format, e.domain(), e.sensitivity)
                for e in sorted(registry.elements.values(), key=lambda e: e.id)
            ],
        )
    elif what == "terms":
        _table(
            "业务术语 Business terms",
            ("id", "术语 term", "term", "同义词 synonyms", "数据元 elements"),
            [
                (t.id, t.term, t.term_en, "、".join(t.synonyms), ", ".join(t.elements))
                for t in sorted(registry.terms.values(), key=lambda t: t.id)
            ],
        )
    elif what == "mappings":
        _table(
            "代码映射 Departmental mappings",
            ("mapping", "部门 department", "字段 field", "代码集 code set", "本地代码 local codes"),
            [
                (
                    m.id,
                    m.department,
                    m.field,
                    ", ".join(sorted({r.code_set for r in m.rows})),
                    len(m.rows),
                )
                for m in registry.mappings.values()
            ],
        )
    else:
        _fail(f"未知类别 unknown list {what!r}: one of {', '.join(LISTS)}", 2)


def _heading(name: str, other_name: str, entry_id: str, details: tuple) -> None:
    """An entry's names and id, then each (label, value) of ``details`` that has a value."""
    console.print(f"[bold]{name}[/bold] · {other_name}  ([cyan]{entry_id}[/cyan])")
    for label, value in details:
        if value:
            console.print(f"  {label}: {value}")


def _show_code_set(registry: Registry, code_set_id: str, limit: int) -> None:
    code_set = registry.code_sets[code_set_id]
    _heading(
        code_set.name_zh,
        code_set.name_en,
        code_set.id,
        (
            ("标准 standard", code_set.standard),
            ("版本 edition", code_set.edition),
            ("来源 source", code_set.source),
            ("文件 file", code_set.file),
            ("说明 note", code_set.note),
        ),
    )
    values = code_set.values[:limit]
    _table(
        f"{len(code_set.values)} codes"
        + (f" (first {limit})" if limit < len(code_set.values) else ""),
        code_set.columns,
        [tuple(v.get(c, "") for c in code_set.columns) for v in values],
    )


def _show_element(registry: Registry, element: Element) -> None:
    from govlake.standards.validate import catalog_usage

    _heading(
        element.name_zh,
        element.name_en,
        element.id,
        (
            ("定义 definition", element.definition),
            ("类型 type", element.type),
            ("格式 format", element.format),
            ("单位 unit", element.unit),
            ("值域 value domain", element.domain()),
            ("敏感级 grade", element.sensitivity),
        ),
    )
    fields = catalog_usage().get(element.id, [])
    terms = [f"{t.id} {t.term}" for t in registry.terms.values() if element.id in t.elements]
    console.print(f"  目录字段 catalog fields: {', '.join(fields) or '-'}")
    console.print(f"  业务术语 terms: {', '.join(terms) or '-'}")


def _show_term(registry: Registry, term: Term) -> None:
    _heading(
        term.term,
        term.term_en or "",
        term.id,
        (
            ("类别 category", term.category),
            ("定义 definition", term.definition),
            ("同义词 synonyms", "、".join(term.synonyms)),
            ("依据 basis", term.basis),
        ),
    )
    _table(
        "数据元 Data elements",
        ("id", "名称 name", "值域 value domain"),
        [(e, registry.elements[e].name_zh, registry.elements[e].domain()) for e in term.elements],
    )


@app.command()
def show(
    identifier: Annotated[str, typer.Argument(help="code set, element, term or mapping id")],
    limit: Annotated[int, typer.Option(help="codes shown for a code set")] = 100,
) -> None:
    """查看 Show a code set, data element, business term or mapping."""
    registry = _registry()
    if identifier in registry.code_sets:
        _show_code_set(registry, identifier, limit)
    elif identifier in registry.elements:
        _show_element(registry, registry.elements[identifier])
    elif identifier in registry.terms:
        _show_term(registry, registry.terms[identifier])
    elif identifier in registry.mappings:
        mapping = registry.mappings[identifier]
        _table(
            f"{mapping.id}: {mapping.department} 字段 {mapping.field}",
            ("本地代码 local", "标准代码 standard", "代码集 code set"),
            [(r.local_code, r.standard_code, r.code_set) for r in mapping.rows],
        )
    else:
        by_term = [t for t in registry.terms.values() if identifier in (t.term, *t.synonyms)]
        if by_term:
            _show_term(registry, by_term[0])
            return
        _fail(f"未找到 nothing has the id {identifier!r}; try `govlake standards search`")


@app.command()
def search(
    text: str,
    limit: Annotated[int, typer.Option(help="hits shown")] = 50,
) -> None:
    """搜索 Search code sets, codes, data elements and business terms."""
    from govlake.standards.search import search as find

    hits = find(_registry(), text)
    if not hits:
        _fail(f"未找到 no match for {text!r}")
    _table(
        f"搜索 “{text}”: {len(hits)} hit(s)" + (f", first {limit}" if len(hits) > limit else ""),
        ("类别 kind", "id", "代码 code", "名称 name", "说明 detail"),
        [(h.kind, h.id, h.code, h.name, h.detail) for h in hits[:limit]],
    )


@app.command()
def check(
    target: Annotated[str, typer.Argument(help="element id, check algorithm or code set id")],
    value: str,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM-DD: birth dates after it are invalid")
    ] = None,
) -> None:
    """校验取值 Check a value: prints 有效 valid or 无效 invalid with the reason (exit 0/1)."""
    from govlake.standards.domain import UnknownTarget, value_problem

    registry = _registry()
    try:
        problem = value_problem(
            registry, target, value, date.fromisoformat(as_of) if as_of else None
        )
    except UnknownTarget:
        _fail(
            f"未知对象 {target!r} is neither a data element, a check algorithm "
            f"(gb11643, gb32100, cn_mobile) nor a code set",
            2,
        )
    if problem:
        console.print(f"[red]无效 invalid[/red]: {problem}")
        raise typer.Exit(1)
    console.print("[green]有效 valid[/green]")


# --- exchange ----------------------------------------------------------------------------

KIND_HELP = "codesets | codes | elements | terms | mappings"


@app.command("export")
def export_(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    path: Annotated[Path, typer.Argument(help="a .csv or .xlsx file")],
) -> None:
    """导出 Export one kind as CSV or Excel."""
    from govlake.standards.exchange import KINDS, export

    if kind not in KINDS:
        _fail(f"未知类别 unknown kind {kind!r}: one of {KIND_HELP}", 2)
    try:
        rows = export(_registry(), kind, path)
    except ValueError as error:
        _fail(str(error), 2)
    console.print(f"[green]✓[/green] exported {rows} {kind} row(s) to {path}")


@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help=KIND_HELP)],
    path: Annotated[Path, typer.Argument(help="a .csv or .xlsx file")],
    replace: Annotated[
        bool, typer.Option("--replace", help="the file is the complete content of its kind")
    ] = False,
) -> None:
    """导入 Import one kind from CSV or Excel (validated before anything is written)."""
    from govlake.standards.exchange import KINDS, import_table

    if kind not in KINDS:
        _fail(f"未知类别 unknown kind {kind!r}: one of {KIND_HELP}", 2)
    if not path.is_file():
        _fail(f"{path}: no such file", 2)
    try:
        rows, changed = import_table(kind, path, replace=replace)
    except RegistryError as error:
        _fail(f"{path}: nothing imported.\n{error}")
    except ValueError as error:
        _fail(str(error), 2)
    _written(changed, f"imported {rows} {kind} row(s) from {path}")


# --- add, update, delete ---------------------------------------------------------------

ElementOption = Annotated[str | None, typer.Option()]


# `add element` and `update element` take one option per Element field but the id; these
# two are named differently in the command functions.
OPTION_NAMES = {"type": "element_type", "format": "format_"}


def _element_fields(options: dict[str, Any]) -> dict[str, Any]:
    """Element fields (but the id) from an element command's options (its ``locals()``)."""
    fields = {k: options[OPTION_NAMES.get(k, k)] for k in ELEMENT_KEYS if k != "id"}
    for bound in ("range_min", "range_max"):
        fields[bound] = _whole(fields[bound])
    return fields


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """Only the fields an update command was given."""
    return {k: v for k, v in fields.items() if v is not None}


def _edit(change: Callable[[], list[Path]], what: str) -> None:
    """Make one change, or fail (exit 1) with its problems, having written nothing."""
    try:
        _written(change(), what)
    except RegistryError as error:
        _fail(f"nothing written.\n{error}")


@add_app.command("element")
def add_element(
    element_id: Annotated[str, typer.Argument(metavar="ID", help="KP.DE.nnnn")],
    name_zh: Annotated[str, typer.Option(help="中文名称")],
    name_en: Annotated[str, typer.Option(help="English name")],
    element_type: Annotated[str, typer.Option("--type", help="string, integer, decimal, date…")],
    sensitivity: Annotated[str, typer.Option(help="L1-L4")],
    definition: Annotated[str, typer.Option(help="定义：中文，然后英文")],
    format_: Annotated[str, typer.Option("--format", help='e.g. "18 chars"')],
    unit: ElementOption = None,
    code_set: ElementOption = None,
    pattern: ElementOption = None,
    check: ElementOption = None,
    range_min: Annotated[float | None, typer.Option("--min")] = None,
    range_max: Annotated[float | None, typer.Option("--max")] = None,
) -> None:
    """新增数据元 Add a data element."""
    fields = _element_fields(locals())
    from govlake.standards.edit import add_element as add

    _edit(lambda: add(Element(id=element_id, **fields)), f"added {element_id}")


def _whole(number: float | None) -> int | float | None:
    return int(number) if number is not None and number == int(number) else number


@update_app.command("element")
def update_element(
    element_id: Annotated[str, typer.Argument(metavar="ID")],
    name_zh: ElementOption = None,
    name_en: ElementOption = None,
    element_type: Annotated[str | None, typer.Option("--type")] = None,
    sensitivity: ElementOption = None,
    definition: ElementOption = None,
    format_: Annotated[str | None, typer.Option("--format")] = None,
    unit: ElementOption = None,
    code_set: ElementOption = None,
    pattern: ElementOption = None,
    check: ElementOption = None,
    range_min: Annotated[float | None, typer.Option("--min")] = None,
    range_max: Annotated[float | None, typer.Option("--max")] = None,
    clear: Annotated[list[str] | None, typer.Option(help="optional field to remove")] = None,
) -> None:
    """修改数据元 Change a data element (only the options given)."""
    changes = _given(_element_fields(locals()))
    from govlake.standards.edit import update_element as update

    _edit(lambda: update(element_id, changes, tuple(clear or ())), f"updated {element_id}")


@delete_app.command("element")
def delete_element(element_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """删除数据元 Delete a data element no catalog field or term names."""
    from govlake.standards.edit import delete_element as delete

    _edit(lambda: delete(element_id), f"deleted {element_id}")


@add_app.command("term")
def add_term(
    term_id: Annotated[str, typer.Argument(metavar="ID", help="KP.BT.nnn")],
    term: Annotated[str, typer.Option(help="术语")],
    definition: Annotated[str, typer.Option(help="定义：中文，然后英文")],
    element: Annotated[list[str], typer.Option(help="related data element (repeat)")],
    term_en: ElementOption = None,
    category: ElementOption = None,
    synonym: Annotated[list[str] | None, typer.Option(help="同义词 (repeat)")] = None,
    basis: ElementOption = None,
) -> None:
    """新增业务术语 Add a business term."""
    from govlake.standards.edit import add_term as add

    entry = Term(
        id=term_id,
        term=term,
        definition=definition,
        term_en=term_en,
        category=category,
        synonyms=tuple(synonym or ()),
        elements=tuple(element),
        basis=basis,
    )
    _edit(lambda: add(entry), f"added {term_id} {term}")


@update_app.command("term")
def update_term(
    term_id: Annotated[str, typer.Argument(metavar="ID")],
    term: ElementOption = None,
    definition: ElementOption = None,
    term_en: ElementOption = None,
    category: ElementOption = None,
    synonym: Annotated[list[str] | None, typer.Option(help="replaces the synonyms")] = None,
    element: Annotated[list[str] | None, typer.Option(help="replaces the elements")] = None,
    basis: ElementOption = None,
    clear: Annotated[list[str] | None, typer.Option(help="optional field to remove")] = None,
) -> None:
    """修改业务术语 Change a business term (only the options given)."""
    from govlake.standards.edit import update_term as update

    changes = _given(
        {
            "term": term,
            "definition": definition,
            "term_en": term_en,
            "category": category,
            "synonyms": tuple(synonym) if synonym else None,
            "elements": tuple(element) if element else None,
            "basis": basis,
        }
    )
    _edit(lambda: update(term_id, changes, tuple(clear or ())), f"updated {term_id}")


@delete_app.command("term")
def delete_term(term_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """删除业务术语 Delete a business term."""
    from govlake.standards.edit import delete_term as delete

    _edit(lambda: delete(term_id), f"deleted {term_id}")


# --- the warehouse -----------------------------------------------------------------------


@app.command()
def load() -> None:
    """入库 Load the standards into the governance schema and install the SQL checks."""
    from govlake.governance.store import connect
    from govlake.standards.check_sql import apply_check_functions
    from govlake.standards.governance import load_into_governance

    registry = _registry()
    with connect() as conn:
        counts = load_into_governance(conn, registry)
        divisions = apply_check_functions(conn)
    _table(
        "数据标准入库 Standards loaded into governance",
        ("table", "rows"),
        [(k, v) for k, v in counts.items()] + [("standards.gbt_2260 (check functions)", divisions)],
    )
