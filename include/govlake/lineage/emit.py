"""OpenLineage events for the platform's own steps: extract, load, quality, stream load.

A step runs inside :func:`step_run`::

    with step_run("govlake.extract.police.person", job_type="EXTRACT",
                  inputs=[source]) as step:
        ...                                   # the step's work
        step.outputs = [lake_batch]           # what it wrote, known at the end
        step.run_facets["govlake_batch"] = …

which sends START, then COMPLETE — or FAIL with the error (``errorMessage``) and re-raises
it. Jobs are named ``govlake.<step>.<what>`` in the same namespace as Airflow's jobs
(``AIRFLOW__OPENLINEAGE__NAMESPACE``, "govlake"); each carries ``jobType`` (integration
GOVLAKE, processing BATCH or STREAMING, job type EXTRACT/LOAD/QUALITY …) and, when known,
the nominal time of the business day it covers.

Inside an Airflow task the step's run hangs under the task's run through a ``parent``
facet (the OpenLineage provider's macros give the task's job and run id, and the DAG
run as root), so a lineage backend shows DAG run → task → step. Outside Airflow there
is no parent. A step inside another step hangs under it.

Events go through the platform's transport (:mod:`govlake.lineage.transport`). Sending
an event never fails the data step: a failure is logged as a warning. With
``GOVLAKE_LINEAGE_STRICT=1`` (the tests set it) every event is validated against the
specification before it is sent, and any problem or failure to send raises instead.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    dataset_version_dataset,
    datasource_dataset,
    documentation_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_new_uuid

from govlake.config import TIMEZONE
from govlake.lineage.naming import DatasetName
from govlake.lineage.transport import transport_config

log = logging.getLogger(__name__)
T = TypeVar("T")

STRICT_ENV = "GOVLAKE_LINEAGE_STRICT"
INTEGRATION = "GOVLAKE"
DEFAULT_NAMESPACE = "govlake"
REPOSITORY = "https://github.com/kaiping-govlake/govlake"
# the platform's own facet schemas: <FACETS_URL><Name>.json, the facet at #/$defs/<Name>
FACETS_URL = f"{REPOSITORY}/blob/main/include/govlake/lineage/facets/"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("govlake")
    except PackageNotFoundError:
        return "0.0.0"


PLATFORM_VERSION = _version()
PRODUCER = f"{REPOSITORY}/tree/v{PLATFORM_VERSION}"


class LineageError(RuntimeError):
    """An event could not be built, validated or sent (raised in strict mode only)."""


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes")


# --- the platform's own facets (schemas in lineage/facets/) ----------------------------------


@attr.define(kw_only=True)
class GovlakeBatchRunFacet(RunFacet):
    """The batch a step landed or loaded (``lineage/facets/GovlakeBatchRunFacet.json``)."""

    stage: str
    resource: str
    batchId: str
    ingestDate: str | None = None
    mode: str | None = None
    windowStart: str | None = None
    windowEnd: str | None = None
    sourceRows: int | None = None
    landedRows: int | None = None
    extractQuarantined: int | None = None
    loadedRows: int | None = None
    loadQuarantined: int | None = None
    manifestUri: str | None = None
    quarantineUris: list[str] | None = None
    reused: bool | None = None
    addedColumns: list[str] | None = None
    missingColumns: list[str] | None = None
    seconds: float | None = None
    _additional_skip_redact: ClassVar[list[str]] = ["stage", "resource", "batchId"]

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS_URL}GovlakeBatchRunFacet.json#/$defs/GovlakeBatchRunFacet"


@attr.define(kw_only=True)
class GovlakeQualityRunFacet(RunFacet):
    """One recorded quality audit (``lineage/facets/GovlakeQualityRunFacet.json``)."""

    qualityRunId: str
    table: str
    rules: int
    rulesFailed: int
    blockingFailed: int
    suite: str | None = None
    trigger: str | None = None
    stage: str | None = None
    businessDate: str | None = None
    resource: str | None = None
    batchId: str | None = None
    rowsAudited: int | None = None
    dataDocs: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{FACETS_URL}GovlakeQualityRunFacet.json#/$defs/GovlakeQualityRunFacet"


# --- the client ------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _client(config_json: str) -> OpenLineageClient:
    return OpenLineageClient(config={"transport": json.loads(config_json)})


def client() -> OpenLineageClient:
    """The OpenLineage client of the configured transport (one per configuration)."""
    return _client(json.dumps(transport_config(), sort_keys=True))


def job_namespace() -> str:
    """Airflow's OpenLineage namespace, so that platform steps and Airflow tasks share one."""
    return (
        os.environ.get("AIRFLOW__OPENLINEAGE__NAMESPACE")
        or os.environ.get("OPENLINEAGE_NAMESPACE")
        or DEFAULT_NAMESPACE
    )


