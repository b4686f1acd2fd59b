"""The metadata store (元数据), filled automatically, completed by hand, with its history.

:func:`harvest` asks each origin what it knows and writes it to ``governance.md_*``
(tables: ``lineage/metadata.sql``):

- ``catalog``: every resource's departmental source, object-store prefix and raw table,
  with fields, data elements, grades, owner, department; field edges source → lake → raw;
  with it, ``ingestion``: the columns a source's latest loaded batch carried beyond the
  catalog (``governance.schema_drift``);
- ``dbt``: the manifest's models, seeds, snapshots, sources and exposures, their columns
  and owners, table edges with the model's SQL; ``catalog.json`` for the built types;
- ``information_schema``: the columns and types the warehouse's tables really have;
- ``openlineage``: the events appended to ``events.jsonl`` since the last harvest.

What each origin saw is kept per origin (``md_observation``); ``md_dataset`` and
``md_field`` are their merge, attribute by attribute in a fixed precedence (hand-made
values first, then the warehouse's own types, the catalog's words, dbt's, OpenLineage's).
A warehouse table the warehouse itself describes has exactly the columns it has. A
field without a grade of its own inherits the most sensitive grade it is computed from
(column lineage, else the same-named column of a table it is built from).

Every insert, update and removal — of a dataset, field, edge or grant — writes
``md_change`` with who and before/after. Edges of the catalog, dbt and ingestion that an
origin no longer produces are retired; OpenLineage edges are retired when a later event of
the same job supersedes them (``harvest_events``); manual edges only by hand. Each harvest
ends with a snapshot, which :func:`diff` compares; schema drift found at ingestion is
recorded once, with its own time.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from importlib import resources as package_files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from govlake import config
from govlake.catalog.loader import default_catalog
from govlake.lineage import naming
from govlake.lineage.harvest_sources import (
    EdgeKey,
    Observed,
    from_catalog,
    from_dbt,
    from_ingestion,
    from_warehouse,
    warehouse_schemas,
)

DEFAULT_SOURCES = ("catalog", "dbt", "information_schema", "openlineage")
MANUAL = "manual"
GRADES = ("L1", "L2", "L3", "L4")
UNKNOWN_GRADE = "L3"  # a grade not known counts as L3 (lineage.access reads samples so too)
_LOCK = 4407830501  # one harvest or manual change at a time
_DDL_LOCK = 4407830502  # one application of metadata.sql at a time

# whose value wins, attribute by attribute (the first origin that has one)
DATASET_PRECEDENCE: dict[str, tuple[str, ...]] = {
    "kind": (MANUAL, "dbt", "catalog", "information_schema", "openlineage"),
    "layer": (MANUAL, "catalog", "dbt", "information_schema", "openlineage"),
    "name_zh": (MANUAL, "catalog", "dbt", "openlineage"),
    "name_en": (MANUAL, "catalog", "dbt", "openlineage"),
    "description": (MANUAL, "catalog", "dbt", "information_schema", "openlineage"),
    "owner": (MANUAL, "catalog", "dbt", "openlineage"),
    "department": (MANUAL, "catalog", "dbt"),
    "resource_id": ("catalog", "dbt"),
    "ol_namespace": ("catalog", "information_schema", "openlineage"),
    "ol_name": ("catalog", "information_schema", "openlineage"),
}
FIELD_PRECEDENCE: dict[str, tuple[str, ...]] = {
    "position": ("information_schema", "dbt", "catalog", "openlineage", "ingestion", MANUAL),
    "data_type": ("information_schema", "dbt", "catalog", "openlineage", "ingestion", MANUAL),
    "nullable": ("information_schema",),
    "description": (MANUAL, "catalog", "dbt", "information_schema", "openlineage", "ingestion"),
    "data_element": (MANUAL, "catalog", "dbt"),
    "code_set": (MANUAL, "catalog", "dbt"),
}
DATASET_COLUMNS = (
    "kind", "layer", "name_zh", "name_en", "description", "owner", "department",
    "resource_id", "ol_namespace", "ol_name", "grade", "tags", "origins",
)  # fmt: skip
FIELD_COLUMNS = (
    "position", "data_type", "nullable", "description", "data_element", "code_set", "grade",
    "grade_basis", "origins",
)  # fmt: skip
EDGE_ATTRS = ("transformation", "description", "job", "sql", "masking")


class MetadataError(Exception):
    """A metadata request that cannot be done; the message says why and what to do."""


def _store_ddl() -> str:
    return package_files.files("govlake.lineage").joinpath("metadata.sql").read_text("utf-8")


def _store_objects(ddl: str) -> tuple[list[str], list[tuple[str, str]]]:
    """What metadata.sql creates: governance tables and indexes, and the columns it adds."""
    relations = re.findall(
        r"create\s+table\s+if\s+not\s+exists\s+governance\.(\w+)", ddl, re.I
    ) + re.findall(r"create\s+(?:unique\s+)?index\s+if\s+not\s+exists\s+(\w+)", ddl, re.I)
    columns = re.findall(r"\[\s*'(\w+)'\s*,\s*'(\w+)'\s*,\s*'[^']+'\s*\]", ddl)
    return relations, columns


def store_current(conn: psycopg.Connection) -> bool:
    """Every table, index and added column metadata.sql names exists (read from the system
    catalogs only: no lock on the store's tables, no privilege beyond reading them)."""
    relations, columns = _store_objects(_store_ddl())
    with conn.transaction():  # ends here: the caller's next transaction is its own
        return _objects_exist(conn, relations, columns)


def _objects_exist(
    conn: psycopg.Connection, relations: list[str], columns: list[tuple[str, str]]
) -> bool:
    return conn.execute(
        "select (select count(distinct c.relname) from pg_class c join pg_namespace n "
        "        on n.oid = c.relnamespace where n.nspname = 'governance' "
        "        and c.relname = any(%(r)s)) = cardinality(array(select distinct "
        "        unnest(%(r)s::text[]))) "
        "and not exists (select 1 from unnest(%(t)s::text[], %(c)s::text[]) as w(t, c) "
        "  where not exists (select 1 from pg_attribute a join pg_class c "
        "    on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
        "    where n.nspname = 'governance' and c.relname = w.t and a.attname = w.c "
        "    and not a.attisdropped))",
        {"r": relations, "t": [t for t, _ in columns], "c": [c for _, c in columns]},
    ).fetchone()[0]


def ensure_store(conn: psycopg.Connection) -> None:
    """The governance schema and the metadata store's tables (idempotent), for writers.

    When the store is already current (:func:`store_current`) nothing is applied and no
    lock is taken (``create index if not exists`` alone would wait for a harvest's open
    transaction); otherwise the governance schema, then metadata.sql under the store's own
    advisory lock, not the governance schema's, which every load takes. Readers use
    :func:`require_store`."""
    if store_current(conn):
        return
    from govlake.governance.store import ensure_schema

    ensure_schema(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
        if not store_current(conn):  # another process may have applied it meanwhile
            conn.execute(_store_ddl())


def require_store(conn: psycopg.Connection) -> None:
    """For readers: the store's tables exist (cheap; never applies DDL)."""
    if not conn.execute("select to_regclass('governance.md_change') is not null").fetchone()[0]:
        raise MetadataError(
            "元数据库尚未建立 the metadata store does not exist yet: run `govlake metadata harvest`"
        )


def grade_rank(grade: str | None) -> int:
    return GRADES.index(grade) + 1 if grade in GRADES else 0


# --- harvesting ------------------------------------------------------------------------


@dataclass
class HarvestSummary:
    by: str
    sources: tuple[str, ...]
    observed: dict[str, dict[str, int]] = field(default_factory=dict)  # origin → counts
    changes: Counter = field(default_factory=Counter)  # (action, object_kind) → count
    events: int = 0
    unreadable_events: int = 0
    assertions: int = 0
    drift_recorded: int = 0
    datasets: int = 0
    fields: int = 0
    edges: int = 0
    snapshot_id: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(self.changes.values())


def harvest(
    conn: psycopg.Connection,
    *,
    by: str = "harvest",
    sources: tuple[str, ...] | list[str] = DEFAULT_SOURCES,
    dbt_target: Path | None = None,
    label: str | None = None,
) -> HarvestSummary:
    """Fill the metadata store from ``sources``, record every change, take a snapshot.

    ``dbt_target``: where dbt wrote manifest.json (and catalog.json); default
    ``dbt_project/target``. An origin not harvested keeps what it said last time.
    """
    sources = tuple(dict.fromkeys(sources))
    unknown = [s for s in sources if s not in DEFAULT_SOURCES]
    if unknown:
        raise MetadataError(
            f"未知的采集来源 unknown harvest source(s) {unknown}: choose from "
            f"{', '.join(DEFAULT_SOURCES)}"
        )
    ensure_store(conn)
    catalog = default_catalog()
    summary = HarvestSummary(by=by, sources=sources)
    reason = "harvest: " + ", ".join(sources)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        if "catalog" in sources:
            for observed in (from_catalog(catalog), from_ingestion(conn, catalog)):
                _apply_observed(conn, observed, summary, by=by, reason=reason)
        if "dbt" in sources:
            target = dbt_target or config.PROJECT_ROOT / "dbt_project" / "target"
            observed = from_dbt(target)
            if observed is None:
                summary.notes.append(
                    f"dbt: 没有 no {target / 'manifest.json'} — run `govlake dbt parse` (or any "
                    "dbt command); what dbt said before is kept"
                )
            else:
                _apply_observed(conn, observed, summary, by=by, reason=reason)
        if "information_schema" in sources:
            observed = from_warehouse(conn, warehouse_schemas(), catalog)
            _apply_observed(conn, observed, summary, by=by, reason=reason)
        if "openlineage" in sources:
            _harvest_events(conn, summary, by=by, reason=reason)
        summary.drift_recorded = record_drift(conn)
        summary.changes.update(
            (action, kind) for action, kind, _ in reconcile(conn, by=by, reason=reason, touch=True)
        )
        snapshot = take_snapshot(conn, by=by, label=label, reason=reason)
        summary.snapshot_id = snapshot.snapshot_id
        summary.datasets, summary.fields, summary.edges = conn.execute(
            "select (select count(*) from governance.md_dataset where dropped_at is null), "
            "(select count(*) from governance.md_field f join governance.md_dataset d "
            " using (dataset) where f.dropped_at is null and d.dropped_at is null), "
            "(select count(*) from governance.md_edge where retired_at is null)"
        ).fetchone()
    if summary.drift_recorded:
        summary.changes[("drift", "field")] += summary.drift_recorded
    return summary


def _apply_observed(
    conn: psycopg.Connection, observed: Observed, summary: HarvestSummary, *, by: str, reason: str
) -> None:
    rows = {(key, ""): attrs for key, attrs in observed.datasets.items()}
    rows.update(observed.fields)
    _store_observations(conn, observed.origin, rows)
    summary.changes.update(
        _sync_edges(conn, observed.origin, observed.edges, set(observed.edges), by, reason)
    )
    summary.observed[observed.origin] = {
        "datasets": len(observed.datasets),
        "fields": len(observed.fields),
        "edges": len(observed.edges),
    }
    summary.notes.extend(f"{observed.origin}: {note}" for note in observed.notes)


def _store_observations(
    conn: psycopg.Connection, origin: str, rows: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """The origin's observations are now exactly ``rows``."""
    existing = {
        (dataset, name): attrs
        for dataset, name, attrs in conn.execute(
            "select dataset, field, attrs from governance.md_observation where origin = %s",
            (origin,),
        )
    }
    gone = [key for key in existing if key not in rows]
    changed = [(key, attrs) for key, attrs in rows.items() if existing.get(key) != attrs]
    with conn.cursor() as cur:
        cur.executemany(
            "delete from governance.md_observation where origin = %s and dataset = %s "
            "and field = %s",
            [(origin, *key) for key in gone],
        )
        cur.executemany(
            "insert into governance.md_observation (origin, dataset, field, attrs) "
            "values (%s, %s, %s, %s) on conflict (origin, dataset, field) do update "
            "set attrs = excluded.attrs, seen_at = now()",
            [(origin, *key, Jsonb(attrs)) for key, attrs in changed],
        )


def _edge_object(key: EdgeKey) -> str:
    source = f"{key[0]}.{key[1]}" if key[1] else key[0]
    target = f"{key[2]}.{key[3]}" if key[3] else key[2]
    return f"{source} → {target}"


def _edge_json(attrs: dict[str, Any], origin: str) -> dict[str, Any]:
    shown = {k: attrs.get(k) for k in EDGE_ATTRS if attrs.get(k) is not None}
    if "sql" in shown:  # the SQL itself stays on the edge; the log says which version
        shown["sql"] = "md5:" + hashlib.md5(shown["sql"].encode()).hexdigest()
    return {"origin": origin, **shown}


def _sync_edges(
    conn: psycopg.Connection,
    origin: str,
    produced: dict[EdgeKey, dict[str, Any]],
    seen: set[EdgeKey],
    by: str,
    reason: str,
) -> Counter:
    """The origin's live edges are now exactly ``produced``; ``seen`` get a new last_seen."""
    existing = {
        tuple(row[:4]): row[4:]
        for row in conn.execute(
            "select source_dataset, source_field, target_dataset, target_field, edge_id, "
            "transformation, description, job, sql, masking, retired_at "
            "from governance.md_edge where origin = %s",
            (origin,),
        )
    }
    changes: list[tuple] = []
    counts: Counter = Counter()
    with conn.cursor() as cur:
        for key, attrs in produced.items():
            values = tuple(attrs.get(k) for k in EDGE_ATTRS)
            row = existing.get(key)
            if row is None:
                cur.execute(
                    "insert into governance.md_edge (source_dataset, source_field, "
                    "target_dataset, target_field, transformation, description, job, sql, "
                    "masking, origin) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (*key, *values, origin),
                )
                changes.append(("added", key, None, _edge_json(attrs, origin), reason))
                continue
            edge_id, old, retired_at = row[0], tuple(row[1:6]), row[6]
            if retired_at is not None or old != values:
                cur.execute(
                    "update governance.md_edge set transformation = %s, description = %s, "
                    "job = %s, sql = %s, masking = %s, retired_at = null, last_seen = now() "
                    "where edge_id = %s",
                    (*values, edge_id),
                )
                before = _edge_json(dict(zip(EDGE_ATTRS, old, strict=True)), origin)
                after = _edge_json(attrs, origin)
                if retired_at is not None:
                    changes.append(("added", key, before, after, f"{reason} (reappeared)"))
                else:
                    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
                    changes.append(("updated", key, {k: before.get(k) for k in changed},
                                    {k: after.get(k) for k in changed}, reason))  # fmt: skip
            elif key in seen:
                cur.execute(
                    "update governance.md_edge set last_seen = now() where edge_id = %s",
                    (edge_id,),
                )
        for key, row in existing.items():
            if key not in produced and row[6] is None:
                cur.execute(
                    "update governance.md_edge set retired_at = now() where edge_id = %s",
                    (row[0],),
                )
                before = _edge_json(dict(zip(EDGE_ATTRS, row[1:6], strict=True)), origin)
                changes.append(("removed", key, before, None, reason))
        cur.executemany(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "after, reason) values (%s, %s, 'edge', %s, %s, %s, %s)",
            [
                (by, action, _edge_object(key), _json(before), _json(after), why)
                for action, key, before, after, why in changes
            ],
        )
    counts.update((action, "edge") for action, *_ in changes)
    return counts


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


# --- OpenLineage events ----------------------------------------------------------------


def _harvest_events(
    conn: psycopg.Connection, summary: HarvestSummary, *, by: str, reason: str
) -> None:
    from govlake.lineage.harvest_events import EventLog, LineageState
    from govlake.lineage.transport import events_file

    path = events_file()
    offset_key = f"openlineage:{path}"
    saved = conn.execute(
        "select byte_offset from governance.md_harvest_offset where source = %s", (offset_key,)
    ).fetchone()
    log = EventLog.after(path, saved[0] if saved else 0)
    if log.restarted:
        summary.notes.append(
            f"openlineage: {path} is shorter than the offset read last time (replaced?): "
            "read from its start again"
        )
    observations = {
        (dataset, name): attrs
        for dataset, name, attrs in conn.execute(
            "select dataset, field, attrs from governance.md_observation "
            "where origin = 'openlineage'"
        )
    }
    edges = {
        tuple(row[:4]): {**dict(zip(EDGE_ATTRS, row[4:9], strict=True)), "retired": bool(row[9])}
        for row in conn.execute(
            "select source_dataset, source_field, target_dataset, target_field, transformation, "
            "description, job, sql, masking, retired_at is not null "
            "from governance.md_edge where origin = 'openlineage'"
        )
    }
    before = {key: dict(attrs) for key, attrs in edges.items()}
    keys: dict[tuple[str, str], str] = {}

    def dataset_key(namespace: str, name: str) -> str:
        if (namespace, name) not in keys:
            keys[(namespace, name)] = naming.dataset_key(namespace, name)
        return keys[(namespace, name)]

    state = LineageState(observations=observations, edges=edges, dataset_key=dataset_key)
    for offset, line in log.lines():
        state.apply_line(line, offset)
    produced = {k: a for k, a in state.edges.items() if not a["retired"]}
    touched = {k for k, a in state.edges.items() if a != before.get(k)}
    _store_observations(conn, "openlineage", state.observations)
    summary.changes.update(_sync_edges(conn, "openlineage", produced, touched, by, reason))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into governance.md_assertion (dataset, field, assertion, success, run_id, "
            "event_time, classification, severity, description, job) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (dataset, field, assertion, run_id) do update set "
            "success = excluded.success, event_time = excluded.event_time, "
            "classification = excluded.classification, severity = excluded.severity, "
            "description = excluded.description, job = excluded.job",
            [
                (a.dataset, a.field, a.assertion, a.success, a.run_id, a.event_time,
                 a.classification, a.severity, a.description, a.job)
                for a in state.assertions
            ],
        )  # fmt: skip
        cur.execute(
            "insert into governance.md_harvest_offset (source, byte_offset) values (%s, %s) "
            "on conflict (source) do update set byte_offset = excluded.byte_offset, "
            "updated_at = now()",
            (offset_key, log.end),
        )
    summary.events = state.events
    summary.unreadable_events = state.unreadable
    summary.assertions = len(state.assertions)
    summary.observed["openlineage"] = {
        "datasets": sum(1 for _, name in state.observations if not name),
        "fields": sum(1 for _, name in state.observations if name),
        "edges": len(produced),
    }
    if state.unreadable:
        summary.notes.append(
            f"openlineage: {state.unreadable} line(s) of {path} could not be applied and were "
            "skipped (every other line was applied; the offset moved past them)"
        )
        summary.notes.extend(
            f"openlineage: {path} line at byte {offset}: {why}" for offset, why in state.skipped
        )
        if state.unreadable > len(state.skipped):
            summary.notes.append(
                f"openlineage: … and {state.unreadable - len(state.skipped)} more such line(s)"
            )


# --- schema drift found at ingestion ---------------------------------------------------


def record_drift(conn: psycopg.Connection) -> int:
    """Each ``governance.schema_drift`` row becomes one md_change ``drift`` (once), at the
    time the loader found it, by the load task that found it."""
    catalog = default_catalog()
    rows = conn.execute(
        "select d.resource_id, d.batch_id, d.source_file, d.column_name, d.change, "
        "d.detected_at from governance.schema_drift d where not exists ("
        "  select 1 from governance.md_change c where c.action = 'drift' "
        "  and c.after->>'resource_id' = d.resource_id and c.after->>'batch_id' = d.batch_id "
        "  and c.after->>'column' = d.column_name and c.after->>'change' = d.change) "
        "order by d.detected_at"
    ).fetchall()
    entries = []
    for resource_id, batch_id, source_file, column, change, detected_at in rows:
        resource = catalog.resources.get(resource_id)
        dataset = naming.source_key(resource) if resource else resource_id
        who = f"{resource.dag_id}.load" if resource else "ingestion"
        if change == "added":
            why = (
                "源系统出现目录未登记的列（值保存在 raw._extra） · the source delivered a "
                "column the catalog does not declare (its values are kept in raw._extra)"
            )
        else:
            why = "源系统缺少目录字段 · a catalog field was missing from the source"
            if resource and _required(resource, column):
                why += "（必填，整流隔离 required: the stream was quarantined）"
        after = {
            "resource_id": resource_id,
            "batch_id": batch_id,
            "column": column,
            "change": change,
            "source_file": source_file,
            "raw_table": f"raw.{resource.raw_table}" if resource else None,
        }
        entries.append((detected_at, who, f"{dataset}.{column}", Jsonb(after), why))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into governance.md_change (changed_at, changed_by, action, object_kind, "
            "object, after, reason) values (%s, %s, 'drift', 'field', %s, %s, %s)",
            entries,
        )
    return len(entries)


def _required(resource, column: str) -> bool:
    return any(f.name == column and f.required for f in resource.fields)


# --- the merge of every origin ---------------------------------------------------------


def _first(by_origin: dict[str, dict], attr: str, precedence: tuple[str, ...]) -> Any:
    for origin in precedence:
        value = by_origin.get(origin, {}).get(attr)
        if value is not None and value != "":
            return value
    return None


def _present(key: str, by_origin: dict[str, dict], scope: tuple[str, ...]) -> bool:
    """A dataset exists while an origin that can say so sees it: the catalog, dbt or the
    warehouse; a person who registered it; or OpenLineage for what lies outside the
    harvested warehouse schemas (inside them, the warehouse itself is the witness)."""
    if set(by_origin) & {"catalog", "dbt", "information_schema"}:
        return True
    if by_origin.get(MANUAL, {}).get("_registered"):
        return True
    schema, dot, _ = key.partition(".")
    in_warehouse = bool(dot) and schema in scope
    return "openlineage" in by_origin and not in_warehouse


def _merge(conn: psycopg.Connection) -> tuple[dict[str, dict], dict[tuple[str, str], dict]]:
    """The store as every origin's observations say it is now."""
    datasets_seen: dict[str, dict[str, dict]] = defaultdict(dict)
    fields_seen: dict[str, dict[str, dict[str, dict]]] = defaultdict(lambda: defaultdict(dict))
    for origin, dataset, name, attrs in conn.execute(
        "select origin, dataset, field, attrs from governance.md_observation"
    ):
        if name:
            fields_seen[dataset][name][origin] = attrs
        else:
            datasets_seen[dataset][origin] = attrs
    elements = {e.id: e.sensitivity for e in default_catalog().data_elements.values()}
    scope = warehouse_schemas()
    datasets: dict[str, dict] = {}
    fields: dict[tuple[str, str], dict] = {}
    for key, by_origin in datasets_seen.items():
        if not _present(key, by_origin, scope):
            continue
        merged = {a: _first(by_origin, a, p) for a, p in DATASET_PRECEDENCE.items()}
        merged["kind"] = merged["kind"] or "other"
        merged["layer"] = merged["layer"] or "other"
        merged["tags"] = sorted({t for attrs in by_origin.values() for t in attrs.get("tags", [])})
        origins = set(by_origin)
        seen = fields_seen.get(key, {})
        if "information_schema" in by_origin:  # the warehouse's own columns, no others
            names = [n for n, o in seen.items() if "information_schema" in o]
        else:
            names = [n for n, o in seen.items()
                     if set(o) - {MANUAL} or o.get(MANUAL, {}).get("_registered")]  # fmt: skip
        for name in names:
            field_origins = seen[name]
            origins |= {MANUAL} & set(field_origins)
            merged_field = {a: _first(field_origins, a, p) for a, p in FIELD_PRECEDENCE.items()}
            merged_field["grade"], merged_field["grade_basis"] = _own_grade(
                field_origins, merged_field["data_element"], elements
            )
            merged_field["origins"] = sorted(field_origins)
            fields[(key, name)] = merged_field
        merged["origins"] = sorted(origins)
        merged["_grade"] = by_origin.get("catalog", {}).get("grade")
        datasets[key] = merged
    return datasets, fields


def _own_grade(
    by_origin: dict[str, dict], element: str | None, elements: dict[str, str]
) -> tuple[str | None, str | None]:
    manual = by_origin.get(MANUAL, {})
    if manual.get("grade") in GRADES:
        return manual["grade"], MANUAL
    if manual.get("data_element") in elements:
        return elements[manual["data_element"]], "element"
    for origin in ("catalog", "dbt"):
        grade = by_origin.get(origin, {}).get("grade")
        if grade in GRADES:
            return grade, origin
    if element in elements:
        return elements[element], "element"
    return None, None


def _inherit_grades(conn: psycopg.Connection, fields: dict[tuple[str, str], dict]) -> None:
    """Fields without a grade of their own take the most sensitive one they are computed
    from: their column-lineage inputs, else the same-named field of a parent table.

    An input whose grade is not known (no grade anywhere upstream of it, or not in the
    store) counts as L3, as it does for reading samples: a field computed from one is L3 at
    least, with basis ``ungraded:<dataset>.<field>`` naming that input, and passes it on
    downstream like any grade."""
    column_inputs: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    parents: dict[str, set[str]] = defaultdict(set)
    for source, source_field, target, target_field in conn.execute(
        "select source_dataset, source_field, target_dataset, target_field "
        "from governance.md_edge where retired_at is null"
    ):
        if source == target:
            continue
        parents[target].add(source)
        if source_field and target_field:
            column_inputs[(target, target_field)].add((source, source_field))
    open_fields = [key for key, attrs in fields.items() if attrs["grade_basis"] is None]

    def inputs_of(key: tuple[str, str]) -> tuple[list[tuple[str, str]], str]:
        if column_inputs.get(key):
            return sorted(column_inputs[key]), "lineage"
        same_named = [(p, key[1]) for p in sorted(parents.get(key[0], ()))]
        return [u for u in same_named if u in fields], "upstream"

    def settle(floors: dict[tuple[str, str], tuple[str, str]]) -> None:
        """The fixed point: each open field's grade is the most sensitive of its inputs'
        (and of its floor); stops as soon as nothing changes."""
        for _ in range(64):  # as deep as any chain of models
            changed = False
            for key in open_fields:
                inputs, how = inputs_of(key)
                candidates = [(fields[i]["grade"], f"{how}:{i[0]}.{i[1]}") for i in inputs
                              if i in fields and fields[i]["grade"]]  # fmt: skip
                if key in floors:
                    candidates.append(floors[key])
                best = min(candidates, key=lambda c: (-grade_rank(c[0]), c[1]),
                           default=(None, None))  # fmt: skip
                attrs = fields[key]
                if (attrs["grade"], attrs.get("_inherited")) != best:
                    attrs["grade"], attrs["_inherited"] = best
                    changed = True
            if not changed:
                break

    settle({})
    # what is still ungraded now has no known grade upstream at all: an unknown grade
    floors = {}
    for key in open_fields:
        inputs, _ = inputs_of(key)
        unknown = [i for i in inputs if i not in fields or not fields[i]["grade"]]
        if unknown:
            floors[key] = (UNKNOWN_GRADE, f"ungraded:{unknown[0][0]}.{unknown[0][1]}")
    if floors:
        settle(floors)
    for key in open_fields:
        fields[key]["grade_basis"] = fields[key].pop("_inherited", None)


def reconcile(
    conn: psycopg.Connection, *, by: str, reason: str, touch: bool
) -> list[tuple[str, str, str]]:
    """Write the merge of every origin to md_dataset/md_field, one md_change per
    difference (by ``by``, for ``reason``); return the changes as (action, kind, object).
    ``touch``: a harvest saw everything present now (its last_seen is updated)."""
    datasets, fields = _merge(conn)
    _inherit_grades(conn, fields)
    for key, attrs in datasets.items():
        own = attrs.pop("_grade")
        field_grades = [f["grade"] for (d, _), f in fields.items() if d == key and f["grade"]]
        attrs["grade"] = max([own, *field_grades], key=grade_rank, default=None) or None
    changes: list[tuple] = []
    changes += _write_rows(conn, "md_dataset", ("dataset",), DATASET_COLUMNS,
                           {(k,): v for k, v in datasets.items()}, touch)  # fmt: skip
    live = set(datasets)
    changes += _write_rows(conn, "md_field", ("dataset", "name"), FIELD_COLUMNS,
                           fields, touch, parents=live)  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "after, reason) values (%s, %s, %s, %s, %s, %s, %s)",
            [(by, action, kind, obj, _json(before), _json(after), reason + extra)
             for action, kind, obj, before, after, extra in changes],
        )  # fmt: skip
    return [(action, kind, obj) for action, kind, obj, *_ in changes]


def _write_rows(
    conn: psycopg.Connection,
    table: str,
    key_columns: tuple[str, ...],
    columns: tuple[str, ...],
    wanted: dict[tuple, dict],
    touch: bool,
    parents: set[str] | None = None,
) -> list[tuple]:
    """Make ``governance.<table>`` hold ``wanted`` (rows not wanted get dropped_at)."""
    kind = "dataset" if table == "md_dataset" else "field"
    select = ", ".join((*key_columns, *columns, "dropped_at"))
    current = {
        tuple(row[: len(key_columns)]): (dict(zip(columns, row[len(key_columns) : -1],
                                                  strict=True)), row[-1])
        for row in conn.execute(f"select {select} from governance.{table}")
    }  # fmt: skip
    changes: list[tuple] = []
    inserts, updates, touched, dropped = [], [], [], []
    for key, attrs in wanted.items():
        values = {c: attrs.get(c) for c in columns}
        obj = ".".join(key)
        if key not in current:
            inserts.append((*key, *values.values()))
            changes.append(("added", kind, obj, None, _shown(values), ""))
            continue
        old, dropped_at = current[key]
        differs = [c for c in columns if old[c] != values[c]]
        if dropped_at is not None:
            updates.append((*values.values(), *key))
            changes.append(("added", kind, obj, {"dropped_at": dropped_at.isoformat()},
                            _shown(values), " (reappeared)"))  # fmt: skip
        elif differs:
            updates.append((*values.values(), *key))
            # an owner given or changed (who now describes it may change with it)
            change_kind = "owner" if set(differs) - {"origins"} == {"owner"} else kind
            changes.append(("updated", change_kind, obj, {c: old[c] for c in differs},
                            {c: values[c] for c in differs}, ""))  # fmt: skip
        elif touch:
            touched.append(key)
    for key, (old, dropped_at) in current.items():
        if key in wanted or dropped_at is not None:
            continue
        dropped.append(key)
        if parents is None or key[0] in parents:  # a dropped dataset's fields go with it
            changes.append(("removed", kind, ".".join(key), _shown(old), None, ""))
    where = " and ".join(f"{c} = %s" for c in key_columns)
    assignments = ", ".join(f"{c} = %s" for c in columns)
    last_seen = ", last_seen = now()" if touch else ""
    with conn.cursor() as cur:
        cur.executemany(
            f"insert into governance.{table} ({', '.join((*key_columns, *columns))}) "
            f"values ({', '.join(['%s'] * (len(key_columns) + len(columns)))})",
            inserts,
        )
        cur.executemany(
            f"update governance.{table} set {assignments}, dropped_at = null{last_seen} "
            f"where {where}",
            updates,
        )
        cur.executemany(f"update governance.{table} set last_seen = now() where {where}", touched)
        cur.executemany(f"update governance.{table} set dropped_at = now() where {where}", dropped)
    return changes


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != []}


# --- snapshots and comparison over time ------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: int
    taken_at: datetime
    taken_by: str
    label: str | None
    reason: str | None


def take_snapshot(
    conn: psycopg.Connection, *, by: str, label: str | None = None, reason: str | None = None
) -> Snapshot:
    """Record the store as it is: live datasets (field ''), fields with types, edges."""
    with conn.transaction():
        row = conn.execute(
            "insert into governance.md_snapshot (taken_by, label, reason) values (%s, %s, %s) "
            "returning snapshot_id, taken_at, taken_by, label, reason",
            (by, label, reason),
        ).fetchone()
        snapshot = Snapshot(*row)
        conn.execute(
            "insert into governance.md_snapshot_field (snapshot_id, dataset, field, data_type) "
            "select %(s)s, dataset, '', kind from governance.md_dataset where dropped_at is null "
            "union all select %(s)s, f.dataset, f.name, f.data_type from governance.md_field f "
            "join governance.md_dataset d using (dataset) "
            "where f.dropped_at is null and d.dropped_at is null",
            {"s": snapshot.snapshot_id},
        )
        conn.execute(
            "insert into governance.md_snapshot_edge select distinct %s, source_dataset, "
            "source_field, target_dataset, target_field from governance.md_edge "
            "where retired_at is null",
            (snapshot.snapshot_id,),
        )
    return snapshot


def resolve_snapshot(conn: psycopg.Connection, ref: str | int) -> Snapshot:
    """A snapshot id, ``latest``, ``previous`` (the one before the latest), or a date or
    time (Kaiping time unless it says otherwise): the last snapshot taken at or before it —
    for a date, at or before the end of that day."""
    text = str(ref).strip()
    columns = "snapshot_id, taken_at, taken_by, label, reason"
    if text.isdigit():
        row = conn.execute(
            f"select {columns} from governance.md_snapshot where snapshot_id = %s", (int(text),)
        ).fetchone()
        if row is None:
            raise MetadataError(
                f"没有快照 no snapshot {text} (`govlake metadata snapshots` lists them)"
            )
        return Snapshot(*row)
    if text in ("latest", "previous"):
        rows = conn.execute(
            f"select {columns} from governance.md_snapshot order by snapshot_id desc limit 2"
        ).fetchall()
        wanted = 0 if text == "latest" else 1
        if len(rows) <= wanted:
            raise MetadataError(
                f"快照不足 not enough snapshots for {text!r}: run `govlake metadata harvest`"
            )
        return Snapshot(*rows[wanted])
    moment = _moment(text)
    row = conn.execute(
        f"select {columns} from governance.md_snapshot where taken_at <= %s "
        "order by taken_at desc, snapshot_id desc limit 1",
        (moment,),
    ).fetchone()
    if row is None:
        first = conn.execute("select min(taken_at) from governance.md_snapshot").fetchone()[0]
        since = f"the first was taken at {first:%Y-%m-%d %H:%M:%S}" if first else "none yet"
        raise MetadataError(
            f"{text} 之前没有快照 no snapshot at or before {moment:%Y-%m-%d %H:%M:%S %Z} "
            f"({since}): run `govlake metadata harvest` to take one"
        )
    return Snapshot(*row)


def _moment(text: str) -> datetime:
    zone = ZoneInfo(config.TIMEZONE)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:  # a day: its last snapshot
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone) - timedelta(
            microseconds=1
        )
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MetadataError(
            f"无法识别的快照引用 cannot read {text!r} as a snapshot: give a snapshot id, "
            "'latest', 'previous', a date (2026-11-03) or a time (2026-11-03T09:30)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@dataclass
class MetadataDiff:
    """What changed in the store between two snapshots."""

    from_snapshot: Snapshot
    to_snapshot: Snapshot
    datasets_added: list[tuple[str, str]] = field(default_factory=list)  # (dataset, kind)
    datasets_dropped: list[tuple[str, str]] = field(default_factory=list)
    fields_added: list[tuple[str, str, str | None]] = field(default_factory=list)
    fields_removed: list[tuple[str, str, str | None]] = field(default_factory=list)
    fields_retyped: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    edges_added: list[EdgeKey] = field(default_factory=list)
    edges_removed: list[EdgeKey] = field(default_factory=list)
    # schema drift found at ingestion between the two: time, object, change, resource, batch
    drift: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any((self.datasets_added, self.datasets_dropped, self.fields_added,
                        self.fields_removed, self.fields_retyped, self.edges_added,
                        self.edges_removed, self.drift))  # fmt: skip


def diff(
    conn: psycopg.Connection, from_ref: str | int, to_ref: str | int = "latest"
) -> MetadataDiff:
    """Datasets added/dropped, fields added/removed/retyped, edges added/removed between two
    snapshots, and the schema drift found at ingestion between their times."""
    require_store(conn)
    before, after = resolve_snapshot(conn, from_ref), resolve_snapshot(conn, to_ref)
    result = MetadataDiff(before, after)
    fields = {}
    for snapshot in (before, after):
        fields[snapshot.snapshot_id] = {
            (dataset, name): data_type
            for dataset, name, data_type in conn.execute(
                "select dataset, field, data_type from governance.md_snapshot_field "
                "where snapshot_id = %s",
                (snapshot.snapshot_id,),
            )
        }
    old, new = fields[before.snapshot_id], fields[after.snapshot_id]
    result.datasets_added = sorted(
        (d, t) for (d, f), t in new.items() if not f and (d, f) not in old
    )
    result.datasets_dropped = sorted(
        (d, t) for (d, f), t in old.items() if not f and (d, f) not in new
    )
    for (dataset, name), data_type in sorted(new.items()):
        if not name or (dataset, "") not in old:
            continue
        if (dataset, name) not in old:
            result.fields_added.append((dataset, name, data_type))
        elif old[(dataset, name)] and data_type and old[(dataset, name)] != data_type:
            result.fields_retyped.append((dataset, name, old[(dataset, name)], data_type))
    result.fields_removed = [(d, f, t) for (d, f), t in sorted(old.items())
                             if f and (d, "") in new and (d, f) not in new]  # fmt: skip
    edges = {}
    for snapshot in (before, after):
        edges[snapshot.snapshot_id] = set(
            conn.execute(
                "select source_dataset, source_field, target_dataset, target_field "
                "from governance.md_snapshot_edge where snapshot_id = %s",
                (snapshot.snapshot_id,),
            ).fetchall()
        )
    result.edges_added = sorted(edges[after.snapshot_id] - edges[before.snapshot_id])
    result.edges_removed = sorted(edges[before.snapshot_id] - edges[after.snapshot_id])
    low, high = sorted((before.taken_at, after.taken_at))
    result.drift = [
        {"at": at, "object": obj, "by": who, **(detail or {})}
        for at, obj, who, detail in conn.execute(
            "select changed_at, object, changed_by, after from governance.md_change "
            "where action = 'drift' and changed_at > %s and changed_at <= %s "
            "order by changed_at, object",
            (low, high),
        )
    ]
    return result


# --- reading the store -----------------------------------------------------------------


def history(
    conn: psycopg.Connection, obj: str | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The change log, newest first: everything, or what concerns ``obj`` (a dataset, a
    field ``dataset.field``, or a principal's grants and reads)."""
    require_store(conn)
    where, params = "", {}
    if obj:
        escaped = obj.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = (
            "where object = %(o)s or object like %(field)s "  # the dataset and its fields
            "or object like %(out)s or object like %(field_out)s "  # edges out of them
            "or object like %(in)s or object like %(field_in)s "  # edges into them
            "or changed_by = %(o)s "  # what a person did, read or harvested
            "or (object_kind = 'grant' and %(o)s in (after->>'principal', before->>'principal'))"
        )
        params = {
            "o": obj,
            "field": f"{escaped}.%",
            "out": f"{escaped} → %",
            "field_out": f"{escaped}.% → %",
            "in": f"% → {escaped}",
            "field_in": f"% → {escaped}.%",
        }
    rows = conn.execute(
        "select change_id, changed_at, changed_by, action, object_kind, object, before, after, "
        f"reason from governance.md_change {where} order by changed_at desc, change_id desc "
        "limit %(limit)s",
        {**params, "limit": limit},
    ).fetchall()
    names = ("change_id", "changed_at", "changed_by", "action", "object_kind", "object",
             "before", "after", "reason")  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


def find(conn: psycopg.Connection, target: str) -> tuple[str, str | None]:
    """``dataset`` or ``dataset.field`` → (dataset, field or None), as the store knows them."""
    require_store(conn)
    known = conn.execute(
        "select 1 from governance.md_dataset where dataset = %s", (target,)
    ).fetchone()
    if known:
        return target, None
    dataset, dot, name = target.rpartition(".")
    if (
        dot
        and conn.execute(
            "select 1 from governance.md_field where dataset = %s and name = %s", (dataset, name)
        ).fetchone()
    ):
        return dataset, name
    close = [
        row[0]
        for row in conn.execute(
            "select dataset from governance.md_dataset where dataset ilike %s "
            "order by dropped_at nulls first, dataset limit 5",
            (f"%{(dataset if dot else target).split(':')[-1].split('.')[-1]}%",),
        )
    ]
    hint = f"; close: {', '.join(close)}" if close else ""
    raise MetadataError(
        f"元数据库中没有 {target!r} · no dataset or field {target!r} in the metadata store "
        f"(run `govlake metadata harvest` first if it should be there){hint}"
    )


def dataset_row(conn: psycopg.Connection, dataset: str) -> dict[str, Any] | None:
    cur = conn.execute("select * from governance.md_dataset where dataset = %s", (dataset,))
    row = cur.fetchone()
    return None if row is None else dict(zip([c.name for c in cur.description], row, strict=True))


def field_rows(conn: psycopg.Connection, dataset: str) -> list[dict[str, Any]]:
    cur = conn.execute(
        "select * from governance.md_field where dataset = %s "
        "order by dropped_at nulls first, position nulls last, name",
        (dataset,),
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def edge_rows(
    conn: psycopg.Connection, dataset: str, name: str | None = None
) -> list[dict[str, Any]]:
    """Live edges into or out of a dataset (or one of its fields), every origin."""
    cur = conn.execute(
        "select edge_id, source_dataset, source_field, target_dataset, target_field, "
        "transformation, description, job, origin from governance.md_edge "
        "where retired_at is null and ((source_dataset = %(d)s and (%(f)s::text is null "
        "or source_field = %(f)s)) or (target_dataset = %(d)s and (%(f)s::text is null "
        "or target_field = %(f)s))) order by target_dataset = %(d)s desc, source_dataset, "
        "source_field, target_dataset, target_field, origin",
        {"d": dataset, "f": name},
    )
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
