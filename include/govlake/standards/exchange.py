"""Import and export the registry as CSV or Excel (.xlsx), one table per kind.

Kinds and their columns:

* ``codesets`` — the code-set index: id, name_zh, name_en, standard, edition, source, file, note
* ``codes`` — every code of every code set: code_set, then the union of the code sets'
  columns (code, name, name_en, ...); a code set's own columns are those of its file
* ``elements`` — one row per data element; ``range`` becomes range_min and range_max
* ``terms`` — one row per business term; synonyms and elements joined with ``|``
* ``mappings`` — mapping (``<department>__<field>``), local_code, standard_code, code_set

Every cell is text (Excel cells are written as text, so ``01`` stays ``01``). Export then
import gives back the same files byte for byte. Import validates the whole registry
before writing anything. By default rows are added or update the entries with the same
key; ``replace`` makes the file the complete content of its kind (for ``codes``: the
complete list of each code set in the file; code sets not in the file keep theirs).
"""

from __future__ import annotations

from pathlib import Path

from govlake.standards.files import MAPPING_NAME, csv_text, parse_number, read_csv
from govlake.standards.model import (
    CODE_SET_KEYS,
    ELEMENT_KEYS,
    LIST_SEPARATOR,
    MAPPING_COLUMNS,
    TERM_KEYS,
    CodeSet,
    Element,
    Mapping,
    MappingRow,
    Registry,
    Term,
)
from govlake.standards.registry import commit, load_registry
from govlake.standards.validate import RegistryError

KINDS = ("codesets", "codes", "elements", "terms", "mappings")
Rows = list[dict[str, str]]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(v) for v in value)
    return str(value)


def table(registry: Registry, kind: str) -> tuple[list[str], Rows]:
    """The columns and rows of one kind."""
    if kind == "codesets":
        rows = [
            {k: _cell(getattr(c, k)) for k in CODE_SET_KEYS} for c in registry.code_sets.values()
        ]
        return list(CODE_SET_KEYS), rows
    if kind == "codes":
        columns = ["code_set"]
        for code_set in registry.code_sets.values():
            columns += [c for c in code_set.columns if c not in columns]
        rows = [
            {c: {"code_set": code_set.id, **value}.get(c, "") for c in columns}
            for code_set in registry.code_sets.values()
            for value in code_set.values
        ]
        return columns, rows
    if kind == "elements":
        rows = []
        for element in sorted(registry.elements.values(), key=lambda e: e.id):
            rows.append({k: _cell(getattr(element, k)) for k in ELEMENT_KEYS})
        return list(ELEMENT_KEYS), rows
    if kind == "terms":
        rows = [
            {k: _cell(getattr(t, k)) for k in TERM_KEYS}
            for t in sorted(registry.terms.values(), key=lambda t: t.id)
        ]
        return list(TERM_KEYS), rows
    if kind == "mappings":
        rows = [
            {
                "mapping": m.id,
                "local_code": r.local_code,
                "standard_code": r.standard_code,
                "code_set": r.code_set,
            }
            for m in registry.mappings.values()
            for r in m.rows
        ]
        return ["mapping", *MAPPING_COLUMNS], rows
    raise ValueError(f"未知类别 unknown kind {kind!r}: one of {', '.join(KINDS)}")


# --- files -------------------------------------------------------------------------------


def write_table(path: Path, columns: list[str], rows: Rows, sheet: str) -> None:
    if path.suffix.lower() == ".csv":
        path.write_text(csv_text(columns, rows), encoding="utf-8")
        return
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path}: export to .csv or .xlsx")
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    worksheet.append(columns)
    for row in rows:
        worksheet.append([row.get(c, "") for c in columns])
    for column in worksheet.iter_cols():
        for cell in column:
            cell.number_format = "@"  # text: codes such as 01 stay as written
            cell.data_type = "s"
    worksheet.freeze_panes = "A2"
    workbook.save(path)


def read_table(path: Path) -> tuple[list[str], Rows]:
    if path.suffix.lower() == ".csv":
        return read_csv(path)
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path}: import from .csv or .xlsx")
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        values = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not values:
        return [], []
    header = [_cell(v) for v in values[0]]
    while header and header[-1] == "":
        header.pop()
    rows = []
    for raw in values[1:]:
        cells = [_cell(v) for v in raw[: len(header)]]
        if any(cells):
            rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True)))
    return header, rows


def export(registry: Registry, kind: str, path: Path) -> int:
    """Write one kind to ``path`` (.csv or .xlsx); return the rows written."""
    columns, rows = table(registry, kind)
    write_table(Path(path), columns, rows, sheet=kind)
    return len(rows)


# --- import ------------------------------------------------------------------------------


def _optional(row: dict[str, str], key: str) -> str | None:
    return row.get(key) or None


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part for part in (text or "").split(LIST_SEPARATOR) if part != "")


