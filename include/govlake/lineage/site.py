"""The catalog site (数据目录网站): static pages of everything the metadata store knows.

``build_site(conn, out_dir, principal="public")`` writes

- ``index.html``: every dataset grouped by layer, with a search box. The search runs in the
  page over an embedded JSON index (Chinese and English names, keys, field names, data
  elements, business terms, code sets, owners, departments), so the site works opened from
  a file share (``file://``) with no server;
- ``datasets/<key>.html``, one page per dataset joining its catalog entry
  (``governance.resource``: sharing and open type, update frequency, owner, department,
  system), the business terms of its fields' data elements, the data elements, the fields
  (type, description, data element, code set, grade, sample values), its lineage up and
  down (inline SVG), its latest quality score and open work orders, and its owner.

Sample values come from :func:`govlake.lineage.access.samples`, masked for ``principal``:
the site is a published artefact, so the default is ``public``. Everything is escaped; the
pages load nothing from outside their folder.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import psycopg.sql
from psycopg.rows import dict_row

from govlake import config
from govlake.lineage.graph import (
    Graph,
    LineageError,
    layer_label,
    layer_rank,
    require_store,
    walk,
)
from govlake.lineage.render import PAGE_CSS, colour, esc, legend_html, lineage_svg

LINEAGE_DEPTH = 2
SAMPLE_LIMIT = 5
WAREHOUSE_KINDS = ("table", "view", "model", "seed", "snapshot", "stream")
SETTLED = ("verified", "closed")
DIMENSIONS = {
    "normativity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class BuiltSite:
    folder: Path
    index: Path
    pages: int
    notes: list[str] = field(default_factory=list)


def page_name(dataset: str) -> str:
    """The file of a dataset's page: the key when it is a safe file name, otherwise the key
    made safe plus a short hash of it (so two keys never share a page)."""
    safe = _UNSAFE.sub("~", dataset)
    if safe != dataset or safe.startswith("."):
        safe += "-" + hashlib.sha1(dataset.encode("utf-8")).hexdigest()[:8]
    return safe + ".html"


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>`, no HTML comment opener)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(raw, escaped)
    return text


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _commit(conn: psycopg.Connection) -> None:
    """End the connection's transaction, if it has one of its own (not in autocommit)."""
    if not conn.autocommit:
        conn.commit()


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


# ---------------------------------------------------------------------------------------
# What the site shows


@dataclass
class SiteData:
    datasets: list[dict[str, Any]]
    fields: dict[str, list[dict[str, Any]]]
    resources: dict[str, dict[str, Any]]
    departments: dict[str, tuple[str, str]]
    elements: dict[str, dict[str, Any]]
    code_sets: dict[str, dict[str, Any]]
    terms: dict[str, list[dict[str, Any]]]  # data element → its business terms
    scores: dict[str, list[dict[str, Any]]]  # table → latest day's scores (all dimensions)
    orders: dict[str, list[dict[str, Any]]]  # table → unsettled work orders
    assertions: dict[str, list[dict[str, Any]]]  # dataset → latest OpenLineage assertions


