"""Load the standards registry into the governance schema (the files stay the truth).

Tables: governance.code_set, code_value, code_mapping, business_term, term_element, and
governance.data_element (the catalog's table) with the columns the standards add. Each
load replaces the standards' rows in one transaction, so the tables always show one
consistent edition.
"""

from __future__ import annotations

from importlib import resources as package_files

import psycopg
from psycopg.types.json import Jsonb

from govlake.governance.store import ensure_schema
from govlake.standards.model import Registry

ADVISORY_LOCK = 4407830102


def governance_sql() -> str:
    return (
        package_files.files("govlake.standards").joinpath("sql/governance.sql").read_text("utf-8")
    )


def _element_rows(registry: Registry) -> list[tuple]:
    return [
        (
            e.id,
            e.name_zh,
            e.name_en,
            e.type,
            e.sensitivity,
            e.code_set,
            e.pattern,
            e.check,
            e.definition,
            e.format,
            e.unit,
            e.range_min,
            e.range_max,
        )
        for e in registry.elements.values()
    ]


def load_into_governance(conn: psycopg.Connection, registry: Registry) -> dict[str, int]:
    """Replace the standards' rows in ``governance``; return the counts loaded."""
    ensure_schema(conn)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))
        cur.execute(governance_sql())
        cur.executemany(
            "insert into governance.data_element (id, name_zh, name_en, type, sensitivity, "
            "code_set, pattern, check_algorithm, definition, format, unit, range_min, range_max) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (id) do update set name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, type = excluded.type, "
            "sensitivity = excluded.sensitivity, code_set = excluded.code_set, "
            "pattern = excluded.pattern, check_algorithm = excluded.check_algorithm, "
            "definition = excluded.definition, format = excluded.format, unit = excluded.unit, "
            "range_min = excluded.range_min, range_max = excluded.range_max",
            _element_rows(registry),
        )
        # elements gone from the registry go too, unless a catalog field still names them
        cur.execute(
            "delete from governance.data_element d where d.id <> all(%s) and not exists "
            "(select 1 from governance.resource_field f where f.data_element = d.id)",
            (list(registry.elements),),
        )
        cur.execute("delete from governance.term_element")
        cur.execute("delete from governance.business_term")
        cur.execute("delete from governance.code_mapping")
        cur.execute("delete from governance.code_value")
        cur.execute("delete from governance.code_set")
        cur.executemany(
            "insert into governance.code_set (id, name_zh, name_en, standard, edition, source, "
            "file, note, columns) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    c.id,
                    c.name_zh,
                    c.name_en,
                    c.standard,
                    c.edition,
                    c.source,
                    c.file,
                    c.note,
                    list(c.columns),
                )
                for c in registry.code_sets.values()
            ],
        )
        values = []
        for code_set in registry.code_sets.values():
            extra = [c for c in code_set.columns if c not in ("code", "name", "name_en")]
            for position, value in enumerate(code_set.values, start=1):
                values.append(
                    (
                        code_set.id,
                        value["code"],
                        value["name"],
                        value.get("name_en") or None,
                        position,
                        Jsonb({c: value.get(c, "") for c in extra}),
                    )
                )
        with cur.copy(
            "copy governance.code_value (code_set, code, name, name_en, position, attributes) "
            "from stdin"
        ) as copy:
            for row in values:
                copy.write_row(row)
        cur.executemany(
            "insert into governance.code_mapping values (%s, %s, %s, %s, %s, %s)",
            [
                (m.id, m.department, m.field, r.local_code, r.standard_code, r.code_set)
                for m in registry.mappings.values()
                for r in m.rows
            ],
        )
        cur.executemany(
            "insert into governance.business_term values (%s, %s, %s, %s, %s, %s, %s)",
            [
                (t.id, t.term, t.term_en, t.category, t.definition, list(t.synonyms), t.basis)
                for t in registry.terms.values()
            ],
        )
        cur.executemany(
            "insert into governance.term_element values (%s, %s, %s)",
            [
                (t.id, element_id, position)
                for t in registry.terms.values()
                for position, element_id in enumerate(t.elements, start=1)
            ],
        )
    return {
        "code_sets": len(registry.code_sets),
        "code_values": len(values),
        "code_mappings": sum(len(m.rows) for m in registry.mappings.values()),
        "data_elements": len(registry.elements),
        "business_terms": len(registry.terms),
        "term_elements": sum(len(t.elements) for t in registry.terms.values()),
    }
