"""Extract → land → load for one resource and one business date.

These two functions are the whole of an ingestion DAG's work; the DAG only wires them.
Both are idempotent for a given (resource, business date, mode):

- ``extract_resource`` reuses the batch if its manifest exists (batches are immutable)
  and otherwise extracts the window into a new batch, the manifest written last;
- ``load_resource`` replaces the batch's partition of ``raw`` in one transaction.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

from govlake.catalog.loader import default_catalog
from govlake.catalog.model import Resource
from govlake.governance.store import connect, ensure_schema
from govlake.lake.batch import (
    BatchRef,
    BatchWriter,
    Manifest,
    Window,
    download_quarantine,
    iter_rejected,
    read_manifest,
)
from govlake.lake.storage import ObjectStore, open_store
from govlake.lineage.steps import extract_run, load_run
from govlake.load.loader import LoadResult, load_batch
from govlake.sources import extract_into


def _previous_window_end(resource: Resource, ingest_date: date) -> tuple[bool, datetime | None]:
    """(has the resource any batch at all, end of the latest batch before ``ingest_date``)."""
    with connect() as conn:
        ensure_schema(conn)
        any_batch, previous_end = conn.execute(
            "select exists (select 1 from governance.batch where resource_id = %(r)s), "
            "(select max(window_end) from governance.batch where resource_id = %(r)s "
            "   and ingest_date < %(d)s and mode = 'incremental')",
            {"r": resource.id, "d": ingest_date},
        ).fetchone()
    return any_batch, previous_end


def window_for(resource: Resource, ingest_date: date, mode: str | None = None) -> Window:
    """The extraction window of business day ``ingest_date``, half-open, in source time.

    Incremental: from where the previous batch of the resource ended to ``D+1 00:00`` —
    normally ``[D 00:00, D+1 00:00)``; after a missed or failed day it reaches back over
    the gap, so no change is ever skipped. The very first batch of a resource takes
    everything before ``D+1 00:00`` (the initial state); a backfill of a day before the
    first batch takes that day alone. Reruns of a day reuse its landed batch, so the
    window is computed once per batch. Full: the whole source as of the run.
    """
    mode = mode or resource.extract.mode
    end = datetime.combine(ingest_date + timedelta(days=1), datetime.min.time())
    if mode == "full":
        return Window(ingest_date, None, end, "full")
    day_start = datetime.combine(ingest_date, datetime.min.time())
    any_batch, previous_end = _previous_window_end(resource, ingest_date)
    if not any_batch:
        start = None
    elif previous_end is None:
        start = day_start
    else:
        start = min(previous_end, day_start)
    return Window(ingest_date, start, end, "incremental")


def _resolve(resource: str | Resource) -> Resource:
    return resource if isinstance(resource, Resource) else default_catalog().resource(resource)


def extract_resource(
    resource_id: str | Resource,
    ingest_date: date,
    mode: str | None = None,
    force: bool = False,
    store: ObjectStore | None = None,
) -> dict:
    """Land one window of a resource as a raw batch; return its manifest as a dict."""
    resource = _resolve(resource_id)
    store = store or open_store()
    mode = mode or resource.extract.mode
    batch_id = Window(ingest_date, None, datetime.min, mode).batch_id
    ref = BatchRef(resource.department, resource.code, ingest_date, batch_id)
    with extract_run(resource, ingest_date, mode) as lineage:
        existing = read_manifest(store, ref)
        if existing is not None and not force:
            lineage.landed(existing, store, reused=True)
            return {**asdict(existing), "reused": True}
        window = window_for(resource, ingest_date, mode)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="govlake-extract-") as scratch:
            writer = BatchWriter(ref, store, Path(scratch))
            source = extract_into(resource, window, writer)
            manifest = Manifest(
                batch_id=batch_id,
                resource=resource.id,
                department=resource.department,
                ingest_date=ingest_date.isoformat(),
                mode=window.mode,
                window_start=window.start.isoformat(sep=" ") if window.start else None,
                window_end=window.end.isoformat(sep=" "),
                source={
                    "system": resource.system.code,
                    "kind": resource.system.kind,
                    **{k: v for k, v in source.items() if k != "watermark"},
                },
                watermark=source.get("watermark") or {},
                extracted_at=datetime.now().astimezone().isoformat(timespec="seconds"),
            )
            manifest.duration_s = round(time.monotonic() - started, 3)
            manifest = writer.publish(manifest)
            lineage.landed(manifest, store, reused=False, parts_folder=Path(scratch))
        _record_landed(resource, manifest, ref)
    return {**asdict(manifest), "reused": False}


def _record_landed(resource: Resource, manifest: Manifest, ref: BatchRef) -> None:
    with connect() as conn:
        ensure_schema(conn)
        conn.execute(
            "insert into governance.batch (resource_id, batch_id, ingest_date, mode, "
            "window_start, window_end, object_prefix, source_rows, landed_rows, "
            "extract_quarantined, state, watermark_max, extract_seconds, message) values "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'landed', %s, %s, %s) "
            "on conflict (resource_id, batch_id) do update set "
            "source_rows = excluded.source_rows, landed_rows = excluded.landed_rows, "
            "extract_quarantined = excluded.extract_quarantined, state = 'landed', "
            "loaded_rows = null, load_quarantined = null, loaded_at = null, "
            "extract_seconds = excluded.extract_seconds, message = excluded.message",
            (
                resource.id, manifest.batch_id, manifest.ingest_date, manifest.mode,
                manifest.window_start, manifest.window_end, ref.prefix, manifest.source_rows,
                manifest.rows, manifest.extract_quarantined,
                manifest.watermark.get("max_seen"), manifest.duration_s,
                manifest.source.get("note"),
            ),
        )  # fmt: skip


def load_resource(
    resource_id: str | Resource, ingest_date: date, batch_id: str, store: ObjectStore | None = None
) -> LoadResult:
    """Load a landed batch into ``raw``; raise if it has not landed."""
    resource = _resolve(resource_id)
    store = store or open_store()
    ref = BatchRef(resource.department, resource.code, ingest_date, batch_id)
    manifest = read_manifest(store, ref)
    if manifest is None:
        raise FileNotFoundError(
            f"批次不存在 batch {batch_id} of {resource.id} has not landed "
            f"({store.uri(ref.manifest_key)} missing): run its extract task first"
        )
    with (
        load_run(resource, ingest_date, batch_id) as lineage,
        tempfile.TemporaryDirectory(prefix="govlake-load-") as scratch,
    ):
        local = download_quarantine(store, manifest.quarantine_key, Path(scratch))
        extract_rejected = iter_rejected(local) if local else ()
        with connect() as conn:
            result = load_batch(conn, resource, manifest, store, extract_rejected)
        lineage.loaded(manifest, result, store)
        return result
