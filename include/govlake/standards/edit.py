"""Create, change and delete data elements and business terms, validated before writing.

Each function loads the registry, applies one change, validates the whole registry (so a
change cannot leave a dangling reference: an element still named by a catalog field or a
term, a code set that does not exist) and only then writes the files.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from govlake.standards.model import Element, Term
from govlake.standards.registry import commit, load_registry
from govlake.standards.validate import RegistryError, catalog_usage

OPTIONAL_ELEMENT_FIELDS = (
    "definition",
    "format",
    "unit",
    "code_set",
    "pattern",
    "check",
    "range_min",
    "range_max",
)
OPTIONAL_TERM_FIELDS = ("term_en", "category", "synonyms", "elements", "basis")


def _changed(entry: Any, changes: dict[str, Any], clear: tuple[str, ...], optional: tuple):
    known = {f.name for f in fields(entry)}
    unknown = sorted((set(changes) | set(clear)) - known)
    if unknown:
        raise RegistryError([f"{entry.id}: unknown field(s) {', '.join(unknown)}"])
    not_optional = sorted(set(clear) - set(optional))
    if not_optional:
        raise RegistryError(
            [f"{entry.id}: required field(s) cannot be cleared: {', '.join(not_optional)}"]
        )
    blank = {name: () if name in ("synonyms", "elements") else None for name in clear}
    return replace(entry, **{**changes, **blank})


def add_element(element: Element, root: Path | None = None) -> list[Path]:
    registry = load_registry(root)
    if element.id in registry.elements:
        raise RegistryError([f"data element {element.id} already exists; use update"])
    changed = registry.copy()
    changed.elements[element.id] = element
    return commit(changed, registry)


def update_element(
    element_id: str,
    changes: dict[str, Any],
    clear: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Path]:
    registry = load_registry(root)
    if element_id not in registry.elements:
        raise RegistryError([f"unknown data element {element_id!r}"])
    changed = registry.copy()
    element = _changed(changed.elements[element_id], changes, clear, OPTIONAL_ELEMENT_FIELDS)
    if element.id != element_id:
        raise RegistryError([f"{element_id}: an identifier cannot change; add a new element"])
    changed.elements[element_id] = element
    return commit(changed, registry)


def delete_element(element_id: str, root: Path | None = None) -> list[Path]:
    registry = load_registry(root)
    if element_id not in registry.elements:
        raise RegistryError([f"unknown data element {element_id!r}"])
    problems = []
    used_by = catalog_usage().get(element_id, [])
    if used_by:
        problems.append(f"{element_id} is named by catalog field(s) {', '.join(used_by)}")
    terms = [t.id for t in registry.terms.values() if element_id in t.elements]
    if terms:
        problems.append(f"{element_id} is named by business term(s) {', '.join(terms)}")
    if problems:
        raise RegistryError([f"cannot delete: {p}; change those first" for p in problems])
    changed = registry.copy()
    del changed.elements[element_id]
    return commit(changed, registry)


def add_term(term: Term, root: Path | None = None) -> list[Path]:
    registry = load_registry(root)
    if term.id in registry.terms:
        raise RegistryError([f"business term {term.id} already exists; use update"])
    changed = registry.copy()
    changed.terms[term.id] = term
    return commit(changed, registry)


def update_term(
    term_id: str,
    changes: dict[str, Any],
    clear: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Path]:
    registry = load_registry(root)
    if term_id not in registry.terms:
        raise RegistryError([f"unknown business term {term_id!r}"])
    changed = registry.copy()
    term = _changed(changed.terms[term_id], changes, clear, OPTIONAL_TERM_FIELDS)
    if term.id != term_id:
        raise RegistryError([f"{term_id}: an identifier cannot change; add a new term"])
    changed.terms[term_id] = term
    return commit(changed, registry)


def delete_term(term_id: str, root: Path | None = None) -> list[Path]:
    registry = load_registry(root)
    if term_id not in registry.terms:
        raise RegistryError([f"unknown business term {term_id!r}"])
    changed = registry.copy()
    del changed.terms[term_id]
    return commit(changed, registry)
