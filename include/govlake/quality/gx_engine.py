"""The Great Expectations engine of the quality audits: suites in git, SQL pushed down.

Two halves:

- **Suites.** :func:`suite_document` turns a table's :class:`~govlake.quality.model.Rule`
  list into a GX 1.x ExpectationSuite (one expectation per rule, built from
  ``expectation_type`` + ``kwargs``, ``meta`` carrying the rule's platform metadata);
  :func:`write_suites` writes them into the GX *file* context ``expectations/gx`` that is
  kept in git. The files are deterministic — rules sorted by ``rule_id``, ids are uuid5 of
  the rule and suite names, no timestamps — so ``govlake quality sync --check`` can compare
  them byte for byte (:func:`stale_suites`).
- **Runs.** :func:`run_suite` validates a table (or the rows of it matching ``where``, e.g.
  one raw batch) with GX's ``SqlAlchemyExecutionEngine`` on the warehouse: every metric is a
  SQL query, no row is read into pandas. Validation results are stored under
  ``$GOVLAKE_HOME/quality/gx`` and data docs built under ``$GOVLAKE_OUTPUT_DIR/data_docs``
  (an ephemeral GX context configured at run time: nothing of a run lands in the repo).

What GX queries, and why a run validates the batch in passes
--------------------------------------------------------------
GX bundles the *aggregate* metrics of all expectations on the same domain — the unexpected
counts of every column-map expectation, null counts, ``column.max``, ``table.row_count`` —
into one ``SELECT sum(CASE …), …`` scan. Everything else is a query of its own: for each
column-map expectation the unexpected values (``LIMIT partial_unexpected_count``) and, with
``SUMMARY``, the failing rows' keys (``unexpected_index_list``, same limit); uniqueness adds
window/join queries; ``UnexpectedRowsExpectation`` runs its query twice (the rows, and
``COUNT(*)`` over it). A LIMIT query that finds nothing scans the whole batch, so asking for
samples of *passing* expectations costs two extra scans each. Hence:

1. all map and table expectations with ``BASIC`` and ``partial_unexpected_count=0``: the
   bundled scan gives every count; the value queries are ``LIMIT 0`` (free);
2. only the map expectations that found unexpected rows again, with ``SUMMARY``,
   ``partial_unexpected_count=failing_cap`` and ``unexpected_index_column_names`` = the
   rules' key columns. GX computes their counts once more (one bundled scan: its metric
   cache does not carry over from one validation to the next) and runs the two LIMIT
   queries, which stop after ``failing_cap`` failing rows. GX has no
   ``unexpected_index_list`` for compound columns in SQL; those are validated apart with
   ``include_unexpected_rows`` and their keys read from the rows;
3. the ``UnexpectedRowsExpectation`` rules with ``COMPLETE`` (their rows are the failing
   keys). GX fetches its first rows with ``fetchmany(200)`` on a client-side cursor, which
   makes PostgreSQL compute *and send* every unexpected row; :func:`_install_metric_overrides`
   registers the same metric with the limit pushed into the SQL (``LIMIT failing_cap``).

The passes' results are merged into one validation result per run (stored, rendered).

A ``where`` restriction is a view ``gx_batch.<name>`` (``select * from <table> where …``)
validated as a GX table asset and dropped after the run: as a GX *query* asset, GX would
execute the whole query once just to learn its column names (``column_reflection_fallback``
reads every row of the batch into the client).

Samples (≤ 20) and failing values of L3/L4 columns are masked (:mod:`.masking`), in the
outcomes and in what is stored and rendered; stored results keep at most 20 rows per rule.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from govlake import config
from govlake.quality.masking import mask
from govlake.quality.model import DIMENSIONS, SEVERITIES, TEMPLATES, Rule, RuleOutcome

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.expectations.expectation import Expectation

logger = logging.getLogger(__name__)

EXPECTATIONS_ROOT = config.PROJECT_ROOT / "expectations"
GX_DIR = "gx"
SAMPLE_LIMIT = 20
DEFAULT_FAILING_CAP = 1000
BATCH_VIEW_SCHEMA = "gx_batch"
DATASOURCE_NAME = "warehouse"
DATA_DOCS_SITE = "local_site"
DOCS_RESULTS_LIMIT = 100  # validation results listed on the data docs index
# uuid5 namespace of the ids in the suites: the same rule always gets the same id
ID_NAMESPACE = uuid.UUID("5b0f2d6e-3c1a-4f7e-9a41-6b7d1e2f4407")
SQL_EXPECTATION = "UnexpectedRowsExpectation"
_VIEW_LOCK = 4407830202  # serialises the first ``create schema gx_batch``
GX_SEVERITY = {"blocking": "critical", "warning": "warning"}

FILE_CONTEXT_YAML = f"""\
# Great Expectations (1.x) file context of govlake. Generated by
# govlake.quality.gx_engine.write_suites — `govlake quality sync` rewrites it.
#
# expectations/ holds one suite per table, generated from the catalog's data elements,
# code sets and the configured rules: do not edit the suites by hand, change the rules.
# Platform audits (govlake.quality.gx_engine.run_suite) use an ephemeral context built
# from the same suites and keep their validation results in $GOVLAKE_HOME/quality/gx and
# their data docs in $GOVLAKE_OUTPUT_DIR/data_docs. The uncommitted/ folders below are
# used only when this context is opened by hand: gx.get_context(project_root_dir=
# "expectations"); they are ignored by git.
config_version: 4.0
config_variables_file_path: uncommitted/config_variables.yml
plugins_directory: plugins/
stores:
  expectations_store:
    class_name: ExpectationsStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      base_directory: expectations/
      suppress_store_backend_id: true
  validation_results_store:
    class_name: ValidationResultsStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      base_directory: uncommitted/validations/
  checkpoint_store:
    class_name: CheckpointStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      suppress_store_backend_id: true
      base_directory: uncommitted/checkpoints/
  validation_definition_store:
    class_name: ValidationDefinitionStore
    store_backend:
      class_name: TupleFilesystemStoreBackend
      base_directory: uncommitted/validation_definitions/
