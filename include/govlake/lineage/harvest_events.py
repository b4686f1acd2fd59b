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
  assertions of that dataset's run, from every event of the run.

**Which events change lineage.** A dataset changes when the run writing it completes (the
spec's run cycle), so lineage, schemas, descriptions and owners come from a run's
``COMPLETE`` event, and from ``RUNNING`` events of a streaming job (``jobType``
``processingType`` ``STREAMING``), whose run writes while it runs and may never complete.
``START`` (what a run means to do: openlineage-dbt sends the model's new inputs and column
lineage before its SQL has run), ``OTHER``, ``FAIL`` and ``ABORT`` (what they would have
written may not exist) change none; a RunEvent without ``eventType`` neither. JobEvents
and DatasetEvents describe jobs and datasets outside any run and are applied.

**Superseding.** OpenLineage edges are kept until a later applied event of the same job
says otherwise: when a job's event gives an output's column lineage, that job's earlier
field edges into the output that it no longer lists are retired; when it lists inputs for
an output, its earlier dataset-level edges into that output from inputs it no longer lists
are retired.

**Lines that cannot be applied.** A line that is not JSON, or JSON that is not an event
where the harvester reads it (a ``job`` that is not an object, an owner's ``name`` that is
not a string, no valid ``eventTime`` …, or a string PostgreSQL cannot store) is counted
as unreadable with its byte offset and why, and skipped whole: an event is applied
entirely or not at all, and one bad line never stops the lines after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from govlake.lineage.harvest_sources import EdgeKey, layer_of, normalize_type

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
_ASSERTION_FACET = "dataQualityAssertions"
_MAX_POSITION = 2**31 - 1  # md_field.position is an int
KEPT_REASONS = 20  # why lines were skipped: the first ones are kept, all are counted


class Malformed(ValueError):
    """JSON that is not an event the harvester can apply; the message says where and why."""


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

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """Every complete line from ``start``, with the byte offset it starts at; a last line
        still being written (no newline yet) is left for next time. Memory holds one line,
        however long the log."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as log:
            log.seek(self.start)
            for line in log:
                if not line.endswith(b"\n"):
                    return
                offset = self.end
                self.end += len(line)
                if line.strip():
                    yield offset, line


@dataclass
class Assertion:
    dataset: str
    field: str
    assertion: str
    success: bool
    run_id: str
    event_time: datetime
    classification: str
    severity: str | None
    description: str | None
    job: str | None


@dataclass
class _Effects:
    """What one event changes, read in full before anything is changed."""

    # (dataset key, dataset attributes, its fields from a schema facet or None)
    datasets: list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]] | None]] = field(
        default_factory=list
    )
    assertions: list[Assertion] = field(default_factory=list)
    # (job, output, the job's edges into the output at one level, dataset level?)
    replacements: list[tuple[str | None, str, dict[EdgeKey, dict], bool]] = field(
        default_factory=list
    )


@dataclass
class LineageState:
    """The OpenLineage view of the store, updated event by event (no database here).

    ``observations``: (dataset, field) → attributes (field ``''``: the dataset);
    ``edges``: edge key → attributes, with ``retired`` (bool) and ``job``;
    ``skipped``: (byte offset, why) of the first lines that could not be applied.
    """

    observations: dict[tuple[str, str], dict[str, Any]]
    edges: dict[EdgeKey, dict[str, Any]]
    dataset_key: Any  # (namespace, name) -> the platform's key
    assertions: list[Assertion] = field(default_factory=list)
    events: int = 0
    unreadable: int = 0
    skipped: list[tuple[int | None, str]] = field(default_factory=list)
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def key(self, namespace: str, name: str) -> str:
        if (namespace, name) not in self._keys:
            self._keys[(namespace, name)] = self.dataset_key(namespace, name)
        return self._keys[(namespace, name)]

    def apply_line(self, line: bytes, offset: int | None = None) -> bool:
        """Apply one line of the log; False (counted, with why) when it cannot be applied."""
        try:
            event = json.loads(line)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            return self._skip(offset, f"not JSON: {error}")
        try:
            self.apply(event)
        except Malformed as error:
            return self._skip(offset, str(error))
        except (ValueError, TypeError, AttributeError, KeyError, IndexError,
                RecursionError) as error:  # fmt: skip
            return self._skip(offset, f"cannot be read as an event: {type(error).__name__}: "
                                      f"{error}")  # fmt: skip
        return True

    def _skip(self, offset: int | None, why: str) -> bool:
        self.unreadable += 1
        if len(self.skipped) < KEPT_REASONS:
            self.skipped.append((offset, why[:300]))
        return False

    def apply(self, event: Any) -> None:
        """Apply one RunEvent, JobEvent or DatasetEvent (OpenLineage 2-0-2), entirely or,
        raising :class:`Malformed`, not at all."""
        effects = self._read(event)
        self.events += 1
        for key, attrs, fields in effects.datasets:
            self.observations.setdefault((key, ""), {}).update(attrs)
            if fields is not None:
                for existing in [k for k in self.observations if k[0] == key and k[1]]:
                    del self.observations[existing]
                for name, field_attrs in fields:
                    self.observations[(key, name)] = field_attrs
        self.assertions.extend(effects.assertions)
        for job, output, wanted, dataset_level in effects.replacements:
            self._replace(job, output, wanted, dataset_level)

    # -- reading an event (nothing changes here) ---------------------------------------

    def _read(self, event: Any) -> _Effects:
        if not isinstance(event, dict):
            raise Malformed("not a JSON object")
        event_time = _event_time(event.get("eventTime"))
        _check_storable(event)
        effects = _Effects()
        if "dataset" in event and "run" not in event and "job" not in event:  # a DatasetEvent
            self._read_dataset(event["dataset"], "dataset", True, effects, None, event_time,
                               None)  # fmt: skip
            return effects
        event_type = event.get("eventType")
        if event_type is not None and event_type not in EVENT_TYPES:
            raise Malformed(f"eventType {str(event_type)[:40]!r} is not one of "
                            f"{', '.join(EVENT_TYPES)}")  # fmt: skip
        run_id = None
        if "run" in event:  # a RunEvent
            run_id = _text(_object(event["run"], "run").get("runId"), "run.runId", required=True)
        job = _object(event.get("job"), "job")
        if not job:
            raise Malformed("job is missing")
        job_name = _text(job.get("name"), "job.name", required=True)
        job_namespace = _text(job.get("namespace"), "job.namespace", required=True)
        if job_namespace not in ("govlake", "default"):
            job_name = f"{job_namespace}/{job_name}"
        job_facets = _object(job.get("facets"), "job.facets")
        if run_id is None:  # a JobEvent: the job as designed
            lineage = True
        elif event_type == "RUNNING":
            job_type = _object(job_facets.get("jobType"), "job.facets.jobType")
            lineage = job_type.get("processingType") == "STREAMING"
        else:
            lineage = event_type == "COMPLETE"
        inputs = [
            self._read_dataset(d, f"inputs[{i}]", lineage, effects, run_id, event_time, job_name)
            for i, d in enumerate(_array(event.get("inputs"), "inputs"))
        ]
        outputs = [
            (d, f"outputs[{i}]",
             self._read_dataset(d, f"outputs[{i}]", lineage, effects, run_id, event_time,
                                job_name))
            for i, d in enumerate(_array(event.get("outputs"), "outputs"))
        ]  # fmt: skip
        if not lineage:
            return effects
        sql = _text(_object(job_facets.get("sql"), "job.facets.sql").get("query"),
                    "job.facets.sql.query")  # fmt: skip
        for output, where, key in outputs:
            if inputs:
                wanted = {(source, "", key, ""): {"transformation": None,
                                                  "description": None, "sql": sql}
                          for source in inputs if source != key}  # fmt: skip
                effects.replacements.append((job_name, key, wanted, True))
            facets = _object(output.get("facets"), f"{where}.facets")
            if facets.get("columnLineage") is not None:
                where = f"{where}.facets.columnLineage"
                column_lineage = _object(facets["columnLineage"], where)
                edges = self._column_edges(column_lineage, key, where)
                effects.replacements.append((job_name, key, edges, False))
        return effects

    def _read_dataset(
        self,
        dataset: Any,
        where: str,
        lineage: bool,
        effects: _Effects,
        run_id: str | None,
        event_time: datetime,
        job: str | None,
    ) -> str:
        dataset = _object(dataset, where)
        namespace = _text(dataset.get("namespace"), f"{where}.namespace", required=True)
        name = _text(dataset.get("name"), f"{where}.name", required=True)
        key = self.key(namespace, name)
        facets = _object(dataset.get("facets"), f"{where}.facets")
        if run_id is not None:
            for kind in ("facets", "inputFacets", "outputFacets"):
                facets_of = _object(dataset.get(kind), f"{where}.{kind}")
                if facets_of.get(_ASSERTION_FACET) is not None:
                    effects.assertions += _assertions(
                        key, facets_of[_ASSERTION_FACET], f"{where}.{kind}.{_ASSERTION_FACET}",
                        run_id, event_time, job,
                    )  # fmt: skip
        if not lineage:
            return key
        attrs: dict[str, Any] = {
            "ol_namespace": namespace, "ol_name": name, "layer": layer_of(key),
            "kind": _kind_of(key),
        }  # fmt: skip
        documentation = _object(facets.get("documentation"), f"{where}.facets.documentation")
        description = _text(documentation.get("description"),
                            f"{where}.facets.documentation.description")  # fmt: skip
        if description:
            attrs["description"] = description
        ownership = _object(facets.get("ownership"), f"{where}.facets.ownership")
        owners = [
            _text(_object(o, f"{where}.facets.ownership.owners[{i}]").get("name"),
                  f"{where}.facets.ownership.owners[{i}].name", required=True)
            for i, o in enumerate(_array(ownership.get("owners"),
                                         f"{where}.facets.ownership.owners"))
        ]  # fmt: skip
        if owners:
            attrs["owner"] = ", ".join(owners)
        fields = None
        schema = _object(facets.get("schema"), f"{where}.facets.schema")
        if schema.get("fields") is not None:
            fields = []
            place = f"{where}.facets.schema.fields"
            for position, column in enumerate(_array(schema["fields"], place), start=1):
                at = f"{place}[{position - 1}]"
                column = _object(column, at)
                column_name = _text(column.get("name"), f"{at}.name", required=True)
                ordinal = column.get("ordinal_position")
                if ordinal is not None and (
                    isinstance(ordinal, bool) or not isinstance(ordinal, int)
                    or not 0 < ordinal <= _MAX_POSITION
                ):  # fmt: skip
                    raise Malformed(f"{at}.ordinal_position is not a positive integer")
                column_attrs = {
                    "position": ordinal or position,
                    "data_type": normalize_type(_text(column.get("type"), f"{at}.type")),
                    "description": _text(column.get("description"), f"{at}.description"),
                }
                fields.append(
                    (column_name, {k: v for k, v in column_attrs.items() if v not in (None, "")})
                )
        effects.datasets.append((key, attrs, fields))
        return key

    def _column_edges(self, facet: dict, output: str, where: str) -> dict[EdgeKey, dict]:
        wanted: dict[EdgeKey, dict] = {}
        for target_field, spec in _object(facet.get("fields"), f"{where}.fields").items():
            at = f"{where}.fields.{target_field}"
            if not target_field:
                raise Malformed(f"{where}.fields has a field without a name")
            spec = _object(spec, at)
            for i, source in enumerate(_array(spec.get("inputFields"), f"{at}.inputFields")):
                key, attrs = self._input_edge(source, output, target_field, spec,
                                              f"{at}.inputFields[{i}]")  # fmt: skip
                wanted[key] = attrs
        for i, source in enumerate(_array(facet.get("dataset"), f"{where}.dataset")):
            key, attrs = self._input_edge(source, output, "", {}, f"{where}.dataset[{i}]")
            wanted[key] = attrs
        return wanted

    def _input_edge(
        self, source: Any, output: str, target_field: str, spec: dict, where: str
    ) -> tuple[EdgeKey, dict]:
        source = _object(source, where)
        namespace = _text(source.get("namespace"), f"{where}.namespace", required=True)
        name = _text(source.get("name"), f"{where}.name", required=True)
        source_field = _text(source.get("field"), f"{where}.field", required=True)
        transformations = []
        for i, t in enumerate(_array(source.get("transformations"), f"{where}.transformations")):
            at = f"{where}.transformations[{i}]"
            t = _object(t, at)
            masking = t.get("masking")
            if masking is not None and not isinstance(masking, bool):
                raise Malformed(f"{at}.masking is not a boolean")
            transformations.append({
                "type": _text(t.get("type"), f"{at}.type", required=True),
                "subtype": _text(t.get("subtype"), f"{at}.subtype"),
                "description": _text(t.get("description"), f"{at}.description"),
                "masking": bool(masking),
            })  # fmt: skip
        deprecated = _text(spec.get("transformationType"), f"{where} transformationType")
        if not transformations and deprecated:  # the deprecated form
            about = _text(spec.get("transformationDescription"), "transformationDescription")
            transformations = [{"type": "DIRECT", "subtype": deprecated, "masking": False,
                                "description": about}]  # fmt: skip
        kinds = ["/".join(p for p in (t["type"], t["subtype"]) if p) for t in transformations]
        descriptions = [t["description"] for t in transformations if t["description"]]
        attrs = {
            "transformation": ", ".join(dict.fromkeys(k for k in kinds if k)) or None,
            "description": "; ".join(dict.fromkeys(descriptions)) or None,
            "masking": any(t["masking"] for t in transformations) if transformations else None,
            "sql": None,
        }
        return (self.key(namespace, name), source_field, output, target_field), attrs

    # -- edges ------------------------------------------------------------------------

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


# -- reading values as the spec types them -------------------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{where} is not an object ({type(value).__name__})")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{where} is not an array ({type(value).__name__})")
    return value


def _text(value: Any, where: str, *, required: bool = False) -> str | None:
    if isinstance(value, str) and value:
        return value
    if value is None or value == "":
        if required:
            raise Malformed(f"{where} is missing")
        return None
    raise Malformed(f"{where} is not a string ({type(value).__name__})")


def _event_time(value: Any) -> datetime:
    """The event's ``eventTime``: an ISO 8601 date-time with its UTC offset (RFC 3339)."""
    if value is None:
        raise Malformed("eventTime is missing")
    if not isinstance(value, str):
        raise Malformed(f"eventTime is not a string ({type(value).__name__})")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"eventTime {value[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise Malformed(f"eventTime {value[:40]!r} has no UTC offset")
    return moment


def _check_storable(event: dict) -> None:
    """PostgreSQL stores no NUL character and no unpaired surrogate (JSON escapes both)."""
    stack: list[Any] = [event]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise Malformed("a string holds a NUL character (\\u0000), which PostgreSQL "
                                "cannot store")  # fmt: skip
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise Malformed(
                    "a string holds an unpaired surrogate, which is not UTF-8"
                ) from None


def _assertions(
    key: str, facet: Any, where: str, run_id: str, event_time: datetime, job: str | None
) -> list[Assertion]:
    found = []
    for i, item in enumerate(_array(_object(facet, where).get("assertions"),
                                    f"{where}.assertions")):  # fmt: skip
        at = f"{where}.assertions[{i}]"
        item = _object(item, at)
        classification = _text(item.get("assertion"), f"{at}.assertion", required=True)
        if not isinstance(item.get("success"), bool):
            raise Malformed(f"{at}.success is not a boolean")
        found.append(
            Assertion(
                dataset=key,
                field=_text(item.get("column"), f"{at}.column") or "",
                assertion=_text(item.get("name"), f"{at}.name") or classification,
                success=item["success"],
                run_id=run_id,
                event_time=event_time,
                classification=classification,
                severity=_text(item.get("severity"), f"{at}.severity"),
                description=_text(item.get("description"), f"{at}.description"),
                job=job,
            )
        )
    return found


def _kind_of(key: str) -> str:
    layer = layer_of(key)
    if layer in ("source", "lake"):
        return layer
    if layer in ("report", "export"):
        return "exposure"
    return "other" if layer == "other" else "table"
