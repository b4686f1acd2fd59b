"""Extractors: read a departmental system for one window and feed a batch writer.

Each extractor knows one kind of system (database, files, REST API); which one a
resource uses comes from its catalog entry. A new departmental source is a catalog entry;
only an unusual system needs a new extractor here.
"""

from __future__ import annotations

from govlake.catalog.model import Resource
from govlake.lake.batch import BatchWriter, Window


def extract_into(resource: Resource, window: Window, writer: BatchWriter) -> dict:
    """Run the extractor for ``resource``'s system; return what it says about the source."""
    kind = resource.system.kind
    if kind in ("postgresql", "mysql"):
        from govlake.sources.database import extract_table

        return extract_table(resource, window, writer)
    if kind == "files":
        from govlake.sources.files import extract_files

        return extract_files(resource, window, writer)
    if kind == "rest":
        from govlake.sources.rest import extract_api

        return extract_api(resource, window, writer)
    raise ValueError(f"{resource.id}: no extractor for system kind {kind!r}")
