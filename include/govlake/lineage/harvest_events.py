"""OpenLineage events as metadata: datasets, schemas, column lineage and quality assertions.

The platform appends every event to ``events.jsonl`` (``govlake.lineage.transport``); the
harvester reads what was appended since its last offset, one complete line per event (a
last line still being written is left for next time), and applies the events in order to
the OpenLineage view of the store (:class:`LineageState`), following the OpenLineage spec:

- a RunEvent's (or JobEvent's) ``inputs`` and ``outputs`` are datasets, named by
  :func:`govlake.lineage.naming.dataset_key`; a DatasetEvent's ``dataset`` too;
- the ``schema`` facet gives a dataset's fields (name, type, description, position) and
  replaces the fields earlier events gave it; ``documentation`` its description,
  ``ownership`` its owners;
- an output's ``columnLineage`` facet gives field edges ``input field → output field``
  (``transformation`` ``TYPE/SUBTYPE``, the transformations' descriptions, masking), and
  its dataset-level ``dataset`` list edges ``input field → output`` (field ``''``: the
  output as a whole — filters, joins, grouping); every input → output pair of an event is
  a dataset-level edge ``'' → ''`` carrying the job's SQL facet when it has one;
- ``dataQualityAssertions`` (an input facet, also accepted on any dataset) become
  assertions of that dataset's run.

**Superseding.** OpenLineage edges are kept until a later event of the same job says
otherwise: when a job's event gives an output's column lineage, that job's earlier field
edges into the output that it no longer lists are retired; when it lists inputs for an
output, its earlier dataset-level edges into that output from inputs it no longer lists
are retired. Events of failed or aborted runs (``FAIL``, ``ABORT``) change no lineage and
no schema (what they would have written may not exist); their assertions are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govlake.lineage.harvest_sources import EdgeKey, layer_of, normalize_type

NO_LINEAGE_EVENTS = ("FAIL", "ABORT")
_ASSERTION_FACET = "dataQualityAssertions"


@dataclass
class EventLog:
    """The lines appended to an event log after ``offset``, read one at a time."""

    path: Path
    start: int
    restarted: bool  # the log is shorter than the saved offset: replaced, read from its start
    end: int  # where the next harvest resumes: after the last complete line read

    @classmethod
    def after(cls, path: Path, offset: int) -> EventLog:
        size = path.stat().st_size if path.exists() else 0
        restarted = size < offset
        start = 0 if restarted else offset
        return cls(path, start, restarted, start)

    def lines(self) -> Iterator[bytes]:
        """Every complete line from ``start``; a last line still being written (no newline
        yet) is left for next time. Memory holds one line, however long the log."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as log:
            log.seek(self.start)
            for line in log:
                if not line.endswith(b"\n"):
                    return
                self.end += len(line)
                if line.strip():
                    yield line


@dataclass
class Assertion:
    dataset: str
    field: str
    assertion: str
    success: bool
    run_id: str
    event_time: str
    classification: str
    severity: str | None
    description: str | None
    job: str | None


