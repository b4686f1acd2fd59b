"""Small helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from govlake.governance.store import connect
from psycopg import sql


def table_checksum(table: str, order_by: str) -> tuple[int, str]:
    """Row count and an md5 over every column but the load time, in a stable order."""
    schema, name = table.split(".")
    with connect() as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns where table_schema = %s "
                "and table_name = %s and column_name <> '_loaded_at' order by ordinal_position",
                (schema, name),
            )
        ]
        query = sql.SQL(
            "select count(*), "
            "coalesce(md5(string_agg(row({cols})::text, '|' order by {order})), '') "
            "from {schema}.{table}"
        ).format(
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            order=sql.SQL(order_by),
            schema=sql.Identifier(schema),
            table=sql.Identifier(name),
        )
        count, digest = conn.execute(query).fetchone()
    return count, digest
