"""Load and validate the catalog files.

Validation collects every problem before failing, and each message names the file and
the entry (``resources/police.yaml: police.person field 'sex': ...``) so a reviewer can
fix them all in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from govlake import config
from govlake.catalog.model import (
    EXTRACT_MODES,
    FIELD_TYPES,
    FILE_FORMATS,
    OPEN_TYPES,
    SENSITIVITY_GRADES,
    SHARING_TYPES,
    SYSTEM_KINDS,
    UPDATE_FREQUENCIES,
    Catalog,
    DataElement,
    Department,
    Extract,
    Field,
    Resource,
    System,
)

# lowercase words joined by single underscores: "__" separates department and resource in
# table and DAG names, so it may not appear inside either
IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# batch windows are business days; other frequencies wait for interval-shaped windows
BATCH_FREQUENCIES = ("daily",)


class CatalogError(ValueError):
    """The catalog files are invalid; ``problems`` lists every finding."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"资源目录校验失败 catalog is invalid ({len(problems)} problem(s)):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        problems.append(f"{path}: cannot read: {error}")
        return {}
    if not isinstance(content, dict):
        problems.append(f"{path}: expected a mapping at the top level")
        return {}
    return content


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _require(entry: dict, keys: Iterable[str], where: str, problems: list[str]) -> bool:
    missing = [k for k in keys if entry.get(k) in (None, "")]
    for key in missing:
        problems.append(f"{where}: missing required key {key!r}")
    return not missing


def _one_of(value: Any, allowed: tuple[str, ...], what: str, where: str, problems: list[str]):
    if value not in allowed:
        problems.append(f"{where}: {what} {value!r} is not one of {', '.join(allowed)}")


def load_data_elements(path: Path, problems: list[str]) -> dict[str, DataElement]:
    elements: dict[str, DataElement] = {}
    for index, entry in enumerate(_read_yaml(path, problems).get("data_elements") or []):
        where = f"{path.name}: data element #{index + 1} {entry.get('id', '?')}"
        if not _require(
            entry, ("id", "name_zh", "name_en", "type", "sensitivity"), where, problems
        ):
            continue
        if entry["id"] in elements:
            problems.append(f"{where}: duplicate identifier {entry['id']!r}")
        _one_of(entry["type"], FIELD_TYPES, "type", where, problems)
        _one_of(entry["sensitivity"], SENSITIVITY_GRADES, "sensitivity", where, problems)
        if entry.get("pattern"):
            try:
                re.compile(entry["pattern"])
            except re.error as error:
                problems.append(f"{where}: pattern does not compile: {error}")
        elements[entry["id"]] = DataElement(
            id=entry["id"],
            name_zh=entry["name_zh"],
            name_en=entry["name_en"],
            type=entry["type"],
            sensitivity=entry["sensitivity"],
            code_set=entry.get("code_set"),
            pattern=entry.get("pattern"),
            check=entry.get("check"),
        )
    return elements


def load_code_sets(directory: Path, problems: list[str]) -> dict[str, dict]:
    index = _read_yaml(directory / "index.yaml", problems)
    code_sets: dict[str, dict] = {}
    for entry in index.get("code_sets") or []:
        where = f"code_sets/index.yaml: code set {entry.get('id', '?')}"
        if not _require(entry, ("id", "name_zh", "edition", "file"), where, problems):
            continue
        if not (directory / entry["file"]).exists():
            problems.append(f"{where}: file {entry['file']!r} does not exist")
        code_sets[entry["id"]] = entry
    return code_sets


def _parse_extract(raw: dict, system: System | None, where: str, problems: list[str]) -> Extract:
    if not isinstance(raw, dict):
        problems.append(f"{where}: 'extract' must be a mapping")
        raw = {}
    mode = raw.get("mode", "full")
    _one_of(mode, EXTRACT_MODES, "extract.mode", where, problems)
    kind = system.kind if system else None
    if kind in ("postgresql", "mysql") and not raw.get("table"):
        problems.append(f"{where}: a database resource needs extract.table")
    if kind == "files":
        _one_of(raw.get("format"), FILE_FORMATS, "extract.format", where, problems)
        if not raw.get("pattern"):
            problems.append(f"{where}: a file resource needs extract.pattern (e.g. 'x_*.csv')")
    if kind == "rest" and not raw.get("path"):
        problems.append(f"{where}: a REST resource needs extract.path")
    if (
        mode == "incremental"
        and kind in ("postgresql", "mysql", "rest")
        and not raw.get("watermark")
    ):
        problems.append(f"{where}: incremental extraction needs extract.watermark (a column)")
    return Extract(
        mode=mode,
        table=raw.get("table"),
        watermark=raw.get("watermark"),
        primary_key=tuple(raw.get("primary_key") or ()),
        format=raw.get("format"),
        pattern=raw.get("pattern"),
        encoding=raw.get("encoding", "auto"),
        records_path=raw.get("records_path"),
        path=raw.get("path"),
        page_size=int(raw.get("page_size", 200)),
    )