def send(event: RunEvent) -> None:
    """Send one event: a failure is logged, never raised — except in strict mode."""
    try:
        if strict():
            from govlake.lineage.validate import validate_event

            problems = validate_event(Serde.to_dict(event))
            if problems:
                raise LineageError(
                    f"血缘事件不符合规范 OpenLineage event {event.eventType.value} of "
                    f"{event.job.name} is invalid:\n- " + "\n- ".join(problems)
                )
        client().emit(event)
    except Exception as error:
        if strict():
            raise
        log.warning(
            "血缘事件未发送 OpenLineage %s event of %s was not sent (%s: %s); the step itself "
            "is unaffected — check GOVLAKE_LINEAGE_TRANSPORT and %s",
            event.eventType.value,
            event.job.name,
            type(error).__name__,
            error,
            "$GOVLAKE_HOME/lineage/",
        )


def guarded(function: Callable[..., T]) -> Callable[..., T | None]:
    """Describing a step for lineage must not fail the step: a failure of ``function`` is
    logged (None returned) — and raised in strict mode."""

    @functools.wraps(function)
    def describe(*args: Any, **kwargs: Any) -> T | None:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            if strict():
                raise
            log.warning(
                "血缘描述失败 could not describe a step for OpenLineage (%s: %s, in %s); the "
                "step itself is unaffected",
                type(error).__name__,
                error,
                function.__qualname__,
            )
            return None

    return describe


# --- parents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parent:
    """The run a step runs under, and the root of that run's tree."""

    namespace: str
    name: str
    run_id: str
    root_namespace: str | None = None
    root_name: str | None = None
    root_run_id: str | None = None

    def facet(self) -> parent_run.ParentRunFacet:
        root = None
        if self.root_namespace and self.root_name and self.root_run_id:
            root = parent_run.Root(
                run=parent_run.RootRun(runId=self.root_run_id),
                job=parent_run.RootJob(namespace=self.root_namespace, name=self.root_name),
            )
        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=self.run_id),
            job=parent_run.Job(namespace=self.namespace, name=self.name),
            root=root,
            producer=PRODUCER,
        )

    def context(self) -> dict[str, Any]:
        """The ``OPENLINEAGE_CONTEXT`` payload a child process (dbt-ol) reads its parent from."""
        parent: dict[str, Any] = {
            "run": {"runId": self.run_id},
            "job": {"namespace": self.namespace, "name": self.name},
        }
        if self.root_namespace and self.root_name and self.root_run_id:
            parent["root"] = {
                "run": {"runId": self.root_run_id},
                "job": {"namespace": self.root_namespace, "name": self.root_name},
            }
        return {"parent": parent}


def airflow_parent() -> Parent | None:
    """The Airflow task run this code runs in (None outside a running task)."""
    if "airflow.sdk" not in sys.modules:  # Airflow is not even imported: not in a task
        return None
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:  # no task is running in this thread
        return None
    task_instance = context.get("ti") or context.get("task_instance")
    if task_instance is None:
        return None
    try:
        from airflow.providers.openlineage.plugins import macros
    except ImportError:  # the provider is not installed: Airflow emits no task runs
        return None
    try:
        parent = Parent(
            namespace=macros.lineage_job_namespace(),
            name=macros.lineage_job_name(task_instance),
            run_id=str(macros.lineage_run_id(task_instance)),
        )
        roots = ("lineage_root_job_namespace", "lineage_root_job_name", "lineage_root_run_id")
        if all(hasattr(macros, name) for name in roots):
            parent = Parent(
                parent.namespace,
                parent.name,
                parent.run_id,
                root_namespace=macros.lineage_root_job_namespace(task_instance),
                root_name=macros.lineage_root_job_name(task_instance),
                root_run_id=str(macros.lineage_root_run_id(task_instance)),
            )
    except Exception as error:
        if strict():
            raise
        log.warning("血缘 could not identify the Airflow task run (%s); no parent facet", error)
        return None
    return parent


_current: contextvars.ContextVar[StepRun | None] = contextvars.ContextVar(
    "govlake_lineage_step", default=None
)


