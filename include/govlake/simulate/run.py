"""``simulate()``: replay the city to day D and write every departmental system.

For each day 1..D the city advances, the day's deliveries are cut (database and API
deltas, files), defects are decided and the day's files and truth are written. After the
replay the database tables and the hotline store are rewritten to the state as of day D.

What each system holds after ``simulate(day=D)``:

* police, market, hrss, tax (databases): the state as of the end of day D. A day's
  delta is the rows with ``updated_at`` in ``[D 00:00, D+1 00:00)``; day 1's is every row
  (initial state, timestamps possibly much older — tax from :func:`history_start`).
* overseas ``roster_<YYYYMMDD>.xlsx`` and civil ``low_income_<YYYYMMDD>.csv``: full
  snapshots, one per day 1..D. The civil CSV is GBK on odd days, UTF-8 with BOM on even
  days (recorded in the summary).
* natres ``real_estate_<YYYYMMDD>.jsonl`` and govdata ``licences_<YYYYMMDD>.json``: the
  records registered or changed that day (day 1: all existing).
* emergency ``safety_inspection_<YYYYMMDD>.csv`` (UTF-8, no BOM): the inspections made or
  updated that day (day 1: the twelve months before it, see
  :mod:`govlake.simulate.safety`).
* the 12345 store: tickets as of the end of day D (day 1 includes 30 days of history).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from govlake import config
from govlake.simulate import conflicts, schema, tickets, truth
from govlake.simulate import defects as defect_rules
from govlake.simulate.calendar import business_date
from govlake.simulate.city import City
from govlake.simulate.defects import DefectBook
from govlake.simulate.hotline_api import store_path, write_store
from govlake.simulate.writers import (
    csv_bytes,
    json_records_bytes,
    jsonl_bytes,
    write_file,
    write_tables,
    xlsx_bytes,
)

# the kinds of system the simulator writes as databases and as dropped files; which
# resources they hold, in which order, is the catalog's (schema.resource_ids)
DATABASE_KINDS = ("postgresql", "mysql")
FILE_KINDS = ("files",)
ROSTER_SHEET = "名册"
DRIFT_LENGTH = 200


@dataclass
class SimulationResult:
    day: int
    business_date: date
    counts: dict[str, int]  # resource id -> rows delivered on that day (delta, drop, window)
    truth_path: Path
    summary_path: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)  # resource id -> that day's file
    encodings: dict[str, str] = field(default_factory=dict)
    defect_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def file_path(resource: str, day: int) -> Path:
    """Where the file of ``resource`` for ``day`` is dropped (the catalog's file pattern)."""
    spec = schema.resource(resource)
    on = business_date(day)
    name = spec.extract.pattern.replace("*", f"{on:%Y%m%d}")
    return config.landing_dir() / spec.department / on.isoformat() / name


def civil_encoding(day: int) -> str:
    """GBK on odd days, UTF-8 with a byte-order mark on even days."""
    return "gbk" if day % 2 else "utf-8-sig"


def csv_encoding(resource: str, day: int) -> str:
    """The encoding of a CSV drop: civil alternates, the others use the catalog's."""
    if resource == "civil.low_income":
        return civil_encoding(day)
    declared = schema.resource(resource).extract.encoding
    return "utf-8" if declared in (None, "", "auto") else declared


def _render(city: City, resource: str, key: str) -> dict:
    return city.records(resource)[key].to_row(city)


class _Day:
    """What one day delivers: counts, truth records, files."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.counts: dict[str, int] = {}
        self.records: list[dict] = []
        self.files: dict[str, Path] = {}
        self.encodings: dict[str, str] = {}

    def add(self, resource, key, row, field_name, kind, value, extra=None) -> None:
        self.records.append(
            truth.record(self.day, resource, key, row, field_name, kind, value, extra)
        )

    def summary(self, city: City, book: DefectBook) -> dict:
        per_kind: dict[str, Counter] = {r: Counter() for r in self.counts}
        for item in self.records:
            per_kind.setdefault(item["resource"], Counter())[item["defect"]] += 1
        return {
            "day": self.day,
            "business_date": business_date(self.day).isoformat(),
            "scale": city.scale,
            "seed": city.seed,
            "defects_enabled": book.enabled,
            "resources": {
                r: {"rows": self.counts.get(r, 0), "defects": dict(sorted(per_kind[r].items()))}
                for r in self.counts
            },
            "encodings": self.encodings,
            "files": {
                r: p.relative_to(config.landing_dir()).as_posix() for r, p in self.files.items()
            },
            "defect_rates": defect_rules.CONTENT_RATES if book.enabled else {},
            "transport_defects": {
                r: {k: {"rate": v[0], "minimum_per_file": v[1]} for k, v in kinds.items()}
                for r, kinds in defect_rules.TRANSPORT_RATES.items()
            }
            if book.enabled
            else {},
        }


def _decide(city: City, book: DefectBook, resource: str, out: _Day) -> tuple[list[dict], list]:
    """Render the rows changed today, decide their defects; returns (rows, new twin keys)."""
    spec = schema.resource(resource)
    rows = [_render(city, resource, key) for key in city.changed(resource)]
    people = None
    if resource in conflicts.CONFLICT_FIELDS:

        def people(key: str):
            return conflicts.person_of(city, resource, key)

    twins = book.decide(resource, out.day, spec.key, rows, city.date, people)
    return rows, twins


def _truth_extra(city: City, defect) -> dict | None:
    """The extra truth keys of a conflict (None: the register agrees again); {} otherwise."""
    if defect.kind != "conflict":
        return {}
    return conflicts.truth_extra(city, defect.person_id, defect.field, defect.value)


def _deliver_database(city: City, book: DefectBook, resource: str, out: _Day) -> None:
    spec = schema.resource(resource)
    rows, twins = _decide(city, book, resource, out)
    for row in rows:
        defect = book.defect_of(resource, row[spec.key])
        extra = _truth_extra(city, defect) if defect is not None else None
        if defect is not None and extra is not None:
            out.add(resource, row[spec.key], None, defect.field, defect.kind, defect.value, extra)
    twin_rows = {k: (r, o) for k, r, o, _ in book.twin_rows(resource)}
    for twin_key in twins:
        out.add(resource, twin_key, None, spec.key, "duplicate", twin_rows[twin_key][1])
    drift = book.drift(resource, out.day)
    if drift:
        out.add(resource, None, None, drift[0], "schema_drift", drift[1])
    out.counts[resource] = len(rows) + len(twins)


def _deliver_file(city: City, book: DefectBook, resource: str, out: _Day) -> None:
    spec = schema.resource(resource)
    extension, snapshot = spec.extract.format, spec.extract.mode == "full"
    records = city.records(resource)
    changed_rows, new_twins = _decide(city, book, resource, out)
    twins = {k: (r, o, d) for k, r, o, d in book.twin_rows(resource)}
    if snapshot:
        keys = sorted([*records, *twins])
        clean = [twins[k][0] if k in twins else _render(city, resource, k) for k in keys]
    else:
        clean = changed_rows + [twins[k][0] for k in new_twins]
        keys = [row[spec.key] for row in clean]
    rows: list[dict] = []
    content: dict[int, tuple] = {}
    for index, (key, row) in enumerate(zip(keys, clean, strict=True)):
        if key in twins:
            rows.append(row)
            content[index] = (spec.key, "duplicate", twins[key][1], None)
            continue
        delivered, defect = book.apply(resource, spec.key, row)
        rows.append(delivered)
        extra = _truth_extra(city, defect) if defect is not None else None
        if defect is not None and extra is not None:
            content[index] = (defect.field, defect.kind, defect.value, extra)
    drift = book.drift(resource, out.day)
    header = spec.columns + ([drift[0]] if drift else [])
    values = [[row.get(c) for c in spec.columns] for row in rows]
    if drift:
        for key, line in zip(keys, values, strict=True):
            line.append(getattr(records[key], drift[0]) if key not in twins else None)
    transport = book.transport(resource, out.day, len(rows), frozenset(content))
    notes: dict[int, tuple] = {}
    stamp = datetime.combine(city.date, time(17, 30))
    if extension == "xlsx":
        data = xlsx_bytes(header, values, ROSTER_SHEET, stamp)
    elif extension == "csv":
        encoding = csv_encoding(resource, out.day)
        out.encodings[resource] = encoding
        rng = random.Random(f"{city.seed}:{city.scale}:csv:{out.day}")
        data, notes = csv_bytes(header, values, encoding, transport, rng)
    elif extension == "jsonl":
        data, notes = jsonl_bytes(rows, transport)
    else:
        data = json_records_bytes(rows)
    for index in sorted(set(content) | set(transport)):
        key = keys[index]
        if index in content:
            field_name, kind, value, extra = content[index]
            out.add(resource, key, index + 1, field_name, kind, value, extra)
        else:
            field_name, description = notes[index]
            out.add(resource, key, index + 1, field_name, transport[index], description)
    if drift:
        out.add(resource, None, None, drift[0], "schema_drift", drift[1])
    path = file_path(resource, out.day)
    write_file(path, data)
    out.files[resource] = path
    out.counts[resource] = len(rows)


def _write_databases(city: City, book: DefectBook) -> None:
    by_connection: dict[str, list] = {}
    for resource in schema.resource_ids(*DATABASE_KINDS):
        spec = schema.resource(resource)
        drift = book.drift(resource, city.day)
        table = schema.table_for(spec, [(drift[0], DRIFT_LENGTH)] if drift else None)
        records = city.records(resource)
        columns = spec.columns

        def rows(resource=resource, spec=spec, records=records, columns=columns, drift=drift):
            for record in records.values():
                row, _ = book.apply(resource, spec.key, record.to_row(city))
                values = tuple(row[c] for c in columns)
                yield (*values, getattr(record, drift[0])) if drift else values
            for _key, row, _original, _day in book.twin_rows(resource):
                values = tuple(row[c] for c in columns)
                yield (*values, None) if drift else values

        by_connection.setdefault(spec.connection, []).append((table, rows()))
    for connection, tables in by_connection.items():
        write_tables(connection, tables)


def simulate(scale: int = 2000, seed: int = 7, day: int = 1, defects: bool = True):
    """Write every simulated departmental system as of ``day``; see the module docstring.

    Deterministic: the same ``(scale, seed, day, defects)`` always writes the same tables,
    files, store and truth, and ``simulate(day=3)`` equals ``simulate(day=1)``, then 2,
    then 3. Returns the counts of what day ``day`` delivers.
    """
    if day < 1:
        raise ValueError(f"模拟日从1开始 simulation days start at 1, got {day}")
    city = City(scale, seed)
    book = DefectBook(seed, scale, enabled=defects)
    result: _Day | None = None
    truth_file = summary_file = None
    for current in range(1, day + 1):
        city.advance(current)
        out = _Day(current)
        for resource in schema.resource_ids(*DATABASE_KINDS):
            _deliver_database(city, book, resource, out)
        out.counts[tickets.RESOURCE] = len(city.changed(tickets.RESOURCE))
        for resource in schema.resource_ids(*FILE_KINDS):
            _deliver_file(city, book, resource, out)
        truth_file = truth.write_day(current, out.records, out.summary(city, book))
        summary_file = truth.summary_path(current)
        result = out
    _write_databases(city, book)
    write_store(store_path(), tickets.store_rows(city), city.day)
    assert result is not None and truth_file is not None
    defect_counts: dict[str, Counter] = {}
    for item in result.records:
        defect_counts.setdefault(item["resource"], Counter())[item["defect"]] += 1
    return SimulationResult(
        day=day,
        business_date=business_date(day),
        counts=dict(result.counts),
        truth_path=truth_file,
        summary_path=summary_file,
        files=dict(result.files),
        encodings=dict(result.encodings),
        defect_counts={r: dict(c) for r, c in defect_counts.items()},
    )
