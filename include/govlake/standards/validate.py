"""Validate the standards registry: unique identifiers, no dangling references.

Every problem is collected before failing, each naming the file and the entry, so that a
reviewer fixes them in one pass (as the catalog's validation does).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from govlake import config
from govlake.catalog.model import FIELD_TYPES, SENSITIVITY_GRADES
from govlake.standards.checks import CHECKS
from govlake.standards.model import LIST_SEPARATOR, Registry

CODE_SET_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")  # no "__": that marks mappings
ELEMENT_ID = re.compile(r"^KP\.DE\.\d{4}$")
TERM_ID = re.compile(r"^KP\.BT\.\d{3}$")


class RegistryError(ValueError):
    """The standards files are invalid (or a change would make them so)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"数据标准校验失败 standards are invalid ({len(problems)} problem(s)):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _catalog_usage(catalog_root: Path) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """(department → its field names, element id → the catalog fields naming it)."""
    fields: dict[str, set[str]] = {}
    usage: dict[str, list[str]] = {}
    departments = yaml.safe_load((catalog_root / "departments.yaml").read_text("utf-8")) or {}
    for entry in departments.get("departments") or []:
        fields.setdefault(entry["code"], set())
    for path in sorted((catalog_root / "resources").glob("*.yaml")):
        document = yaml.safe_load(path.read_text("utf-8")) or {}
        department = document.get("department", "?")
        for resource in document.get("resources") or []:
            for field in resource.get("fields") or []:
                fields.setdefault(department, set()).add(field.get("name"))
                usage.setdefault(field.get("element"), []).append(
                    f"{department}.{resource.get('code')}.{field.get('name')}"
                )
    return fields, usage


def catalog_usage(catalog_root: Path | None = None) -> dict[str, list[str]]:
    """Element id → the catalog fields (``police.person.id_number``) that name it."""
    root = Path(catalog_root or config.CATALOG_DIR)
    return _catalog_usage(root)[1] if root.exists() else {}


def _validate_code_sets(registry: Registry, problems: list[str]) -> None:
    for code_set in registry.code_sets.values():
        where = f"code_sets/index.yaml: {code_set.id or '?'}"
        if not CODE_SET_ID.match(code_set.id):
            problems.append(f"{where}: id must be lowercase letters, digits and single _")
        for key in ("name_zh", "name_en", "edition", "source"):
            if not getattr(code_set, key):
                problems.append(f"{where}: missing required key {key!r}")
        if code_set.file != f"{code_set.id}.csv":
            problems.append(
                f"{where}: file must be {code_set.id}.csv (dbt seeds it as standards.<stem>)"
            )
        if code_set.columns[:2] != ("code", "name"):
            problems.append(f"{code_set.file}: header must start with code,name")
            continue
        seen: set[str] = set()
        for line, value in enumerate(code_set.values, start=2):
            code = value.get("code", "")
            if code == "":
                problems.append(f"{code_set.file} line {line}: empty code")
            elif code in seen:
                problems.append(f"{code_set.file} line {line}: duplicate code {code!r}")
            if not value.get("name"):
                problems.append(f"{code_set.file} line {line}: code {code!r} has no name")
            seen.add(code)


def _validate_elements(registry: Registry, problems: list[str]) -> None:
    for element in registry.elements.values():
        where = f"data_elements.yaml: {element.id or '?'}"
        if not ELEMENT_ID.match(element.id):
            problems.append(f"{where}: id must look like KP.DE.0101")
        for key in ("name_zh", "name_en", "type", "sensitivity", "definition", "format"):
            if not getattr(element, key):
                problems.append(f"{where}: missing required key {key!r}")
        if element.type and element.type not in FIELD_TYPES:
            problems.append(
                f"{where}: type {element.type!r} is not one of {', '.join(FIELD_TYPES)}"
            )
        if element.sensitivity and element.sensitivity not in SENSITIVITY_GRADES:
            problems.append(
                f"{where}: sensitivity {element.sensitivity!r} is not one of "
                f"{', '.join(SENSITIVITY_GRADES)}"
            )
        if element.code_set and element.code_set not in registry.code_sets:
            problems.append(f"{where}: unknown code set {element.code_set!r}")
        if element.check and element.check not in CHECKS:
            problems.append(
                f"{where}: unknown check algorithm {element.check!r} "
                f"(known: {', '.join(sorted(CHECKS))})"
            )
        if element.pattern:
            try:
                re.compile(element.pattern)
            except re.error as error:
                problems.append(f"{where}: pattern does not compile: {error}")
        low, high = element.range_min, element.range_max
        if (low is not None or high is not None) and element.type not in ("integer", "decimal"):
            problems.append(f"{where}: a range needs type integer or decimal")
        if low is not None and high is not None and low > high:
            problems.append(f"{where}: range min {low} is above max {high}")


def _validate_terms(registry: Registry, problems: list[str]) -> None:
    names: dict[str, str] = {}
    for term in registry.terms.values():
        where = f"business_terms.yaml: {term.id or '?'} {term.term}"
        if not TERM_ID.match(term.id):
            problems.append(f"{where}: id must look like KP.BT.001")
        if not term.term or not term.definition:
            problems.append(f"{where}: a term needs the term and a definition")
        if not term.elements:
            problems.append(f"{where}: name at least one related data element")
        for element_id in term.elements:
            if element_id not in registry.elements:
                problems.append(f"{where}: unknown data element {element_id!r}")
        for word in (term.term, *term.synonyms):
            if LIST_SEPARATOR in word:
                problems.append(f"{where}: {word!r} contains {LIST_SEPARATOR!r}")
            if word in names and names[word] != term.id:
                problems.append(f"{where}: {word!r} is already a term or synonym of {names[word]}")
            names[word] = term.id


def _validate_mappings(
    registry: Registry, department_fields: dict[str, set[str]] | None, problems: list[str]
) -> None:
    for mapping in registry.mappings.values():
        where = f"mappings/{mapping.id}.csv"
        if department_fields is not None:
            if mapping.department not in department_fields:
                problems.append(f"{where}: unknown department {mapping.department!r}")
            elif mapping.field not in department_fields[mapping.department]:
                problems.append(
                    f"{where}: department {mapping.department!r} has no field {mapping.field!r}"
                )
        seen: set[str] = set()
        for line, row in enumerate(mapping.rows, start=2):
            if row.local_code == "" or row.local_code in seen:
                problems.append(f"{where} line {line}: empty or duplicate local code")
            seen.add(row.local_code)
            code_set = registry.code_sets.get(row.code_set)
            if code_set is None:
                problems.append(f"{where} line {line}: unknown code set {row.code_set!r}")
            elif row.standard_code not in code_set.codes():
                problems.append(
                    f"{where} line {line}: {row.standard_code!r} is not a code of {row.code_set}"
                )


def validate(registry: Registry, catalog_root: Path | None = None) -> list[str]:
    """Every problem of the registry; with the catalog, also the references it holds."""
    problems: list[str] = []
    _validate_code_sets(registry, problems)
    _validate_elements(registry, problems)
    _validate_terms(registry, problems)
    root = Path(catalog_root or config.CATALOG_DIR)
    department_fields = None
    if root.exists():
        department_fields, usage = _catalog_usage(root)
        for element_id, used_by in sorted(usage.items()):
            if element_id not in registry.elements:
                problems.append(
                    f"data_elements.yaml: {element_id} is named by catalog field(s) "
                    f"{', '.join(used_by)} but is not a data element"
                )
    _validate_mappings(registry, department_fields, problems)
    return problems
