"""What each platform step reads and writes, as OpenLineage datasets and facets.

- extract ``govlake.extract.<resource>``: the departmental source (its catalog schema,
  its data source) → the resource's lake prefix (the batch as dataset version, the
  Parquet schema as landed, output statistics, column lineage: each catalog field from
  the source field of the same name, DIRECT/IDENTITY);
- load ``govlake.load.<resource>``: the lake batch → ``raw.<department>__<resource>``
  (catalog fields typed, plus the columns the loader adds; identity lineage per field,
  undeclared columns into ``_extra``);
- quality ``govlake.quality.<table>``: the audited table, with each rule's outcome as a
  ``dataQualityAssertions`` entry and the row count it evaluated;
- stream load ``govlake.stream.load.<kind>``: a sensor micro-batch → ``raw.sensor__<kind>``.

Every extract and load run carries ``govlake_batch`` (``facets/GovlakeBatchRunFacet.json``):
batch id, window, the reconciled counts, the manifest and quarantine objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    input_statistics_input_dataset,
    output_statistics_output_dataset,
    ownership_dataset,
)

from govlake.catalog.model import Resource
from govlake.lake.batch import BatchRef, Manifest
from govlake.lineage import naming
from govlake.lineage.emit import (
    PRODUCER,
    GovlakeBatchRunFacet,
    GovlakeQualityRunFacet,
    StepRun,
    column_lineage,
    datasource_facet,
    documentation_facet,
    guarded,
    identity_lineage,
    input_dataset,
    nominal_day,
    output_dataset,
    record_run,
    safe_error_text,
    schema_facet,
    step_run,
    version_facet,
)

if TYPE_CHECKING:
    from govlake.lake.storage import ObjectStore
    from govlake.load.loader import LoadResult
    from govlake.quality.audit import AuditResult
    from govlake.stream.load import StreamLoadResult

# the columns the platform adds, and which step makes them
EXTRACT_COLUMNS = {
    "_source_file": ("string", "来源文件或查询 the file or query the row was read from (extract)"),
    "_source_row": ("int64", "来源行号 the row's number in its source, 1-based (extract)"),
}
RAW_PLATFORM_COLUMNS = {
    "_extra": ("jsonb", "未登记列 columns the catalog does not declare, as JSON (load)"),
    "_batch_id": ("text", "批次编号 the batch the row was loaded with (load)"),
    "_source_file": ("text", "来源文件或查询 the file or query the row was read from (extract)"),
    "_source_row": ("bigint", "来源行号 the row's number in its source, 1-based (extract)"),
    "_loaded_at": ("timestamptz", "入库时间 when the load committed the row (load)"),
}


def _field_text(resource: Resource, name: str) -> str:
    element = resource.field(name).element
    return f"{element.name_zh} · {element.name_en}"


def _ownership(resource: Resource) -> ownership_dataset.OwnershipDatasetFacet:
    return ownership_dataset.OwnershipDatasetFacet(
        owners=[ownership_dataset.Owner(name=resource.owner, type="责任单位 OWNER")],
        producer=PRODUCER,
    )


def _source_uri(named: naming.DatasetName) -> str:
    if named.namespace == "file":
        return Path(named.name).parent.as_uri()
    return named.namespace


def source_input(resource: Resource):
    """The departmental source as an input: the catalog's fields, the system it lives in."""
    named = naming.source_dataset(resource)
    system = resource.system
    return input_dataset(
        named,
        facets={
            "schema": schema_facet(
                (f.name, f.pg_type, _field_text(resource, f.name)) for f in resource.fields
            ),
            "dataSource": datasource_facet(
                f"{system.code} {system.name_zh} · {system.name_en} ({system.kind})",
                _source_uri(named),
            ),
            "documentation": documentation_facet(
                f"{resource.name_zh} · {resource.name_en}。{resource.description}"
            ),
            "ownership": _ownership(resource),
        },
    )