expectations_store_name: expectations_store
validation_results_store_name: validation_results_store
checkpoint_store_name: checkpoint_store
data_docs_sites:
  {DATA_DOCS_SITE}:
    class_name: SiteBuilder
    show_how_to_buttons: false
    store_backend:
      class_name: TupleFilesystemStoreBackend
      base_directory: uncommitted/data_docs/{DATA_DOCS_SITE}/
    site_index_builder:
      class_name: DefaultSiteIndexBuilder
      validation_results_limit: {DOCS_RESULTS_LIMIT}
analytics_enabled: false
data_context_id: {uuid.uuid5(ID_NAMESPACE, "context:govlake")}
fluent_datasources: {{}}
"""

GITIGNORE = """\
# written by GX when the context is opened by hand; platform runs write outside the repo
gx/uncommitted/
gx/plugins/
"""


class GxRunError(RuntimeError):
    """A suite could not be run at all (no table, no database); single rules never raise."""


# --------------------------------------------------------------------------- suites


def _expectation_id(rule_id: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"rule:{rule_id}"))


def _suite_id(suite_name: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"suite:{suite_name}"))


def rule_meta(rule: Rule) -> dict[str, Any]:
    """What an expectation's ``meta`` carries: the rule's platform metadata."""
    return {
        "rule_id": rule.rule_id,
        "table": rule.table,
        "department": rule.department,
        "resource_id": rule.resource_id,
        "template": rule.template,
        "template_zh": TEMPLATES.get(rule.template, ("",))[0],
        "dimension": rule.dimension,
        "dimension_zh": DIMENSIONS.get(rule.dimension, ("",))[0],
        "severity": rule.severity,
        "severity_zh": SEVERITIES.get(rule.severity, ("",))[0],
        "origin": rule.origin,
        "stage": rule.stage,
        "column": rule.column,
        "sensitivity": rule.sensitivity,
        "key_columns": list(rule.key_columns),
        "options": dict(getattr(rule, "options", None) or {}),
        "description_zh": rule.description_zh,
        "description_en": rule.description_en,
    }


def build_expectation(rule: Rule) -> Expectation:
    """The GX expectation of a rule; ``ValueError`` says why a rule is not a valid one."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import Expectation

    expectation_class = getattr(gxe, rule.expectation_type, None)
    if not (isinstance(expectation_class, type) and issubclass(expectation_class, Expectation)):
        raise ValueError(
            f"rule {rule.rule_id}: {rule.expectation_type!r} is not a GX expectation type"
        )
    reserved = {"id", "meta", "severity"} & set(rule.kwargs)
    if reserved:
        raise ValueError(f"rule {rule.rule_id}: kwargs must not set {sorted(reserved)}")
    try:
        return expectation_class(
            **rule.kwargs,
            id=_expectation_id(rule.rule_id),
            meta=rule_meta(rule),
            severity=GX_SEVERITY.get(rule.severity, "critical"),
        )
    except Exception as error:  # pydantic's ValidationError, TypeError: bad kwargs
        raise ValueError(
            f"rule {rule.rule_id}: invalid {rule.expectation_type} kwargs: {error}"
        ) from error


