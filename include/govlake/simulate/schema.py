"""The catalog as the simulator reads it: resources, their fields and database tables.

The catalog (``include/catalog/resources/*.yaml``) is the specification: every source
system's columns are exactly the catalog field names, in catalog order. Column types come
from the data elements (``include/standards/data_elements.yaml``); string lengths are
those a legacy departmental system would plausibly have.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import yaml
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
)

from govlake import config

STRING_LENGTHS = {
    "id_number": 18,
    "legal_rep_id_number": 18,
    "head_id_number": 18,
    "uscc": 18,
    "sex": 8,
    "ethnicity": 4,
    "marital_status": 4,
    "relation_to_head": 4,
    "town_code": 12,
    "to_town_code": 12,
    "phone": 20,
    "caller_phone": 20,
    "address": 200,
    "from_address": 200,
    "to_address": 200,
    "content": 1000,
    "name": 100,
    "tax_period": 7,
}
DEFAULT_STRING_LENGTH = 64


@dataclass(frozen=True)
class FieldSpec:
    name: str
    element: str
    type: str  # string | integer | decimal | date | timestamp | boolean
    required: bool


@dataclass(frozen=True)
class ResourceSpec:
    resource_id: str  # <department>.<code>
    department: str
    code: str
    system: str
    extract: dict
    fields: tuple[FieldSpec, ...]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def key(self) -> str:
        return self.extract["primary_key"][0]

    @property
    def table(self) -> str | None:
        return self.extract.get("table")


@cache
def _elements() -> dict[str, dict]:
    path = config.STANDARDS_DIR / "data_elements.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {e["id"]: e for e in data["data_elements"]}


@cache
def resources() -> dict[str, ResourceSpec]:
    """Every catalog resource by id (``police.person`` ...)."""
    elements = _elements()
    specs: dict[str, ResourceSpec] = {}
    for path in sorted((config.CATALOG_DIR / "resources").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        department = data["department"]
        for resource in data["resources"]:
            fields = tuple(
                FieldSpec(
                    name=f["name"],
                    element=f["element"],
                    type=elements[f["element"]]["type"],
                    required=bool(f.get("required", False)),
                )
                for f in resource["fields"]
            )
            resource_id = f"{department}.{resource['code']}"
            specs[resource_id] = ResourceSpec(
                resource_id=resource_id,
                department=department,
                code=resource["code"],
                system=resource["system"],
                extract=dict(resource["extract"]),
                fields=fields,
            )
    return specs


def resource(resource_id: str) -> ResourceSpec:
    try:
        return resources()[resource_id]
    except KeyError:
        raise KeyError(f"目录中没有资源 no catalog resource {resource_id!r}") from None


def _column_type(field: FieldSpec):
    if field.type == "date":
        return Date()
    if field.type == "timestamp":
        return DateTime()
    if field.type == "decimal":
        return Numeric(18, 2)
    if field.type == "integer":
        return Integer()
    return String(STRING_LENGTHS.get(field.name, DEFAULT_STRING_LENGTH))


def table_for(spec: ResourceSpec, extra: list[tuple[str, int]] | None = None) -> Table:
    """The SQLAlchemy table of a database resource (no NOT NULL: legacy systems allow gaps).

    ``extra``: additional varchar columns ``(name, length)`` after the catalog columns
    (schema drift).
    """
    metadata = MetaData()
    columns = [Column(f.name, _column_type(f)) for f in spec.fields]
    columns += [Column(name, String(length)) for name, length in extra or []]
    table = Table(
        spec.table,
        metadata,
        *columns,
        PrimaryKeyConstraint(*spec.extract["primary_key"], name=f"pk_{spec.table}"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    if "updated_at" in spec.columns:
        Index(f"ix_{spec.table}_updated_at", table.c.updated_at)
    return table


@cache
def systems() -> dict[str, dict]:
    """The catalog's departmental systems by code (``police_hukou`` ...)."""
    path = config.CATALOG_DIR / "departments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {s["code"]: s for s in data["systems"]}


def system_of(spec: ResourceSpec) -> dict:
    return systems()[spec.system]
