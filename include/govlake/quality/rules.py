"""The quality rules: generated from the catalog, configured by hand from templates.

Two sources, one list of :class:`~govlake.quality.model.Rule`:

* **generated** — from each catalog field's data element and code set: required fields
  are complete, values match the element's pattern, codes belong to the code set,
  numbers lie in the element's range, identifiers pass their check algorithm
  (GB 11643, GB 32100, mobile numbers), no undeclared columns arrive, the primary key
  identifies one row of a batch; plus the *load gate* (rows the loader quarantined, by
  cause) and, for full snapshots, the row count against the recent batches.
* **configured** — ``include/quality/rules/*.yaml``: a governance user applies a
  template (completeness, format, value_domain, check_algorithm, uniqueness, referential,
  fluctuation, timeliness, schema, sql) to a table by configuration alone: business
  rules across fields, tables and departments, on raw batches and on the libraries.

Rules with ``expectation_type`` ``govlake.*`` are evaluated by the platform from its own
records (the quarantine, the batch ledger), because no query of the loaded table can see
a row that was never loaded; every other rule is a Great Expectations expectation.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from govlake.catalog.model import Catalog, Resource
from govlake.quality.model import DIMENSIONS, SEVERITIES, STAGES, TEMPLATES, Rule

RULES_DIR = Path(__file__).resolve().parents[2] / "quality" / "rules"

# the platform-evaluated expectation types (not GX): see evaluate_platform_rules
LOAD_GATE = "govlake.LoadGate"
BATCH_DELIVERED = "govlake.BatchDelivered"
SENSOR_ALERTS = "govlake.SensorAlerts"
PLATFORM_TYPES = (LOAD_GATE, BATCH_DELIVERED, SENSOR_ALERTS)
# the stream consumer's real-time checks, as rules of each sensor kind's raw table
SENSOR_CHECKS = {
    "range": ("value_domain", "accuracy", "读数在有效范围内", "readings within their valid range"),
    "rate_of_change": ("fluctuation", "accuracy", "读数变化率不超过上限",
                       "readings change no faster than the metric can"),
    "stuck": ("fluctuation", "accuracy", "读数未长时间停滞不变", "readings are not stuck"),
    "offline": ("timeliness", "timeliness", "设备按时上报、未离线",
                "devices report on time (none offline)"),
}  # fmt: skip

DEFAULT_DIMENSION = {
    "completeness": "completeness",
    "format": "normativity",
    "value_domain": "normativity",
    "check_algorithm": "accuracy",
    "uniqueness": "accuracy",
    "referential": "consistency",
    "fluctuation": "completeness",
    "timeliness": "timeliness",
    "schema": "normativity",
}
CHECK_FUNCTIONS = {
    "gb11643": ("standards.citizen_id_problem", "公民身份号码校验码 GB 11643"),
    "gb32100": ("standards.uscc_problem", "统一社会信用代码校验码 GB 32100"),
    "cn_mobile": ("standards.cn_mobile_problem", "手机号码 mobile number"),
}
RAW_COLUMNS = ("_extra", "_batch_id", "_source_file", "_source_row", "_loaded_at")


class RuleConfigError(ValueError):
    """A rules file is wrong: the message names the file, the table and the rule."""


# --- generated rules ---------------------------------------------------------------------


def _rule_id(table: str, template: str, name: str) -> str:
    return f"{table}:{template}:{name}"


def _code_values(code_set: str, standards_root: Path | None = None) -> list[str]:
    return list(_code_sets(standards_root)[code_set])


@lru_cache(maxsize=4)
def _code_sets(standards_root: Path | None = None) -> dict[str, tuple[str, ...]]:
    from govlake.standards.registry import load_registry

    registry = load_registry(standards_root)
    return {cid: tuple(sorted(cs.codes())) for cid, cs in registry.code_sets.items()}


@lru_cache(maxsize=4)
def _element_ranges(standards_root: Path | None = None) -> dict[str, tuple[Any, Any]]:
    from govlake.standards.registry import load_registry

    registry = load_registry(standards_root)
    return {
        eid: (e.range_min, e.range_max)
        for eid, e in registry.elements.items()
        if e.range_min is not None or e.range_max is not None
    }


def _resource_rules(resource: Resource, standards_root: Path | None) -> list[Rule]:
    """The generated rules of one resource's raw table."""
    table = f"raw.{resource.raw_table}"
    zh, en = resource.name_zh, resource.name_en
    keys = tuple(resource.extract.primary_key)
    rules: list[Rule] = []

    def add(
        id_part: str,
        name: str,
        template: str,
        dimension: str,
        severity: str,
        expectation_type: str,
        kwargs: dict,
        text_zh: str,
        text_en: str,
        *,
        column: str | None = None,
        stage: str = "batch",
        options: dict | None = None,
    ):
        rules.append(Rule(
            rule_id=_rule_id(table, id_part, name), table=table, department=resource.department,
            template=template, dimension=dimension, severity=severity,
            expectation_type=expectation_type, kwargs=kwargs,
            description_zh=f"{zh}：{text_zh}", description_en=f"{en}: {text_en}",
            origin="generated", stage=stage, column=column, resource_id=resource.id,
            sensitivity=resource.field(column).grade if column else "L1", key_columns=keys,
            options=options or {},
        ))  # fmt: skip

    add("schema", "declared_columns", "schema", "normativity", "warning",
        "UnexpectedRowsExpectation",
        {"unexpected_rows_query": "select * from {batch} where _extra is not null"},
        "来源不应出现目录未登记的列", "no column the catalog does not declare")  # fmt: skip
    # the load gate: rows the loader quarantined, by cause (evaluated from the quarantine)
    for gate, template, dimension, gate_zh, gate_en in (
        ("rows", "format", "normativity", "来源行可解析（格式、编码）",
         "source rows parse (format, encoding)"),
        ("required", "completeness", "completeness", "必填字段非空", "required fields are present"),
        ("types", "format", "accuracy", "字段值符合类型（日期、数值）",
         "values are of their type (dates, numbers)"),
    ):  # fmt: skip
        add("gate", gate, template, dimension, "warning", LOAD_GATE, {"gate": gate},
            f"入库校验——{gate_zh}，否则隔离",
            f"load gate — {gate_en}, else quarantined")  # fmt: skip
    for key in keys:
        add("completeness", key, "completeness", "completeness", "blocking",
            "ExpectColumnValuesToNotBeNull", {"column": key}, f"主键 {key} 非空",
            f"primary key {key} is present", column=key)  # fmt: skip
    if len(keys) == 1:
        add("uniqueness", keys[0], "uniqueness", "accuracy", "blocking",
            "ExpectColumnValuesToBeUnique", {"column": keys[0]}, f"主键 {keys[0]} 在批次内唯一",
            f"primary key {keys[0]} is unique in a batch", column=keys[0])  # fmt: skip
    ranges = _element_ranges(standards_root)
    for f in resource.fields:
        element, name = f.element, f.name
        if f.required and name not in keys:
            add("completeness", name, "completeness", "completeness", "warning",
                "ExpectColumnValuesToNotBeNull", {"column": name},
                f"必填字段 {name}（{element.name_zh}）非空", f"required {name} is present",
                column=name)  # fmt: skip
        if element.pattern and f.type == "string":
            add("format", name, "format", "normativity", "warning",
                "ExpectColumnValuesToMatchRegex", {"column": name, "regex": element.pattern},
                f"{name} 符合数据元 {element.id} 的格式", f"{name} matches {element.id}'s format",
                column=name)  # fmt: skip
        if element.code_set:
            values = _code_values(element.code_set, standards_root)
            add("value_domain", name, "value_domain", "normativity", "warning",
                "ExpectColumnValuesToBeInSet", {"column": name, "value_set": values},
                f"{name} 取自代码集 {element.code_set}",
                f"{name} is a code of {element.code_set}", column=name)  # fmt: skip
        if element.id in ranges and f.type in ("integer", "decimal"):
            low, high = ranges[element.id]
            bounds = {k: v for k, v in (("min_value", low), ("max_value", high)) if v is not None}
            add("value_domain", name, "value_domain", "accuracy", "warning",
                "ExpectColumnValuesToBeBetween", {"column": name, **bounds},
                f"{name} 在数据元 {element.id} 的取值范围内",
                f"{name} within {element.id}'s range", column=name)  # fmt: skip
        if element.check in CHECK_FUNCTIONS:
            function, what = CHECK_FUNCTIONS[element.check]
            add("check_algorithm", name, "check_algorithm", "accuracy", "warning",
                "UnexpectedRowsExpectation",
                {"unexpected_rows_query": _check_query(function, name)},
                f"{name} 通过{what}", f"{name} passes its check ({element.check})",
                column=name)  # fmt: skip
    # delivery: evaluated from the batch ledger by the library-stage (nightly) audits
    add("timeliness", "delivered", "timeliness", "accessibility", "warning", BATCH_DELIVERED,
        {}, f"业务日的批次已从{resource.system.name_zh}取得并入库",
        "the business day's batch was read from its source and loaded",
        stage="library")  # fmt: skip
    if resource.extract.mode == "full":
        add("fluctuation", "row_count", "fluctuation", "completeness", "blocking",
            "ExpectTableRowCountToBeBetween", _fluctuation_kwargs(table, "row_count"),
            "全量批次行数在近 7 批的 ±30% 内",
            "a full snapshot's rows within ±30% of the last 7 batches",
            options={"window": 7, "tolerance": 0.3,
                     "parameter": _parameter_name(table, "row_count")})  # fmt: skip
    return rules