def _batch_facet(
    stage: str, resource_id: str, manifest: Manifest, store: ObjectStore, ref: BatchRef
) -> GovlakeBatchRunFacet:
    return GovlakeBatchRunFacet(
        stage=stage,
        resource=resource_id,
        batchId=manifest.batch_id,
        ingestDate=manifest.ingest_date,
        mode=manifest.mode,
        windowStart=manifest.window_start,
        windowEnd=manifest.window_end,
        sourceRows=manifest.source_rows,
        landedRows=manifest.rows,
        extractQuarantined=manifest.extract_quarantined,
        manifestUri=store.uri(ref.manifest_key),
        quarantineUris=[store.uri(manifest.quarantine_key)] if manifest.quarantine_key else None,
        producer=PRODUCER,
    )


def _ref(resource: Resource, manifest: Manifest) -> BatchRef:
    return BatchRef(
        resource.department,
        resource.code,
        date.fromisoformat(manifest.ingest_date),
        manifest.batch_id,
    )


# --- extract ---------------------------------------------------------------------------------


@dataclass
class ExtractLineage:
    step: StepRun
    resource: Resource

    @guarded
    def landed(
        self,
        manifest: Manifest,
        store: ObjectStore,
        *,
        reused: bool,
        parts_folder: Path | None = None,
    ) -> None:
        """The batch the extraction published (or found published, ``reused``).

        ``parts_folder``: where the batch's Parquet parts still are on local disk, to read
        the types they landed with (their footers only)."""
        resource = self.resource
        source = naming.source_dataset(resource)
        lake = naming.lake_dataset(naming.lake_prefix(resource))
        types = _landed_types(manifest, parts_folder)
        delivered = [c for part in manifest.parts for c in part["columns"]]
        columns = list(dict.fromkeys(
            [f.name for f in resource.fields if f.name in delivered]
            + [c for c in delivered if c not in EXTRACT_COLUMNS]
            + list(EXTRACT_COLUMNS)
        ))  # fmt: skip
        catalogued = set(resource.field_names)

        def describe(column: str) -> str:
            if column in EXTRACT_COLUMNS:
                return EXTRACT_COLUMNS[column][1]
            if column in catalogued:
                return _field_text(resource, column)
            return "未登记列（模式漂移） a column the catalog does not declare (schema drift)"

        facets: dict[str, Any] = {
            "schema": schema_facet(
                (
                    c,
                    types.get(c) or (EXTRACT_COLUMNS[c][0] if c in EXTRACT_COLUMNS else None),
                    describe(c),
                )
                for c in columns
            ),
            "version": version_facet(manifest.batch_id),
            "columnLineage": identity_lineage(
                source,
                [c for c in columns if c in catalogued],
                "抽取：原样落地 extracted unchanged (text sources land as text)",
            ),
            "ownership": _ownership(resource),
        }
        output_facets = {}
        if not reused:
            output_facets["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    rowCount=manifest.rows,
                    size=manifest.bytes,
                    fileCount=len(manifest.parts),
                    producer=PRODUCER,
                )
            )
        self.step.outputs = [output_dataset(lake, facets, output_facets)]
        batch = _batch_facet("extract", resource.id, manifest, store, _ref(resource, manifest))
        batch.reused = reused
        batch.seconds = manifest.duration_s
        self.step.run_facets["govlake_batch"] = batch


def _landed_types(manifest: Manifest, parts_folder: Path | None) -> dict[str, str]:
    """Column → the Arrow type it landed as (from the parts' Parquet footers)."""
    if parts_folder is None:
        return {}
    import pyarrow.parquet as pq

    types: dict[str, str] = {}
    for part in manifest.parts:
        local = parts_folder / part["name"]
        if local.is_file():
            for column in pq.read_schema(local):
                types.setdefault(column.name, str(column.type))
    return types


