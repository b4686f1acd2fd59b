"""Load the standards registry, and change it only into a valid state.

``load_registry`` reads and validates everything under ``include/standards/``;
``commit`` validates a changed registry and writes its files only when it is valid, so
the repository never holds a dangling reference written by ``govlake standards``.
"""

from __future__ import annotations

from pathlib import Path

from govlake.standards.files import read_registry, standards_root, write_registry
from govlake.standards.model import Registry
from govlake.standards.validate import RegistryError, validate


def load_registry(root: Path | None = None, catalog_root: Path | None = None) -> Registry:
    """The registry under ``root``; raise :class:`RegistryError` listing every problem."""
    registry, problems = read_registry(standards_root(root))
    problems += validate(registry, catalog_root)
    if problems:
        raise RegistryError(problems)
    return registry


def commit(
    registry: Registry, previous: Registry | None = None, catalog_root: Path | None = None
) -> list[Path]:
    """Validate ``registry`` and write the files that changed; nothing is written if invalid."""
    problems = validate(registry, catalog_root)
    if problems:
        raise RegistryError(problems)
    return write_registry(registry, previous)