def _suite_rules(suite_name: str, rules: Iterable[Rule]) -> list[Rule]:
    selected = sorted((r for r in rules if r.suite == suite_name), key=lambda r: r.rule_id)
    seen: set[str] = set()
    for rule in selected:
        if rule.rule_id in seen:
            raise ValueError(f"suite {suite_name}: rule {rule.rule_id} appears twice")
        seen.add(rule.rule_id)
    return selected


def _suite(suite_name: str, expectations: Sequence[Expectation]):
    from great_expectations.core.expectation_suite import ExpectationSuite

    return ExpectationSuite(
        name=suite_name,
        # as configurations: a suite refuses Expectation objects that already have an id
        expectations=[expectation.configuration for expectation in expectations],
        id=_suite_id(suite_name),
        notes="Generated by govlake (`govlake quality sync`) from the catalog and the "
        "configured quality rules; edit the rules, not this file.",
    )


def suite_document(suite_name: str, rules: list[Rule]) -> dict:
    """The GX ExpectationSuite (as its JSON document) of the rules of ``suite_name``.

    Rules of other suites in ``rules`` are ignored; expectations are ordered by rule_id.
    Raises ``ValueError`` for a rule that is not a valid GX expectation.
    """
    from great_expectations.core.expectation_suite import expectationSuiteSchema

    expectations = [build_expectation(rule) for rule in _suite_rules(suite_name, rules)]
    return expectationSuiteSchema.dump(_suite(suite_name, expectations))


def suite_json(suite_name: str, rules: list[Rule]) -> str:
    """The exact text :func:`write_suites` writes for a suite."""
    document = suite_document(suite_name, rules)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def suite_path(suite_name: str, context_root: Path = EXPECTATIONS_ROOT) -> Path:
    """Where the file context keeps a suite: GX splits the name on dots into folders."""
    parts = suite_name.split(".")
    return Path(context_root, GX_DIR, "expectations", *parts[:-1], parts[-1] + ".json")


def _context_files(context_root: Path) -> dict[Path, str]:
    return {
        Path(context_root, GX_DIR, "great_expectations.yml"): FILE_CONTEXT_YAML,
        Path(context_root, ".gitignore"): GITIGNORE,
    }


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _suite_names(rules: Iterable[Rule]) -> list[str]:
    return sorted({rule.suite for rule in rules})


def write_suites(
    rules: list[Rule], context_root: Path = EXPECTATIONS_ROOT, *, prune: bool = False
) -> list[Path]:
    """Write the file context and one suite per table of ``rules``; return the suite files.

    A file is rewritten only when its text changes. ``prune=True`` also deletes the suites
    of tables no longer in ``rules`` (pass the complete rule set when you use it).
    """
    context_root = Path(context_root)
    for path, text in _context_files(context_root).items():
        _write_if_changed(path, text)
    written = []
    for name in _suite_names(rules):
        path = suite_path(name, context_root)
        _write_if_changed(path, suite_json(name, rules))
        written.append(path)
    if prune:
        for path in _extra_suite_files(set(written), context_root):
            path.unlink()
    return written


def _extra_suite_files(expected: set[Path], context_root: Path) -> list[Path]:
    folder = Path(context_root, GX_DIR, "expectations")
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*.json") if p not in expected)


