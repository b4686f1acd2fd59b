"""What a quality rule is, and what auditing one produces.

A :class:`Rule` is one expectation of a Great Expectations suite with the platform's
metadata: its quality dimension (GB/T 36344), its severity, the template it was made from
and where it came from (generated from the catalog, or configured by hand). Rules are
turned into GX expectations (``meta`` carries everything here) and written to the file
context in ``expectations/``; an audit runs a suite and yields one :class:`RuleOutcome`
per rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# GB/T 36344-2018 数据质量评价指标
DIMENSIONS: dict[str, tuple[str, str]] = {
    "normativity": ("规范性", "conforms to standards, formats and code sets"),
    "completeness": ("完整性", "required values and records are present"),
    "accuracy": ("准确性", "values are true: check characters, plausible ranges"),
    "consistency": ("一致性", "agrees across fields, tables and departments"),
    "timeliness": ("时效性", "arrives and is updated on time"),
    "accessibility": ("可访问性", "can be read by those entitled to it"),
}
SEVERITIES: dict[str, tuple[str, str]] = {
    "blocking": ("阻断", "stops the batch from flowing on"),
    "warning": ("警告", "passes, recorded and tracked by a work order"),
}
# Rule templates a governance user applies to a table by configuration alone.
TEMPLATES: dict[str, tuple[str, str]] = {
    "completeness": ("完整性检查", "column values are not null/blank"),
    "format": ("格式检查", "column values match the data element's pattern"),
    "value_domain": ("值域检查", "column values are codes of the code set / within a range"),
    "check_algorithm": ("校验码检查", "identifiers pass their check (GB 11643, GB 32100)"),
    "uniqueness": ("唯一性检查", "a column (or column set) identifies one row"),
    "referential": ("参照完整性检查", "column values exist in another table"),
    "fluctuation": ("波动检查", "row count or a metric within its recent range"),
    "timeliness": ("时效性检查", "data is fresh / dates are not in the future"),
    "schema": ("结构检查", "the delivered columns are the catalogued ones"),
    "sql": ("自定义规则", "a hand-written condition that marks failing rows"),
}
ORIGINS = ("generated", "configured")
# Where an audit runs (the hand-overs): a raw batch before it flows on, a library table
# after the libraries are built.
STAGES = ("batch", "library")


@dataclass(frozen=True)
class Rule:
    """One quality rule: a GX expectation plus the platform's metadata."""

    rule_id: str  # stable: "<table>:<template>:<column or name>"
    table: str  # "<schema>.<table>", e.g. "raw.police__person", "basic.population"
    department: str  # the owning department's code (catalog)
    template: str
    dimension: str
    severity: str
    expectation_type: str  # the GX expectation class, e.g. "ExpectColumnValuesToNotBeNull"
    kwargs: dict[str, Any]  # the expectation's arguments (column, value_set, mostly, ...)
    description_zh: str
    description_en: str
    origin: str = "generated"
    stage: str = "batch"
    column: str | None = None
    resource_id: str | None = None  # the catalog resource a raw table holds
    sensitivity: str = "L1"  # the column's grade: samples of L3/L4 values are masked
    key_columns: tuple[str, ...] = ()  # identify a failing row (primary key)
    # the platform's own settings of a rule (not GX arguments): fluctuation window and
    # tolerance, timeliness maximum age
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def suite(self) -> str:
        return self.table

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"


@dataclass
class RuleOutcome:
    """What auditing one rule found in one run."""

    rule_id: str
    success: bool
    evaluated: int  # rows (or, for table-level rules, 1) the rule looked at
    failed: int  # rows (or 1) that broke it
    observed: Any = None  # table-level rules: the observed value (row count, age, …)
    samples: list[Any] = field(default_factory=list)  # failing values, masked if sensitive
    failing_keys: list[dict[str, Any]] = field(default_factory=list)  # capped
    error: str | None = None  # the rule could not be evaluated (counts as failed)
