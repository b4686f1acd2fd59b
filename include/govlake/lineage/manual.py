"""Metadata by hand (R4.1 "by hand where needed"): what no harvester can know.

- :func:`add_edge` — lineage the platform cannot see, such as a report built outside it
  from a library table (``report:<name>`` / ``export:<name>`` are registered on first use);
- :func:`set_owner` — the responsible unit or person of a dataset;
- :func:`annotate` — a dataset's or field's description, a field's data element or grade;
- :func:`register_dataset` — a dataset only people know of.

Hand-made values are kept as the ``manual`` origin's observations and win over every
harvested value; harvests never overwrite or retire them (a value given as ``""`` clears
it, so that the harvested one shows again). Each call is audited in ``md_change`` with who
did it: ``by``, else ``GOVLAKE_USER``, else the operating-system login.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from govlake.lineage.harvest_sources import layer_of
from govlake.lineage.store import (
    _LOCK,
    GRADES,
    MANUAL,
    MetadataError,
    _edge_json,
    _edge_object,
    ensure_store,
    reconcile,
)

DATASET_KINDS = ("source", "lake", "table", "view", "model", "seed", "snapshot", "exposure",
                 "stream", "other")  # fmt: skip


def actor(by: str | None = None) -> str:
    """Who is acting: ``by``, else ``GOVLAKE_USER``, else the operating-system user."""
    from govlake.quality.workorders import actor as acting

    return acting(by)


def _live(conn: psycopg.Connection, dataset: str) -> dict[str, Any] | None:
    row = conn.execute(
        "select kind, origins from governance.md_dataset where dataset = %s and dropped_at is null",
        (dataset,),
    ).fetchone()
    return None if row is None else {"kind": row[0], "origins": row[1]}


def _require(conn: psycopg.Connection, dataset: str) -> dict[str, Any]:
    found = _live(conn, dataset)
    if found is None:
        raise MetadataError(
            f"元数据库中没有数据集 no dataset {dataset!r} in the metadata store: run "
            "`govlake metadata harvest` first, or register a report or export by using a "
            "report:<name> / export:<name> key"
        )
    return found


def _field_exists(conn: psycopg.Connection, dataset: str, name: str) -> bool:
    return bool(
        conn.execute(
            "select 1 from governance.md_field where dataset = %s and name = %s "
            "and dropped_at is null",
            (dataset, name),
        ).fetchone()
    )


def _manual_attrs(conn: psycopg.Connection, dataset: str, name: str) -> dict[str, Any]:
    row = conn.execute(
        "select attrs from governance.md_observation where origin = %s and dataset = %s "
        "and field = %s",
        (MANUAL, dataset, name),
    ).fetchone()
    return dict(row[0]) if row else {}


def _set_manual(
    conn: psycopg.Connection, dataset: str, name: str, updates: dict[str, Any]
) -> dict[str, Any]:
    """Merge ``updates`` into the hand-made attributes (``""`` removes one)."""
    attrs = _manual_attrs(conn, dataset, name)
    for key, value in updates.items():
        if value is None:
            continue
        if value == "":
            attrs.pop(key, None)
        else:
            attrs[key] = value
    if attrs:
        conn.execute(
            "insert into governance.md_observation (origin, dataset, field, attrs) "
            "values (%s, %s, %s, %s) on conflict (origin, dataset, field) do update "
            "set attrs = excluded.attrs, seen_at = now()",
            (MANUAL, dataset, name, Jsonb(attrs)),
        )
    else:
        conn.execute(
            "delete from governance.md_observation where origin = %s and dataset = %s "
            "and field = %s",
            (MANUAL, dataset, name),
        )
    return attrs


def _audit(
    conn: psycopg.Connection,
    who: str,
    kind: str,
    obj: str,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str,
    recorded: list[tuple[str, str, str]],
) -> None:
    """The hand-made value, audited even when it equals what was harvested (it is now
    pinned against harvests): one row unless the merge already recorded the change."""
    if any(o == obj for _, _, o in recorded):
        return
    conn.execute(
        "insert into governance.md_change (changed_by, action, object_kind, object, before, "
        "after, reason) values (%s, 'updated', %s, %s, %s, %s, %s)",
        (who, kind, obj, Jsonb(before), Jsonb(after), reason + " (value pinned by hand)"),
    )


def _merged_value(conn: psycopg.Connection, dataset: str, name: str | None, column: str) -> Any:
    if name is None:
        row = conn.execute(
            f"select {column} from governance.md_dataset where dataset = %s", (dataset,)
        ).fetchone()
    else:
        row = conn.execute(
            f"select {column} from governance.md_field where dataset = %s and name = %s",
            (dataset, name),
        ).fetchone()
    return row[0] if row else None


def register_dataset(
    conn: psycopg.Connection,
    dataset: str,
    *,
    kind: str | None = None,
    layer: str | None = None,
    name_zh: str | None = None,
    name_en: str | None = None,
    description: str | None = None,
    owner: str | None = None,
    by: str | None = None,
) -> None:
    """Register a dataset no harvester sees (a report, an export, an outside system)."""
    dataset = dataset.strip()
    if not dataset or any(c.isspace() for c in dataset):
        raise MetadataError(
            f"数据集键无效 invalid dataset key {dataset!r}: no spaces "
            "(e.g. report:monthly_low_income)"
        )
    layer = layer or layer_of(dataset)
    kind = kind or ("exposure" if layer in ("report", "export") else "other")
    if kind not in DATASET_KINDS:
        raise MetadataError(f"未知类型 unknown kind {kind!r}: one of {', '.join(DATASET_KINDS)}")
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        _set_manual(conn, dataset, "", {"_registered": True, "kind": kind, "layer": layer,
                                        "name_zh": name_zh, "name_en": name_en,
                                        "description": description, "owner": owner})  # fmt: skip
        reconcile(conn, by=who, reason=f"manual: register {dataset}", touch=False)


def add_edge(
    conn: psycopg.Connection,
    source: str,
    target: str,
    *,
    source_field: str = "",
    target_field: str = "",
    transformation: str | None = None,
    description: str | None = None,
    job: str | None = None,
    by: str | None = None,
) -> int:
    """Record lineage by hand: ``source[.source_field] → target[.target_field]``.

    The source must be in the store; a ``report:``/``export:`` target is registered on
    first use (and its field, if given). Returns the edge's id; harvests never retire it.
    """
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        _require(conn, source)
        if source_field and not _field_exists(conn, source, source_field):
            raise MetadataError(
                f"{source} 没有字段 has no field {source_field!r} (`govlake metadata show "
                f"{source}` lists them)"
            )
        target_known = _live(conn, target)
        if target_known is None:
            if layer_of(target) not in ("report", "export"):
                _require(conn, target)
            _set_manual(conn, target, "", {"_registered": True, "kind": "exposure",
                                           "layer": layer_of(target)})  # fmt: skip
        registered = bool(_manual_attrs(conn, target, "").get("_registered"))
        if target_field and not _field_exists(conn, target, target_field):
            if not registered:
                raise MetadataError(
                    f"{target} 没有字段 has no field {target_field!r} (`govlake metadata "
                    f"show {target}` lists them)"
                )
            _set_manual(conn, target, target_field, {"_registered": True})
        key = (source, source_field, target, target_field)
        attrs = {"transformation": transformation, "description": description, "job": job}
        existing = conn.execute(
            "select edge_id, transformation, description, job, retired_at "
            "from governance.md_edge where source_dataset = %s and source_field = %s "
            "and target_dataset = %s and target_field = %s and origin = 'manual'",
            key,
        ).fetchone()
        if existing is None:
            edge_id = conn.execute(
                "insert into governance.md_edge (source_dataset, source_field, target_dataset, "
                "target_field, transformation, description, job, origin) "
                "values (%s, %s, %s, %s, %s, %s, %s, 'manual') returning edge_id",
                (*key, transformation, description, job),
            ).fetchone()[0]
            before = None
        else:
            edge_id = existing[0]
            before = _edge_json(dict(zip(("transformation", "description", "job"),
                                         existing[1:4], strict=True)), MANUAL)  # fmt: skip
            conn.execute(
                "update governance.md_edge set transformation = %s, description = %s, job = %s, "
                "retired_at = null, last_seen = now() where edge_id = %s",
                (transformation, description, job, edge_id),
            )
        action = "added" if existing is None or existing[4] is not None else "updated"
        conn.execute(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "after, reason) values (%s, %s, 'edge', %s, %s, %s, 'manual: add-edge')",
            (who, action, _edge_object(key), Jsonb(before) if before else None,
             Jsonb(_edge_json(attrs, MANUAL))),
        )  # fmt: skip
        reconcile(conn, by=who, reason=f"manual: edge {_edge_object(key)}", touch=False)
    return edge_id


def remove_edge(conn: psycopg.Connection, edge_id: int, *, by: str | None = None) -> None:
    """Retire an edge made by hand (harvested edges follow their origin instead)."""
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        row = conn.execute(
            "select source_dataset, source_field, target_dataset, target_field, origin, "
            "transformation, description, job from governance.md_edge "
            "where edge_id = %s and retired_at is null",
            (edge_id,),
        ).fetchone()
        if row is None:
            raise MetadataError(f"没有在用的血缘边 no live edge {edge_id}")
        if row[4] != MANUAL:
            raise MetadataError(
                f"边 {edge_id} 来自 {row[4]}，不能手工删除 · edge {edge_id} comes from {row[4]}: "
                "change its origin (catalog, dbt project, the job) instead"
            )
        conn.execute(
            "update governance.md_edge set retired_at = now() where edge_id = %s", (edge_id,)
        )
        before = _edge_json(dict(zip(("transformation", "description", "job"), row[5:8],
                                     strict=True)), MANUAL)  # fmt: skip
        conn.execute(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "reason) values (%s, 'removed', 'edge', %s, %s, 'manual: remove-edge')",
            (who, _edge_object(tuple(row[:4])), Jsonb(before)),
        )
        reconcile(conn, by=who, reason=f"manual: remove edge {edge_id}", touch=False)


def set_owner(conn: psycopg.Connection, dataset: str, owner: str, *, by: str | None = None) -> None:
    """Set a dataset's owner (责任单位/责任人) by hand; ``""`` gives it back to harvests."""
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        _require(conn, dataset)
        before = _merged_value(conn, dataset, None, "owner")
        _set_manual(conn, dataset, "", {"owner": owner.strip() if owner.strip() else ""})
        recorded = reconcile(conn, by=who, reason="manual: owner", touch=False)
        _audit(conn, who, "owner", dataset, {"owner": before},
               {"owner": _merged_value(conn, dataset, None, "owner")}, "manual: owner",
               recorded)  # fmt: skip