def stale_suites(rules: list[Rule], context_root: Path = EXPECTATIONS_ROOT) -> list[Path]:
    """Files :func:`write_suites` (with ``prune=True``) would create, change or delete."""
    context_root = Path(context_root)
    stale = [
        path
        for path, text in _context_files(context_root).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    expected = set()
    for name in _suite_names(rules):
        path = suite_path(name, context_root)
        expected.add(path)
        if not path.exists() or path.read_text(encoding="utf-8") != suite_json(name, rules):
            stale.append(path)
    return stale + _extra_suite_files(expected, context_root)


# --------------------------------------------------------------------------- runs


@dataclass
class SuiteRun:
    """One GX validation of a suite: the outcomes, and where GX put the result and docs."""

    suite: str
    run_id: str
    where: str | None
    outcomes: list[RuleOutcome]
    rows_audited: int
    # the failing values (masked like samples), aligned with each outcome's failing_keys
    failing_values: dict[str, list[Any]] = field(default_factory=dict)
    gx_result_id: str | None = None  # "<suite folders>/<run>/<run time>/<batch id>"
    result_path: Path | None = None  # the stored validation result (JSON)
    data_docs_index: Path | None = None
    data_docs_page: Path | None = None  # this run's validation page
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.outcomes)

    @property
    def data_docs(self) -> Path | None:
        """The page to link for this run: its validation page, else the site's index."""
        return self.data_docs_page or self.data_docs_index

    def outcome(self, rule_id: str) -> RuleOutcome:
        return next(o for o in self.outcomes if o.rule_id == rule_id)


def results_dir() -> Path:
    """Where validation results are stored (``$GOVLAKE_HOME/quality/gx``)."""
    return config.home() / "quality" / "gx"


def data_docs_dir() -> Path:
    """Where the data docs site is built (``$GOVLAKE_OUTPUT_DIR/data_docs``)."""
    return config.output_dir() / "data_docs"


