"""Check OpenLineage events against the specification, offline.

Every event is validated against ``OpenLineage.json`` (the copy of the spec shipped in
``lineage/spec/``), and every facet against the schema its ``_schemaURL`` names. Schemas
are found locally, never fetched:

- the spec's standard facets (``lineage/spec/facets/``), by their ``$id``;
- the platform's own facets (``lineage/facets/``), by their ``$id``;
- the Airflow OpenLineage provider's facets (``airflow/providers/openlineage/facets/`` of
  the installed provider). The provider names the generic ``RunFacet``/``JobFacet`` as
  their ``_schemaURL``, so they are validated against that *and* against the provider's
  own schema for the facet's key (``airflow``, ``airflowDagRun``, ``airflowState``,
  ``debug``);
- openlineage-integration-common's facets (``openlineage/common/schema/``). Its facets
  name ``GITHUB_LOCATION + <file>`` while the files it ships carry another ``$id``; both
  are registered. ``dbt_model`` names a schema the package does not ship: ours, written
  from the facet's class, stands in (``lineage/spec/supplement/``, see the README there).

A facet whose schema cannot be found is a problem, reported with its place and name —
never passed silently. :func:`validate_event` returns readable problems (an empty list: the
event is valid); :func:`validate_file` does so for each line of an event log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources as package_files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

SPEC_VERSION = "2-0-2"
SPEC_URL = f"https://openlineage.io/spec/{SPEC_VERSION}/OpenLineage.json"
AIRFLOW_PRODUCER = "https://github.com/apache/airflow/"
# the provider's facet schemas have no $id: they are registered under where they live in
# the provider's source tree, at the installed version (see _airflow_schemas)
AIRFLOW_SCHEMA_BASE = (
    "https://github.com/apache/airflow/blob/providers-openlineage/{version}/providers/"
    "openlineage/src/airflow/providers/openlineage/facets/"
)
# facet key → the provider's schema for it, per place (run or job facets)
AIRFLOW_FACETS = {
    ("run", "airflow"): "AirflowRunFacet",
    ("run", "airflowDagRun"): "AirflowDagRunFacet",
    ("run", "airflowState"): "AirflowStateRunFacet",
    ("run", "debug"): "AirflowDebugRunFacet",
    ("job", "airflow"): "AirflowJobFacet",
}
FACET_BASES = ("BaseFacet", "RunFacet", "JobFacet", "DatasetFacet", "InputDatasetFacet",
               "OutputDatasetFacet")  # fmt: skip
MAX_PROBLEMS_PER_SCHEMA = 5  # the first few errors of one facet say what is wrong
# Where the provider's schema disagrees with what the provider sends under Airflow 3.3, for a
# reason we know, that one property is relaxed and nothing else ((file, $def, property) →
# what changes; see _relax):
# - TaskInstance.pool: Airflow 3's task instances (the task SDK's) carry no pool — it is the
#   task's — so provider 2.20.3 cannot send it, though its schema requires it;
# - Task.retry_exponential_backoff: a backoff multiplier (float) since Airflow 3.3, where the
#   schema still says boolean.
AIRFLOW_RELAXED = {
    ("AirflowRunFacet.json", "TaskInstance", "pool"): "not required",
    ("AirflowRunFacet.json", "Task", "retry_exponential_backoff"): ["boolean", "number"],
}


@dataclass(frozen=True)
class Schemas:
    registry: Registry
    ids: frozenset[str]  # every schema document registered, by URI without fragment
    airflow: dict[str, str]  # provider facet class → its registered URI


def _uri_format(value: object) -> bool:
    """RFC 3986 absolute URI: a scheme, then something (``rfc3987`` is not installed)."""
    if not isinstance(value, str):
        return True
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value)) and " " not in value


def _format_checker() -> FormatChecker:
    checker = FormatChecker()  # date-time, uuid … as jsonschema implements them
    checker.checks("uri")(_uri_format)
    return checker


def _package_folder() -> Path:
    return Path(str(package_files.files("govlake.lineage")))


def _documents(folder: Path, pattern: str = "*.json") -> Iterator[tuple[Path, dict]]:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(pattern)):
        yield path, json.loads(path.read_text(encoding="utf-8"))


def _site_folder(module: str) -> Path | None:
    """A data folder of an installed package (None when the package is not installed)."""
    try:
        return Path(str(package_files.files(module)))
    except (ModuleNotFoundError, TypeError):
        return None


@lru_cache(maxsize=1)
def schemas() -> Schemas:
    """Every schema the validator knows, in one registry (built once per process)."""
    documents: dict[str, dict] = {}
    here = _package_folder()
    for folder in (here / "spec", here / "spec" / "facets", here / "facets"):
        for path, document in _documents(folder):
            if "$id" not in document:
                raise ValueError(f"{path} has no $id: every shipped schema must name itself")
            documents[document["$id"]] = document

    common = _site_folder("openlineage.common.schema")
    if common is not None:
        from openlineage.common.schema import GITHUB_LOCATION

        for path, document in _documents(common):
            documents[GITHUB_LOCATION + path.name] = document  # what the facets name
            if "$id" in document:
                documents[document["$id"]] = document
        for _, document in _documents(here / "spec" / "supplement"):
            documents[document["$id"]] = document

    airflow: dict[str, str] = {}
    provider = _site_folder("airflow.providers.openlineage.facets")
    if provider is not None:
        from importlib.metadata import version

        base = AIRFLOW_SCHEMA_BASE.format(version=version("apache-airflow-providers-openlineage"))
        for path, document in _documents(provider):
            _relax(path.name, document)
            uri = base + path.name
            documents[uri] = document
            airflow[path.stem] = uri

    documents.update(_older_spec_bases(documents))
    registry: Registry = Registry().with_resources(
        (uri, DRAFT202012.create_resource(document)) for uri, document in documents.items()
    )
    return Schemas(registry.crawl(), frozenset(documents), airflow)


def _relax(file: str, document: dict) -> None:
    for (name, definition, prop), change in AIRFLOW_RELAXED.items():
        target = document.get("$defs", {}).get(definition) if name == file else None
        if target is None:
            continue
        if change == "not required":
            target["required"] = [r for r in target.get("required", []) if r != prop]
        elif prop in target.get("properties", {}):
            target["properties"][prop]["type"] = change


def _older_spec_bases(documents: dict[str, dict]) -> dict[str, dict]:
    """Facet schemas written against an older spec (openlineage-integration-common's refer to
    1-0-2) extend its base definitions — BaseFacet, RunFacet, JobFacet and the dataset facet
    bases, whose shape has not changed since (``_producer`` and ``_schemaURL``, both URIs,
    both required). Only those definitions of an older version resolve, to 2-0-2's; a
    reference to anything else of it stays unresolvable and is reported."""
    older: dict[str, dict] = {}
    pattern = re.compile(r"https://openlineage\.io/spec/(\d+-\d+-\d+)/OpenLineage\.json")
    for document in documents.values():
        for version in pattern.findall(json.dumps(document)):
            uri = f"https://openlineage.io/spec/{version}/OpenLineage.json"
            if uri != SPEC_URL and uri not in documents:
                older[uri] = {
                    "$id": uri,
                    "$comment": f"govlake: facet base definitions of spec {version}, as 2-0-2's",
                    "$defs": {name: {"$ref": f"{SPEC_URL}#/$defs/{name}"} for name in FACET_BASES},
                }
    return older


def _validator(schema_ref: str) -> Draft202012Validator:
    return _cached_validator(schema_ref)


@lru_cache(maxsize=512)
def _cached_validator(schema_ref: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": schema_ref}, registry=schemas().registry, format_checker=_format_checker()
    )


def _path(error: ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)


def _errors(instance: Any, schema_ref: str, where: str) -> list[str]:
    """Problems of ``instance`` against the schema at ``schema_ref``, prefixed by ``where``."""
    try:
        errors = sorted(_validator(schema_ref).iter_errors(instance), key=lambda e: e.path)
    except Unresolvable as error:
        return [f"{where}: schema {schema_ref} refers to {error.ref!s}, not available locally"]
    problems = []
    for error in errors[:MAX_PROBLEMS_PER_SCHEMA]:
        # a failing allOf/anyOf hides the useful message in its context
        leaves = [e for e in error.context or [] if not e.context] or [error]
        for leaf in leaves[:2]:
            problems.append(f"{where}{_path(leaf)}: {leaf.message}")
    if len(errors) > MAX_PROBLEMS_PER_SCHEMA:
        problems.append(f"{where}: … {len(errors) - MAX_PROBLEMS_PER_SCHEMA} more")
    return problems


def _facet_problems(place: str, kind: str, key: str, facet: Any, producer: str) -> list[str]:
    where = f"{place} facet '{key}'"
    if not isinstance(facet, dict):
        return [f"{where}: is {type(facet).__name__}, not an object"]
    url = facet.get("_schemaURL")
    if not isinstance(url, str) or not url:
        return [f"{where}: has no _schemaURL (every facet must name its schema)"]
    base, _, fragment = url.partition("#")
    known = schemas()
    if base not in known.ids:
        return [
            f"{where}: its schema {url} is not available locally (not in the OpenLineage spec "
            f"copy, govlake's facets, the Airflow provider's or openlineage-integration-common's "
            f"schemas) — add the schema, or stop emitting the facet"
        ]
    if fragment:
        problems = _errors(facet, url, where)
    else:
        # no pointer: the document describes its facet under its key, as the spec's do
        document = known.registry.contents(base)
        if key not in (document.get("properties") or {}):
            return [f"{where}: schema {url} describes no facet named '{key}'"]
        problems = _errors({key: facet}, base, where)
        problems = [p.replace(f"{where}.{key}", where, 1) for p in problems]
    provider_facet = AIRFLOW_FACETS.get((kind, key))
    if provider_facet and (facet.get("_producer") or producer).startswith(AIRFLOW_PRODUCER):
        provider_uri = known.airflow.get(provider_facet)
        if provider_uri is None:
            problems.append(f"{where}: the Airflow provider's {provider_facet}.json is missing")
        else:
            problems += _errors(facet, f"{provider_uri}#/$defs/{provider_facet}", where)
    return problems


def _dataset_facets(prefix: str, datasets: Any, extra: str | None) -> Iterator[tuple]:
    for index, dataset in enumerate(datasets or []):
        if not isinstance(dataset, dict):
            continue
        label = f"{prefix}[{index}] {dataset.get('namespace')}/{dataset.get('name')}"
        for group in ("facets", extra):
            if group and isinstance(dataset.get(group), dict):
                for key, facet in dataset[group].items():
                    yield f"{label} {group}", "dataset", key, facet


def _facets(event: dict) -> Iterator[tuple[str, str, str, Any]]:
    """(place, kind, key, facet) of every facet an event carries."""
    run, job = event.get("run"), event.get("job")
    if isinstance(run, dict) and isinstance(run.get("facets"), dict):
        for key, facet in run["facets"].items():
            yield "run", "run", key, facet
    if isinstance(job, dict) and isinstance(job.get("facets"), dict):
        for key, facet in job["facets"].items():
            yield "job", "job", key, facet
    yield from _dataset_facets("inputs", event.get("inputs"), "inputFacets")
    yield from _dataset_facets("outputs", event.get("outputs"), "outputFacets")
    if isinstance(event.get("dataset"), dict):
        yield from _dataset_facets("dataset", [event["dataset"]], None)


def _event_schema(event: dict) -> tuple[str | None, str | None]:
    """(the schema an event is validated against, a problem with its schemaURL)."""
    url = event.get("schemaURL")
    if not isinstance(url, str):
        return SPEC_URL, None  # the event schema reports the missing schemaURL
    base, _, fragment = url.partition("#")
    if base != SPEC_URL:
        version = urlsplit(base).path.split("/")[-2] if "/" in base else base
        return None, (
            f"event: schemaURL {url} names OpenLineage spec {version}; only {SPEC_VERSION} is "
            f"available locally (lineage/spec/)"
        )
    return (url if fragment else SPEC_URL), None


def validate_event(event: Any) -> list[str]:
    """Every problem of one event (a parsed JSON object); empty when it is valid."""
    if not isinstance(event, dict):
        return [f"event: is {type(event).__name__}, not a JSON object"]
    schema_ref, problem = _event_schema(event)
    problems = [problem] if problem else []
    if schema_ref:
        problems += _errors(event, schema_ref, "event")
    producer = event.get("producer") if isinstance(event.get("producer"), str) else ""
    for place, kind, key, facet in _facets(event):
        problems += _facet_problems(place, kind, key, facet, producer)
    return problems


@dataclass
class EventProblems:
    line: int
    job: str
    event_type: str
    run_id: str
    problems: list[str]

    def __str__(self) -> str:
        head = f"line {self.line}: {self.event_type} {self.job} (run {self.run_id})"
        return head + "".join(f"\n  - {p}" for p in self.problems)


def validate_lines(lines: Iterator[str] | list[str]) -> Iterator[EventProblems]:
    """Validate each JSON line; yield only the events that have problems."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as error:
            yield EventProblems(number, "?", "?", "?", [f"not JSON: {error}"])
            continue
        problems = validate_event(event)
        if problems:
            job = event.get("job") or {}
            yield EventProblems(
                number,
                f"{job.get('namespace')}/{job.get('name')}",
                str(event.get("eventType")),
                str((event.get("run") or {}).get("runId")),
                problems,
            )


def validate_file(path: Path) -> list[EventProblems]:
    """The events of a JSON-lines log that have problems (an empty list: all valid)."""
    with path.open(encoding="utf-8") as log:
        return list(validate_lines(log))


__all__ = ["EventProblems", "schemas", "validate_event", "validate_file", "validate_lines"]