@dataclass
class LineageState:
    """The OpenLineage view of the store, updated event by event (no database here).

    ``observations``: (dataset, field) → attributes (field ``''``: the dataset);
    ``edges``: edge key → attributes, with ``retired`` (bool) and ``job``.
    """

    observations: dict[tuple[str, str], dict[str, Any]]
    edges: dict[EdgeKey, dict[str, Any]]
    dataset_key: Any  # (namespace, name) -> the platform's key
    assertions: list[Assertion] = field(default_factory=list)
    events: int = 0
    unreadable: int = 0
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def key(self, namespace: str, name: str) -> str:
        if (namespace, name) not in self._keys:
            self._keys[(namespace, name)] = self.dataset_key(namespace, name)
        return self._keys[(namespace, name)]

    def apply_line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            self.unreadable += 1
            return
        if not isinstance(event, dict):
            self.unreadable += 1
            return
        self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one RunEvent, JobEvent or DatasetEvent (OpenLineage 2-0-2)."""
        self.events += 1
        event_type = event.get("eventType")
        lineage = event_type not in NO_LINEAGE_EVENTS
        if isinstance(event.get("dataset"), dict):  # a DatasetEvent
            self._dataset(event["dataset"], lineage, event, job=None)
            return
        job = event.get("job") or {}
        job_name = job.get("name")
        if job.get("namespace") and job.get("namespace") not in ("govlake", "default"):
            job_name = f"{job['namespace']}/{job_name}"
        inputs = [self._dataset(d, lineage, event, job_name) for d in event.get("inputs") or []]
        outputs = [d for d in event.get("outputs") or [] if isinstance(d, dict)]
        output_keys = [self._dataset(d, lineage, event, job_name) for d in outputs]
        if not lineage:
            return
        sql = ((job.get("facets") or {}).get("sql") or {}).get("query")
        inputs = [key for key in inputs if key]
        for output, key in zip(outputs, output_keys, strict=True):
            if not key:
                continue
            if inputs:
                wanted = {(source, "", key, ""): {"transformation": None,
                                                  "description": None, "sql": sql}
                          for source in inputs if source != key}  # fmt: skip
                self._replace(job_name, key, wanted, dataset_level=True)
            column_lineage = (output.get("facets") or {}).get("columnLineage")
            if isinstance(column_lineage, dict):
                self._replace(job_name, key, self._column_edges(column_lineage, key), False)

    # -- datasets ---------------------------------------------------------------------

    def _dataset(self, dataset: Any, lineage: bool, event: dict, job: str | None) -> str | None:
        if not isinstance(dataset, dict) or not dataset.get("name"):
            return None
        namespace, name = str(dataset.get("namespace") or ""), str(dataset["name"])
        key = self.key(namespace, name)
        facets = dataset.get("facets") or {}
        for facets_of in (facets, dataset.get("inputFacets") or {},
                          dataset.get("outputFacets") or {}):  # fmt: skip
            self._assertions(key, facets_of.get(_ASSERTION_FACET), event, job)
        if not lineage:
            return key
        attrs = self.observations.setdefault((key, ""), {})
        attrs.update(
            {"ol_namespace": namespace, "ol_name": name, "layer": layer_of(key),
             "kind": _kind_of(key)}
        )  # fmt: skip
        documentation = (facets.get("documentation") or {}).get("description")
        if documentation:
            attrs["description"] = documentation
        owners = [o.get("name") for o in (facets.get("ownership") or {}).get("owners") or []
                  if isinstance(o, dict) and o.get("name")]  # fmt: skip
        if owners:
            attrs["owner"] = ", ".join(owners)
        schema = facets.get("schema")
        if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
            for existing in [k for k in self.observations if k[0] == key and k[1]]:
                del self.observations[existing]
            for position, column in enumerate(schema["fields"], start=1):
                if not isinstance(column, dict) or not column.get("name"):
                    continue
                self.observations[(key, str(column["name"]))] = {
                    k: v
                    for k, v in {
                        "position": column.get("ordinal_position") or position,
                        "data_type": normalize_type(column.get("type")),
                        "description": column.get("description"),
                    }.items()
                    if v not in (None, "")
                }
        return key

    def _assertions(self, key: str, facet: Any, event: dict, job: str | None) -> None:
        run_id = (event.get("run") or {}).get("runId")
        if not isinstance(facet, dict) or not run_id:
            return
        for item in facet.get("assertions") or []:
            if not isinstance(item, dict) or "assertion" not in item or "success" not in item:
                continue
            self.assertions.append(
                Assertion(
                    dataset=key,
                    field=str(item.get("column") or ""),
                    assertion=str(item.get("name") or item["assertion"]),
                    success=bool(item["success"]),
                    run_id=str(run_id),
                    event_time=str(event.get("eventTime")),
                    classification=str(item["assertion"]),
                    severity=item.get("severity"),
                    description=item.get("description"),
                    job=job,
                )
            )

    # -- edges ------------------------------------------------------------------------

    def _column_edges(self, facet: dict, output: str) -> dict[EdgeKey, dict]:
        wanted: dict[EdgeKey, dict] = {}
        for target_field, spec in (facet.get("fields") or {}).items():
            if not isinstance(spec, dict):
                continue
            for source in spec.get("inputFields") or []:
                edge = self._input_edge(source, output, str(target_field), spec)
                if edge:
                    wanted[edge[0]] = edge[1]
        for source in facet.get("dataset") or []:
            edge = self._input_edge(source, output, "", {})
            if edge:
                wanted[edge[0]] = edge[1]
        return wanted

    def _input_edge(
        self, source: Any, output: str, target_field: str, spec: dict
    ) -> tuple[EdgeKey, dict] | None:
        if not isinstance(source, dict) or not source.get("name"):
            return None
        key = self.key(str(source.get("namespace") or ""), str(source["name"]))
        transformations = [t for t in source.get("transformations") or [] if isinstance(t, dict)]
        if not transformations and spec.get("transformationType"):  # the deprecated form
            transformations = [{"type": "DIRECT", "subtype": spec["transformationType"],
                                "description": spec.get("transformationDescription")}]  # fmt: skip
        kinds = [
            "/".join(str(part) for part in (t.get("type"), t.get("subtype")) if part)
            for t in transformations
        ]
        descriptions = [str(t["description"]) for t in transformations if t.get("description")]
        attrs = {
            "transformation": ", ".join(dict.fromkeys(k for k in kinds if k)) or None,
            "description": "; ".join(dict.fromkeys(descriptions)) or None,
            "masking": any(bool(t.get("masking")) for t in transformations)
            if transformations
            else None,
            "sql": None,
        }
        return (key, str(source.get("field") or ""), output, target_field), attrs

    def _replace(
        self, job: str | None, output: str, wanted: dict[EdgeKey, dict], dataset_level: bool
    ) -> None:
        """``job``'s edges into ``output`` of one level are now exactly ``wanted``."""
        for key, attrs in self.edges.items():
            level = key[1] == "" and key[3] == ""
            if (key[2] == output and attrs.get("job") == job and level == dataset_level
                    and key not in wanted):  # fmt: skip
                attrs["retired"] = True
        for key, attrs in wanted.items():
            self.edges[key] = {**attrs, "job": job, "retired": False}


def _kind_of(key: str) -> str:
    layer = layer_of(key)
    if layer in ("source", "lake"):
        return layer
    if layer in ("report", "export"):
        return "exposure"
    return "other" if layer == "other" else "table"
