"""Read and write the standards files under ``include/standards/``.

The files are written in one canonical form (block-style YAML with fixed key order and
group comments, UTF-8 CSV with ``\\n`` line ends), so that a file written by
``govlake standards`` differs from the one before only where its content changed, and
``read → write`` reproduces every file byte for byte.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml

from govlake import config
from govlake.standards.model import (
    CODE_SET_KEYS,
    MAPPING_COLUMNS,
    CodeSet,
    Element,
    Mapping,
    MappingRow,
    Registry,
    Term,
)

ELEMENTS_FILE = "data_elements.yaml"
TERMS_FILE = "business_terms.yaml"
CODE_SET_DIR = "code_sets"
CODE_SET_INDEX = "index.yaml"
MAPPING_DIR = "mappings"
MAPPING_NAME = re.compile(r"^([a-z][a-z0-9_]*?)__([a-z][a-z0-9_]*)$")

ELEMENTS_HEADER = """\
# Data elements (数据元): "name, type, value" — identifier, names, definition, type, format,
# value domain and default sensitivity grade. Every catalog field names one of these; a
# field's type and code set come from here, so nothing is declared twice.
# Written by `govlake standards add|update|delete|import element(s)`; after editing by
# hand, run `govlake standards validate` and `govlake standards format`.
#
# definition: Chinese, then English.     format: length and layout ("18 chars", "YYYY-MM-DD")
# type: string | integer | decimal | date | timestamp | boolean
# sensitivity (敏感级别): L1 公开 public · L2 内部 internal · L3 敏感 sensitive ·
#                         L4 高敏感 highly sensitive (personal identifiers, health, finance)
# value domain: code_set (an id in code_sets/index.yaml), pattern (a regular expression),
#               check (a check algorithm: gb11643 citizen ID, gb32100 USCC, cn_mobile),
#               range: {min, max} (numbers)
"""
TERMS_HEADER = """\
# Business terms (业务术语): what the words of Kaiping's government business mean, and the
# data elements that carry them. Written by `govlake standards add|update|delete|import
# term(s)`; every element named must exist in data_elements.yaml.
"""
INDEX_HEADER = """\
# Code sets (代码集) the data elements and departmental mappings refer to. Each entry names
# the standard and edition its values come from and where the data came from; the values
# are <file> beside this index (header `code,name,...`; dbt seeds each file as
# standards.<file stem>, with `code` typed text).
"""
ELEMENT_GROUPS = {
    "01": "persons",
    "02": "places",
    "03": "legal entities",
    "04": "social insurance and tax",
    "05": "assistance and roster",
    "06": "real estate and licences",
    "07": "12345 hotline",
    "08": "safety production",
    "09": "generic",
}


def standards_root(root: Path | None = None) -> Path:
    return Path(root or config.STANDARDS_DIR)


# --- reading -----------------------------------------------------------------------------


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problems.append(f"{path.name}: cannot read: {error}")
        return {}
    if content is None:
        return {}
    if not isinstance(content, dict):
        problems.append(f"{path.name}: expected a mapping at the top level")
        return {}
    return content


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of a UTF-8 CSV (a BOM is tolerated)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [
            dict(zip(header, row + [""] * (len(header) - len(row)), strict=False))
            for row in reader
            if row
        ]
    return header, rows


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def parse_number(value: Any) -> int | float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def element_from_mapping(entry: dict[str, Any]) -> Element:
    bounds = entry.get("range") or {}
    return Element(
        id=str(entry.get("id") or ""),
        name_zh=str(entry.get("name_zh") or ""),
        name_en=str(entry.get("name_en") or ""),
        type=str(entry.get("type") or ""),
        sensitivity=str(entry.get("sensitivity") or ""),
        definition=_text(entry.get("definition")),
        format=_text(entry.get("format")),
        unit=_text(entry.get("unit")),
        code_set=_text(entry.get("code_set")),
        pattern=_text(entry.get("pattern")),
        check=_text(entry.get("check")),
        range_min=parse_number(bounds.get("min", entry.get("range_min"))),
        range_max=parse_number(bounds.get("max", entry.get("range_max"))),
    )


def _tuple(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def term_from_mapping(entry: dict[str, Any]) -> Term:
    return Term(
        id=str(entry.get("id") or ""),
        term=str(entry.get("term") or ""),
        definition=str(entry.get("definition") or ""),
        term_en=_text(entry.get("term_en")),
        category=_text(entry.get("category")),
        synonyms=_tuple(entry.get("synonyms")),
        elements=_tuple(entry.get("elements")),
        basis=_text(entry.get("basis")),
    )


def _read_code_sets(root: Path, problems: list[str]) -> dict[str, CodeSet]:
    index = _read_yaml(root / CODE_SET_DIR / CODE_SET_INDEX, problems)
    code_sets: dict[str, CodeSet] = {}
    for position, entry in enumerate(index.get("code_sets") or [], start=1):
        where = f"code_sets/index.yaml: code set #{position} {entry.get('id', '?')}"
        unknown = sorted(set(entry) - set(CODE_SET_KEYS))
        if unknown:
            problems.append(f"{where}: unknown keys {', '.join(unknown)}")
        code_set = CodeSet(**{k: _text(entry.get(k)) or "" for k in CODE_SET_KEYS})
        for optional in ("standard", "source", "note"):
            setattr(code_set, optional, _text(getattr(code_set, optional)))
        if code_set.id in code_sets:
            problems.append(f"{where}: duplicate identifier {code_set.id!r}")
        path = root / CODE_SET_DIR / code_set.file
        if code_set.file and path.is_file():
            header, rows = read_csv(path)
            code_set.columns, code_set.values = tuple(header), rows
        else:
            problems.append(f"{where}: file {code_set.file!r} does not exist")
        code_sets[code_set.id] = code_set
    return code_sets


def _read_mappings(root: Path, problems: list[str]) -> dict[str, Mapping]:
    mappings: dict[str, Mapping] = {}
    for path in sorted((root / MAPPING_DIR).glob("*.csv")):
        name = MAPPING_NAME.match(path.stem)
        if not name:
            problems.append(
                f"mappings/{path.name}: name must be <department>__<field>.csv (lowercase)"
            )
            continue
        header, rows = read_csv(path)
        if tuple(header) != MAPPING_COLUMNS:
            problems.append(
                f"mappings/{path.name}: header must be {','.join(MAPPING_COLUMNS)}, "
                f"not {','.join(header)}"
            )
            continue
        mapping = Mapping(name.group(1), name.group(2))
        mapping.rows = [
            MappingRow(r["local_code"], r["standard_code"], r["code_set"]) for r in rows
        ]
        mappings[mapping.id] = mapping
    return mappings


def read_registry(root: Path | None = None) -> tuple[Registry, list[str]]:
    """The registry as the files say, and the problems met reading them."""
    root = standards_root(root)
    problems: list[str] = []
    registry = Registry(root=root)
    registry.code_sets = _read_code_sets(root, problems)
    document = _read_yaml(root / ELEMENTS_FILE, problems)
    registry.element_edition = str(document.get("edition") or "")
    for position, entry in enumerate(document.get("data_elements") or [], start=1):
        try:
            element = element_from_mapping(entry)
        except (TypeError, ValueError, AttributeError) as error:
            problems.append(f"{ELEMENTS_FILE}: data element #{position}: {error}")
            continue
        if element.id in registry.elements:
            problems.append(f"{ELEMENTS_FILE}: duplicate identifier {element.id!r}")
        registry.elements[element.id] = element
    document = _read_yaml(root / TERMS_FILE, problems)
    registry.term_edition = str(document.get("edition") or "")
    for entry in document.get("business_terms") or []:
        term = term_from_mapping(entry)
        if term.id in registry.terms:
            problems.append(f"{TERMS_FILE}: duplicate identifier {term.id!r}")
        registry.terms[term.id] = term
    registry.mappings = _read_mappings(root, problems)
    return registry, problems


# --- writing -----------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    """One YAML scalar, quoted only where YAML needs it."""
    text = yaml.safe_dump(value, allow_unicode=True, width=1_000_000, default_style=None)
    text = text.removesuffix("\n").removesuffix("\n...").removesuffix("\n")
    if "\n" in text:  # a multi-line string: use a double-quoted scalar on one line
        text = yaml.safe_dump(value, allow_unicode=True, width=1_000_000, default_style='"')
        text = text.removesuffix("\n")
    return text


def _block(entry: dict[str, Any]) -> str:
    lines = []
    for index, (key, value) in enumerate(entry.items()):
        prefix = "  - " if index == 0 else "    "
        if isinstance(value, dict):
            inner = ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
            lines.append(f"{prefix}{key}: {{{inner}}}")
        elif isinstance(value, list | tuple):
            lines.append(f"{prefix}{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{prefix}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def element_entry(element: Element) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": element.id,
        "name_zh": element.name_zh,
        "name_en": element.name_en,
        "definition": element.definition,
        "type": element.type,
        "format": element.format,
        "unit": element.unit,
        "sensitivity": element.sensitivity,
        "code_set": element.code_set,
        "pattern": element.pattern,
        "check": element.check,
    }
    entry = {k: v for k, v in entry.items() if v is not None}
    bounds = {
        k: v for k, v in (("min", element.range_min), ("max", element.range_max)) if v is not None
    }
    if bounds:
        entry["range"] = bounds
    return entry


def term_entry(term: Term) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": term.id,
        "term": term.term,
        "term_en": term.term_en,
        "category": term.category,
        "definition": term.definition,
        "synonyms": list(term.synonyms) or None,
        "elements": list(term.elements) or None,
        "basis": term.basis,
    }
    return {k: v for k, v in entry.items() if v is not None}


def elements_text(registry: Registry) -> str:
    parts = [ELEMENTS_HEADER, f"edition: {_scalar(registry.element_edition)}\n", "data_elements:\n"]
    group = None
    for element in sorted(registry.elements.values(), key=lambda e: e.id):
        prefix = element.id.removeprefix("KP.DE.")[:2]
        if prefix != group and prefix in ELEMENT_GROUPS:
            parts.append(f"  # --- {ELEMENT_GROUPS[prefix]} ---\n")
        group = prefix
        parts.append(_block(element_entry(element)))
    return "".join(parts)


def terms_text(registry: Registry) -> str:
    parts = [TERMS_HEADER, f"edition: {_scalar(registry.term_edition)}\n", "business_terms:\n"]
    for term in sorted(registry.terms.values(), key=lambda t: t.id):
        parts.append(_block(term_entry(term)))
    return "".join(parts)


def index_text(registry: Registry) -> str:
    parts = [INDEX_HEADER, "code_sets:\n"]
    for code_set in registry.code_sets.values():
        parts.append(_block(code_set.entry()))
    return "".join(parts)


def csv_text(columns: tuple[str, ...] | list[str], rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[row.get(c, "") for c in columns] for row in rows])
    return buffer.getvalue()


def mapping_text(mapping: Mapping) -> str:
    rows = [
        {"local_code": r.local_code, "standard_code": r.standard_code, "code_set": r.code_set}
        for r in mapping.rows
    ]
    return csv_text(MAPPING_COLUMNS, rows)


def registry_texts(registry: Registry) -> dict[Path, str]:
    """Every file of the registry → its canonical text."""
    root = registry.root
    texts = {
        root / ELEMENTS_FILE: elements_text(registry),
        root / TERMS_FILE: terms_text(registry),
        root / CODE_SET_DIR / CODE_SET_INDEX: index_text(registry),
    }
    for code_set in registry.code_sets.values():
        texts[root / CODE_SET_DIR / code_set.file] = csv_text(code_set.columns, code_set.values)
    for mapping in registry.mappings.values():
        texts[root / MAPPING_DIR / f"{mapping.id}.csv"] = mapping_text(mapping)
    return texts


def write_registry(registry: Registry, previous: Registry | None = None) -> list[Path]:
    """Write the files that changed; remove the code-set and mapping files dropped since
    ``previous``. Returns the paths written or removed."""
    changed = []
    for path, text in registry_texts(registry).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    if previous is not None:
        kept = set(registry_texts(registry))
        for path in registry_texts(previous):
            if path not in kept and path.exists():
                path.unlink()
                changed.append(path)
    return changed
