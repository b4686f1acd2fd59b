"""What each of the platform's own descriptions says about its data: the harvesters of the
metadata store (``govlake.lineage.store``) other than OpenLineage events.

- **catalog** (``include/catalog``): per resource its departmental source, its object-store
  prefix and its raw table, with fields, types, data elements, grades, owner and department;
  field-level edges source → lake (extract) → raw (load);
- **dbt** (``target/manifest.json`` v12, and ``catalog.json`` when ``dbt docs generate``
  wrote one): models, seeds, snapshots, sources (mapped to their raw tables) and exposures,
  with descriptions, owners, columns and table-level edges carrying the model's SQL;
- **information_schema** (PostgreSQL's catalog): the columns and types the warehouse's
  tables and views really have, in the schemas dbt and the loader write;
- **ingestion** (``governance.schema_drift``): columns a source delivered in its latest
  loaded batch that the catalog does not declare (kept in ``raw.<table>._extra``).

Each returns an :class:`Observed`: datasets, fields and edges as that origin sees them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from govlake import config
from govlake.catalog.model import Catalog, Resource
from govlake.lineage import naming
from govlake.lineage.steps import RAW_PLATFORM_COLUMNS

EdgeKey = tuple[str, str, str, str]  # source dataset, source field, target dataset, target field

WAREHOUSE_LAYERS = ("raw", "staging", "basic", "thematic", "special", "sensor", "standards")
DBT_DIR = config.PROJECT_ROOT / "dbt_project"
# relations dbt leaves for a moment while it swaps a table or view in
_DBT_TRANSIENT = re.compile(r"__dbt_(tmp|backup)$")

# PostgreSQL's spellings of one type → the one format_type() prints
_TYPE_ALIASES = {
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "int8": "bigint",
    "int4": "integer",
    "int": "integer",
    "int2": "smallint",
    "float8": "double precision",
    "double": "double precision",
    "float4": "real",
    "varchar": "character varying",
    "char": "character",
    "bpchar": "character",
    "bool": "boolean",
    "decimal": "numeric",
}


@dataclass
class Observed:
    """One origin's view: attributes per dataset, per (dataset, field) and per edge."""

    origin: str
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    fields: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    edges: dict[EdgeKey, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_field(self, dataset: str, name: str, **attrs: Any) -> None:
        self.fields[(dataset, name)] = _clean(attrs)


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes without empty values (an origin that does not know says nothing)."""
    return {k: v for k, v in attrs.items() if v is not None and v != "" and v != []}


def normalize_type(data_type: str | None) -> str | None:
    """One spelling per PostgreSQL type (``timestamp`` and ``timestamp without time zone``
    are the same column type), so that origins agree and a type only changes when it does."""
    if not data_type:
        return None
    text = " ".join(str(data_type).strip().lower().split())
    base, paren, rest = text.partition("(")
    base = _TYPE_ALIASES.get(base.strip(), base.strip())
    return f"{base}({rest}" if paren else base


def layer_of(dataset: str) -> str:
    """The layer a dataset key belongs to (see naming's keys)."""
    if dataset.startswith("source:"):
        return "source"
    if dataset.startswith("lake:"):
        return "lake"
    for prefix in ("report", "export"):
        if dataset.startswith(f"{prefix}:"):
            return prefix
    schema, dot, _ = dataset.partition(".")
    if dot and ":" not in schema and "/" not in schema:
        return schema if schema in (*WAREHOUSE_LAYERS, "governance") else "other"
    return "other"


def warehouse_schemas() -> tuple[str, ...]:
    """The schemas whose tables are datasets: ``raw`` and every schema dbt writes to
    (the ``+schema`` settings of ``dbt_project.yml``)."""
    found = {"raw"}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "+schema" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)

    project = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    for section in ("models", "seeds", "snapshots"):
        walk(project.get(section) or {})
    return tuple(sorted(found))


# --- the catalog -------------------------------------------------------------------------


def _named(function, *args) -> naming.DatasetName | None:
    """An OpenLineage name when the configuration can give one (None otherwise)."""
    try:
        return function(*args)
    except config.ConfigError:
        return None


def from_catalog(catalog: Catalog) -> Observed:
    """Per resource: its source, its lake prefix and its raw table; field edges between."""
    seen = Observed("catalog")
    for resource in sorted(catalog.resources.values(), key=lambda r: r.id):
        department = catalog.departments[resource.department]
        system = resource.system
        source = naming.source_key(resource)
        lake = f"lake:{naming.lake_prefix(resource)}"
        raw = f"raw.{resource.raw_table}"
        common = {
            "name_zh": resource.name_zh,
            "name_en": resource.name_en,
            "owner": resource.owner,
            "department": resource.department,
            "resource_id": resource.id,
            "grade": resource.max_grade,
        }
        tags = [f"dept:{resource.department}", f"freq:{resource.update_frequency}",
                f"sharing:{resource.sharing_type}", f"open:{resource.open_type}"]  # fmt: skip
        named = {
            source: _named(naming.source_dataset, resource),
            lake: _named(lambda r: naming.lake_dataset(naming.lake_prefix(r)), resource),
            raw: _named(naming.raw_table_dataset, resource),
        }
        descriptions = {
            source: f"{department.name_zh}·{system.name_zh}（{system.kind}）："
            f"{naming.source_object(resource)} · {department.name_en}, {system.name_en} "
            f"({system.kind}): {naming.source_object(resource)}",
            lake: f"{resource.name_zh}的入湖批次（Parquet，每批一版） · "
            f"the landed batches of {resource.name_en} (Parquet, one version per batch)",
            raw: resource.description,
        }
        kinds = {source: ("source", f"system:{system.code}"), lake: ("lake", "lake"),
                 raw: ("table", "raw")}  # fmt: skip
        for key, (kind, tag) in kinds.items():
            name = named[key]
            seen.datasets[key] = _clean(
                {
                    **common,
                    "kind": kind,
                    "layer": layer_of(key),
                    "description": descriptions[key],
                    "ol_namespace": name.namespace if name else None,
                    "ol_name": name.name if name else None,
                    "tags": sorted({*tags, tag}),
                }
            )
        for position, f in enumerate(resource.fields, start=1):
            attrs = {
                "position": position,
                "description": f"{f.element.name_zh} · {f.element.name_en}",
                "data_element": f.element.id,
                "code_set": f.code_set,
                "grade": f.grade,
                "required": f.required or None,
                "authoritative": f.authoritative or None,
            }
            seen.add_field(source, f.name, data_type=f.type, **attrs)
            seen.add_field(lake, f.name, data_type=f.type, **attrs)
            seen.add_field(raw, f.name, data_type=normalize_type(f.pg_type), **attrs)
            _ingestion_edges(seen.edges, resource, source, lake, raw, f.name, f.name)
        # the columns the platform adds to every raw table: its own bookkeeping is L1;
        # `_extra` holds what a source sent undeclared — no grade, so its samples are
        # masked as an unknown grade is (access.py), without raising the table's grade
        for position, (name, (pg_type, text)) in enumerate(
            RAW_PLATFORM_COLUMNS.items(), start=len(resource.fields) + 1
        ):
            seen.add_field(raw, name, data_type=normalize_type(pg_type), position=position,
                           description=text, grade=None if name == "_extra" else "L1")  # fmt: skip
        _ingestion_edges(seen.edges, resource, source, lake, raw, "", "")
    return seen


def _ingestion_edges(
    edges: dict[EdgeKey, dict],
    resource: Resource,
    source: str,
    lake: str,
    raw: str,
    name: str,
    raw_name: str,
    load_description: str | None = None,
) -> None:
    """source → lake (the extract task) and lake → raw (the load task) for one field."""
    edges[(source, name, lake, name)] = {
        "transformation": "DIRECT/IDENTITY",
        "description": f"抽取 extract: {resource.system.kind} → Parquet 批次 batch",
        "job": f"{resource.dag_id}.extract",
    }
    edges[(lake, name, raw, raw_name)] = {
        "transformation": "DIRECT/IDENTITY",
        "description": load_description or "装载 load: Parquet → raw 分区 partition",
        "job": f"{resource.dag_id}.load",
    }


# --- columns the sources delivered beyond the catalog (schema drift) ---------------------


def from_ingestion(conn: psycopg.Connection, catalog: Catalog) -> Observed:
    """Columns each resource's latest loaded batch carried that the catalog does not
    declare: fields of its source and lake datasets, reaching ``raw.<table>._extra``."""
    seen = Observed("ingestion")
    rows = conn.execute(
        "with latest as (select distinct on (resource_id) resource_id, batch_id "
        "  from governance.batch where state = 'loaded' "
        "  order by resource_id, ingest_date desc, loaded_at desc nulls last) "
        "select d.resource_id, d.batch_id, d.column_name, min(d.detected_at) "
        "from governance.schema_drift d join latest using (resource_id, batch_id) "
        "where d.change = 'added' group by 1, 2, 3 order by 1, 3"
    ).fetchall()
    for resource_id, batch_id, column, _detected in rows:
        resource = catalog.resources.get(resource_id)
        if resource is None:
            continue
        source = naming.source_key(resource)
        lake = f"lake:{naming.lake_prefix(resource)}"
        raw = f"raw.{resource.raw_table}"
        attrs = {
            "description": "源系统新增列，目录未登记（入库时存入 _extra） · a column the source "
            "added that the catalog does not declare (kept in _extra when loaded)",
            "drift_batch": batch_id,
        }
        seen.add_field(source, column, **attrs)
        seen.add_field(lake, column, **attrs)
        _ingestion_edges(
            seen.edges, resource, source, lake, raw, column, "_extra",
            load_description=f"装载 load: 未登记列存入 _extra 的 {column} 键 · an undeclared "
            f"column, kept under the key {column} of the jsonb _extra",
        )  # fmt: skip
    return seen


# --- dbt ---------------------------------------------------------------------------------


def _meta(entry: dict) -> dict:
    """dbt 1.11 keeps meta under config; older manifests at the top level: both, merged."""
    return {**(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}


def _dbt_key(node: dict) -> str:
    if node["resource_type"] == "source":
        return f"{node['schema']}.{node.get('identifier') or node['name']}"
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def _owner_of(entry: dict, groups: dict[str, dict]) -> str | None:
    meta = _meta(entry)
    if meta.get("owner"):
        return str(meta["owner"])
    group = entry.get("group") or (entry.get("config") or {}).get("group")
    if group:
        owner = next((g.get("owner") or {} for g in groups.values() if g.get("name") == group),
                     {})  # fmt: skip
        return owner.get("name") or _email(owner.get("email")) or f"group:{group}"
    return None


def _email(value: Any) -> str | None:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or None
    return str(value) if value else None


def _exposure_layer(exposure: dict) -> str:
    """report (dashboards, analyses, notebooks) or export (applications, ML): the exposure's
    ``meta.layer`` when it says, else its type."""
    meta = _meta(exposure)
    declared = str(meta.get("layer") or meta.get("govlake_layer") or "").lower()
    if declared in ("report", "export"):
        return declared
    return "export" if exposure.get("type") in ("application", "ml") else "report"


def _columns(seen: Observed, key: str, columns: dict[str, dict]) -> None:
    for position, (name, column) in enumerate(columns.items(), start=1):
        meta = _meta(column)
        seen.add_field(
            key, column.get("name") or name,
            position=position,
            data_type=normalize_type(column.get("data_type")),
            description=column.get("description"),
            data_element=meta.get("data_element"),
            code_set=meta.get("code_set"),
            grade=meta.get("sensitivity") or meta.get("grade"),
        )  # fmt: skip


def from_dbt(target: Path) -> Observed | None:
    """dbt's manifest (and catalog.json) in ``target``; None when there is no manifest."""
    manifest_path = target / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    version = manifest.get("metadata", {}).get("dbt_schema_version", "")
    seen = Observed("dbt")
    if not version.endswith("/v12.json"):
        seen.notes.append(f"manifest {version or 'of unknown version'} (expected v12): read as v12")
    groups = manifest.get("groups") or {}
    keys: dict[str, str] = {}
    for unique_id, source in (manifest.get("sources") or {}).items():
        key = keys[unique_id] = _dbt_key(source)
        meta = _meta(source)
        seen.datasets[key] = _clean(
            {
                "kind": "table",
                "layer": layer_of(key),
                "description": source.get("description") or source.get("source_description"),
                "owner": _owner_of(source, groups),
                "resource_id": meta.get("resource_id"),
                "tags": sorted(source.get("tags") or []),
                "dbt_unique_id": unique_id,
            }
        )
        _columns(seen, key, source.get("columns") or {})
    nodes = manifest.get("nodes") or {}
    for unique_id, node in nodes.items():
        kind = node.get("resource_type")
        if kind not in ("model", "seed", "snapshot"):
            continue
        key = keys[unique_id] = _dbt_key(node)
        config_ = node.get("config") or {}
        meta = _meta(node)
        materialized = config_.get("materialized")
        seen.datasets[key] = _clean(
            {
                "kind": kind,
                "layer": layer_of(key),
                "description": node.get("description"),
                "owner": _owner_of(node, groups),
                "resource_id": meta.get("resource_id"),
                "department": meta.get("department"),
                "tags": sorted({*(node.get("tags") or []),
                                *([f"materialized:{materialized}"] if materialized else [])}),
                "dbt_unique_id": unique_id,
            }
        )  # fmt: skip
        _columns(seen, key, node.get("columns") or {})
    for unique_id, exposure in (manifest.get("exposures") or {}).items():
        layer = _exposure_layer(exposure)
        key = keys[unique_id] = f"{layer}:{exposure['name']}"
        owner = exposure.get("owner") or {}
        seen.datasets[key] = _clean(
            {
                "kind": "exposure",
                "layer": layer,
                "name_zh": exposure.get("label"),
                "description": exposure.get("description"),
                "owner": _owner_of(exposure, groups) or owner.get("name")
                or _email(owner.get("email")),
                "tags": sorted({*(exposure.get("tags") or []),
                                f"exposure:{exposure.get('type')}"}),
                "url": exposure.get("url"),
                "dbt_unique_id": unique_id,
            }
        )  # fmt: skip
    for unique_id, node in [*nodes.items(), *(manifest.get("exposures") or {}).items()]:
        if unique_id not in keys or node.get("resource_type") == "source":
            continue
        target_key = keys[unique_id]
        sql_text = node.get("compiled_code") or node.get("raw_code") or None
        compiled = "compiled" if node.get("compiled_code") else "raw"
        for parent in (node.get("depends_on") or {}).get("nodes") or []:
            if parent not in keys:
                continue
            seen.edges[(keys[parent], "", target_key, "")] = _clean(
                {
                    "description": f"dbt {node['resource_type']} {node['name']}"
                    + (f" ({compiled} SQL)" if sql_text else ""),
                    "job": unique_id,
                    "sql": sql_text,
                }
            )
    _read_dbt_catalog(seen, target / "catalog.json", keys)
    return seen


def _read_dbt_catalog(seen: Observed, path: Path, keys: dict[str, str]) -> None:
    """``dbt docs generate``'s catalog.json: the built relations' actual column types."""
    if not path.exists():
        return
    document = json.loads(path.read_text(encoding="utf-8"))
    for section in ("nodes", "sources"):
        for unique_id, table in (document.get(section) or {}).items():
            key = keys.get(unique_id)
            if key is None:
                continue
            metadata = table.get("metadata") or {}
            if metadata.get("comment") and "description" not in seen.datasets.get(key, {}):
                seen.datasets.setdefault(key, {})["description"] = metadata["comment"]
            for name, column in (table.get("columns") or {}).items():
                attrs = seen.fields.setdefault((key, column.get("name") or name), {})
                declared = attrs.get("data_type")
                actual = normalize_type(column.get("type"))
                if actual:
                    attrs["data_type"] = actual
                    if declared and declared != actual:
                        attrs["declared_type"] = declared
                if column.get("index") is not None:
                    attrs["position"] = column["index"]
                if column.get("comment") and not attrs.get("description"):
                    attrs["description"] = column["comment"]


# --- the warehouse's own catalog ---------------------------------------------------------


def from_warehouse(
    conn: psycopg.Connection, schemas: tuple[str, ...], catalog: Catalog | None = None
) -> Observed:
    """Tables, views and their columns in ``schemas`` as PostgreSQL has them.

    Read from the system catalog (what ``information_schema.columns`` shows, plus the
    exact type with its modifiers and the comments dbt's ``persist_docs`` writes). A raw
    table's partitions (``raw.<table>__b<batch>``, attached or detached after a blocked
    audit) belong to their table and are not datasets of their own.
    """
    seen = Observed("information_schema")
    relations = conn.execute(
        "select n.nspname, c.relname, c.relkind, c.relispartition, "
        "       obj_description(c.oid, 'pg_class') "
        "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "order by 1, 2",
        (list(schemas),),
    ).fetchall()
    names_by_schema: dict[str, set[str]] = {}
    for schema, name, *_ in relations:
        names_by_schema.setdefault(schema, set()).add(name)
    batch_tables = _batch_table_names(conn, catalog)
    kept: set[tuple[str, str]] = set()
    for schema, name, relkind, is_partition, comment in relations:
        if is_partition or _DBT_TRANSIENT.search(name):
            continue
        if schema == "raw" and (
            name in batch_tables or _is_batch_table(name, names_by_schema[schema])
        ):
            continue
        key = f"{schema}.{name}"
        kept.add((schema, name))
        named = naming.warehouse_dataset(schema, name)
        seen.datasets[key] = _clean(
            {
                "kind": "view" if relkind in ("v", "m") else "table",
                "layer": layer_of(key),
                "description": comment,
                "ol_namespace": named.namespace,
                "ol_name": named.name,
            }
        )
    columns = conn.execute(
        "select n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
        "       not a.attnotnull, col_description(c.oid, a.attnum) "
        "from pg_attribute a join pg_class c on c.oid = a.attrelid "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "  and a.attnum > 0 and not a.attisdropped order by 1, 2, 3",
        (list(schemas),),
    ).fetchall()
    for schema, name, position, column, data_type, nullable, comment in columns:
        if (schema, name) in kept:
            seen.add_field(
                f"{schema}.{name}", column, position=position,
                data_type=normalize_type(data_type), nullable=nullable, description=comment,
            )  # fmt: skip
    return seen


def _batch_table_names(conn: psycopg.Connection, catalog: Catalog | None) -> set[str]:
    """The partition name of every batch the ledger knows (the loader's naming)."""
    from govlake.load.loader import partition_name

    if catalog is None:
        return set()
    rows = conn.execute("select resource_id, batch_id from governance.batch").fetchall()
    return {
        partition_name(catalog.resources[resource_id].raw_table, batch)
        for resource_id, batch in rows
        if resource_id in catalog.resources
    }


def _is_batch_table(name: str, siblings: set[str]) -> bool:
    """``<table>__b<batch>``: a batch partition of another raw table (maybe detached)."""
    head, sep, _ = name.rpartition("__b")
    while sep:
        if head in siblings:
            return True
        head, sep, _ = head.rpartition("__b")
    return False
