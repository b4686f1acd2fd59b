"""Judge landed rows against the catalog, vectorised with Arrow compute.

A row is quarantined when the warehouse could not hold it faithfully: a required field is
empty, or a value is not of its field's type (a date that is not a calendar date, text in
a number). Everything else — wrong check characters, non-standard codes, future dates —
loads, and is the quality audits' business: ``raw`` keeps what the source said.

A column a typed source landed with the field's own type (a PostgreSQL date for a date
field) is taken as it is: the source's type system already vouches for every value. Text
is parsed here, with the same result PostgreSQL's input functions would give, and goes on
typed (dates, timestamps, integers) or, for numbers and booleans, as the text the source
wrote, for PostgreSQL to cast (see ``WIRE_TYPES``).

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
from govlake.lake.batch import META_COLUMNS, Rejected, text_column

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


# How each catalog type travels to PostgreSQL (binary COPY): the Arrow type of its
# accepted column. Numbers and booleans go as the text the source gave, into a text
# column of the batch's new partition that PostgreSQL then casts with its own input
# function, so raw keeps the source's digits (800.00 stays 800.00).
WIRE_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "boolean": pa.string(),
}
SERVER_CAST_TYPES = ("decimal", "boolean")


@dataclass
class Judgement:
    accepted: pa.Table  # catalog fields (WIRE_TYPES, blank typed cells null) + _extra + meta
    rejected: list[Rejected] = field(default_factory=list)
    added_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)


def _blank(values: pa.Array) -> pa.Array:
    """Null, empty or whitespace only (only null for a column that is not text)."""
    if not pa.types.is_string(values.type):
        return pc.is_null(values)
    # a null's length is null, and so is the "or": filled as blank
    return pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values)).fill_null(True)


def _has_nul(values: pa.Array) -> pa.Array | None:
    """Where a text value holds a NUL character; None when none does (the common case,
    told by one scan of the column's character buffer)."""
    data = values.buffers()[2]
    if data is None or data.to_pybytes().find(b"\x00") < 0:
        return None
    has_nul = pc.match_substring(values, "\x00").fill_null(False)
    return has_nul if pc.any(has_nul).as_py() else None


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


def _mask(n: int, false_at: list[int]) -> pa.Array:
    flags = [True] * n
    for position in false_at:
        flags[position] = False
    return pa.array(flags, type=pa.bool_())


def _parse_calendar(values: pa.Array, kind: str, blank: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(valid, parsed): True where a text value is a real calendar date (or moment),
    blanks counting as valid, and the values parsed (null where blank or invalid).

    Year 0 parses in Arrow (proleptic calendar) but not in PostgreSQL: refused too.
    """
    target = WIRE_TYPES[kind]
    blank_as_null = pc.if_else(blank, pa.scalar(None, pa.string()), values)
    try:
        parsed = blank_as_null.cast(target)  # the common case: one pass, all valid
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        parsed = None
    if parsed is not None:
        year_zero = pc.equal(pc.year(parsed), 0).fill_null(False)
        if not pc.any(year_zero).as_py():
            return pa.repeat(pa.scalar(True), len(values)), parsed
        bad = pc.indices_nonzero(year_zero).to_pylist()
    else:
        bad = _bad_positions(blank_as_null, target)
        year_zero = pc.starts_with(pc.utf8_trim_whitespace(blank_as_null), "0000")
        bad = sorted(set(bad) | set(pc.indices_nonzero(year_zero.fill_null(False)).to_pylist()))
    valid = _mask(len(values), bad)
    # what is left parses, once trimmed (a value valid only trimmed was accepted above)
    kept = pc.if_else(valid, pc.utf8_trim_whitespace(blank_as_null), pa.scalar(None, pa.string()))
    return valid, kept.cast(target)


def _parse_integer(values: pa.Array, valid: pa.Array) -> pa.Array:
    """Text that matched the integer pattern, as int64 (whitespace and a + sign dropped,
    as PostgreSQL's bigint input does); null elsewhere."""
    kept = pc.if_else(valid, pc.utf8_trim_whitespace(values), pa.scalar(None, pa.string()))
    return pc.replace_substring_regex(kept, r"^\+", "").cast(pa.int64())


def _typed(values: pa.Array, kind: str) -> pa.Array | None:
    """A typed landed column already of the field's type, ready to load; else None."""
    kind_type = values.type
    if kind == "date" and pa.types.is_date32(kind_type):
        return values
    if (
        kind == "timestamp"
        and pa.types.is_timestamp(kind_type)
        and kind_type.tz is None
        and kind_type.unit in ("s", "ms", "us")
    ):
        return values.cast(pa.timestamp("us"))
    if kind == "integer" and pa.types.is_signed_integer(kind_type):
        return values.cast(pa.int64())
    return None


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
    texts: list[tuple[str, pa.Array]] = []  # text that goes to PostgreSQL: NUL is checked
    for f in resource.fields:
        if f.name not in source_columns:
            accepted_columns[f.name] = pa.nulls(n, WIRE_TYPES[f.type])
            if f.required:
                problems[f.name] = pa.repeat(pa.scalar(True), n)
                reasons[f.name] = f"缺少必填列 missing required column {f.name!r}"
            continue
        values = table.column(f.name).combine_chunks()
        typed = _typed(values, f.type)
        if typed is None and not pa.types.is_string(values.type):
            values = text_column(values)  # a typed column the field does not want as such
        blank = _blank(values)
        if f.required:
            problems[f.name] = blank
            reasons[f.name] = f"必填字段为空 required field {f.name!r} is empty"
        if typed is not None:
            # the source's type vouches for every value: nothing to parse
            accepted_columns[f.name] = typed
            continue
        if f.type in TYPE_PATTERNS or f.type in CALENDAR_TYPES:
            if f.type in CALENDAR_TYPES:
                shaped, parsed = _parse_calendar(values, f.type, blank)
            else:
                shaped = pc.match_substring_regex(values, TYPE_PATTERNS[f.type]).fill_null(False)
            bad_type = pc.and_(pc.invert(blank), pc.invert(shaped))
            key = f"{f.name}#type"
            problems[key] = bad_type
            reasons[key] = f"字段 {f.name!r} 不是有效的{TYPE_NAMES[f.type]}"
            if f.type == "integer":
                parsed = _parse_integer(values, pc.and_(shaped, pc.invert(blank)))
            elif f.type not in CALENDAR_TYPES:
                # blank cells of typed fields carry no value: NULL, not ''
                parsed = pc.if_else(blank, pa.scalar(None, pa.string()), values)
                texts.append((f.name, parsed))
            accepted_columns[f.name] = parsed
        else:
            accepted_columns[f.name] = values
            texts.append((f.name, values))

    added_texts = {c: text_column(table.column(c).combine_chunks()) for c in added}
    texts += list(added_texts.items())
    # PostgreSQL text and jsonb cannot hold NUL: such a value would fail the whole COPY
    for column, values in texts:
        has_nul = _has_nul(values)
        if has_nul is not None:
            key = f"{column}#nul"
            problems[key] = has_nul
            reasons[key] = f"字段 {column!r} 含空字符 contains a NUL character (\\x00)"

    bad = None
    for mask in problems.values():
        bad = mask if bad is None else pc.or_(bad, mask)
    rejected: list[Rejected] = []
    bad_rows = pc.indices_nonzero(bad).to_pylist() if bad is not None else []
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

    if added:
        extra = pa.array(
            [
                json.dumps({c: row[c] for c in added if row[c] is not None}, ensure_ascii=False)
                for row in pa.table(added_texts).to_pylist()
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
    )
    if bad_rows:
        accepted = accepted.filter(pc.invert(bad))
    return Judgement(accepted, rejected, added, missing)