def collect(conn: psycopg.Connection) -> SiteData:
    with conn.cursor(row_factory=dict_row) as cur:

        def rows(query: str, *needs: str) -> list[dict[str, Any]]:
            if not all(_exists(conn, table) for table in needs):
                return []
            return cur.execute(query).fetchall()

        datasets = rows(
            "select * from governance.md_dataset where dropped_at is null order by dataset",
            "governance.md_dataset",
        )
        fields: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows(
            "select * from governance.md_field where dropped_at is null "
            "order by dataset, position nulls last, name",
            "governance.md_field",
        ):
            fields[row["dataset"]].append(row)
        resources = {
            r["resource_id"]: r
            for r in rows(
                "select r.*, s.name_zh as system_zh, s.name_en as system_en, "
                "s.kind as system_kind from governance.resource r "
                "left join governance.system s on s.code = r.system",
                "governance.resource",
                "governance.system",
            )
        }
        departments = {
            d["code"]: (d["name_zh"], d["name_en"])
            for d in rows("select * from governance.department", "governance.department")
        }
        elements = {
            e["id"]: e
            for e in rows("select * from governance.data_element", "governance.data_element")
        }
        code_sets = {
            c["id"]: c
            for c in rows(
                "select id, name_zh, name_en, standard, edition from governance.code_set",
                "governance.code_set",
            )
        }
        terms: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in rows(
            "select te.element_id, t.id, t.term, t.term_en, t.category, t.definition, "
            "t.synonyms, t.basis from governance.term_element te "
            "join governance.business_term t on t.id = te.term_id order by t.id",
            "governance.term_element",
            "governance.business_term",
        ):
            terms[t["element_id"]].append(t)
        scores: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in rows(
            "with latest as (select scope_key, max(business_date) as business_date "
            "  from governance.quality_score where scope = 'table' group by scope_key) "
            "select s.scope_key, s.business_date, s.dimension, s.score, s.rules, "
            "s.rules_failed, s.evaluated, s.failed from governance.quality_score s "
            "join latest using (scope_key, business_date) where s.scope = 'table' "
            "order by s.scope_key, s.dimension",
            "governance.quality_score",
        ):
            scores[s["scope_key"]].append(s)
        orders: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if _exists(conn, "governance.work_order"):
            for o in cur.execute(
                "select work_order_id, rule_id, table_name, department, assignee, severity, "
                "state, title, opened_at, due_at, last_failed, "
                "(state in ('open', 'in_progress', 'reopened') and due_at < now()) as overdue "
                "from governance.work_order where state <> all(%s) "
                "order by due_at, work_order_id",
                (list(SETTLED),),
            ).fetchall():
                orders[o["table_name"]].append(o)
        assertions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for a in rows(
            "select distinct on (dataset, field, assertion) dataset, field, assertion, success, "
            "event_time from governance.md_assertion "
            "order by dataset, field, assertion, event_time desc",
            "governance.md_assertion",
        ):
            assertions[a["dataset"]].append(a)
    return SiteData(
        datasets, fields, resources, departments, elements, code_sets, terms, scores, orders,
        assertions,
    )  # fmt: skip


@dataclass
class FieldSamples:
    values: list[Any]
    masked: bool


def _samples(
    conn: psycopg.Connection, dataset: dict[str, Any], names: list[str], principal: str
) -> tuple[dict[str, FieldSamples], str | None]:
    """Sample values per field as ``principal`` may see them, or why there are none."""
    key = dataset["dataset"]
    if dataset["kind"] not in WAREHOUSE_KINDS or not names or ":" in key or "." not in key:
        return {}, None
    schema, table = key.split(".", 1)
    relation = psycopg.sql.Identifier(schema, table).as_string(conn)
    if not conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]:
        return {}, "数据仓库中尚无此表，无样例 not in the warehouse yet: no samples"
    from govlake.lineage.access import samples
    from govlake.lineage.store import MetadataError

    found: dict[str, FieldSamples] = {}
    failed: list[str] = []
    for name in names:
        try:
            with conn.transaction():  # a failure rolls back to here, not the whole build
                got = samples(conn, key, name, principal, limit=SAMPLE_LIMIT)
        except (MetadataError, psycopg.Error) as error:
            failed.append(f"{name}: {str(error).splitlines()[0]}")
            continue
        found[name] = FieldSamples(list(got.values), got.masked)
    if failed:
        return found, "部分字段无法取样 no samples for " + "; ".join(failed[:5])
    return found, None


# ---------------------------------------------------------------------------------------
# Pages