def sensor_rules() -> list[Rule]:
    """One rule per sensor kind and real-time check: the consumer's alerts of a day
    against the readings of that day (evaluated from ``governance.sensor_alert``)."""
    from govlake.sensors.devices import load_devices, load_kinds

    owners: dict[str, Counter] = {}
    for device in load_devices():
        owners.setdefault(device.kind, Counter())[device.owner] += 1
    rules = []
    for code, kind in sorted(load_kinds().items()):
        table = f"raw.sensor__{code}"
        department = owners[code].most_common(1)[0][0] if code in owners else "govdata"
        for check, (template, dimension, text_zh, text_en) in SENSOR_CHECKS.items():
            rules.append(Rule(
                rule_id=_rule_id(table, "realtime", check), table=table, department=department,
                template=template, dimension=dimension, severity="warning",
                expectation_type=SENSOR_ALERTS, kwargs={"check": check, "kind": code},
                description_zh=f"{kind.name_zh}：实时检查——{text_zh}",
                description_en=f"{kind.name_en}: real-time check — {text_en}",
                origin="generated", stage="library", key_columns=("device_id", "observed_at"),
            ))  # fmt: skip
    return rules


def generated_rules(catalog: Catalog, standards_root: Path | None = None) -> list[Rule]:
    """The rules every raw batch of every catalog resource is audited with, and the sensor
    streams' real-time checks."""
    rules: list[Rule] = []
    for resource in sorted(catalog.resources.values(), key=lambda r: r.id):
        rules += _resource_rules(resource, standards_root)
    return rules + sensor_rules()


