"""The catalog as the simulator reads it: resources, their fields, rows and database tables.

The catalog (:func:`govlake.catalog.loader.default_catalog`) is the specification: every
source system's columns are exactly the catalog field names, in catalog order, and every
list of resources the simulator works through is taken from it. Column types come from
the data elements; string lengths are those a legacy departmental system would plausibly
have. :class:`Record` turns a model record into its resource's row.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, ClassVar

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

from govlake.catalog.loader import default_catalog
from govlake.catalog.model import Extract

if TYPE_CHECKING:
    from govlake.simulate.city import City

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
    system: str  # the system's code
    kind: str  # the system's kind: postgresql | mysql | files | rest
    connection: str | None  # the system's connection id (databases, REST)
    extract: Extract
    fields: tuple[FieldSpec, ...]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def key(self) -> str:
        return self.extract.primary_key[0]

    @property
    def table(self) -> str | None:
        return self.extract.table


@cache
def resources() -> dict[str, ResourceSpec]:
    """Every catalog resource by id (``police.person`` ...), in the catalog's order."""
    specs: dict[str, ResourceSpec] = {}
    for resource_id, entry in default_catalog().resources.items():
        specs[resource_id] = ResourceSpec(
            resource_id=resource_id,
            department=entry.department,
            code=entry.code,
            system=entry.system.code,
            kind=entry.system.kind,
            connection=entry.system.connection,
            extract=entry.extract,
            fields=tuple(
                FieldSpec(f.name, f.element.id, f.element.type, f.required) for f in entry.fields
            ),
        )
    return specs


@cache
def resource_ids(*kinds: str) -> tuple[str, ...]:
    """Ids of the resources whose system is of one of ``kinds``, in delivery order.

    Delivery order: department by department as ``departments.yaml`` lists them, each
    department's resources in the order of its resource file.
    """
    departments = list(default_catalog().departments)
    chosen = [spec for spec in resources().values() if spec.kind in kinds]
    chosen.sort(key=lambda spec: departments.index(spec.department))  # stable
    return tuple(spec.resource_id for spec in chosen)


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
        PrimaryKeyConstraint(*spec.extract.primary_key, name=f"pk_{spec.table}"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    if "updated_at" in spec.columns:
        Index(f"ix_{spec.table}_updated_at", table.c.updated_at)
    return table


# --- rows ------------------------------------------------------------------------------------


def catalog_row(resource_id: str, record: object, values: dict | None = None) -> dict:
    """The row of ``record`` as ``resource_id`` delivers it: the catalog's fields in order.

    Each field's value is ``values[field]`` when given, else the record's attribute of that
    name.
    """
    values = values or {}
    return {
        name: values[name] if name in values else getattr(record, name)
        for name in resource(resource_id).columns
    }


class Record:
    """A record of the city that a catalog resource delivers (a slotted dataclass).

    ``RESOURCE`` names the resource; ``to_row`` gives its row (:func:`catalog_row`) with the
    values ``derived`` supplies for fields the record does not hold itself (values held
    elsewhere in the city).
    """

    __slots__ = ()
    RESOURCE: ClassVar[str]

    def derived(self, city: City) -> dict:
        """Values of the fields that are not attributes of the record (none by default)."""
        return {}

    def to_row(self, city: City) -> dict:
        return catalog_row(self.RESOURCE, self, self.derived(city))