SITE_CSS = (
    PAGE_CSS
    + """
.crumbs { padding: 0.6rem 2rem 0; display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; }
.layer-chip { display: inline-block; padding: 0 0.5rem; border-radius: 4px; color: #fff;
  font-size: 0.8rem; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1.2rem;
  margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(26rem, 1fr));
  gap: 1rem; }
.sample { font-family: ui-monospace, "Noto Sans Mono CJK SC", monospace; font-size: 0.85em; }
.score { font-size: 2.2rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.good { color: #1a8a4a; } .fair { color: #c07a00; } .poor { color: #c8372d; }
.search { display: flex; gap: 0.8rem; align-items: center; flex-wrap: wrap; }
.search input { font: inherit; font-size: 1.1rem; padding: 0.5rem 0.8rem; width: min(42rem, 100%);
  border: 1px solid var(--line); border-radius: 8px; }
.results { list-style: none; padding: 0; margin: 0; }
.results li { padding: 0.5rem 0; border-bottom: 1px solid var(--line); }
.results li[hidden], .layer-group[hidden] { display: none; }
.results .why { color: var(--muted); font-size: 0.85rem; display: block; }
.results .why:empty { display: none; }
.layer-group h2 { margin: 1rem 0 0.3rem; font-size: 1.1rem; }
"""
)


