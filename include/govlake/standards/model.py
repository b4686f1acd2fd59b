"""What the standards registry holds: code sets, data elements, business terms, mappings."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path

# Optional keys of a code set's index entry, in file order (after id and the names).
CODE_SET_KEYS = ("id", "name_zh", "name_en", "standard", "edition", "source", "file", "note")
ELEMENT_KEYS = (
    "id",
    "name_zh",
    "name_en",
    "definition",
    "type",
    "format",
    "unit",
    "sensitivity",
    "code_set",
    "pattern",
    "check",
    "range_min",
    "range_max",
)
TERM_KEYS = ("id", "term", "term_en", "category", "definition", "synonyms", "elements", "basis")
MAPPING_COLUMNS = ("local_code", "standard_code", "code_set")
LIST_SEPARATOR = "|"  # joins synonyms and elements in CSV and Excel cells


@dataclass
class CodeSet:
    """A code set (代码集): its index entry and its values, one dict per CSV row."""

    id: str
    name_zh: str
    name_en: str
    edition: str
    file: str
    standard: str | None = None
    source: str | None = None
    note: str | None = None
    columns: tuple[str, ...] = ("code", "name")
    values: list[dict[str, str]] = field(default_factory=list)

    def codes(self) -> dict[str, dict[str, str]]:
        return {value["code"]: value for value in self.values}

    def entry(self) -> dict[str, str]:
        """The index entry, without empty keys, in file order."""
        return {k: getattr(self, k) for k in CODE_SET_KEYS if getattr(self, k) not in (None, "")}


@dataclass
class Element:
    """A data element (数据元): identifier, names, definition, type, format, value domain."""

    id: str
    name_zh: str
    name_en: str
    type: str
    sensitivity: str
    definition: str | None = None
    format: str | None = None
    unit: str | None = None
    code_set: str | None = None
    pattern: str | None = None
    check: str | None = None
    range_min: int | float | None = None
    range_max: int | float | None = None

    def domain(self) -> str:
        """The value domain in words: code set, check algorithm, pattern or range."""
        parts = []
        if self.code_set:
            parts.append(f"代码集 code set {self.code_set}")
        if self.check:
            parts.append(f"校验算法 check {self.check}")
        if self.pattern:
            parts.append(f"格式 pattern {self.pattern}")
        if self.range_min is not None or self.range_max is not None:
            low = "" if self.range_min is None else self.range_min
            high = "" if self.range_max is None else self.range_max
            parts.append(f"范围 range [{low}, {high}]")
        return "; ".join(parts)


@dataclass
class Term:
    """A business term (业务术语) and the data elements it is measured by."""

    id: str
    term: str
    definition: str
    term_en: str | None = None
    category: str | None = None
    synonyms: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()
    basis: str | None = None


@dataclass(frozen=True)
class MappingRow:
    local_code: str
    standard_code: str
    code_set: str


@dataclass
class Mapping:
    """A department's local codes of one field, mapped to standard codes."""

    department: str
    field: str
    rows: list[MappingRow] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.department}__{self.field}"


@dataclass
class Registry:
    """Everything under ``include/standards/``, as read from (and written to) its files."""

    root: Path
    code_sets: dict[str, CodeSet] = field(default_factory=dict)
    elements: dict[str, Element] = field(default_factory=dict)
    terms: dict[str, Term] = field(default_factory=dict)
    mappings: dict[str, Mapping] = field(default_factory=dict)
    element_edition: str = ""
    term_edition: str = ""

    def copy(self) -> Registry:
        """A copy whose dicts and lists can be changed without touching this one."""
        return replace(
            self,
            code_sets={
                k: replace(v, values=[dict(row) for row in v.values])
                for k, v in self.code_sets.items()
            },
            elements={k: replace(v) for k, v in self.elements.items()},
            terms={k: replace(v) for k, v in self.terms.items()},
            mappings={k: replace(v, rows=list(v.rows)) for k, v in self.mappings.items()},
        )


def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
