"""Create, change and delete data elements and business terms, validated before writing.

Each function loads the registry, applies one change, validates the whole registry (so a
change cannot leave a dangling reference: an element still named by a catalog field or a
term, a code set that does not exist) and only then writes the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from govlake.standards.model import Element, Registry, Term
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


@dataclass(frozen=True)
class _Kind:
    """One kind of registry entry: where it lives and how messages name it."""

    attr: str  # the Registry dict holding this kind: "elements" or "terms"
    label: str  # in messages: "data element", "business term"
    noun: str  # in "add a new ...": "element", "term"
    optional: tuple[str, ...]  # fields `clear` may remove

    def entries(self, registry: Registry) -> dict[str, Any]:
        return getattr(registry, self.attr)


_ELEMENTS = _Kind("elements", "data element", "element", OPTIONAL_ELEMENT_FIELDS)
_TERMS = _Kind("terms", "business term", "term", OPTIONAL_TERM_FIELDS)


def _load_existing(kind: _Kind, entry_id: str, root: Path | None) -> Registry:
    registry = load_registry(root)
    if entry_id not in kind.entries(registry):
        raise RegistryError([f"unknown {kind.label} {entry_id!r}"])
    return registry


def _add(kind: _Kind, entry: Any, root: Path | None) -> list[Path]:
    registry = load_registry(root)
    if entry.id in kind.entries(registry):
        raise RegistryError([f"{kind.label} {entry.id} already exists; use update"])
    changed = registry.copy()
    kind.entries(changed)[entry.id] = entry
    return commit(changed, registry)


def _update(
    kind: _Kind,
    entry_id: str,
    changes: dict[str, Any],
    clear: tuple[str, ...],
    root: Path | None,
) -> list[Path]:
    registry = _load_existing(kind, entry_id, root)
    changed = registry.copy()
    entry = _changed(kind.entries(changed)[entry_id], changes, clear, kind.optional)
    if entry.id != entry_id:
        raise RegistryError([f"{entry_id}: an identifier cannot change; add a new {kind.noun}"])
    kind.entries(changed)[entry_id] = entry
    return commit(changed, registry)


def _delete(
    kind: _Kind,
    entry_id: str,
    root: Path | None,
    still_used: Callable[[Registry], list[str]] = lambda registry: [],
) -> list[Path]:
    registry = _load_existing(kind, entry_id, root)
    problems = still_used(registry)
    if problems:
        raise RegistryError([f"cannot delete: {p}; change those first" for p in problems])
    changed = registry.copy()
    del kind.entries(changed)[entry_id]
    return commit(changed, registry)


def add_element(element: Element, root: Path | None = None) -> list[Path]:
    return _add(_ELEMENTS, element, root)


def update_element(
    element_id: str,
    changes: dict[str, Any],
    clear: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Path]:
    return _update(_ELEMENTS, element_id, changes, clear, root)


def delete_element(element_id: str, root: Path | None = None) -> list[Path]:
    def still_used(registry: Registry) -> list[str]:
        problems = []
        used_by = catalog_usage().get(element_id, [])
        if used_by:
            problems.append(f"{element_id} is named by catalog field(s) {', '.join(used_by)}")
        terms = [t.id for t in registry.terms.values() if element_id in t.elements]
        if terms:
            problems.append(f"{element_id} is named by business term(s) {', '.join(terms)}")
        return problems

    return _delete(_ELEMENTS, element_id, root, still_used)


def add_term(term: Term, root: Path | None = None) -> list[Path]:
    return _add(_TERMS, term, root)


def update_term(
    term_id: str,
    changes: dict[str, Any],
    clear: tuple[str, ...] = (),
    root: Path | None = None,
) -> list[Path]:
    return _update(_TERMS, term_id, changes, clear, root)


def delete_term(term_id: str, root: Path | None = None) -> list[Path]:
    return _delete(_TERMS, term_id, root)