def _page(title: str, title_en: str, body: str, crumbs: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="govlake.lineage.site">
<title>{esc(title)} · {esc(title_en)}</title>
<style>{SITE_CSS}</style>
</head>
<body>
{crumbs}
{body}
</body>
</html>
"""


def _chip(layer: str) -> str:
    return (
        f'<span class="layer-chip" style="background:{colour(layer)}">'
        f"{esc(layer_label(layer))}</span>"
    )


def _grade(grade: str | None) -> str:
    return f'<span class="badge grade-{esc(grade)}">{esc(grade)}</span>' if grade else ""


def _names(zh: Any, en: Any) -> str:
    out = esc(zh or "")
    if en:
        out += f' <span class="en">{esc(en)}</span>'
    return out


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(config.TIMEZONE)).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _table(table_id: str, headings: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty" id="{esc(table_id)}">{esc(empty)}</p>'
    head = "".join(f"<th>{h}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="table-wrap"><table id="{esc(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _band(score: Any) -> str:
    value = float(score)
    return "good" if value >= 90 else "fair" if value >= 75 else "poor"


def _sample_cell(got: FieldSamples | None) -> str:
    if got is None or not got.values:
        return '<span class="empty">—</span>'
    shown = "、".join("(空 null)" if v is None else str(v) for v in got.values)
    masked = ' <span class="badge masked">已脱敏 masked</span>' if got.masked else ""
    return f'<span class="sample">{esc(shown)}</span>{masked}'


class _Site:
    def __init__(self, conn: psycopg.Connection, data: SiteData, principal: str, depth: int):
        self.conn, self.data, self.principal, self.depth = conn, data, principal, depth
        self.pages = {d["dataset"]: page_name(d["dataset"]) for d in data.datasets}
        self.unsampled: list[str] = []  # datasets some or all of whose fields have no samples

    def link(self, dataset: str) -> str | None:
        return self.pages.get(dataset)

    def department(self, code: str | None) -> str:
        if not code:
            return ""
        zh, en = self.data.departments.get(code, (code, ""))
        return _names(zh, en)

    # --- the search index --------------------------------------------------------------

    def index_entry(self, d: dict[str, Any]) -> dict[str, Any]:
        fields = self.data.fields.get(d["dataset"], [])
        element_ids = sorted({f["data_element"] for f in fields if f["data_element"]})
        elements = []
        terms: dict[str, str] = {}
        for eid in element_ids:
            element = self.data.elements.get(eid)
            elements.append(" ".join(v for v in (eid, element and element["name_zh"],
                                                 element and element["name_en"]) if v))  # fmt: skip
            for t in self.data.terms.get(eid, []):
                words = [t["term"], t["term_en"], *(t["synonyms"] or [])]
                terms[t["id"]] = " ".join(w for w in words if w)
        code_sets = sorted({f["code_set"] for f in fields if f["code_set"]})
        department = self.data.departments.get(d["department"] or "", ("", ""))
        return {
            "key": d["dataset"],
            "zh": d["name_zh"] or "",
            "en": d["name_en"] or "",
            "layer": d["layer"],
            "owner": d["owner"] or "",
            "department": " ".join(v for v in (d["department"], *department) if v),
            "description": (d["description"] or "")[:300],
            "fields": [f["name"] for f in fields],
            "field_text": [" ".join(v for v in (f["name"], f["description"]) if v) for f in fields],
            "elements": elements,
            "terms": sorted(terms.values()),
            "code_sets": [
                " ".join(v for v in (c, (self.data.code_sets.get(c) or {}).get("name_zh")) if v)
                for c in code_sets
            ],
            "url": f"datasets/{self.pages[d['dataset']]}",
        }

    # --- the index page ----------------------------------------------------------------

    def index_page(self, generated: datetime) -> str:
        entries = [self.index_entry(d) for d in self.data.datasets]
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for i, d in enumerate(self.data.datasets):
            groups[d["layer"]].append((i, d))
        sections = []
        for layer in sorted(groups, key=layer_rank):
            items = []
            for i, d in groups[layer]:
                items.append(
                    f'<li data-i="{i}"><a href="datasets/{esc(self.pages[d["dataset"]])}">'
                    f"{_names(d['name_zh'] or d['dataset'], d['name_en'])}</a> "
                    f"<code>{esc(d['dataset'])}</code> {_grade(d['grade'])}"
                    f'<span class="en"> · {esc(d["owner"] or "")}</span>'
                    '<span class="why"></span></li>'
                )
            sections.append(
                f'<section class="layer-group" data-layer="{esc(layer)}"><h2>{_chip(layer)} '
                f'<span class="en group-count">{len(items)}</span></h2>'
                f'<ol class="results">{"".join(items)}</ol></section>'
            )
        body = f"""<header>
<h1>开平市政务数据目录 <small>Kaiping government data catalog</small></h1>
<div class="meta">{len(entries)} 个数据集 datasets · 生成于 generated
{generated:%Y-%m-%d %H:%M} (UTC+8) · 样例值按「{esc(self.principal)}」权限脱敏
sample values masked as principal {esc(self.principal)} may see them</div>
</header>
<main>
<section class="card">
<div class="search"><label for="q">搜索 Search</label>
<input id="q" type="search" autocomplete="off"
 placeholder="名称、字段、数据元、术语、责任单位 · names, fields, data elements, terms, owners">
<span>显示 showing <b id="count">{len(entries)}</b> / {len(entries)}</span></div>
<noscript><p class="empty">搜索需要启用脚本；下方为全部数据集。 Search needs scripts;
every dataset is listed below.</p></noscript>
<p class="empty" id="no-results" hidden>没有匹配的数据集 No dataset matches.</p>
{"".join(sections)}
</section>
</main>
<footer>来自元数据库 From the metadata store (governance.md_*) · `govlake catalog site`</footer>
<script type="application/json" id="search-index">{_script_json(entries)}</script>
<script>{SEARCH_JS}</script>"""
        return _page("开平市政务数据目录", "Kaiping government data catalog", body)

    # --- a dataset's page --------------------------------------------------------------

    def dataset_page(self, d: dict[str, Any], generated: datetime) -> str:
        key = d["dataset"]
        fields = self.data.fields.get(key, [])
        samples, why = _samples(self.conn, d, [f["name"] for f in fields], self.principal)
        if why:
            self.unsampled.append(key)
        graph = walk(self.conn, key, None, "both", self.depth)
        sections = [
            f'<div class="grid2">{self.overview(d)}{self.entry(d)}</div>',
            self.fields(fields, samples, why),
            self.lineage(graph),
            self.quality(key),
            self.terms(fields),
            self.elements(fields),
        ]
        body = f"""<header>
<h1>{esc(d["name_zh"] or key)} <small>{esc(d["name_en"] or "")}</small></h1>
<div class="meta"><code id="dataset-key">{esc(key)}</code> {_chip(d["layer"])}
<span class="badge">{esc(d["kind"])}</span> {_grade(d["grade"])}</div>
</header>
<main>{"".join(sections)}</main>
<footer>生成于 generated {generated:%Y-%m-%d %H:%M} (UTC+8) · 样例值按「{esc(self.principal)}」
权限脱敏 sample values masked as principal {esc(self.principal)} may see them ·
`govlake catalog site`</footer>"""
        crumbs = (
            '<nav class="crumbs"><a href="../index.html">← 数据目录 catalog</a>'
            '<a href="#fields">字段 fields</a><a href="#lineage">血缘 lineage</a>'
            '<a href="#quality">质量 quality</a><a href="#terms">术语 terms</a>'
            '<a href="#elements">数据元 data elements</a></nav>'
        )
        return _page(d["name_zh"] or key, d["name_en"] or key, body, crumbs)

    def overview(self, d: dict[str, Any]) -> str:
        facts = [
            ("责任单位 owner", f'<span id="owner">{esc(d["owner"] or "未登记")}</span>'),
            ("部门 department", self.department(d["department"])),
            ("层 layer", esc(layer_label(d["layer"]))),
            ("类型 kind", esc(d["kind"])),
            ("最高敏感级 grade", _grade(d["grade"]) or "—"),
            ("标签 tags", esc(", ".join(d["tags"] or []))),
            ("来源 described by", esc(", ".join(d["origins"] or []))),
            ("首次发现 first seen", esc(_when(d["first_seen"]))),
            ("最近发现 last seen", esc(_when(d["last_seen"]))),
        ]  # fmt: skip
        rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts if v)
        description = (
            f"<p>{esc(d['description'])}</p>" if d["description"] else
            '<p class="empty">暂无描述 No description.</p>'
        )  # fmt: skip
        return (
            f'<section class="card" id="overview"><h2>概况 <small>Overview</small></h2>'
            f'{description}<dl class="facts">{rows}</dl></section>'
        )

    def entry(self, d: dict[str, Any]) -> str:
        resource = self.data.resources.get(d["resource_id"] or "")
        if resource is None:
            text = (
                f"目录资源 {esc(d['resource_id'])} 未同步到治理库 · catalog resource not synced "
                "(`govlake catalog sync`)"
                if d["resource_id"]
                else "非目录资源（由平台加工产生） · not a catalog resource (made by the platform)"
            )
            inner = f'<p class="empty">{text}</p>'
        else:
            system = _names(resource["system_zh"] or resource["system"], resource["system_en"])
            if resource["system_kind"]:
                system += f' <span class="en">({esc(resource["system_kind"])})</span>'
            facts = [
                ("资源 resource", f"<code>{esc(resource['resource_id'])}</code> "
                                  + _names(resource["name_zh"], resource["name_en"])),
                ("共享类型 sharing",
                 f'<span id="sharing-type">{esc(resource["sharing_type"])}</span>'),
                ("开放类型 open", f'<span id="open-type">{esc(resource["open_type"])}</span>'),
                ("更新频率 frequency", esc(resource["update_frequency"])),
                ("责任单位 owner", esc(resource["owner"])),
                ("部门 department", self.department(resource["department"])),
                ("系统 system", system),
                ("抽取方式 extraction", esc(resource["extract_mode"])),
                ("原始表 raw table", f"<code>{esc(resource['raw_table'])}</code>"),
                ("DAG", f"<code>{esc(resource['dag_id'])}</code>"),
            ]  # fmt: skip
            inner = '<dl class="facts">' + "".join(
                f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts
            ) + "</dl>"  # fmt: skip
            if resource["description"] and resource["description"] != d["description"]:
                inner = f"<p>{esc(resource['description'])}</p>" + inner
        return (
            '<section class="card" id="catalog-entry"><h2>目录信息 <small>Catalog entry</small>'
            f"</h2>{inner}</section>"
        )

    def terms(self, fields: list[dict[str, Any]]) -> str:
        seen: dict[str, tuple[dict[str, Any], set[str]]] = {}
        for f in fields:
            for t in self.data.terms.get(f["data_element"] or "", []):
                seen.setdefault(t["id"], (t, set()))[1].add(f["name"])
        rows = [
            [
                f'{esc(t["term"])}<br><span class="en">{esc(t["term_en"] or "")}</span>',
                esc(t["category"] or ""),
                esc(t["definition"]),
                esc(", ".join(sorted(names))),
            ]
            for t, names in sorted(seen.values(), key=lambda v: v[0]["id"])
        ]
        table = _table(
            "terms", ["术语 term", "类别 category", "定义 definition", "字段 fields"], rows,
            "暂无关联的业务术语 No business terms are linked to its fields' data elements.",
        )  # fmt: skip
        heading = "<h2>业务术语 <small>Business terms</small></h2>"
        return f'<section class="card">{heading}{table}</section>'

    def elements(self, fields: list[dict[str, Any]]) -> str:
        ids = sorted({f["data_element"] for f in fields if f["data_element"]})
        rows = []
        for eid in ids:
            e = self.data.elements.get(eid)
            if e is None:
                rows.append([f"<code>{esc(eid)}</code>", "", "", "", "", ""])
                continue
            rows.append([
                f"<code>{esc(eid)}</code>", _names(e["name_zh"], e["name_en"]), esc(e["type"]),
                esc(e.get("code_set") or ""), _grade(e["sensitivity"]),
                esc(e.get("definition") or e.get("pattern") or ""),
            ])  # fmt: skip
        table = _table(
            "elements", ["标识 id", "名称 name", "类型 type", "代码集 code set",
                         "默认敏感级 default grade", "定义 definition"], rows,
            "字段未关联数据元 No field names a data element.",
        )  # fmt: skip
        return (
            f'<section class="card"><h2>数据元 <small>Data elements</small></h2>{table}</section>'
        )

    def fields(
        self, fields: list[dict[str, Any]], samples: dict[str, FieldSamples], why: str | None
    ) -> str:
        rows = []
        for f in fields:
            element = self.data.elements.get(f["data_element"] or "")
            code_set = self.data.code_sets.get(f["code_set"] or "")
            got = samples.get(f["name"])
            rows.append([
                f'<code id="field-{esc(f["name"])}">{esc(f["name"])}</code>',
                esc(f["data_type"] or ""),
                esc(f["description"] or ""),
                (f"<code>{esc(f['data_element'])}</code> {esc(element['name_zh'])}"
                 if element else esc(f["data_element"] or "")),
                (f"<code>{esc(f['code_set'])}</code> {esc(code_set['name_zh'])}"
                 if code_set else esc(f["code_set"] or "")),
                _grade(f["grade"]),
                _sample_cell(got),
            ])  # fmt: skip
        note = f'<p class="empty">{esc(why)}</p>' if why else ""
        table = _table(
            "fields", ["字段 field", "类型 type", "说明 description", "数据元 data element",
                       "代码集 code set", "敏感级 grade",
                       f"样例（{esc(self.principal)} 可见） samples as {esc(self.principal)}"],
            rows, "元数据库中没有字段 No fields in the metadata store.",
        )  # fmt: skip
        return (
            f'<section class="card"><h2>字段 <small>Fields ({len(fields)})</small></h2>'
            f"{note}{table}</section>"
        )

    def lineage(self, graph: Graph) -> str:
        def links(nodes: list) -> str:
            if not nodes:
                return '<span class="empty">无 none</span>'
            out = []
            for n in nodes:
                href = self.link(n.dataset)
                label = f"<code>{esc(n.dataset)}</code>"
                out.append(f'<a href="{esc(href)}">{label}</a>' if href else label)
            return "、".join(out)

        picture = lineage_svg(graph, link=self.link, id_prefix="lineage-svg")
        return (
            '<section class="card" id="lineage"><h2>数据血缘 <small>Lineage, '
            f"{self.depth} 层以内 within {self.depth} hops</small></h2>"
            f"{legend_html(graph)}"
            f'<div class="picture">{picture}</div>'
            f'<dl class="facts"><dt>上游 upstream</dt><dd id="upstream">{links(graph.upstream())}'
            f'</dd><dt>下游 downstream</dt><dd id="downstream">{links(graph.downstream())}</dd>'
            "</dl></section>"
        )

    def quality(self, key: str) -> str:
        scores = self.data.scores.get(key, [])
        overall = next((s for s in scores if s["dimension"] == "all"), None)
        if overall is None:
            score = '<p class="empty">暂无质量评分 No quality score yet.</p>'
        else:
            dims = [
                [esc(f"{DIMENSIONS.get(s['dimension'], s['dimension'])} {s['dimension']}"),
                 f'<span class="{_band(s["score"])}">{esc(s["score"])}</span>',
                 esc(s["rules"]), esc(s["rules_failed"]), esc(s["evaluated"]), esc(s["failed"])]
                for s in scores if s["dimension"] != "all"
            ]  # fmt: skip
            score = (
                f'<p><span class="score {_band(overall["score"])}" id="quality-score">'
                f"{esc(overall['score'])}</span> 业务日期 business date "
                f"{esc(overall['business_date'])} · 规则 rules {esc(overall['rules'])}，"
                f"未通过 failed {esc(overall['rules_failed'])}</p>"
                + _table(
                    "dimension-scores",
                    [
                        "维度 dimension",
                        "得分 score",
                        "规则 rules",
                        "未通过 failed",
                        "校验记录 rows",
                        "问题记录 failing rows",
                    ],
                    dims,
                    "",
                )
            )
        orders = [
            [esc(o["work_order_id"]), esc(o["state"]) + (" · 逾期 overdue" if o["overdue"] else ""),
             esc(o["severity"]), esc(o["title"]), esc(o["assignee"] or ""), esc(_when(o["due_at"]))]
            for o in self.data.orders.get(key, [])
        ]  # fmt: skip
        order_table = _table(
            "work-orders", ["编号 id", "状态 state", "严重度 severity", "标题 title",
                            "责任人 assignee", "截止 due"], orders,
            "没有未关闭的工单 No open work orders.",
        )  # fmt: skip
        assertions = self.data.assertions.get(key, [])
        checks = ""
        if assertions:
            rows = [
                [esc(a["field"] or "整表 table"), esc(a["assertion"]),
                 "通过 passed" if a["success"] else "未通过 failed", esc(_when(a["event_time"]))]
                for a in assertions
            ]  # fmt: skip
            checks = "<h3>运行时断言 <small>Assertions reported by the jobs</small></h3>" + _table(
                "assertions", ["字段 field", "断言 assertion", "结果 result", "时间 at"], rows, ""
            )
        return (
            '<section class="card" id="quality"><h2>数据质量 <small>Quality</small></h2>'
            f"{score}<h3>未关闭工单 <small>Open work orders</small></h3>{order_table}{checks}"
            "</section>"
        )


SEARCH_JS = r"""
(function () {
  "use strict";
  var index = JSON.parse(document.getElementById("search-index").textContent);
  var input = document.getElementById("q");
  var count = document.getElementById("count");
  var none = document.getElementById("no-results");
  var items = {};
  document.querySelectorAll("li[data-i]").forEach(function (li) {
    items[li.getAttribute("data-i")] = li;
  });
  var LABELS = { zh: "名称", en: "name", key: "标识 key", fields: "字段 field",
    field_text: "字段说明 field", elements: "数据元 data element", terms: "术语 term",
    code_sets: "代码集 code set", owner: "责任单位 owner", department: "部门 department",
    description: "描述 description", layer: "层 layer" };
  var ORDER = ["zh", "en", "key", "fields", "elements", "terms", "owner", "department",
    "code_sets", "field_text", "description", "layer"];
  function find(entry, token) {
    for (var i = 0; i < ORDER.length; i++) {
      var values = [].concat(entry[ORDER[i]] || []);
      for (var j = 0; j < values.length; j++) {
        if (String(values[j]).toLowerCase().indexOf(token) >= 0) {
          return LABELS[ORDER[i]] + ": " + values[j];
        }
      }
    }
    return null;
  }
  function search() {
    var tokens = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    index.forEach(function (entry, i) {
      var why = [];
      var ok = tokens.every(function (token) {
        var hit = find(entry, token);
        if (hit) { why.push(hit); }
        return hit !== null;
      });
      var li = items[String(i)];
      li.hidden = !ok;
      li.querySelector(".why").textContent =
        tokens.length && ok ? "匹配 matched — " + why.join("；") : "";
      if (ok) { shown += 1; }
    });
    document.querySelectorAll(".layer-group").forEach(function (group) {
      var all = group.querySelectorAll("li[data-i]").length;
      var visible = group.querySelectorAll("li[data-i]:not([hidden])").length;
      group.hidden = visible === 0;
      group.querySelector(".group-count").textContent =
        visible === all ? String(all) : visible + " / " + all;
    });
    count.textContent = String(shown);
    none.hidden = shown > 0;
  }
  input.addEventListener("input", search);
  var hash = /^#q=(.*)$/.exec(window.location.hash);
  if (hash) { input.value = decodeURIComponent(hash[1]); }
  search();
})();
"""


def build_site(
    conn: psycopg.Connection,
    out_dir: Path | str | None = None,
    principal: str = "public",
    depth: int = LINEAGE_DEPTH,
) -> BuiltSite:
    """Write the catalog site into ``out_dir`` (default ``<output>/catalog``); pages of
    datasets no longer in the store are removed. Raises
    :class:`govlake.lineage.graph.StoreUnavailable` when nothing has been harvested.

    ``conn`` is committed after each dataset page is made and before it is written, so
    tables sampled for a page are not held until the end and the audit rows of its
    unmasked samples (:func:`govlake.lineage.access.samples`) are kept; call it outside a
    ``conn.transaction()`` block (psycopg refuses the commit inside one)."""
    folder = Path(out_dir) if out_dir is not None else config.output_dir() / "catalog"
    principal = (principal or "").strip()
    if not principal:
        raise LineageError(
            "需要主体：样例按谁的权限脱敏？ · a principal is required (--as): whose "
            "permissions mask the sample values (the published site: public)"
        )
    require_store(conn)
    data = collect(conn)
    _commit(conn)
    site = _Site(conn, data, principal, depth)
    generated = datetime.now(ZoneInfo(config.TIMEZONE))
    pages_dir = folder / "datasets"
    pages_dir.mkdir(parents=True, exist_ok=True)
    written = set()
    for d in data.datasets:
        name = site.pages[d["dataset"]]
        page = site.dataset_page(d, generated)
        # the page's sampling ends here: its locks go, and the record of its unmasked reads
        # is kept before the values are written out (a later failure cannot take it back)
        _commit(conn)
        _write(pages_dir / name, page)
        written.add(name)
    for stale in pages_dir.glob("*.html"):
        if stale.name not in written:
            stale.unlink()
    index = folder / "index.html"
    _write(index, site.index_page(generated))
    notes = []
    if site.unsampled:
        shown = ", ".join(site.unsampled[:8]) + (" …" if len(site.unsampled) > 8 else "")
        notes.append(
            f"{len(site.unsampled)} 个数据集缺少样例（见各页面说明） datasets lack samples (each "
            f"page says why): {shown}"
        )
    return BuiltSite(folder, index, len(written), notes)