@contextmanager
def extract_run(resource: Resource, ingest_date: date, mode: str) -> Iterator[ExtractLineage]:
    """The extraction of one business day of ``resource`` as an OpenLineage run."""
    source = guarded(source_input)(resource)
    lake = naming.lake_dataset(naming.lake_prefix(resource))
    with step_run(
        f"govlake.extract.{resource.id}",
        job_type="EXTRACT",
        inputs=[source] if source else [],
        outputs=[output_dataset(lake)],
        nominal=nominal_day(ingest_date),
        description=(
            f"抽取 {resource.name_zh}（{mode}）到数据湖 · extract {resource.name_en} ({mode}) "
            f"from {resource.system.code} into the lake ({naming.lake_prefix(resource)})"
        ),
    ) as step:
        yield ExtractLineage(step, resource)


# --- load ------------------------------------------------------------------------------------


def raw_schema(resource: Resource):
    """``raw.<table>`` as the loader creates it: catalog fields, then the platform's."""
    return schema_facet(
        [(f.name, f.pg_type, _field_text(resource, f.name)) for f in resource.fields]
        + [(name, kind, text) for name, (kind, text) in RAW_PLATFORM_COLUMNS.items()]
    )


@dataclass
class LoadLineage:
    step: StepRun
    resource: Resource

    @guarded
    def loaded(self, manifest: Manifest, result: LoadResult, store: ObjectStore) -> None:
        resource = self.resource
        ref = _ref(resource, manifest)
        lake = naming.lake_dataset(naming.lake_prefix(resource))
        raw = naming.raw_table_dataset(resource)
        copied = "入库：按目录类型原样载入 loaded unchanged, cast to the catalog type"
        fields = [f.name for f in resource.fields if f.name not in result.missing_columns]
        lineage = {c: [(lake, c, "DIRECT", "IDENTITY", copied)] for c in fields}
        for column in EXTRACT_COLUMNS:
            lineage[column] = [(lake, column, "DIRECT", "IDENTITY", copied)]
        if result.added_columns:
            packed = "入库：未登记列并入 JSON · undeclared columns packed into _extra (jsonb)"
            lineage["_extra"] = [
                (lake, c, "DIRECT", "TRANSFORMATION", packed) for c in result.added_columns
            ]
        self.step.inputs = [
            input_dataset(
                lake,
                facets={"version": version_facet(manifest.batch_id)},
                input_facets={
                    "inputStatistics": (
                        input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                            rowCount=manifest.rows,
                            size=manifest.bytes,
                            fileCount=len(manifest.parts),
                            producer=PRODUCER,
                        )
                    )
                },
            )
        ]
        self.step.outputs = [
            output_dataset(
                raw,
                facets={
                    "schema": raw_schema(resource),
                    "columnLineage": column_lineage(lineage),
                    "ownership": _ownership(resource),
                },
                output_facets={
                    "outputStatistics": (
                        output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                            rowCount=result.loaded_rows, producer=PRODUCER
                        )
                    )
                },
            )
        ]
        batch = _batch_facet("load", resource.id, manifest, store, ref)
        load_quarantined = result.quarantined - manifest.extract_quarantined
        batch.loadedRows = result.loaded_rows
        batch.loadQuarantined = load_quarantined
        if load_quarantined:
            batch.quarantineUris = [*(batch.quarantineUris or []),
                                    store.uri(ref.quarantine_key("load"))]  # fmt: skip
        batch.addedColumns = result.added_columns or None
        batch.missingColumns = result.missing_columns or None
        batch.seconds = round(result.seconds, 3)
        self.step.run_facets["govlake_batch"] = batch


@contextmanager
def load_run(resource: Resource, ingest_date: date, batch_id: str) -> Iterator[LoadLineage]:
    """Loading one landed batch into ``raw`` as an OpenLineage run."""
    lake = naming.lake_dataset(naming.lake_prefix(resource))
    with step_run(
        f"govlake.load.{resource.id}",
        job_type="LOAD",
        inputs=[input_dataset(lake, facets={"version": version_facet(batch_id)})],
        outputs=[output_dataset(naming.raw_table_dataset(resource))],
        nominal=nominal_day(ingest_date),
        description=(
            f"入库 {resource.name_zh} 批次 {batch_id} → raw.{resource.raw_table} · load "
            f"batch {batch_id} of {resource.name_en} into raw.{resource.raw_table}"
        ),
    ) as step:
        yield LoadLineage(step, resource)