def _element(row: dict[str, str]) -> Element:
    return Element(
        id=row.get("id", ""),
        name_zh=row.get("name_zh", ""),
        name_en=row.get("name_en", ""),
        type=row.get("type", ""),
        sensitivity=row.get("sensitivity", ""),
        **{
            k: _optional(row, k)
            for k in ("definition", "format", "unit", "code_set", "pattern", "check")
        },
        range_min=parse_number(row.get("range_min")),
        range_max=parse_number(row.get("range_max")),
    )


def _term(row: dict[str, str]) -> Term:
    return Term(
        id=row.get("id", ""),
        term=row.get("term", ""),
        definition=row.get("definition", ""),
        term_en=_optional(row, "term_en"),
        category=_optional(row, "category"),
        synonyms=_split(row.get("synonyms")),
        elements=_split(row.get("elements")),
        basis=_optional(row, "basis"),
    )


def _require_columns(kind: str, header: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        raise RegistryError([f"{kind}: the file lacks column(s) {', '.join(missing)}"])


def _merge(current: dict, incoming: dict, replace: bool) -> dict:
    return dict(incoming) if replace else {**current, **incoming}


def apply_table(
    registry: Registry, kind: str, header: list[str], rows: Rows, replace: bool
) -> None:
    """Change ``registry`` (in place) by the rows of one kind."""
    if kind == "elements":
        _require_columns(kind, header, ("id", "name_zh", "name_en", "type", "sensitivity"))
        try:
            incoming = {e.id: e for e in map(_element, rows)}
        except ValueError as error:
            raise RegistryError([f"elements: {error}"]) from error
        registry.elements = _merge(registry.elements, incoming, replace)
    elif kind == "terms":
        _require_columns(kind, header, ("id", "term", "definition"))
        registry.terms = _merge(registry.terms, {t.id: t for t in map(_term, rows)}, replace)
    elif kind == "codesets":
        _require_columns(kind, header, ("id", "name_zh", "edition", "file"))
        incoming = {}
        for row in rows:
            old = registry.code_sets.get(row["id"])
            incoming[row["id"]] = CodeSet(
                **{k: row.get(k, "") for k in ("id", "name_zh", "name_en", "edition", "file")},
                **{k: _optional(row, k) for k in ("standard", "source", "note")},
                columns=old.columns if old else ("code", "name"),
                values=old.values if old else [],
            )
        registry.code_sets = _merge(registry.code_sets, incoming, replace)
    elif kind == "codes":
        _apply_codes(registry, header, rows, replace)
    elif kind == "mappings":
        _require_columns(kind, header, ("mapping", *MAPPING_COLUMNS))
        incoming: dict[str, Mapping] = {}
        for row in rows:
            name = MAPPING_NAME.match(row["mapping"])
            if not name:
                raise RegistryError([f"mappings: {row['mapping']!r} is not <department>__<field>"])
            mapping = incoming.setdefault(row["mapping"], Mapping(name.group(1), name.group(2)))
            mapping.rows.append(
                MappingRow(row["local_code"], row["standard_code"], row["code_set"])
            )
        if not replace:
            for key, mapping in incoming.items():
                old = registry.mappings.get(key)
                if old:
                    new_codes = {r.local_code for r in mapping.rows}
                    mapping.rows = [
                        r for r in old.rows if r.local_code not in new_codes
                    ] + mapping.rows
        registry.mappings = _merge(registry.mappings, incoming, replace)
    else:
        raise ValueError(f"未知类别 unknown kind {kind!r}: one of {', '.join(KINDS)}")


def _apply_codes(registry: Registry, header: list[str], rows: Rows, replace: bool) -> None:
    _require_columns("codes", header, ("code_set", "code", "name"))
    grouped: dict[str, Rows] = {}
    for row in rows:
        grouped.setdefault(row["code_set"], []).append(row)
    problems = [
        f"codes: code set {cid!r} is not in the index; import codesets first"
        for cid in grouped
        if cid not in registry.code_sets
    ]
    if problems:
        raise RegistryError(problems)
    for code_set_id, group in grouped.items():
        code_set = registry.code_sets[code_set_id]
        columns = list(code_set.columns)
        columns += [
            c
            for c in header
            if c != "code_set" and c not in columns and any(r.get(c) for r in group)
        ]
        values = [{c: r.get(c, "") for c in columns} for r in group]
        if not replace:
            incoming = {v["code"] for v in values}
            old = [{c: v.get(c, "") for c in columns} for v in code_set.values]
            values = [v for v in old if v["code"] not in incoming] + values
        code_set.columns, code_set.values = tuple(columns), values


def import_table(
    kind: str,
    path: Path,
    replace: bool = False,
    root: Path | None = None,
    catalog_root: Path | None = None,
) -> tuple[int, list[Path]]:
    """Import one kind from ``path`` into the files under ``root``.

    Returns the rows read and the files changed; raises :class:`RegistryError` (nothing
    written) when the result would be invalid.
    """
    previous = load_registry(root, catalog_root)
    registry = previous.copy()
    header, rows = read_table(Path(path))
    apply_table(registry, kind, header, rows, replace)
    changed = commit(registry, previous, catalog_root)
    return len(rows), changed
