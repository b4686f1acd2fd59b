"""What the catalog holds: departments, systems, resources, fields and data elements."""

from __future__ import annotations

from dataclasses import dataclass, field

SHARING_TYPES = ("无条件共享", "有条件共享", "不予共享")
OPEN_TYPES = ("无条件开放", "有条件开放", "不予开放")
UPDATE_FREQUENCIES = ("realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly")
SENSITIVITY_GRADES = ("L1", "L2", "L3", "L4")
FIELD_TYPES = ("string", "integer", "decimal", "date", "timestamp", "boolean")
SYSTEM_KINDS = ("postgresql", "mysql", "files", "rest")
EXTRACT_MODES = ("full", "incremental")
FILE_FORMATS = ("csv", "xlsx", "json", "jsonl")

# PostgreSQL types of the raw zone, by data-element type.
PG_TYPES = {
    "string": "text",
    "integer": "bigint",
    "decimal": "numeric",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class DataElement:
    id: str
    name_zh: str
    name_en: str
    type: str
    sensitivity: str
    code_set: str | None = None
    pattern: str | None = None
    check: str | None = None


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class System:
    code: str
    department: str
    name_zh: str
    name_en: str
    kind: str
    connection: str | None


@dataclass(frozen=True)
class Field:
    name: str
    element: DataElement
    required: bool = False
    authoritative: bool = False
    sensitivity: str | None = None  # overrides the element's default grade

    @property
    def type(self) -> str:
        return self.element.type

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.element.type]

    @property
    def grade(self) -> str:
        return self.sensitivity or self.element.sensitivity

    @property
    def code_set(self) -> str | None:
        return self.element.code_set


@dataclass(frozen=True)
class Extract:
    mode: str
    table: str | None = None
    watermark: str | None = None
    primary_key: tuple[str, ...] = ()
    format: str | None = None
    pattern: str | None = None
    encoding: str = "auto"
    records_path: str | None = None
    path: str | None = None
    page_size: int = 200


@dataclass(frozen=True)
class Resource:
    department: str
    code: str
    name_zh: str
    name_en: str
    description: str
    system: System
    owner: str
    sharing_type: str
    open_type: str
    update_frequency: str
    extract: Extract
    fields: tuple[Field, ...]
    source_file: str

    @property
    def id(self) -> str:
        """``<department>.<resource>`` — how the platform names a resource everywhere."""
        return f"{self.department}.{self.code}"

    @property
    def raw_table(self) -> str:
        return f"{self.department}__{self.code}"

    @property
    def dag_id(self) -> str:
        return f"ingest__{self.department}__{self.code}"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.id} has no field {name!r}")

    @property
    def max_grade(self) -> str:
        return max((f.grade for f in self.fields), default="L1")


@dataclass
class Catalog:
    departments: dict[str, Department]
    systems: dict[str, System]
    resources: dict[str, Resource]
    data_elements: dict[str, DataElement]
    code_sets: dict[str, dict] = field(default_factory=dict)

    def resource(self, resource_id: str) -> Resource:
        """Look a resource up by ``department.resource`` (or by its code alone if unique)."""
        if resource_id in self.resources:
            return self.resources[resource_id]
        matches = [r for r in self.resources.values() if r.code == resource_id]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(sorted(self.resources))
        raise KeyError(f"未知资源 unknown resource {resource_id!r}; known: {known}")

    def by_department(self) -> dict[str, list[Resource]]:
        grouped: dict[str, list[Resource]] = {}
        for resource in self.resources.values():
            grouped.setdefault(resource.department, []).append(resource)
        return grouped