def _runtime_context():
    """An ephemeral GX context whose results and data docs live outside the repo."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        ProgressBarsConfig,
    )

    def in_memory(class_name: str) -> dict:
        return {"class_name": class_name, "store_backend": {"class_name": "InMemoryStoreBackend"}}

    project_config = DataContextConfig(
        stores={
            "expectations_store": in_memory("ExpectationsStore"),
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(results_dir() / "validations"),
                },
            },
            "checkpoint_store": in_memory("CheckpointStore"),
            "validation_definition_store": in_memory("ValidationDefinitionStore"),
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs_dir()),
                },
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": DOCS_RESULTS_LIMIT,
                },
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


_OVERRIDES_INSTALLED = False


def _install_metric_overrides() -> None:
    """Push the row limit of ``unexpected_rows_query.table`` into its SQL.

    GX runs the rule's query and keeps ``fetchmany(200)`` of it: on PostgreSQL's client-side
    cursor that computes and transfers every unexpected row (for a check-digit rule failing
    on most rows of a million-row batch: the whole batch, twice the function calls). This
    registers the same metric for the SQL engine with ``LIMIT n`` in the query, ``n`` being
    the run's ``partial_unexpected_count`` (``failing_cap``), at least GX's own 200.
    """
    global _OVERRIDES_INSTALLED
    if _OVERRIDES_INSTALLED:
        return
    import sqlalchemy as sa
    from great_expectations.constants import MAX_RESULT_RECORDS
    from great_expectations.core.metric_domain_types import MetricDomainTypes
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations.metrics.metric_provider import metric_value
    from great_expectations.expectations.metrics.query_metrics.query_table.unexpected_rows_query_table import (  # noqa: E501
        UnexpectedRowsQueryTable,
    )

    registry_logger = logging.getLogger("great_expectations.expectations.registry")
    level = registry_logger.level
    registry_logger.setLevel(logging.ERROR)  # "overwriting metric_provider" is the point
    try:

        class LimitedUnexpectedRowsQueryTable(UnexpectedRowsQueryTable):
            metric_name = "unexpected_rows_query.table"
            value_keys = ("unexpected_rows_query",)

            @metric_value(engine=SqlAlchemyExecutionEngine)
            def _sqlalchemy(
                cls,
                execution_engine: SqlAlchemyExecutionEngine,
                metric_domain_kwargs: dict,
                metric_value_kwargs: dict,
                metrics: dict[str, Any],
                runtime_configuration: dict,
            ) -> list[dict]:
                batch_selectable, _, _ = execution_engine.get_compute_domain(
                    metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
                )
                query = cls._get_query_from_metric_value_kwargs(metric_value_kwargs)
                subquery = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
                    query=query,
                    batch_selectable=batch_selectable,
                    execution_engine=execution_engine,
                )
                result_format = (runtime_configuration or {}).get("result_format")
                limit = MAX_RESULT_RECORDS
                if isinstance(result_format, dict):
                    limit = max(limit, int(result_format.get("partial_unexpected_count") or 0))
                limited = f"SELECT * FROM ({subquery}) AS unexpected_rows LIMIT {limit}"
                rows = execution_engine.execute_query(sa.text(limited)).fetchall()
                return [row._asdict() for row in rows]

    finally:
        registry_logger.setLevel(level)
    _OVERRIDES_INSTALLED = True


def _check_parameters(rule: Rule, parameters: dict) -> None:
    """``ValueError`` if the rule needs a suite parameter the run does not give.

    GX substitutes suite parameters for the whole suite at once and raises for the suite
    on the first one missing; checked rule by rule, only the rule that needs it errs.
    """
    import copy

    from great_expectations.core.suite_parameters import build_suite_parameters

    try:
        build_suite_parameters(copy.deepcopy(dict(rule.kwargs)), suite_parameters=parameters)
    except Exception as error:
        raise ValueError(f"rule {rule.rule_id}: {error}") from error


def _view_name(table: str, run_id: str) -> str:
    digest = hashlib.sha1(f"{run_id}\0{uuid.uuid4()}".encode()).hexdigest()[:12]
    base = re.sub(r"[^a-z0-9_]+", "_", table.split(".")[-1].lower())[:40]
    return f"{base}__{digest}"


def _create_batch_view(table: str, where: str, run_id: str) -> str:
    import psycopg
    from psycopg import sql

    schema, name = table.split(".", 1)
    view = _view_name(table, run_id)
    with psycopg.connect(config.libpq_url(config.warehouse_url()), autocommit=True) as conn:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (_VIEW_LOCK,))
            conn.execute(
                sql.SQL("create schema if not exists {}").format(sql.Identifier(BATCH_VIEW_SCHEMA))
            )
        conn.execute(
            sql.SQL("create view {}.{} as select * from {}.{} where ({})").format(
                sql.Identifier(BATCH_VIEW_SCHEMA),
                sql.Identifier(view),
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(where),  # the caller's own SQL condition, e.g. _batch_id = 'B1'
            )
        )
    return view


def _drop_batch_view(view: str) -> None:
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(config.libpq_url(config.warehouse_url()), autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop view if exists {}.{}").format(
                    sql.Identifier(BATCH_VIEW_SCHEMA), sql.Identifier(view)
                )
            )
    except Exception:  # a view left behind is harmless; the audit's outcome is not
        logger.warning("could not drop %s.%s", BATCH_VIEW_SCHEMA, view, exc_info=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    return value


def _error_of(result: ExpectationValidationResult) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "the expectation raised")
    messages = [
        str(entry.get("exception_message"))
        for entry in info.values()
        if isinstance(entry, dict) and entry.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _is_map_expectation(expectation: Expectation) -> bool:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    return isinstance(
        expectation, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    )


def _keys_from_rows(expectation: Expectation) -> bool:
    """Whether GX gives failing keys only as unexpected rows (compound columns in SQL)."""
    return expectation.expectation_type == "expect_compound_columns_to_be_unique"


def _rule_columns(rule: Rule, expectation: Expectation) -> list[str]:
    """The columns whose values a failing row shows (the rule's own, not its keys)."""
    for attribute in ("column", "column_list"):
        value = getattr(expectation, attribute, None)
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return list(value)
    pair = [getattr(expectation, name, None) for name in ("column_A", "column_B")]
    if all(isinstance(name, str) for name in pair):
        return pair  # type: ignore[return-value]
    return [rule.column] if rule.column else []


def _row_value(row: dict, columns: list[str]) -> Any:
    values = [row.get(column) for column in columns if column in row]
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return "|".join("" if v is None else str(v) for v in values)


def _masked(value: Any, grade: str) -> Any:
    """A value as it may be shown (JSON-able); the values of a multi-column one each."""
    if isinstance(value, dict):
        return {str(k): _masked(v, grade) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_masked(v, grade) for v in value]
    return _jsonable(mask(_jsonable(value), grade))


@dataclass
class _Detail:
    """What one rule's results give, before masking."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)  # aligned with keys
    samples: list[Any] = field(default_factory=list)


def _map_detail(rule: Rule, expectation: Expectation, result: dict, cap: int) -> _Detail:
    detail = _Detail()
    columns = _rule_columns(rule, expectation)
    entries = result.get("partial_unexpected_index_list") or result.get("unexpected_rows") or []
    for entry in entries[:cap]:
        if not isinstance(entry, dict) or not all(k in entry for k in rule.key_columns):
            continue
        detail.keys.append({k: _jsonable(entry[k]) for k in rule.key_columns})
        detail.values.append(_row_value(entry, columns))
    unexpected = result.get("partial_unexpected_list") or []
    detail.samples = [v for v in unexpected if v is not None][:SAMPLE_LIMIT]
    return detail


def _sql_detail(rule: Rule, expectation: Expectation, result: dict, cap: int) -> _Detail:
    detail = _Detail()
    columns = _rule_columns(rule, expectation)
    rows = ((result.get("details") or {}).get("unexpected_rows")) or []
    for row in rows[:cap]:
        if not isinstance(row, dict):
            continue
        if rule.key_columns and all(k in row for k in rule.key_columns):
            detail.keys.append({k: _jsonable(row[k]) for k in rule.key_columns})
            detail.values.append(_row_value(row, columns))
        value = _row_value(row, columns)
        if value is not None and len(detail.samples) < SAMPLE_LIMIT:
            detail.samples.append(value)
    return detail


def _mask_stored(rule: Rule, expectation: Expectation, result: dict) -> None:
    """Trim a result to the samples and mask its L3/L4 values, in place, before storing."""
    grade = rule.sensitivity
    columns = _rule_columns(rule, expectation)
    if "partial_unexpected_list" in result:
        result["partial_unexpected_list"] = [
            _masked(v, grade) for v in result["partial_unexpected_list"][:SAMPLE_LIMIT]
        ]
    if "partial_unexpected_counts" in result:
        result["partial_unexpected_counts"] = [
            {**entry, "value": _masked(entry.get("value"), grade)}
            if isinstance(entry, dict) and "value" in entry
            else entry
            for entry in result["partial_unexpected_counts"][:SAMPLE_LIMIT]
        ]
    if "partial_unexpected_index_list" in result:
        trimmed = []
        for entry in result["partial_unexpected_index_list"][:SAMPLE_LIMIT]:
            if isinstance(entry, dict):
                entry = {
                    k: (_masked(v, grade) if k in columns and k not in rule.key_columns else v)
                    for k, v in entry.items()
                }
            trimmed.append(entry)
        result["partial_unexpected_index_list"] = trimmed
    details = result.get("details")
    for holder in (result, details if isinstance(details, dict) else {}):
        if isinstance(holder.get("unexpected_rows"), list):  # whole rows: keys + the column
            holder["unexpected_rows"] = [
                _shown_row(rule, columns, row) for row in holder["unexpected_rows"][:SAMPLE_LIMIT]
            ]
    for key in ("unexpected_list", "unexpected_index_list"):  # COMPLETE's full lists
        result.pop(key, None)


def _shown_row(rule: Rule, columns: list[str], row: Any) -> Any:
    if not isinstance(row, dict):
        return row
    kept = {k: row[k] for k in (*rule.key_columns, *columns) if k in row}
    return {
        k: (_jsonable(v) if k in rule.key_columns else _masked(v, rule.sensitivity))
        for k, v in kept.items()
    }


def _validate(batch, suite_name: str, expectations: list, result_format: dict, parameters):
    """One GX validation of ``expectations`` on ``batch`` (None when there are none)."""
    if not expectations:
        return None
    return batch.validate(
        _suite(suite_name, expectations),
        result_format=result_format,
        expectation_parameters=parameters or None,
    )


def _is_sql_expectation(expectation: Expectation) -> bool:
    from great_expectations.expectations.core.unexpected_rows_expectation import (
        UnexpectedRowsExpectation,
    )

    return isinstance(expectation, UnexpectedRowsExpectation)


def _row_count(batch) -> int:
    from great_expectations.validator.metric_configuration import MetricConfiguration
    from great_expectations.validator.validator import Validator

    validator = Validator(execution_engine=batch.data.execution_engine, batches=[batch])
    metric = MetricConfiguration("table.row_count", metric_domain_kwargs={"batch_id": batch.id})
    return int(validator.get_metric(metric))


def run_suite(
    suite_name: str,
    rules: list[Rule],
    *,
    where: str | None = None,
    run_id: str,
    parameters: dict | None = None,
    failing_cap: int = DEFAULT_FAILING_CAP,
) -> SuiteRun:
    """Validate the table of ``suite_name`` (rows matching ``where``) with GX, in SQL.

    ``parameters`` fill the suite parameters of the kwargs (``{"$PARAMETER": "as_of"}``).
    Each rule yields one :class:`RuleOutcome`; a rule GX cannot evaluate (bad kwargs, a
    missing column, SQL that fails) gets ``error`` set — the others are still evaluated.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    selected = _suite_rules(suite_name, rules)
    if not selected:
        raise ValueError(f"no rules for suite {suite_name!r}")
    table = selected[0].table
    if "." not in table:
        raise ValueError(f"suite {suite_name}: table {table!r} is not '<schema>.<table>'")
    _install_metric_overrides()

    outcomes: dict[str, RuleOutcome] = {}
    expectations: dict[str, Expectation] = {}
    for rule in selected:
        try:
            expectations[rule.rule_id] = build_expectation(rule)
            _check_parameters(rule, parameters or {})
        except ValueError as error:
            expectations.pop(rule.rule_id, None)
            outcomes[rule.rule_id] = RuleOutcome(
                rule.rule_id, success=False, evaluated=0, failed=0, error=str(error)
            )
    by_id = {rule.rule_id: rule for rule in selected}

    context = _runtime_context()
    view = _create_batch_view(table, where, run_id) if where else None
    try:
        datasource = context.data_sources.add_postgres(
            DATASOURCE_NAME, connection_string=config.warehouse_url()
        )
        schema, name = (BATCH_VIEW_SCHEMA, view) if view else table.split(".", 1)
        try:
            asset = datasource.add_table_asset(suite_name, table_name=name, schema_name=schema)
            batch = asset.add_batch_definition_whole_table("batch").get_batch()
        except Exception as error:
            raise GxRunError(f"cannot validate {table}: {error}") from error

        def fresh(ids) -> list:  # an expectation belongs to one suite: build each anew
            return [build_expectation(by_id[i]) for i in ids]

        context.suites.add(_suite(suite_name, fresh(expectations)))  # for the data docs

        map_ids = [i for i, e in expectations.items() if _is_map_expectation(e)]
        sql_ids = [i for i, e in expectations.items() if _is_sql_expectation(e)]
        table_ids = [i for i in expectations if i not in map_ids and i not in sql_ids]
        key_columns = next(
            (list(by_id[i].key_columns) for i in map_ids if by_id[i].key_columns), []
        )

        results: dict[str, ExpectationValidationResult] = {}
        validations: list[ExpectationSuiteValidationResult] = []

        def collect(validation) -> None:
            if validation is None:
                return
            validations.append(validation)
            for item in validation.results:
                rule_id = item.expectation_config.meta["rule_id"]
                if rule_id in results and _error_of(item) is not None:
                    # the samples' queries failed where the counts did not: keep the counts
                    logger.warning("samples of %s: %s", rule_id, _error_of(item))
                    continue
                results[rule_id] = item

        # 1: every count in one bundled scan; no samples yet (LIMIT 0)
        collect(
            _validate(
                batch,
                suite_name,
                fresh(map_ids + table_ids),
                {"result_format": "BASIC", "partial_unexpected_count": 0},
                parameters,
            )
        )
        # 2: samples and failing keys of the map rules that found unexpected rows
        failing = [
            i
            for i in map_ids
            if i in results
            and _error_of(results[i]) is None
            and (results[i].result or {}).get("unexpected_count")
        ]
        if failing and failing_cap > 0:
            summary = {"result_format": "SUMMARY", "partial_unexpected_count": failing_cap}
            by_index = [i for i in failing if not _keys_from_rows(expectations[i])]
            by_rows = [i for i in failing if _keys_from_rows(expectations[i])]
            if key_columns:
                summary["unexpected_index_column_names"] = key_columns
            collect(_validate(batch, suite_name, fresh(by_index), summary, parameters))
            # GX has no unexpected_index_list for compound columns in SQL: their rows
            rows = {**summary, "include_unexpected_rows": True}
            rows.pop("unexpected_index_column_names", None)
            collect(_validate(batch, suite_name, fresh(by_rows), rows, parameters))
        # 3: hand-written SQL rules: their rows are the failing keys
        collect(
            _validate(
                batch,
                suite_name,
                fresh(sql_ids),
                {"result_format": "COMPLETE", "partial_unexpected_count": max(failing_cap, 1)},
                parameters,
            )
        )

        rows_audited = next(
            (
                int(r.result["element_count"])
                for r in results.values()
                if (r.result or {}).get("element_count") is not None
            ),
            None,
        )
        if rows_audited is None:
            rows_audited = _row_count(batch)

        failing_values: dict[str, list[Any]] = {}
        for rule_id, expectation in expectations.items():
            rule = by_id[rule_id]
            result = results.get(rule_id)
            if result is None:
                outcomes[rule_id] = RuleOutcome(
                    rule_id, success=False, evaluated=0, failed=0, error="GX returned no result"
                )
                continue
            outcome, values = _outcome(rule, expectation, result, rows_audited, failing_cap)
            outcomes[rule_id] = outcome
            failing_values[rule_id] = values
            _mask_stored(rule, expectation, result.result if result.result is not None else {})

        stored = _store(context, suite_name, run_id, started_at, validations, selected, results)
    finally:
        if view:
            _drop_batch_view(view)

    return SuiteRun(
        suite=suite_name,
        run_id=run_id,
        where=where,
        outcomes=[outcomes[rule.rule_id] for rule in selected],
        rows_audited=rows_audited,
        failing_values=failing_values,
        seconds=time.perf_counter() - started,
        **stored,
    )


def _outcome(
    rule: Rule,
    expectation: Expectation,
    result: ExpectationValidationResult,
    rows_audited: int,
    cap: int,
) -> tuple[RuleOutcome, list[Any]]:
    error = _error_of(result)
    if error is not None:
        return RuleOutcome(rule.rule_id, False, evaluated=0, failed=0, error=error), []
    body = result.result or {}
    success = bool(result.success)
    if _is_map_expectation(expectation):
        detail = _map_detail(rule, expectation, body, cap)
        evaluated = int(body.get("element_count") or 0)
        failed = int(body.get("unexpected_count") or 0)
        observed = None
    elif _is_sql_expectation(expectation):
        detail = _sql_detail(rule, expectation, body, cap)
        evaluated = rows_audited
        failed = int(body.get("observed_value") or 0)
        observed = failed
    else:
        detail = _Detail()
        evaluated, failed = 1, 0 if success else 1
        observed = _jsonable(body.get("observed_value"))
    grade = rule.sensitivity
    outcome = RuleOutcome(
        rule.rule_id,
        success=success,
        evaluated=evaluated,
        failed=failed,
        observed=observed,
        samples=[_masked(v, grade) for v in detail.samples],
        failing_keys=detail.keys,
    )
    return outcome, [_masked(v, grade) for v in detail.values]


def _store(context, suite_name, run_id, started_at, validations, rules, results) -> dict:
    """Store the merged validation result and build its data docs; their locations."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.validator.validation_statistics import calc_validation_statistics

    if not validations:
        return {}
    ordered = [results[rule.rule_id] for rule in rules if rule.rule_id in results]
    statistics = calc_validation_statistics(ordered)
    run_identifier = RunIdentifier(run_name=run_id.replace("/", "_"), run_time=started_at)
    first = validations[0]
    meta = dict(first.meta)
    meta.update(run_id=run_identifier, validation_time=started_at, govlake_run_id=run_id)
    suite_validation = ExpectationSuiteValidationResult(
        success=statistics.success,
        results=ordered,
        suite_name=suite_name,
        statistics={
            "evaluated_expectations": statistics.evaluated_expectations,
            "successful_expectations": statistics.successful_expectations,
            "unsuccessful_expectations": statistics.unsuccessful_expectations,
            "success_percent": statistics.success_percent,
        },
        suite_parameters=first.suite_parameters,
        meta=meta,
        batch_id=first.batch_id,
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=run_identifier,
        batch_identifier=first.batch_id,
    )
    store = context.validation_results_store
    store.set(key, suite_validation)
    located: dict[str, Any] = {
        "gx_result_id": "/".join(str(part) for part in key.to_tuple()),
        "result_path": _file_path(store.store_backend.get_url_for_key(key.to_tuple())),
    }
    try:
        context.build_data_docs(site_names=[DATA_DOCS_SITE], resource_identifiers=[key])
        page = context.get_docs_sites_urls(resource_identifier=key, site_names=[DATA_DOCS_SITE])
        located["data_docs_page"] = _file_path(page[0]["site_url"]) if page else None
        located["data_docs_index"] = data_docs_dir() / "index.html"
    except Exception:  # the audit stands without its pages; say so in the log
        logger.warning("building data docs for %s failed", suite_name, exc_info=True)
    return located


def _gx_version() -> str:
    import great_expectations as gx

    return gx.__version__


def _file_path(url: str | None) -> Path | None:
    if not url:
        return None
    return Path(unquote(urlsplit(url).path))


def rules_by_suite(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    grouped: dict[str, list[Rule]] = defaultdict(list)
    for rule in rules:
        grouped[rule.suite].append(rule)
    return dict(grouped)
