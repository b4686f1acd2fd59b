"""Connections to the warehouse and the governance schema's upkeep."""

from __future__ import annotations

from importlib import resources as package_files

import psycopg

from govlake import config
from govlake.catalog.model import Catalog


def connect(autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(config.libpq_url(config.warehouse_url()), autocommit=autocommit)


def ensure_schema(conn: psycopg.Connection) -> None:
    ddl = package_files.files("govlake.governance").joinpath("schema.sql").read_text("utf-8")
    with conn.transaction():
        # serialise concurrent first starts (parallel DAG runs) on one advisory lock
        conn.execute("select pg_advisory_xact_lock(4407830001)")
        conn.execute(ddl)


def sync_catalog(conn: psycopg.Connection, catalog: Catalog) -> dict[str, int]:
    """Mirror the catalog files into ``governance`` (files are the truth; this is a copy)."""
    ensure_schema(conn)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(4407830002)")
        cur.executemany(
            "insert into governance.department values (%s, %s, %s) on conflict (code) do update "
            "set name_zh = excluded.name_zh, name_en = excluded.name_en",
            [(d.code, d.name_zh, d.name_en) for d in catalog.departments.values()],
        )
        cur.executemany(
            "insert into governance.system values (%s, %s, %s, %s, %s, %s) on conflict (code) "
            "do update set department = excluded.department, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, kind = excluded.kind, connection = excluded.connection",
            [
                (s.code, s.department, s.name_zh, s.name_en, s.kind, s.connection)
                for s in catalog.systems.values()
            ],
        )
        cur.executemany(
            "insert into governance.data_element values (%s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (id) do update set name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, type = excluded.type, "
            "sensitivity = excluded.sensitivity, code_set = excluded.code_set, "
            "pattern = excluded.pattern, check_algorithm = excluded.check_algorithm",
            [
                (e.id, e.name_zh, e.name_en, e.type, e.sensitivity, e.code_set, e.pattern, e.check)
                for e in catalog.data_elements.values()
            ],
        )
        cur.execute(
            "delete from governance.resource where resource_id <> all(%s)",
            (list(catalog.resources),),
        )
        for r in catalog.resources.values():
            cur.execute(
                "insert into governance.resource (resource_id, department, code, name_zh, "
                "name_en, description, system, owner, sharing_type, open_type, "
                "update_frequency, extract_mode, raw_table, dag_id, catalog_file) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "on conflict (resource_id) do update set name_zh = excluded.name_zh, "
                "name_en = excluded.name_en, description = excluded.description, "
                "system = excluded.system, owner = excluded.owner, "
                "sharing_type = excluded.sharing_type, open_type = excluded.open_type, "
                "update_frequency = excluded.update_frequency, "
                "extract_mode = excluded.extract_mode, raw_table = excluded.raw_table, "
                "dag_id = excluded.dag_id, catalog_file = excluded.catalog_file, "
                "synced_at = now()",
                (
                    r.id, r.department, r.code, r.name_zh, r.name_en, r.description,
                    r.system.code, r.owner, r.sharing_type, r.open_type, r.update_frequency,
                    r.extract.mode, f"raw.{r.raw_table}", r.dag_id, r.source_file,
                ),
            )  # fmt: skip
            cur.execute("delete from governance.resource_field where resource_id = %s", (r.id,))
            cur.executemany(
                "insert into governance.resource_field values "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        r.id, position, f.name, f.element.id, f.type, f.required,
                        f.authoritative, f.grade, f.code_set,
                    )
                    for position, f in enumerate(r.fields, start=1)
                ],
            )  # fmt: skip
    return {
        "departments": len(catalog.departments),
        "systems": len(catalog.systems),
        "resources": len(catalog.resources),
        "fields": sum(len(r.fields) for r in catalog.resources.values()),
        "data_elements": len(catalog.data_elements),
    }