def load_catalog(root: Path | None = None, standards_root: Path | None = None) -> Catalog:
    """Read, validate and return the catalog; raise :class:`CatalogError` listing problems."""
    root = Path(root or config.CATALOG_DIR)
    standards_root = Path(standards_root or config.STANDARDS_DIR)
    problems: list[str] = []

    elements = load_data_elements(standards_root / "data_elements.yaml", problems)
    code_sets = load_code_sets(standards_root / "code_sets", problems)
    for element in elements.values():
        if element.code_set and element.code_set not in code_sets:
            problems.append(
                f"data_elements.yaml: {element.id} names unknown code set {element.code_set!r}"
            )

    top = _read_yaml(root / "departments.yaml", problems)
    departments: dict[str, Department] = {}
    for entry in top.get("departments") or []:
        where = f"departments.yaml: department {entry.get('code', '?')}"
        if not _require(entry, ("code", "name_zh", "name_en"), where, problems):
            continue
        if not IDENTIFIER.match(entry["code"]):
            problems.append(f"{where}: code must be lowercase words joined by single '_'")
        if entry["code"] in departments:
            problems.append(f"{where}: duplicate department code")
        departments[entry["code"]] = Department(entry["code"], entry["name_zh"], entry["name_en"])

    systems: dict[str, System] = {}
    for entry in top.get("systems") or []:
        where = f"departments.yaml: system {entry.get('code', '?')}"
        if not _require(entry, ("code", "department", "name_zh", "kind"), where, problems):
            continue
        if entry["department"] not in departments:
            problems.append(f"{where}: unknown department {entry['department']!r}")
        _one_of(entry["kind"], SYSTEM_KINDS, "kind", where, problems)
        if entry["kind"] != "files" and not entry.get("connection"):
            problems.append(f"{where}: a {entry['kind']} system needs a connection id")
        if "://" in str(entry.get("connection", "")) or "password" in entry:
            problems.append(
                f"{where}: connections are referenced by id only; put the URI in "
                f"AIRFLOW_CONN_<ID>, never in the catalog"
            )
        systems[entry["code"]] = System(
            code=entry["code"],
            department=entry["department"],
            name_zh=entry["name_zh"],
            name_en=entry.get("name_en", ""),
            kind=entry["kind"],
            connection=entry.get("connection"),
        )

    resources: dict[str, Resource] = {}
    for path in sorted((root / "resources").glob("*.yaml")):
        name = _rel(path, root)
        document = _read_yaml(path, problems)
        department = document.get("department")
        if department not in departments:
            problems.append(f"{name}: unknown department {department!r}")
            continue
        for index, entry in enumerate(document.get("resources") or []):
            code = entry.get("code", f"#{index + 1}")
            where = f"{name}: {department}.{code}"
            required = (
                "code", "name_zh", "name_en", "system", "owner", "sharing_type",
                "open_type", "update_frequency", "extract", "fields",
            )  # fmt: skip
            if not _require(entry, required, where, problems):
                continue
            if not IDENTIFIER.match(code):
                problems.append(f"{where}: code must be lowercase words joined by single '_'")
            system = systems.get(entry["system"])
            if system is None:
                problems.append(f"{where}: unknown system {entry['system']!r}")
            elif system.department != department:
                problems.append(
                    f"{where}: system {system.code!r} belongs to {system.department!r}, "
                    f"not {department!r}"
                )
            _one_of(entry["sharing_type"], SHARING_TYPES, "sharing_type", where, problems)
            _one_of(entry["open_type"], OPEN_TYPES, "open_type", where, problems)
            if entry["sharing_type"] == "不予共享" and entry["open_type"] != "不予开放":
                problems.append(f"{where}: a resource that is not shared cannot be opened")
            _one_of(
                entry["update_frequency"], UPDATE_FREQUENCIES, "update_frequency", where, problems
            )
            if (
                entry["update_frequency"] in UPDATE_FREQUENCIES
                and entry["update_frequency"] not in BATCH_FREQUENCIES
            ):
                problems.append(
                    f"{where}: update_frequency {entry['update_frequency']!r} is not supported "
                    f"for batch ingestion yet (extraction windows are business days): use daily"
                )
            extract = _parse_extract(entry["extract"], system, where, problems)
            fields: list[Field] = []
            seen: set[str] = set()
            for field_entry in entry["fields"]:
                field_name = field_entry.get("name", "?")
                field_where = f"{where} field {field_name!r}"
                if not _require(field_entry, ("name", "element"), field_where, problems):
                    continue
                if not IDENTIFIER.match(field_name):
                    problems.append(f"{field_where}: name must be lowercase letters, digits, _")
                if field_name in seen:
                    problems.append(f"{field_where}: duplicate field")
                seen.add(field_name)
                element = elements.get(field_entry["element"])
                if element is None:
                    problems.append(
                        f"{field_where}: unknown data element {field_entry['element']!r}"
                    )
                    continue
                grade = field_entry.get("sensitivity")
                if grade is not None:
                    _one_of(grade, SENSITIVITY_GRADES, "sensitivity", field_where, problems)
                fields.append(
                    Field(
                        name=field_name,
                        element=element,
                        required=bool(field_entry.get("required", False)),
                        authoritative=bool(field_entry.get("authoritative", False)),
                        sensitivity=grade,
                    )
                )
            for key in extract.primary_key:
                if key not in seen:
                    problems.append(f"{where}: primary key {key!r} is not a field")
            if extract.watermark and extract.watermark not in seen:
                problems.append(f"{where}: watermark {extract.watermark!r} is not a field")
            if system is None:
                continue
            resource = Resource(
                department=department,
                code=code,
                name_zh=entry["name_zh"],
                name_en=entry["name_en"],
                description=entry.get("description", ""),
                system=system,
                owner=entry["owner"],
                sharing_type=entry["sharing_type"],
                open_type=entry["open_type"],
                update_frequency=entry["update_frequency"],
                extract=extract,
                fields=tuple(fields),
                source_file=name,
            )
            if resource.id in resources:
                problems.append(f"{where}: duplicate resource {resource.id!r}")
            resources[resource.id] = resource

    if problems:
        raise CatalogError(problems)
    return Catalog(departments, systems, resources, elements, code_sets)


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The repository's catalog, loaded once per process."""
    return load_catalog()
