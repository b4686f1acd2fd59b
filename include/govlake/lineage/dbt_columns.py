"""Column lineage of dbt models, read through PostgreSQL's own analysis of their SQL.

openlineage-dbt (``dbt-ol``, and cosmos inside Airflow) derives a model's column lineage
by parsing its compiled SQL with openlineage_sql, which knows no table's columns: a
``select *`` — every model here reads ``select * from source`` and ends with
``select * from final`` — leaves it nothing to trace, and the model's event carries no
``columnLineage`` at all.

PostgreSQL knows the columns. A temporary view made from the compiled SQL (in a
transaction that is rolled back: nothing is kept, no row is read) is stored with every
``*`` expanded; ``pg_get_viewdef`` gives that SQL back, CTEs and all, and openlineage_sql
traces it column by column. Tables come back schema-qualified (``raw.police__person``)
without the database, which is added, so inputs are named as dbt names datasets
(``<database>.<schema>.<table>``). An input that is not a table — a CTE reached through a
scalar subquery — is left out rather than named wrongly.

:func:`install` makes openlineage-integration-common's ``DbtLocalArtifactProcessor``
(used by dbt-ol and by cosmos) ask here first, and fall back to its own parse when
PostgreSQL cannot help (not a PostgreSQL warehouse, a statement that cannot be a view).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg loads when lineage is computed, not when the DAG is parsed
    import psycopg

log = logging.getLogger(__name__)

PROBE_VIEW = "govlake_lineage_probe"
_INSTALLED = "_govlake_column_lineage"


def expanded_sql(compiled_sql: str, conn: psycopg.Connection) -> tuple[str, str, str]:
    """(the SQL with every ``*`` expanded, the database, the current schema)."""
    from psycopg import sql

    body = compiled_sql.strip().rstrip(";")
    with conn.transaction(force_rollback=True):  # the view never outlives this
        # executed without parameters: a % in the model's SQL is not a placeholder
        conn.execute(sql.SQL("create temporary view {} as ").format(
            sql.Identifier(PROBE_VIEW)).as_string(conn) + body)  # fmt: skip
        definition, database, schema = conn.execute(
            "select pg_get_viewdef(%s::regclass, false), current_database(), current_schema()",
            (PROBE_VIEW,),
        ).fetchone()
    return definition, database, schema


def column_lineage_fields(compiled_sql: str, conn: psycopg.Connection) -> dict[str, list]:
    """Output column → [(database, schema, table, column)] it is computed from."""
    from openlineage_sql import parse

    definition, database, default_schema = expanded_sql(compiled_sql, conn)
    parsed = parse([definition], dialect="postgres")
    if parsed is None:
        return {}
    tables: dict[str, set[tuple[str, str]]] = {}
    for table in parsed.in_tables:
        tables.setdefault(table.name, set()).add((table.schema or default_schema, table.name))
    lineage: dict[str, list] = {}
    for item in parsed.column_lineage:
        inputs = []
        for column in item.lineage:
            origin = column.origin
            if origin is None:
                continue
            if origin.schema:
                candidates = {(origin.schema, origin.name)}
            else:  # deparsed column references name the table, not its schema
                candidates = tables.get(origin.name, set())
            if len(candidates) != 1:
                continue  # a CTE or an ambiguous name: not a table we can name
            schema, name = next(iter(candidates))
            inputs.append((origin.database or database, schema, name, column.name))
        if inputs:
            lineage[item.descendant.name] = sorted(set(inputs))
    return lineage


def _warehouse_connection() -> psycopg.Connection:
    import psycopg

    from govlake import config

    return psycopg.connect(config.libpq_url(config.warehouse_url()), connect_timeout=10)


def column_lineage_facet(namespace: str, compiled_sql: str):
    """The ``columnLineage`` facet of a model, or None when PostgreSQL cannot read its SQL."""
    from openlineage.client.facet_v2 import column_lineage_dataset
    from openlineage.common.provider.dbt.utils import PRODUCER

    with _warehouse_connection() as conn:
        lineage = column_lineage_fields(compiled_sql, conn)
    if not lineage:
        return None
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=namespace, name=f"{database}.{schema}.{table}", field=field
                    )
                    for database, schema, table, field in inputs
                ]
            )
            for column, inputs in lineage.items()
        },
        producer=PRODUCER,
    )


def install() -> None:
    """Make the dbt artifact processor read column lineage through PostgreSQL first.

    Idempotent; called by ``python -m govlake.lineage.dbt_ol`` and by the libraries DAG's
    dbt tasks before they run."""
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor
    from openlineage.common.provider.dbt.processor import Adapter

    if getattr(DbtLocalArtifactProcessor, _INSTALLED, False):
        return
    upstream = DbtLocalArtifactProcessor.get_column_lineage

    def get_column_lineage(self: Any, namespace: str, compiled_sql: str):
        if getattr(self, "adapter_type", None) == Adapter.POSTGRES:
            try:
                facet = column_lineage_facet(namespace, compiled_sql)
                if facet is not None:
                    return facet
            except Exception as error:  # the processor's own parse is the fallback
                log.warning(
                    "血缘 PostgreSQL could not expand a model's SQL for column lineage "
                    "(%s: %s); using openlineage_sql's parse alone",
                    type(error).__name__,
                    error,
                )
        return upstream(self, namespace, compiled_sql)

    DbtLocalArtifactProcessor.get_column_lineage = get_column_lineage
    setattr(DbtLocalArtifactProcessor, _INSTALLED, True)


def install_callback(context: Any = None) -> None:
    """:func:`install`, in the form of an Airflow ``on_execute_callback``."""
    install()