def current_parent() -> Parent | None:
    """What a run started here hangs under: the enclosing step, else the Airflow task."""
    step = _current.get()
    if step is not None:
        return step.as_parent()
    return airflow_parent()


# --- building blocks -------------------------------------------------------------------------


def nominal_day(business_date: date) -> tuple[datetime, datetime]:
    """A business day as the nominal time of the runs that cover it (Kaiping time)."""
    start = datetime.combine(business_date, time.min, tzinfo=ZoneInfo(TIMEZONE))
    return start, start + timedelta(days=1)


def schema_facet(fields: Iterable[tuple[str, str | None, str | None]]):
    """A schema facet from (name, type, description) triples, in order."""
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(
                name=name, type=kind, description=description, ordinal_position=position
            )
            for position, (name, kind, description) in enumerate(fields, start=1)
        ],
        producer=PRODUCER,
    )


def datasource_facet(name: str, uri: str) -> datasource_dataset.DatasourceDatasetFacet:
    return datasource_dataset.DatasourceDatasetFacet(name=name, uri=uri, producer=PRODUCER)


def version_facet(version: str) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(
        datasetVersion=version, producer=PRODUCER
    )


def documentation_facet(text: str) -> documentation_dataset.DocumentationDatasetFacet:
    return documentation_dataset.DocumentationDatasetFacet(description=text, producer=PRODUCER)


def column_lineage(
    columns: dict[str, list[tuple[DatasetName, str, str, str, str]]],
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Column lineage: output column → [(input dataset, input field, type, subtype,
    description)], type DIRECT/INDIRECT and subtype IDENTITY, TRANSFORMATION … as the
    spec's column lineage defines them."""
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            column: column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace=source.namespace,
                        name=source.name,
                        field=source_field,
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type=kind, subtype=subtype, description=description
                            )
                        ],
                    )
                    for source, source_field, kind, subtype, description in inputs
                ]
            )
            for column, inputs in columns.items()
        },
        producer=PRODUCER,
    )


def identity_lineage(
    source: DatasetName, columns: Iterable[str], description: str
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """Each column copied unchanged from the column of the same name of ``source``."""
    return column_lineage({c: [(source, c, "DIRECT", "IDENTITY", description)] for c in columns})


def input_dataset(
    named: DatasetName, facets: dict[str, Any] | None = None, input_facets=None
) -> InputDataset:
    return InputDataset(
        namespace=named.namespace,
        name=named.name,
        facets=facets or {},
        inputFacets=input_facets or {},
    )


def output_dataset(
    named: DatasetName, facets: dict[str, Any] | None = None, output_facets=None
) -> OutputDataset:
    return OutputDataset(
        namespace=named.namespace,
        name=named.name,
        facets=facets or {},
        outputFacets=output_facets or {},
    )


# --- runs ------------------------------------------------------------------------------------


@dataclass
class StepRun:
    """One run of a platform step; the body fills in what it read, wrote and found."""

    job_name: str
    job_type: str
    processing_type: str = "BATCH"
    description: str | None = None
    inputs: list[InputDataset] = field(default_factory=list)
    outputs: list[OutputDataset] = field(default_factory=list)
    run_facets: dict[str, RunFacet] = field(default_factory=dict)
    nominal: tuple[datetime, datetime | None] | None = None
    parent: Parent | None = None
    run_id: str = field(default_factory=lambda: str(generate_new_uuid()))
    namespace: str = field(default_factory=job_namespace)

    def as_parent(self) -> Parent:
        root = self.parent
        if root is None:
            return Parent(self.namespace, self.job_name, self.run_id)
        return Parent(
            self.namespace,
            self.job_name,
            self.run_id,
            root_namespace=root.root_namespace or root.namespace,
            root_name=root.root_name or root.name,
            root_run_id=root.root_run_id or root.run_id,
        )

    def _job(self) -> Job:
        facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType=self.processing_type,
                integration=INTEGRATION,
                jobType=self.job_type,
                producer=PRODUCER,
            )
        }
        if self.description:
            facets["documentation"] = documentation_job.DocumentationJobFacet(
                description=self.description, contentType="text/plain", producer=PRODUCER
            )
        return Job(namespace=self.namespace, name=self.job_name, facets=facets)

    def _run(self, extra: dict[str, RunFacet]) -> Run:
        facets: dict[str, Any] = {
            "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
                version=PLATFORM_VERSION,
                name="govlake",
                openlineageAdapterVersion=_client_version(),
                producer=PRODUCER,
            )
        }
        if self.nominal is not None:
            start, end = self.nominal
            facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
                nominalStartTime=start.isoformat(),
                nominalEndTime=end.isoformat() if end else None,
                producer=PRODUCER,
            )
        if self.parent is not None:
            facets["parent"] = self.parent.facet()
        return Run(runId=self.run_id, facets={**facets, **extra})

    def event(self, state: RunState, at: datetime | None = None, **extra: RunFacet) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=(at or datetime.now(UTC)).isoformat(),
            run=self._run({**self.run_facets, **extra}),
            job=self._job(),
            inputs=list(self.inputs),
            outputs=list(self.outputs),
            producer=PRODUCER,
        )


