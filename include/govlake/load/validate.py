"""Judge landed rows against the catalog, vectorised with Arrow compute.

A row is quarantined when the warehouse could not hold it faithfully: a required field is
empty, or a value is not of its field's type (a date that is not a calendar date, text in
a number). Everything else — wrong check characters, non-standard codes, future dates —
loads, and is the quality audits' business: ``raw`` keeps what the source said.

Columns the catalog does not know (schema drift: a department added a column) do not cost
the row: their values are kept in ``_extra`` (jsonb) and the drift is recorded. A catalog
field missing from the source is recorded as drift too; if it is required, every row of
that stream is quarantined, since none can satisfy it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from govlake.catalog.model import Resource
from govlake.lake.batch import META_COLUMNS, Rejected

TYPE_PATTERNS = {
    "integer": r"^\s*[+-]?\d{1,18}\s*$",
    "decimal": r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$",
    "boolean": r"^\s*(?i:true|false|t|f|yes|no|y|n|1|0)\s*$",
}
CALENDAR_TYPES = ("date", "timestamp")
TYPE_NAMES = {
    "integer": "整数 integer",
    "decimal": "数值 number",
    "boolean": "布尔值 boolean",
    "date": "日期 date (YYYY-MM-DD)",
    "timestamp": "时间 timestamp (YYYY-MM-DD HH:MM:SS, ISO 8601)",
}


@dataclass
class Judgement:
    accepted: pa.Table  # catalog fields (text, typed fields blank→null) + _extra + meta
    rejected: list[Rejected] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


def _blank(values: pa.Array) -> pa.Array:
    """Null, empty or whitespace only."""
    return pc.or_kleene(
        pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_length(values), 0)),
        pc.utf8_is_space(values),
    ).fill_null(True)


def _bad_positions(values: pa.Array, target: pa.DataType, offset: int = 0) -> list[int]:
    """Positions whose text does not cast to ``target``, by halving: O(k log n) casts.

    Arrow's string → date/timestamp cast is a strict ISO 8601 parser that knows the
    calendar (2023-02-30 and 25:00 are refused), and casting a whole column is a single
    C++ pass, so the common all-valid column costs one cast.
    """
    try:
        values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            trimmed = pc.utf8_trim_whitespace(values)
            try:
                trimmed.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return [offset]
            return []
        middle = len(values) // 2
        return _bad_positions(values.slice(0, middle), target, offset) + _bad_positions(
            values.slice(middle), target, offset + middle
        )
    return []


def _calendar_valid(values: pa.Array, kind: str, blank: pa.Array) -> pa.Array:
    """True where a value is a real calendar date (or moment); blanks count as valid.

    Year 0 parses in Arrow (proleptic calendar) but not in PostgreSQL: refused too.
    """
    target = pa.date32() if kind == "date" else pa.timestamp("us")
    blank_as_null = pc.if_else(blank, pa.scalar(None, pa.string()), values)
    bad = _bad_positions(blank_as_null, target)
    year_zero = pc.starts_with(pc.utf8_trim_whitespace(blank_as_null), "0000")
    bad = sorted(set(bad) | set(pc.indices_nonzero(year_zero.fill_null(False)).to_pylist()))
    if not bad:
        return pa.array([True] * len(values), type=pa.bool_())
    flags = [True] * len(values)
    for position in bad:
        flags[position] = False
    return pa.array(flags, type=pa.bool_())


def judge(resource: Resource, batch: pa.RecordBatch) -> Judgement:
    table = pa.Table.from_batches([batch])
    source_columns = [c for c in table.column_names if c not in META_COLUMNS]
    catalog_names = set(resource.field_names)
    added = [c for c in source_columns if c not in catalog_names]
    missing = [f.name for f in resource.fields if f.name not in source_columns]
    n = table.num_rows

    problems: dict[str, pa.Array] = {}  # field -> boolean mask of rows with a problem
    reasons: dict[str, str] = {}
    accepted_columns: dict[str, pa.Array] = {}
    for f in resource.fields:
        if f.name not in source_columns:
            accepted_columns[f.name] = pa.nulls(n, pa.string())
            if f.required:
                problems[f.name] = pa.array([True] * n)
                reasons[f.name] = f"缺少必填列 missing required column {f.name!r}"
            continue
        values = table.column(f.name).combine_chunks()
        blank = _blank(values)
        if f.required:
            problems[f.name] = blank
            reasons[f.name] = f"必填字段为空 required field {f.name!r} is empty"
        if f.type in TYPE_PATTERNS or f.type in CALENDAR_TYPES:
            if f.type in CALENDAR_TYPES:
                shaped = _calendar_valid(values, f.type, blank)
            else:
                shaped = pc.match_substring_regex(values, TYPE_PATTERNS[f.type]).fill_null(False)
            bad_type = pc.and_(pc.invert(blank), pc.invert(shaped))
            key = f"{f.name}#type"
            problems[key] = bad_type
            reasons[key] = f"字段 {f.name!r} 不是有效的{TYPE_NAMES[f.type]}"
            # blank cells of typed fields carry no value: NULL, not ''
            values = pc.if_else(blank, pa.scalar(None, pa.string()), values)
        accepted_columns[f.name] = values

    # PostgreSQL text and jsonb cannot hold NUL: such a value would fail the whole COPY
    for column in [f.name for f in resource.fields if f.name in source_columns] + added:
        has_nul = pc.match_substring(table.column(column).combine_chunks(), "\x00")
        if pc.any(has_nul).as_py():
            key = f"{column}#nul"
            problems[key] = has_nul.fill_null(False)
            reasons[key] = f"字段 {column!r} 含空字符 contains a NUL character (\\x00)"

    bad = pa.array([False] * n)
    for mask in problems.values():
        bad = pc.or_(bad, mask)
    rejected: list[Rejected] = []
    bad_rows = pc.indices_nonzero(bad).to_pylist()
    if bad_rows:
        records = table.take(pa.array(bad_rows)).to_pylist()
        masks = {k: v.to_pylist() for k, v in problems.items()}
        for position, record in zip(bad_rows, records, strict=True):
            failed = [k for k, mask in masks.items() if mask[position]]
            details = []
            for key in failed:
                name = key.split("#")[0]
                text = reasons[key]
                if key.endswith("#type"):
                    text += f": {record.get(name)!r}"
                details.append(text)
            source_file = record.pop("_source_file", None)
            source_row = record.pop("_source_row", None)
            rejected.append(
                Rejected(
                    source_file=source_file,
                    source_row=source_row,
                    field=",".join(dict.fromkeys(k.split("#")[0] for k in failed)),
                    reason=f"{source_file} row {source_row}: " + "; ".join(details),
                    record=record,
                )
            )

    good = pc.invert(bad)
    if added:
        extra = pa.array(
            [
                json.dumps({c: row[c] for c in added if row[c] is not None}, ensure_ascii=False)
                for row in table.select(added).to_pylist()
            ],
            type=pa.string(),
        )
    else:
        extra = pa.nulls(n, pa.string())
    accepted = pa.table(
        {
            **accepted_columns,
            "_extra": extra,
            "_source_file": table.column("_source_file"),
            "_source_row": table.column("_source_row"),
        }
    ).filter(good)
    return Judgement(accepted, rejected, added, missing)
