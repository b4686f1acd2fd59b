"""Permissions on metadata: who may see which sample values (metadata follows the data).

A principal (a person, a department's account, ``public`` for the published catalog
site) may read values up to a sensitivity grade: L2 unless granted more — ``public``, the
reader of the published site, L1 (L2 values are internal, 内部). Grants
(``governance.md_grant``) name a dataset, or ``*`` for every dataset; a principal's
clearance on a dataset is the highest grade any of its grants there allows. Granting
and revoking are recorded in ``md_change``.

:func:`samples` reads a few distinct values of one field straight from the warehouse
table when asked — they are never stored — and masks them (``govlake.quality.masking``)
when the field's grade is above the principal's clearance. A field whose grade is not
known is treated as L3: masking too much is the safe mistake (annotate its grade to open
it). Every unmasked read of an L3 or L4 field is recorded in ``md_change`` (action
``read``, by the principal), with how many values were shown, never the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from govlake.lineage.store import GRADES, MetadataError, ensure_store, grade_rank, require_store
from govlake.quality.masking import mask_text

DEFAULT_CLEARANCE = "L2"  # the bureau's and the departments' staff: internal values
# the published catalog site's reader: open values only (L2 is internal, 内部)
PUBLIC_PRINCIPAL, PUBLIC_CLEARANCE = "public", "L1"
UNKNOWN_GRADE = "L3"  # a field whose grade is not known is read as if it were L3
READ_SCAN_ROWS = 10_000  # samples come from the first rows found, not a full scan


@dataclass(frozen=True)
class Grant:
    principal: str
    dataset: str
    max_grade: str
    granted_by: str
    granted_at: Any


@dataclass
class Samples:
    """A few distinct values of one field, as ``principal`` may see them."""

    dataset: str
    field: str
    principal: str
    grade: str | None  # the field's grade (None: not known, read as L3)
    clearance: str  # the highest grade the principal may read unmasked on this dataset
    masked: bool
    values: list[str | None] = field(default_factory=list)

    @property
    def effective_grade(self) -> str:
        return self.grade or UNKNOWN_GRADE


def _principal(principal: str) -> str:
    principal = (principal or "").strip()
    if not principal:
        raise MetadataError("需要主体 a principal is required (a user, an account or 'public')")
    return principal


def grant(
    conn: psycopg.Connection,
    principal: str,
    max_grade: str,
    dataset: str = "*",
    *,
    by: str | None = None,
) -> None:
    """Allow ``principal`` to read values up to ``max_grade`` on ``dataset`` (``*``: all)."""
    from govlake.lineage.manual import actor

    principal = _principal(principal)
    max_grade = max_grade.strip().upper()
    if max_grade not in GRADES:
        raise MetadataError(f"敏感级无效 invalid grade {max_grade!r}: one of {', '.join(GRADES)}")
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        if (
            dataset != "*"
            and not conn.execute(
                "select 1 from governance.md_dataset where dataset = %s and dropped_at is null",
                (dataset,),
            ).fetchone()
        ):
            raise MetadataError(
                f"元数据库中没有数据集 no dataset {dataset!r} in the metadata store "
                "(run `govlake metadata harvest`, or grant on '*')"
            )
        before = conn.execute(
            "select max_grade from governance.md_grant where principal = %s and dataset = %s",
            (principal, dataset),
        ).fetchone()
        conn.execute(
            "insert into governance.md_grant (principal, dataset, max_grade, granted_by) "
            "values (%s, %s, %s, %s) on conflict (principal, dataset) do update set "
            "max_grade = excluded.max_grade, granted_by = excluded.granted_by, "
            "granted_at = now()",
            (principal, dataset, max_grade, who),
        )
        conn.execute(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "after, reason) values (%s, 'granted', 'grant', %s, %s, %s, %s)",
            (
                who, dataset,
                Jsonb({"principal": principal, "max_grade": before[0]}) if before else None,
                Jsonb({"principal": principal, "max_grade": max_grade}),
                f"grant {principal} {max_grade} on {dataset}",
            ),
        )  # fmt: skip


def revoke(
    conn: psycopg.Connection, principal: str, dataset: str = "*", *, by: str | None = None
) -> bool:
    """Withdraw ``principal``'s grant on ``dataset``; False when there was none."""
    from govlake.lineage.manual import actor

    principal = _principal(principal)
    who = actor(by)
    ensure_store(conn)
    with conn.transaction():
        row = conn.execute(
            "delete from governance.md_grant where principal = %s and dataset = %s "
            "returning max_grade",
            (principal, dataset),
        ).fetchone()
        if row is None:
            return False
        conn.execute(
            "insert into governance.md_change (changed_by, action, object_kind, object, before, "
            "reason) values (%s, 'revoked', 'grant', %s, %s, %s)",
            (who, dataset, Jsonb({"principal": principal, "max_grade": row[0]}),
             f"revoke {principal} on {dataset}"),
        )  # fmt: skip
    return True