@lru_cache(maxsize=1)
def _client_version() -> str:
    from importlib.metadata import version

    return version("openlineage-python")


_SENSITIVE_TOKEN = re.compile(  # identity numbers (18 or 15), mobile numbers, short names
    r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9A-Za-z])"
    r"|[\u3400-\u9fff]{2,4}(?=[)）'\"，,\s]|$)"
)
ERROR_TEXT_LIMIT = 500


def safe_error_text(error: BaseException | str) -> str:
    """An error's text fit to leave the platform in a lineage event (Marquez, files).

    Database and Arrow errors quote the values they choke on (``Key (id_number)=(4407…)``,
    a bad cell): only the primary message is kept (psycopg's ``diag.message_primary``, else
    the first line), identity and mobile numbers and short Chinese names in it are masked,
    and it is cut to ``ERROR_TEXT_LIMIT`` characters. The full error stays in the task's log.
    """
    from govlake.quality.masking import mask_text

    if isinstance(error, BaseException):
        diag = getattr(error, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        lines = str(error).splitlines()
        text = f"{type(error).__name__}: {primary or (lines[0] if lines else '')}"
    else:
        text = error.splitlines()[0] if error else ""
    text = _SENSITIVE_TOKEN.sub(lambda m: mask_text(m.group(0)), text)
    return text[:ERROR_TEXT_LIMIT]


def _error_facet(error: BaseException) -> error_message_run.ErrorMessageRunFacet:
    # where it failed (files, lines, functions), not what the failing values were
    frames = "".join(traceback.format_tb(error.__traceback__))
    return error_message_run.ErrorMessageRunFacet(
        message=safe_error_text(error),
        programmingLanguage="python",
        stackTrace=f"Traceback (most recent call last):\n{frames}{type(error).__name__}",
        producer=PRODUCER,
    )


@contextmanager
def step_run(
    job_name: str,
    *,
    job_type: str,
    inputs: Iterable[InputDataset] = (),
    outputs: Iterable[OutputDataset] = (),
    processing_type: str = "BATCH",
    nominal: tuple[datetime, datetime | None] | None = None,
    description: str | None = None,
) -> Iterator[StepRun]:
    """Run a platform step as an OpenLineage run: START now, then COMPLETE with what the
    body set on the yielded :class:`StepRun`, or FAIL with the error (re-raised)."""
    step = StepRun(
        job_name=job_name,
        job_type=job_type,
        processing_type=processing_type,
        description=description,
        inputs=list(inputs),
        outputs=list(outputs),
        nominal=nominal,
        parent=current_parent(),
    )
    send(step.event(RunState.START))
    token = _current.set(step)
    try:
        yield step
    except BaseException as error:
        _current.reset(token)
        try:
            send(step.event(RunState.FAIL, errorMessage=_error_facet(error)))
        except Exception as lineage_error:  # strict mode: keep the step's own error first
            error.add_note(f"and its FAIL lineage event could not be sent: {lineage_error}")
        raise
    _current.reset(token)
    send(step.event(RunState.COMPLETE))


def record_run(step: StepRun, started_at: datetime) -> None:
    """A step that already happened (its results were recorded by other means): START at
    ``started_at`` and COMPLETE now, with what ``step`` holds."""
    step.parent = step.parent if step.parent is not None else current_parent()
    send(step.event(RunState.START, at=started_at))
    send(step.event(RunState.COMPLETE))


__all__ = [
    "PRODUCER",
    "GovlakeBatchRunFacet",
    "GovlakeQualityRunFacet",
    "LineageError",
    "Parent",
    "StepRun",
    "airflow_parent",
    "client",
    "column_lineage",
    "current_parent",
    "identity_lineage",
    "input_dataset",
    "job_namespace",
    "nominal_day",
    "output_dataset",
    "record_run",
    "schema_facet",
    "send",
    "step_run",
    "strict",
]