def _check_query(function: str, column: str) -> str:
    """Rows whose present value fails the check (an empty value is completeness' business)."""
    quoted = _quote(column)
    return (
        f"select * from {{batch}} where {quoted} is not null and btrim({quoted}) <> '' "
        f"and {function}({quoted}) is not null"
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _parameter_name(table: str, name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", f"{table}_{name}".lower()).strip("_")


def _fluctuation_kwargs(table: str, metric: str) -> dict:
    base = _parameter_name(table, metric)
    return {"min_value": {"$PARAMETER": f"{base}_min"}, "max_value": {"$PARAMETER": f"{base}_max"}}


# --- configured rules --------------------------------------------------------------------

TEMPLATE_KEYS = {
    "completeness": {"columns", "column", "mostly"},
    "format": {"column", "pattern", "mostly"},
    "value_domain": {"column", "code_set", "values", "min", "max", "mostly"},
    "check_algorithm": {"column", "algorithm"},  # a SQL rule: GX takes no "mostly" there
    "uniqueness": {"columns", "column"},
    "referential": {"column", "to"},
    "fluctuation": {"metric", "window", "tolerance"},
    "timeliness": {"column", "max_age_days"},
    "schema": {"columns"},
    "sql": {"name", "condition", "query", "column"},
}
COMMON_KEYS = {"template", "severity", "dimension", "description_zh", "description_en", "name"}
AS_OF = "as_of"  # a bound that means "the business date of the audit"


def configured_rules(
    catalog: Catalog, directory: Path | None = None, standards_root: Path | None = None
) -> list[Rule]:
    """The rules written by governance staff in ``include/quality/rules/*.yaml``."""
    directory = directory or RULES_DIR
    rules: list[Rule] = []
    problems: list[str] = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for table, spec in (document.get("tables") or {}).items():
            where = f"{path.name}: table {table}"
            try:
                rules += _table_rules(catalog, table, spec or {}, where, standards_root)
            except RuleConfigError as error:
                problems.append(str(error))
    if problems:
        raise RuleConfigError(
            "质量规则配置有误 quality rule configuration:\n  " + "\n  ".join(problems)
        )
    return rules


def _table_rules(catalog, table: str, spec: dict, where: str, standards_root) -> list[Rule]:
    if table.count(".") != 1:
        raise RuleConfigError(f"{where}: name tables as <schema>.<table>")
    resource = _resource_of(catalog, table)
    department = spec.get("department") or (resource.department if resource else None)
    if department is None:
        raise RuleConfigError(f"{where}: say which department owns it (department: …)")
    if department not in catalog.departments:
        raise RuleConfigError(f"{where}: unknown department {department!r}")
    stage = spec.get("stage") or ("batch" if table.startswith("raw.") else "library")
    if stage not in STAGES:
        raise RuleConfigError(f"{where}: stage must be one of {', '.join(STAGES)}")
    key = tuple(spec.get("key") or (resource.extract.primary_key if resource else ()))
    rules = []
    for index, entry in enumerate(spec.get("rules") or [], start=1):
        rule_where = f"{where}, rule #{index}"
        rules += _rule(
            entry,
            table=table,
            department=department,
            stage=stage,
            key=key,
            resource=resource,
            where=rule_where,
            standards_root=standards_root,
        )
    return rules


def _resource_of(catalog: Catalog, table: str) -> Resource | None:
    schema, name = table.split(".")
    for resource in catalog.resources.values():
        if schema == "raw" and name == resource.raw_table:
            return resource
        if schema == "staging" and name == f"stg_{resource.raw_table}":
            return resource
    return None


def _rule(entry, *, table, department, stage, key, resource, where, standards_root) -> list[Rule]:
    if not isinstance(entry, dict) or "template" not in entry:
        raise RuleConfigError(f"{where}: each rule is a mapping with a template")
    template = entry["template"]
    if template not in TEMPLATES or template == "gate":
        raise RuleConfigError(
            f"{where}: unknown template {template!r}; one of {', '.join(TEMPLATES)}"
        )
    unknown = set(entry) - COMMON_KEYS - TEMPLATE_KEYS[template]
    if unknown:
        raise RuleConfigError(f"{where}: {template} takes no {', '.join(sorted(unknown))}")
    severity = entry.get("severity", "warning")
    if severity not in SEVERITIES:
        raise RuleConfigError(f"{where}: severity must be blocking or warning")
    dimension = entry.get("dimension") or DEFAULT_DIMENSION.get(template)
    if dimension not in DIMENSIONS:
        raise RuleConfigError(f"{where}: say its dimension, one of {', '.join(DIMENSIONS)}")
    for text in ("description_zh", "description_en"):
        if not entry.get(text):
            raise RuleConfigError(f"{where}: {text} is required (staff read it in work orders)")

    def column_of(name: str) -> str:
        if resource and table.startswith("raw.") and name not in resource.field_names:
            raise RuleConfigError(f"{where}: {resource.id} has no field {name!r}")
        return name

    def grade(column: str | None) -> str:
        if resource and column in resource.field_names:
            return resource.field(column).grade
        return "L3" if column else "L1"  # unknown columns of library tables: masked

    def make(name, expectation_type, kwargs, column=None, options=None) -> Rule:
        if "mostly" in entry:
            kwargs = {**kwargs, "mostly": float(entry["mostly"])}
        return Rule(
            rule_id=_rule_id(table, template, entry.get("name") or name),
            table=table,
            department=department,
            template=template,
            dimension=dimension,
            severity=severity,
            expectation_type=expectation_type,
            kwargs=kwargs,
            description_zh=entry["description_zh"],
            description_en=entry["description_en"],
            origin="configured",
            stage=stage,
            column=column,
            resource_id=resource.id if resource else None,
            sensitivity=grade(column),
            key_columns=key,
            options=options or {},
        )

    def required(name: str):
        if name not in entry:
            raise RuleConfigError(f"{where}: {template} needs {name}")
        return entry[name]

    if template == "completeness":
        columns = entry.get("columns") or [required("column")]
        return [
            make(c, "ExpectColumnValuesToNotBeNull", {"column": column_of(c)}, c) for c in columns
        ]
    if template == "format":
        column = column_of(required("column"))
        return [
            make(
                column,
                "ExpectColumnValuesToMatchRegex",
                {"column": column, "regex": required("pattern")},
                column,
            )
        ]
    if template == "value_domain":
        column = column_of(required("column"))
        if "code_set" in entry:
            sets = _code_sets(standards_root)
            if entry["code_set"] not in sets:
                raise RuleConfigError(f"{where}: unknown code set {entry['code_set']!r}")
            values = list(sets[entry["code_set"]])
            return [
                make(
                    column,
                    "ExpectColumnValuesToBeInSet",
                    {"column": column, "value_set": values},
                    column,
                )
            ]
        if "values" in entry:
            return [
                make(
                    column,
                    "ExpectColumnValuesToBeInSet",
                    {"column": column, "value_set": list(entry["values"])},
                    column,
                )
            ]
        kwargs: dict[str, Any] = {"column": column}
        for bound, arg in (("min", "min_value"), ("max", "max_value")):
            if bound in entry:
                value = entry[bound]
                kwargs[arg] = {"$PARAMETER": AS_OF} if value == AS_OF else value
        if len(kwargs) == 1:
            raise RuleConfigError(f"{where}: value_domain needs code_set, values, min or max")
        return [make(column, "ExpectColumnValuesToBeBetween", kwargs, column)]
    if template == "check_algorithm":
        column = column_of(required("column"))
        algorithm = required("algorithm")
        if algorithm not in CHECK_FUNCTIONS:
            raise RuleConfigError(f"{where}: algorithm must be one of {', '.join(CHECK_FUNCTIONS)}")
        function = CHECK_FUNCTIONS[algorithm][0]
        query = _check_query(function, column)
        return [make(column, "UnexpectedRowsExpectation", {"unexpected_rows_query": query}, column)]
    if template == "uniqueness":
        columns = entry.get("columns") or [required("column")]
        columns = [column_of(c) for c in columns]
        if len(columns) == 1:
            return [
                make(columns[0], "ExpectColumnValuesToBeUnique", {"column": columns[0]}, columns[0])
            ]
        return [
            make(
                "+".join(columns),
                "ExpectCompoundColumnsToBeUnique",
                {"column_list": columns},
                columns[0],
            )
        ]
    if template == "referential":
        column = column_of(required("column"))
        target = str(required("to"))
        if target.count(".") != 2:
            raise RuleConfigError(f"{where}: to is <schema>.<table>.<column>")
        schema, other, other_column = target.split(".")
        query = (
            # {batch} is a table or an aliased subquery, depending on how GX renders the
            # audited rows: wrapped, it takes an alias of ours in both cases
            f"select * from (select * from {{batch}}) as b where b.{_quote(column)} is not null "
            "and not exists "
            f"(select 1 from {_quote(schema)}.{_quote(other)} t "
            f"where t.{_quote(other_column)} = b.{_quote(column)})"
        )
        return [make(column, "UnexpectedRowsExpectation", {"unexpected_rows_query": query}, column)]
    if template == "fluctuation":
        metric = entry.get("metric", "row_count")
        if metric != "row_count":
            raise RuleConfigError(f"{where}: fluctuation supports metric row_count")
        options = {
            "window": int(entry.get("window", 7)),
            "tolerance": float(entry.get("tolerance", 0.3)),
        }
        kwargs = _fluctuation_kwargs(table, metric)
        options["parameter"] = _parameter_name(table, metric)
        return [make(metric, "ExpectTableRowCountToBeBetween", kwargs, options=options)]
    if template == "timeliness":
        column = column_of(required("column"))
        days = int(required("max_age_days"))
        name = _parameter_name(table, f"{column}_fresh_after")
        kwargs = {"column": column, "min_value": {"$PARAMETER": name}}
        return [
            make(
                column,
                "ExpectColumnMaxToBeBetween",
                kwargs,
                column,
                options={"max_age_days": days, "parameter": name},
            )
        ]
    if template == "schema":
        columns = list(required("columns"))
        return [
            make(
                "columns",
                "ExpectTableColumnsToMatchSet",
                {"column_set": columns, "exact_match": False},
            )
        ]
    # sql: a condition over the audited rows ({batch}), or a whole query
    name = required("name")
    if "query" in entry:
        query = entry["query"]
    else:
        query = f"select * from {{batch}} where {required('condition')}"
    if "{batch}" not in query:
        raise RuleConfigError(f"{where}: the query must read the audited rows as {{batch}}")
    if re.search(
        r"\{batch\}\s+(as\s+)?(?!where\b|join\b|left\b|group\b|order\b)[a-z_]", query, re.I
    ):
        raise RuleConfigError(
            f"{where}: to give the audited rows an alias write "
            "`(select * from {batch}) as <alias>`: GX may render {batch} as an aliased subquery"
        )
    column = entry.get("column")
    return [make(name, "UnexpectedRowsExpectation", {"unexpected_rows_query": query}, column)]


# --- all rules ---------------------------------------------------------------------------


def all_rules(catalog: Catalog | None = None) -> list[Rule]:
    """Every rule, generated and configured; rule ids are unique."""
    if catalog is None:
        from govlake.catalog.loader import default_catalog

        catalog = default_catalog()
    rules = generated_rules(catalog) + configured_rules(catalog)
    counts = Counter(r.rule_id for r in rules)
    duplicated = sorted(rule_id for rule_id, n in counts.items() if n > 1)
    if duplicated:
        raise RuleConfigError(
            "规则编号重复 duplicate rule ids (give configured rules a distinct name): "
            + ", ".join(duplicated)
        )
    return rules


def rules_for_table(table: str, catalog: Catalog | None = None) -> list[Rule]:
    return [r for r in all_rules(catalog) if r.table == table]


def suites(rules: list[Rule]) -> dict[str, list[Rule]]:
    """Rules grouped into GX suites (one per table), in a stable order."""
    grouped: dict[str, list[Rule]] = {}
    for rule in sorted(rules, key=lambda r: (r.table, r.rule_id)):
        grouped.setdefault(rule.suite, []).append(rule)
    return grouped


def gx_rules(rules: list[Rule]) -> list[Rule]:
    """The rules Great Expectations evaluates (the rest the platform evaluates itself)."""
    return [r for r in rules if r.expectation_type not in PLATFORM_TYPES]


def with_parameters(rule: Rule, **kwargs: Any) -> Rule:
    return replace(rule, kwargs={**rule.kwargs, **kwargs})