def grants(conn: psycopg.Connection, principal: str | None = None) -> list[Grant]:
    require_store(conn)
    rows = conn.execute(
        "select principal, dataset, max_grade, granted_by, granted_at from governance.md_grant "
        "where %(p)s::text is null or principal = %(p)s order by principal, dataset",
        {"p": principal},
    ).fetchall()
    return [Grant(*row) for row in rows]


def clearance(conn: psycopg.Connection, principal: str, dataset: str) -> str:
    """The highest grade ``principal`` may read unmasked on ``dataset``."""
    rows = conn.execute(
        "select max_grade from governance.md_grant where principal = %s and dataset in (%s, '*')",
        (principal, dataset),
    ).fetchall()
    default = PUBLIC_CLEARANCE if principal == PUBLIC_PRINCIPAL else DEFAULT_CLEARANCE
    return max([default, *(r[0] for r in rows)], key=grade_rank)


def samples(
    conn: psycopg.Connection, dataset: str, field: str, principal: str, limit: int = 5
) -> Samples:
    """A few distinct values of ``dataset.field`` as ``principal`` may see them.

    Read on demand from the warehouse table (never stored); masked when the field's grade
    is above the principal's clearance; an unmasked read of an L3/L4 field is recorded
    (in the caller's transaction: it is kept when the caller commits).
    """
    principal = _principal(principal)
    require_store(conn)
    row = conn.execute(
        "select f.grade from governance.md_field f join governance.md_dataset d "
        "using (dataset) where f.dataset = %s and f.name = %s and f.dropped_at is null "
        "and d.dropped_at is null",
        (dataset, field),
    ).fetchone()
    if row is None:
        raise MetadataError(
            f"元数据库中没有字段 no field {dataset}.{field} in the metadata store "
            "(`govlake metadata show` lists a dataset's fields)"
        )
    grade = row[0]
    schema, dot, table = dataset.partition(".")
    exists = (
        dot
        and ":" not in schema
        and conn.execute(
            "select to_regclass(%s) is not null", (sql.Identifier(schema, table).as_string(conn),)
        ).fetchone()[0]
    )
    if not exists:
        raise MetadataError(
            f"{dataset} 不是数据仓库中的表，无法取样 is not a warehouse table or view: "
            "samples are read from tables in the warehouse only"
        )
    query = sql.SQL(
        "select v from (select distinct {column}::text as v from (select {column} from "
        "{table} where {column} is not null limit {scan}) s) d order by v limit %s"
    ).format(
        column=sql.Identifier(field),
        table=sql.Identifier(schema, table),
        scan=sql.Literal(READ_SCAN_ROWS),
    )
    values = [r[0] for r in conn.execute(query, (max(0, int(limit)),)).fetchall()]
    allowed = clearance(conn, principal, dataset)
    effective = grade or UNKNOWN_GRADE
    masked = grade_rank(effective) > grade_rank(allowed)
    if masked:
        values = [mask_text(v) if v is not None else None for v in values]
    elif grade_rank(effective) >= grade_rank("L3") and values:
        conn.execute(
            "insert into governance.md_change (changed_by, action, object_kind, object, after, "
            "reason) values (%s, 'read', 'sample', %s, %s, %s)",
            (
                principal, f"{dataset}.{field}",
                Jsonb({"grade": effective, "clearance": allowed, "values": len(values)}),
                f"unmasked sample values of a {effective} field",
            ),
        )  # fmt: skip
    return Samples(dataset, field, principal, grade, allowed, masked, values)