# --- quality ---------------------------------------------------------------------------------


def _assertion(result: AuditResult, outcome) -> data_quality_assertions_dataset.Assertion:
    rule = result.rules[outcome.rule_id]
    params: dict[str, Any] = {
        "template": rule.template,
        "expectationType": rule.expectation_type,
        "dimension": rule.dimension,
        "evaluated": outcome.evaluated,
        "failed": outcome.failed,
    }
    if outcome.error:
        params["error"] = safe_error_text(outcome.error)
    return data_quality_assertions_dataset.Assertion(
        assertion=rule.rule_id,
        success=bool(outcome.success),
        column=rule.column or None,
        severity="error" if rule.blocking else "warn",
        name=rule.rule_id,
        description=f"{rule.description_zh} · {rule.description_en}",
        # counts and ratios only: an observed value of a column may be a person's datum
        actual=str(outcome.observed) if isinstance(outcome.observed, int | float) else None,
        params=params,
    )


def _column_metrics(result: AuditResult) -> dict:
    """Null counts where a rule counted exactly them (not-null rules with no condition)."""
    metrics = {}
    for outcome in result.outcomes:
        rule = result.rules[outcome.rule_id]
        if (
            rule.expectation_type == "ExpectColumnValuesToNotBeNull"
            and rule.column
            and not outcome.error
            and not rule.kwargs.get("row_condition")
            and rule.kwargs.get("mostly") in (None, 1, 1.0)
        ):
            metrics[rule.column] = data_quality_metrics_input_dataset.ColumnMetrics(
                nullCount=outcome.failed
            )
    return metrics


@guarded
def quality_recorded(result: AuditResult, started_at: datetime) -> None:
    """One recorded audit of one table as a finished run of ``govlake.quality.<table>``."""
    schema, _, table = result.table.partition(".")
    audited = naming.warehouse_dataset(schema, table)
    rows = result.rows_audited
    if rows is None:  # no GX rule ran: the most rows any rule evaluated
        rows = max((o.evaluated for o in result.outcomes), default=None)
    assertions = data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[_assertion(result, o) for o in result.outcomes], producer=PRODUCER
    )
    metrics = data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        rowCount=rows, columnMetrics=_column_metrics(result), producer=PRODUCER
    )
    input_facets = {"dataQualityAssertions": assertions, "dataQualityMetrics": metrics}
    facets = {"version": version_facet(result.batch_id)} if result.batch_id else {}
    step = StepRun(
        job_name=f"govlake.quality.{result.table}",
        job_type="QUALITY",
        description=(
            f"质量稽核 {result.table}（{result.stage}，{result.trigger}） · quality audit of "
            f"{result.table} ({result.stage} stage, triggered by {result.trigger})"
        ),
        inputs=[input_dataset(audited, facets=facets, input_facets=input_facets)],
        nominal=nominal_day(result.business_date),
        run_facets={
            "govlake_quality": GovlakeQualityRunFacet(
                qualityRunId=result.run_id,
                table=result.table,
                rules=len(result.outcomes),
                rulesFailed=len(result.failed),
                blockingFailed=len(result.blocking_failed),
                suite=result.suite,
                trigger=result.trigger,
                stage=result.stage,
                businessDate=result.business_date.isoformat(),
                resource=result.resource_id,
                batchId=result.batch_id,
                rowsAudited=result.rows_audited,
                dataDocs=result.data_docs,
                producer=PRODUCER,
            )
        },
    )
    record_run(step, started_at)


# --- sensor streams ----------------------------------------------------------------------------