def annotate(
    conn: psycopg.Connection,
    dataset: str,
    field: str | None = None,
    *,
    description: str | None = None,
    data_element: str | None = None,
    grade: str | None = None,
    by: str | None = None,
) -> None:
    """Describe a dataset, or a field (description, data element, grade), by hand."""
    if description is None and data_element is None and grade is None:
        raise MetadataError(
            "没有要标注的内容 nothing to annotate: give --description, --data-element or --grade"
        )
    if field is None and (data_element is not None or grade is not None):
        raise MetadataError(
            "数据元和敏感级属于字段 a data element or grade belongs to a field: give --field"
        )
    if grade and grade not in GRADES:
        raise MetadataError(f"敏感级无效 invalid grade {grade!r}: one of {', '.join(GRADES)}")
    if data_element:
        from govlake.catalog.loader import default_catalog

        if data_element not in default_catalog().data_elements:
            raise MetadataError(
                f"未知数据元 unknown data element {data_element!r}: `govlake standards search` "
                "finds one (include/standards/data_elements.yaml)"
            )
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_LOCK,))
        _require(conn, dataset)
        if field is not None and not _field_exists(conn, dataset, field):
            raise MetadataError(
                f"{dataset} 没有字段 has no field {field!r} (`govlake metadata show {dataset}` "
                "lists them)"
            )
        updates = {"description": description, "data_element": data_element, "grade": grade}
        columns = [k for k, v in updates.items() if v is not None]
        before = {c: _merged_value(conn, dataset, field, c) for c in columns}
        _set_manual(conn, dataset, field or "", updates)
        obj = f"{dataset}.{field}" if field else dataset
        recorded = reconcile(conn, by=who, reason=f"manual: annotate {obj}", touch=False)
        after = {c: _merged_value(conn, dataset, field, c) for c in columns}
        _audit(conn, who, "field" if field else "dataset", obj, before, after,
               f"manual: annotate {obj}", recorded)  # fmt: skip