STREAM_COLUMNS = {
    "msg_id": ("text", "消息编号（主键） message id <device_id>-<seq> (primary key)"),
    "device_id": ("text", "设备编号 device id"),
    "seq": ("bigint", "设备消息序号 the device's message counter"),
    "observed_at": ("timestamptz", "观测时间 when observed"),
    "received_at": ("timestamptz", "接收时间 when the consumer received it"),
}


@dataclass
class StreamLoadLineage:
    step: StepRun
    kind: str

    @guarded
    def loaded(
        self, manifest: Manifest, metrics: Mapping[str, str], result: StreamLoadResult, store
    ) -> None:
        from govlake.stream.landing import UNKNOWN_KIND, batch_ref

        lake = naming.lake_dataset(f"raw/sensor/{self.kind}")
        ref = batch_ref(self.kind, date.fromisoformat(manifest.ingest_date), manifest.batch_id)
        self.step.inputs = [
            input_dataset(
                lake,
                facets={"version": version_facet(manifest.batch_id)},
                input_facets={
                    "inputStatistics": (
                        input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                            rowCount=manifest.rows, size=manifest.bytes,
                            fileCount=len(manifest.parts), producer=PRODUCER,
                        )
                    )
                },
            )
        ]  # fmt: skip
        if self.kind != UNKNOWN_KIND and manifest.rows:
            raw = naming.warehouse_dataset("raw", f"sensor__{self.kind}")
            columns = [*STREAM_COLUMNS, *metrics]
            self.step.outputs = [
                output_dataset(
                    raw,
                    facets={
                        "schema": schema_facet(
                            [(c, kind, text) for c, (kind, text) in STREAM_COLUMNS.items()]
                            + [(m, t, f"指标 metric {m}") for m, t in metrics.items()]
                            + [
                                (c, RAW_PLATFORM_COLUMNS[c][0], RAW_PLATFORM_COLUMNS[c][1])
                                for c in ("_batch_id", "_loaded_at")
                            ]
                        ),
                        "columnLineage": identity_lineage(
                            lake, columns, "流式入库：原样载入 loaded unchanged (on conflict skip)"
                        ),
                    },
                    output_facets={
                        "outputStatistics": (
                            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                                rowCount=result.inserted, producer=PRODUCER
                            )
                        )
                    },
                )
            ]
        else:
            self.step.outputs = []
        quarantine = manifest.quarantine_key
        self.step.run_facets["govlake_batch"] = GovlakeBatchRunFacet(
            stage="stream_load",
            resource=f"sensor.{self.kind}",
            batchId=manifest.batch_id,
            ingestDate=manifest.ingest_date,
            mode="stream",
            sourceRows=manifest.source_rows,
            landedRows=result.landed,
            extractQuarantined=manifest.extract_quarantined,
            loadedRows=result.loaded_rows,
            loadQuarantined=result.conflicts,
            manifestUri=store.uri(ref.manifest_key),
            quarantineUris=[store.uri(quarantine)] if quarantine else None,
            seconds=round(result.seconds, 3),
            producer=PRODUCER,
        )


@contextmanager
def stream_load_run(kind: str, batch_id: str) -> Iterator[StreamLoadLineage]:
    """Loading one sensor micro-batch of one kind as an OpenLineage run (streaming)."""
    lake = naming.lake_dataset(f"raw/sensor/{kind}")
    with step_run(
        f"govlake.stream.load.{kind}",
        job_type="LOAD",
        processing_type="STREAMING",
        inputs=[input_dataset(lake, facets={"version": version_facet(batch_id)})],
        description=(
            f"传感器微批次入库 raw.sensor__{kind} · load a {kind} sensor micro-batch into "
            f"raw.sensor__{kind}"
        ),
    ) as step:
        yield StreamLoadLineage(step, kind)


__all__ = ["extract_run", "load_run", "quality_recorded", "raw_schema", "source_input",
           "stream_load_run"]  # fmt: skip
