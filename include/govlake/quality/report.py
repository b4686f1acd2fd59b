"""The daily quality report (《开平市政务数据质量日报》): one self-contained HTML page.

:func:`build_report` reads the day's scores (:func:`govlake.quality.scores.compute_scores`
must have run for that day), the day's audit results, the work orders and the blocked
batches, and writes ``quality-report-YYYY-MM-DD.html`` and ``index.html`` (a copy of the
latest day's report) into ``<output>/quality``.

The page has no script, no web font and no external reference: CSS and SVG charts are
inline, so it opens from a file share, on a big screen (大屏: dark theme by
``prefers-color-scheme``, the ``theme-dark`` class on ``<html>``, or the page's own
"大屏模式" link) and prints (light, one section per page).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg

from govlake import config
from govlake.governance.store import ensure_schema
from govlake.quality.model import DIMENSIONS, SEVERITIES, TEMPLATES
from govlake.quality.scores import LATEST_RESULTS, day_scores

TREND_DAYS = 14
TOP_RULES = 15
LIST_LIMIT = 50
REPORT_NAME = "quality-report-{:%Y-%m-%d}.html"
OPEN_STATES = ("open", "in_progress", "reopened")
STATES = {
    "open": ("待处理", "open"),
    "in_progress": ("处理中", "in progress"),
    "resolved": ("已整改待核验", "resolved"),
    "verified": ("已核验", "verified"),
    "closed": ("已关闭", "closed"),
    "reopened": ("重新打开", "reopened"),
}
# Tableau 10: distinguishable on the light and the dark theme
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip


# ---------------------------------------------------------------------------------------
# What the report shows


@dataclass
class ReportData:
    business_date: date
    generated_at: datetime
    out_dir: Path
    runs: list[dict[str, Any]] = field(default_factory=list)  # the day's counted runs
    scores: list[dict[str, Any]] = field(default_factory=list)
    trends: dict[str, dict[date, float]] = field(default_factory=dict)  # '*' | department
    top_rules: list[dict[str, Any]] = field(default_factory=list)
    work_orders: list[dict[str, Any]] = field(default_factory=list)  # counts by department
    overdue: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    departments: dict[str, tuple[str, str]] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)  # raw table → resource name
    table_departments: dict[str, str] = field(default_factory=dict)  # the day's tables

    def score(self, scope: str, key: str, dimension: str = "all") -> dict[str, Any] | None:
        for row in self.scores:
            if (row["scope"], row["scope_key"], row["dimension"]) == (scope, key, dimension):
                return row
        return None

    def department_name(self, code: str) -> str:
        return self.departments.get(code, (code, code))[0]


def _dicts(cursor: psycopg.Cursor) -> list[dict[str, Any]]:
    names = [c.name for c in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _department_names(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    try:  # the catalog files are the truth; the warehouse copy covers a catalog-less host
        from govlake.catalog.loader import default_catalog

        for d in default_catalog().departments.values():
            names[d.code] = (d.name_zh, d.name_en)
    except Exception:  # a broken catalog must not stop the report: codes are shown instead
        pass
    for code, zh, en in conn.execute("select code, name_zh, name_en from governance.department"):
        names.setdefault(code, (zh, en))
    return names


def collect(conn: psycopg.Connection, business_date: date) -> ReportData:
    """Read everything the report shows for one business day."""
    day = business_date
    data = ReportData(
        business_date=day,
        generated_at=datetime.now(ZoneInfo(config.TIMEZONE)),
        out_dir=Path("."),
    )
    data.departments = _department_names(conn)
    data.table_names = {
        table: name
        for table, name in conn.execute("select raw_table, name_zh from governance.resource")
    }
    data.runs = _dicts(
        conn.execute(
            f"with {LATEST_RESULTS} select r.run_id, r.table_name, r.trigger, r.started_at, "
            "r.finished_at, r.rows_audited, r.rules, r.rules_failed, r.blocking_failed, "
            "r.success, r.data_docs from governance.quality_run r "
            "join runs on runs.run_id = r.run_id and runs.n = 1 order by r.table_name",
            {"day": day},
        )
    )
    data.scores = day_scores(conn, day)
    data.table_departments = dict(
        conn.execute(
            f"with {LATEST_RESULTS} select table_name, min(department) from results "
            "group by table_name",
            {"day": day},
        ).fetchall()
    )
    for key, when, score in conn.execute(
        "select case scope when 'overall' then '*' else scope_key end, business_date, "
        "score::float8 from governance.quality_score where dimension = 'all' "
        "and scope in ('overall', 'department') and business_date between %s and %s",
        (day - timedelta(days=TREND_DAYS - 1), day),
    ):
        data.trends.setdefault(key, {})[when] = score
    data.top_rules = _dicts(
        conn.execute(
            f"with {LATEST_RESULTS} "
            "select q.rule_id, q.table_name, q.department, q.column_name, q.template, "
            "q.dimension, q.severity, q.evaluated, q.failed, q.sample, q.error, "
            "qr.description_zh, qr.description_en "
            "from results q left join governance.quality_rule qr using (rule_id) "
            "where not q.success or q.error is not null "
            "order by case when q.severity = 'blocking' then 3 else 1 end * "
            "  case when q.error is not null then 1 "
            "  else least(1, q.failed::numeric / greatest(q.evaluated, 1)) end desc, "
            "q.failed desc, q.rule_id limit %(limit)s",
            {"day": day, "limit": TOP_RULES},
        )
    )
    data.work_orders = _dicts(
        conn.execute(
            "select department, "
            "count(*) filter (where state = any(%(open)s)) as open, "
            "count(*) filter (where state = any(%(open)s) and severity = 'blocking') "
            "  as open_blocking, "
            "count(*) filter (where state = any(%(open)s) and due_at < now()) as overdue, "
            "count(*) filter (where state = 'resolved') as resolved "
            "from governance.work_order group by department "
            "having count(*) filter (where state = any(%(open)s) or state = 'resolved') > 0 "
            "order by overdue desc, open desc, department",
            {"open": list(OPEN_STATES)},
        )
    )
    data.overdue = _dicts(
        conn.execute(
            "select work_order_id, title, table_name, department, assignee, dimension, "
            "severity, state, opened_at, due_at, last_failed, "
            "extract(day from now() - due_at)::int as days_overdue "
            "from governance.work_order where state = any(%(open)s) and due_at < now() "
            "order by due_at, work_order_id limit %(limit)s",
            {"open": list(OPEN_STATES), "limit": LIST_LIMIT},
        )
    )
    data.blocked = _dicts(
        conn.execute(
            "select b.resource_id, b.batch_id, b.ingest_date, b.landed_rows, b.audit_run_id, "
            "res.name_zh, coalesce(res.department, split_part(b.resource_id, '.', 1)) "
            "  as department, "
            "(select string_agg(coalesce(qr.description_zh, q.rule_id) || '（' || q.failed "
            "   || '/' || q.evaluated || '）', '；' order by q.rule_id) "
            "   from governance.quality_result q "
            "   left join governance.quality_rule qr using (rule_id) "
            "  where q.run_id = b.audit_run_id and q.severity = 'blocking' "
            "    and (not q.success or q.error is not null)) as rules "
            "from governance.batch b left join governance.resource res using (resource_id) "
            "where b.audit_state = 'blocked' and b.ingest_date <= %s "
            "order by b.ingest_date desc, b.resource_id, b.batch_id limit %s",
            (day, LIST_LIMIT),
        )
    )
    return data


# ---------------------------------------------------------------------------------------
# Formatting


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def fmt_score(value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def fmt_int(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def band(value: float | None) -> str:
    """good ≥ 90, fair ≥ 75, poor below; none without a score."""
    if value is None:
        return "none"
    return "good" if value >= 90 else "fair" if value >= 75 else "poor"


def _dimension_label(dim: str) -> str:
    return f"{DIMENSIONS[dim][0]} {dim}" if dim in DIMENSIONS else dim


def _severity_badge(severity: str) -> str:
    zh = SEVERITIES.get(severity, (severity,))[0]
    return f'<span class="badge sev-{esc(severity)}">{esc(zh)} {esc(severity)}</span>'


def _sample_text(sample: Any, limit: int = 3) -> str:
    if sample in (None, [], {}):
        return ""
    values = sample if isinstance(sample, list) else [sample]
    shown = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
    text = "、".join(shown[:limit]) + (" …" if len(shown) > limit else "")
    return text if len(text) <= 160 else text[:157] + "…"


def _time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(config.TIMEZONE)).strftime("%Y-%m-%d %H:%M")


def _docs_href(path_text: str, out_dir: Path) -> str:
    """A link to GX data docs: relative when under the output folder, else a file URI."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path_text):
        return path_text
    path = Path(path_text)
    if not path.is_absolute():
        path = config.output_dir() / path
    path = path.resolve()
    for root in (out_dir.resolve(), config.output_dir()):
        if path.is_relative_to(root):
            return quote(Path(os.path.relpath(path, out_dir.resolve())).as_posix())
    return path.as_uri()


# ---------------------------------------------------------------------------------------
# SVG charts (viewBox-sized: they scale with their box and print unclipped)


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def gauge_svg(score: float | None) -> str:
    cx, cy, r = 150, 150, 120
    track = f"M{cx - r},{cy} A{r},{r} 0 0 1 {cx + r},{cy}"
    body = f'<path class="gauge-track" d="{track}"/>'
    if score is not None and score > 0:
        angle = math.pi * (1 - min(score, 100) / 100)
        x, y = cx + r * math.cos(angle), cy - r * math.sin(angle)
        body += f'<path class="gauge-value {band(score)}" d="M{cx - r},{cy} A{r},{r} 0 0 1 {x:.2f},{y:.2f}"/>'  # noqa: E501
    body += (
        f'<text class="axis" x="{cx - r}" y="{cy + 24}" text-anchor="middle">0</text>'
        f'<text class="axis" x="{cx + r}" y="{cy + 24}" text-anchor="middle">100</text>'
    )
    return _svg(300, 180, body, f"总体评分 overall score {fmt_score(score)}")


def bars_svg(rows: Sequence[tuple[str, float | None, str]], label: str) -> str:
    """Horizontal bars: (label, score or None, tooltip) per row, on a 0–100 scale."""
    if not rows:
        return '<p class="empty">暂无评分 No scores yet.</p>'
    longest = max(sum(18 if ord(c) > 0x2E80 else 10 for c in name) for name, _, _ in rows)
    left, right, row_h, top = int(min(max(longest + 24, 120), 330)), 64, 44, 30
    width = left + 360 + right
    plot = width - left - right
    height = top + row_h * len(rows) + 8
    body = []
    for tick in (0, 25, 50, 75, 90, 100):
        x = left + plot * tick / 100
        cls = "grid threshold" if tick == 90 else "grid"
        body.append(f'<line class="{cls}" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" '
                    f'y2="{height - 8}"/>')  # fmt: skip
        body.append(f'<text class="axis" x="{x:.1f}" y="{top - 12}" '
                    f'text-anchor="middle">{tick}</text>')  # fmt: skip
    for i, (name, value, tip) in enumerate(rows):
        y = top + i * row_h
        mid = y + row_h / 2
        body.append(f"<g><title>{esc(tip)}</title>")
        body.append(f'<text class="label" x="{left - 12}" y="{mid + 6:.1f}" '
                    f'text-anchor="end">{esc(name)}</text>')  # fmt: skip
        if value is None:
            body.append(f'<text class="axis" x="{left + 8}" y="{mid + 6:.1f}">'
                        "无规则 no rules</text>")  # fmt: skip
        else:
            w = max(plot * min(value, 100) / 100, 2)
            body.append(f'<rect class="bar {band(value)}" x="{left}" y="{y + 8}" '
                        f'width="{w:.1f}" height="{row_h - 16}" rx="4"/>')  # fmt: skip
            body.append(f'<text class="value" x="{left + w + 8:.1f}" y="{mid + 7:.1f}">'
                        f"{fmt_score(value)}</text>")  # fmt: skip
        body.append("</g>")
    return _svg(width, height, "".join(body), label)


def trend_svg(
    days: Sequence[date], series: Sequence[tuple[str, str, dict[date, float], bool]]
) -> str:
    """Lines over ``days``: (name, colour, scores by day, is the overall line) per series."""
    values = [v for _, _, points, _ in series for v in points.values()]
    if not values:
        return '<p class="empty">近期暂无评分 No scores in the last days.</p>'
    step_y = 10 if min(values) >= 55 else 20
    low = max(0, 100 - math.ceil((100 - min(values) + 5) / step_y) * step_y)
    width, height = 960, 380
    left, right, top, bottom = 56, 24, 20, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(days) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        return left + i * step, top + plot_h * (100 - value) / (100 - low)

    body = []
    for tick in range(100, low - 1, -step_y):
        _, y = xy(0, tick)
        body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" '
                    f'y2="{y:.1f}"/><text class="axis" x="{left - 8}" y="{y + 5:.1f}" '
                    f'text-anchor="end">{tick}</text>')  # fmt: skip
    for i, day in enumerate(days):
        if len(days) <= 16 or i % 2 == 0:
            x, _ = xy(i, 100)
            body.append(f'<text class="axis" x="{x:.1f}" y="{height - 16}" '
                        f'text-anchor="middle">{day:%m-%d}</text>')  # fmt: skip
    for name, colour, points, overall in sorted(series, key=lambda s: s[3]):  # overall on top
        cls = "line overall" if overall else "line"
        style = "" if overall else f' style="stroke:{colour}"'
        segment: list[str] = []
        segments: list[list[str]] = []
        dots = []
        for i, day in enumerate(days):
            if day in points:
                x, y = xy(i, points[day])
                segment.append(f"{x:.1f},{y:.1f}")
                fill = "" if overall else f' style="fill:{colour}"'
                dots.append(f'<circle class="dot{" overall" if overall else ""}" cx="{x:.1f}" '
                            f'cy="{y:.1f}" r="{5 if overall else 3.5}"{fill}><title>'
                            f"{esc(name)} {day:%Y-%m-%d}: {fmt_score(points[day])}"
                            "</title></circle>")  # fmt: skip
            elif segment:
                segments.append(segment)
                segment = []
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                body.append(f'<polyline class="{cls}"{style} points="{" ".join(seg)}"/>')
        body.extend(dots)
    return _svg(width, height, "".join(body), "近14日评分趋势 score trend")


# ---------------------------------------------------------------------------------------
# The page

LIGHT = """
  --bg: #f3f5f9; --card: #ffffff; --fg: #1b2433; --muted: #5b6778; --line: #dfe4ec;
  --head: #eef2f8; --good: #1a8a4a; --fair: #c07a00; --poor: #c8372d; --accent: #1f5fbf;
  --none: #9aa5b4; color-scheme: light;"""
DARK = """
  --bg: #07101f; --card: #0f1b30; --fg: #e8eef8; --muted: #98a8c0; --line: #253656;
  --head: #16243d; --good: #3ccf7e; --fair: #f5b83d; --poor: #ff6b5e; --accent: #5aa2ff;
  --none: #5d6b80; color-scheme: dark;"""
DARK_SELECTORS = ":root.theme-dark, :root:has(#bigscreen:target)"

CSS = (
    """
:root {"""
    + LIGHT
    + """
  --font: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
    "WenQuanYi Micro Hei", system-ui, sans-serif;
  font-size: clamp(14px, 0.55vw + 7px, 20px);
}
@media (prefers-color-scheme: dark) { :root {"""
    + DARK
    + """ } }
"""
    + DARK_SELECTORS
    + " {"
    + DARK
    + """ }
:root.theme-light {"""
    + LIGHT
    + """ }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font-family: var(--font);
  line-height: 1.45; }
header { padding: 1.2rem 2rem 0.6rem; display: flex; flex-wrap: wrap; align-items: baseline;
  gap: 0.4rem 2rem; }
header h1 { margin: 0; font-size: 2.1rem; letter-spacing: 0.04em; }
header h1 small { display: block; font-size: 0.95rem; font-weight: 400; color: var(--muted);
  letter-spacing: 0; }
header .meta { color: var(--muted); }
header .meta strong { color: var(--fg); font-size: 1.25rem; }
nav { padding: 0 2rem 0.6rem; display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; }
nav a, a { color: var(--accent); }
nav a { text-decoration: none; font-size: 0.92rem; }
main { display: grid; grid-template-columns: repeat(12, minmax(0, 1fr)); gap: 1.1rem;
  grid-auto-flow: row dense; padding: 0.4rem 2rem 2rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem 1.3rem 1.2rem; grid-column: span 12; min-width: 0; }
.card h2 { margin: 0 0 0.8rem; font-size: 1.3rem; }
.card h2 small { font-weight: 400; color: var(--muted); font-size: 0.85rem; margin-left: 0.4em; }
.span-3 { grid-column: span 3; } .span-4 { grid-column: span 4; }
.span-5 { grid-column: span 5; } .span-7 { grid-column: span 7; }
.span-8 { grid-column: span 8; }
@media (max-width: 1400px) { .span-3, .span-4, .span-5 { grid-column: span 6; }
  .span-7, .span-8 { grid-column: span 12; } }
@media (max-width: 1600px) { .kpis { grid-template-columns: repeat(5, minmax(0, 1fr)); } }
@media (max-width: 900px) { .card { grid-column: span 12 !important; }
  .kpis { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.notice { grid-column: span 12; padding: 1rem 1.3rem; border-radius: 10px;
  border: 2px dashed var(--fair); font-size: 1.15rem; }
.overall { text-align: center; }
.gauge { position: relative; container-type: inline-size; max-width: 30rem;
  margin: 0 auto; }
.big { position: absolute; left: 0; right: 0; bottom: 5cqw; font-size: 23cqw;
  font-weight: 700; line-height: 1; letter-spacing: -0.02em;
  font-variant-numeric: tabular-nums; }
.big.good { color: var(--good); } .big.fair { color: var(--fair); }
.big.poor { color: var(--poor); } .big.none { color: var(--none); }
.big-sub { color: var(--muted); margin: 0.4rem 0 0.6rem; }
.bands { font-size: 0.85rem; margin: 0; }
.warn { color: var(--fair); }
.kpis { grid-column: span 12; display: grid; gap: 0.8rem;
  grid-template-columns: repeat(auto-fit, minmax(8.6rem, 1fr)); }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 0.55rem 0.9rem; }
.kpi b { display: block; font-size: 2.3rem; line-height: 1.15;
  font-variant-numeric: tabular-nums; }
.kpi span { color: var(--muted); font-size: 0.85rem; }
.kpi.alert b { color: var(--poor); }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { fill: var(--fg); font-family: var(--font); }
svg.chart .axis { fill: var(--muted); font-size: 15px; }
svg.chart .label { font-size: 18px; }
svg.chart .value { font-size: 18px; font-weight: 700; }
svg.chart .grid { stroke: var(--line); stroke-width: 1; }
svg.chart .threshold { stroke: var(--good); stroke-dasharray: 5 4; }
.bar.good, .gauge-value.good { fill: var(--good); stroke: var(--good); }
.bar.fair, .gauge-value.fair { fill: var(--fair); stroke: var(--fair); }
.bar.poor, .gauge-value.poor { fill: var(--poor); stroke: var(--poor); }
.gauge-track, .gauge-value { fill: none !important; stroke-width: 26; stroke-linecap: round; }
.gauge-track { stroke: var(--line); }
.line { fill: none; stroke-width: 2.2; stroke-linejoin: round; opacity: 0.9; }
.line.overall { stroke: var(--fg); stroke-width: 4.5; opacity: 1; }
.dot.overall { fill: var(--fg); }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1.1rem; margin: 0.6rem 0 0; padding: 0;
  list-style: none; font-size: 0.9rem; }
.legend i { display: inline-block; width: 1.4em; height: 0.35em; border-radius: 2px;
  vertical-align: middle; margin-right: 0.35em; }
.legend .overall i { height: 0.55em; background: var(--fg); }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
th, td { padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
td.score { font-weight: 700; text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
td.score.good { color: var(--good); } td.score.fair { color: var(--fair); }
td.score.poor { color: var(--poor); } td.score.none { color: var(--none); font-weight: 400; }
.en { color: var(--muted); font-size: 0.85em; }
.sample { font-family: ui-monospace, "Noto Sans Mono CJK SC", monospace; font-size: 0.85em; }
.badge { display: inline-block; padding: 0.05rem 0.45rem; border-radius: 999px;
  font-size: 0.8rem; white-space: nowrap; border: 1px solid currentColor; }
.sev-blocking { color: var(--poor); } .sev-warning { color: var(--fair); }
.ok { color: var(--good); } .bad { color: var(--poor); }
.empty { color: var(--muted); font-style: italic; }
.error { color: var(--poor); }
footer { padding: 0 2rem 2rem; color: var(--muted); font-size: 0.85rem; }
:root:has(#bigscreen:target) { font-size: clamp(15px, 0.62vw + 7px, 24px); }
:root:has(#bigscreen:target) nav, :root:has(#bigscreen:target) footer { display: none; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  :root, """
    + DARK_SELECTORS
    + " {"
    + LIGHT
    + """ font-size: 10pt; }
  body { background: #fff; }
  nav, .screen-only { display: none !important; }
  header { padding: 0 0 0.6rem; }
  main { display: block; padding: 0; }
  .card { break-before: page; border: 1px solid #bbb; margin: 0 0 1rem; }
  .card.first, .notice + .card { break-before: auto; }
  .notice { margin-bottom: 1rem; }
  .table-wrap { overflow: visible; }
  svg.chart { max-width: 100%; height: auto; max-height: 240mm; break-inside: avoid; }
  .gauge { max-width: 110mm; }
  .kpis { margin-bottom: 1rem; grid-template-columns: repeat(5, minmax(0, 1fr)); }
  .kpi b { font-size: 18pt; }
  thead { display: table-header-group; }
  tr, .kpi { break-inside: avoid; }
  a { color: inherit; }
}
"""
)


def _overall_section(data: ReportData) -> str:
    overall = data.score("overall", "*")
    value = overall["score"] if overall else None
    tables = sum(1 for s in data.scores if s["scope"] == "table" and s["dimension"] == "all")
    departments = sum(
        1 for s in data.scores if s["scope"] == "department" and s["dimension"] == "all"
    )
    open_orders = sum(w["open"] for w in data.work_orders)
    overdue = sum(w["overdue"] for w in data.work_orders)
    kpis = [
        ("部门 departments", fmt_int(departments if overall else None), False),
        ("表 tables audited", fmt_int(tables if overall else None), False),
        ("规则 rules", fmt_int(overall["rules"] if overall else None), False),
        ("未通过规则 rules failed", fmt_int(overall["rules_failed"] if overall else None),
         bool(overall and overall["rules_failed"])),
        ("校验记录 rows evaluated", fmt_int(overall["evaluated"] if overall else None), False),
        ("问题记录 rows failed", fmt_int(overall["failed"] if overall else None),
         bool(overall and overall["failed"])),
        ("未关闭工单 open work orders", fmt_int(open_orders), bool(open_orders)),
        ("逾期工单 overdue", fmt_int(overdue), bool(overdue)),
        ("阻断批次 blocked batches", fmt_int(len(data.blocked)), bool(data.blocked)),
        ("审计运行 audit runs", fmt_int(len(data.runs)), False),
    ]  # fmt: skip
    tiles = "".join(
        f'<div class="kpi{" alert" if alert else ""}"><b>{esc(v)}</b><span>{esc(k)}</span></div>'
        for k, v, alert in kpis
    )
    return (
        f'<section class="kpis" id="kpis" aria-label="关键指标 key figures">{tiles}</section>'
        '<section class="card span-3 overall first" id="overall">'
        "<h2>总体评分<small>Overall score</small></h2>"
        f'<div class="gauge">{gauge_svg(value)}'
        f'<div class="big {band(value)}" id="overall-score">{fmt_score(value)}</div></div>'
        '<p class="big-sub">满分 100 · 各部门评分的平均值<br>'
        "out of 100 · mean of the departments</p>"
        '<p class="bands"><span class="ok">≥ 90 良好 good</span> · '
        '<span class="warn">75–90 一般 fair</span> · <span class="bad">&lt; 75 较差 poor</span>'
        "</p></section>"
    )


def _department_codes(data: ReportData) -> list[str]:
    rows = [s for s in data.scores if s["scope"] == "department" and s["dimension"] == "all"]
    return [s["scope_key"] for s in sorted(rows, key=lambda s: (-s["score"], s["scope_key"]))]


def _departments_section(data: ReportData) -> str:
    rows = []
    for code in _department_codes(data):
        s = data.score("department", code)
        assert s is not None
        tip = (f"{data.department_name(code)}: {fmt_score(s['score'])} — "
               f"规则 {s['rules']} rules, 未通过 {s['rules_failed']} failed")  # fmt: skip
        rows.append((data.department_name(code), s["score"], tip))
    return (
        '<section class="card span-5" id="departments">'
        "<h2>部门评分<small>Scores by department</small></h2>"
        f"{bars_svg(rows, '部门评分 scores by department')}</section>"
    )


def _dimensions_section(data: ReportData) -> str:
    rows = []
    if data.score("overall", "*") is not None:
        for dim, (zh, en) in DIMENSIONS.items():
            s = data.score("overall", "*", dim)
            tip = f"{zh} {dim}: {en}" + (f" — 规则 {s['rules']} rules" if s else "")
            rows.append((f"{zh} {dim}", s["score"] if s else None, tip))
    return (
        '<section class="card span-4" id="dimensions">'
        "<h2>维度评分<small>Scores by dimension (GB/T 36344)</small></h2>"
        f"{bars_svg(rows, '维度评分 scores by dimension')}</section>"
    )


def _matrix_section(data: ReportData) -> str:
    codes = _department_codes(data)
    if not codes:
        return ""
    head = "".join(
        f'<th class="num">{esc(zh)}<br><span class="en">{esc(dim)}</span></th>'
        for dim, (zh, _) in DIMENSIONS.items()
    )
    body = []
    for code in [*codes, "*"]:
        scope = "overall" if code == "*" else "department"
        total = data.score(scope, code)
        assert total is not None
        if code == "*":
            name = "<b>全市 all departments</b>"
        else:
            zh, en = data.departments.get(code, (code, code))
            name = f'{esc(zh)}<br><span class="en">{esc(en)}</span>'
        tables = sum(
            1
            for table, owner in data.table_departments.items()
            if (code == "*" or owner == code) and data.score("table", table) is not None
        )
        cells = []
        for dim in DIMENSIONS:
            s = data.score(scope, code, dim)
            value = s["score"] if s else None
            cells.append(f'<td class="score {band(value)}">{fmt_score(value)}</td>')
        body.append(
            f"<tr><td>{name}</td>"
            f'<td class="score {band(total["score"])}">{fmt_score(total["score"])}</td>'
            + "".join(cells)
            + f'<td class="num">{tables}</td><td class="num">{fmt_int(total["rules"])}</td>'
            f'<td class="num">{fmt_int(total["rules_failed"])}</td>'
            f'<td class="num">{fmt_int(total["failed"])} / {fmt_int(total["evaluated"])}</td>'
            "</tr>"
        )
    return (
        '<section class="card" id="matrix">'
        "<h2>部门 × 维度<small>Department × dimension scores</small></h2>"
        '<div class="table-wrap"><table><thead><tr><th>部门 department</th>'
        f'<th class="num">总分<br><span class="en">all</span></th>{head}'
        '<th class="num">表<br><span class="en">tables</span></th>'
        '<th class="num">规则<br><span class="en">rules</span></th>'
        '<th class="num">未通过<br><span class="en">failed</span></th>'
        '<th class="num">问题/校验记录<br><span class="en">failed / evaluated rows</span></th>'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _trend_section(data: ReportData) -> str:
    days = [data.business_date - timedelta(days=i) for i in range(TREND_DAYS - 1, -1, -1)]
    series: list[tuple[str, str, dict[date, float], bool]] = []
    legend = []
    if data.trends.get("*"):
        series.append(("全市 overall", "", data.trends["*"], True))
        legend.append('<li class="overall"><i></i>全市 overall</li>')
    codes = sorted((k for k in data.trends if k != "*"), key=lambda c: (c not in
                   _department_codes(data), c))  # fmt: skip
    for i, code in enumerate(codes):
        colour = PALETTE[i % len(PALETTE)]
        name = data.department_name(code)
        series.append((name, colour, data.trends[code], False))
        legend.append(f'<li><i style="background:{colour}"></i>{esc(name)}</li>')
    legend_html = f'<ul class="legend">{"".join(legend)}</ul>' if legend else ""
    return (
        '<section class="card span-7" id="trends">'
        f"<h2>近{TREND_DAYS}日趋势<small>Trend over the last {TREND_DAYS} days "
        f"({days[0]:%m-%d} – {days[-1]:%m-%d})</small></h2>"
        f"{trend_svg(days, series)}{legend_html}</section>"
    )


def _rule_name(rule: dict[str, Any]) -> str:
    zh = rule.get("description_zh") or TEMPLATES.get(rule["template"], (rule["template"],))[0]
    en = rule.get("description_en") or rule["rule_id"]
    return f'{esc(zh)}<br><span class="en">{esc(en)}</span>'


def _table_label(data: ReportData, table: str) -> str:
    zh = data.table_names.get(table)
    return (f"{esc(zh)}<br>" if zh else "") + f'<span class="en">{esc(table)}</span>'


def _rules_section(data: ReportData) -> str:
    if not data.top_rules:
        text = "今日所有规则均通过 Every rule passed." if data.runs else "暂无审计结果 No results."
        return (
            '<section class="card" id="rules"><h2>主要问题规则<small>Top failing rules</small>'
            f'</h2><p class="empty">{text}</p></section>'
        )
    body = []
    for r in data.top_rules:
        if r["error"]:
            result = f'<span class="error">无法执行 error: {esc(r["error"][:120])}</span>'
            ratio = "—"
        else:
            result = f'<span class="sample">{esc(_sample_text(r["sample"]))}</span>'
            ratio = f"{r['failed'] / max(r['evaluated'], 1):.1%}"
        column = f'<br><span class="en">{esc(r["column_name"])}</span>' if r["column_name"] else ""
        body.append(
            f"<tr><td>{_rule_name(r)}</td><td>{_table_label(data, r['table_name'])}{column}</td>"
            f"<td>{esc(data.department_name(r['department']))}</td>"
            f"<td>{esc(_dimension_label(r['dimension']))}</td>"
            f"<td>{_severity_badge(r['severity'])}</td>"
            f'<td class="num">{fmt_int(r["failed"])} / {fmt_int(r["evaluated"])}'
            f'<br><span class="en">{ratio}</span></td><td>{result}</td></tr>'
        )
    return (
        '<section class="card" id="rules">'
        f"<h2>主要问题规则<small>Top {TOP_RULES} failing rules, blocking first</small></h2>"
        '<div class="table-wrap"><table><thead><tr><th>规则 rule</th><th>表 table</th>'
        "<th>部门 department</th><th>维度 dimension</th><th>级别 severity</th>"
        '<th class="num">问题/校验 failed / evaluated</th><th>样例（已脱敏）masked sample</th>'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div></section>"
    )


def _work_orders_section(data: ReportData) -> str:
    if data.work_orders:
        rows = "".join(
            f"<tr><td>{esc(data.department_name(w['department']))}</td>"
            f'<td class="num">{w["open"]}</td><td class="num">{w["open_blocking"]}</td>'
            f'<td class="num{" bad" if w["overdue"] else ""}">{w["overdue"]}</td>'
            f'<td class="num">{w["resolved"]}</td></tr>'
            for w in data.work_orders
        )
        counts = (
            '<div class="table-wrap"><table><thead><tr><th>部门 department</th>'
            '<th class="num">未关闭 open</th><th class="num">其中阻断 blocking</th>'
            '<th class="num">逾期 overdue</th><th class="num">待核验 resolved</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>"
        )
    else:
        counts = '<p class="empty">无未关闭工单 No open work orders.</p>'
    return (
        '<section class="card span-5" id="work-orders">'
        "<h2>问题工单<small>Open work orders by department</small></h2>"
        f"{counts}</section>"
    )


def _overdue_section(data: ReportData) -> str:
    if data.overdue:
        rows = "".join(
            f'<tr><td class="num">#{o["work_order_id"]}</td><td>{esc(o["title"])}<br>'
            f'<span class="en">{esc(o["table_name"])}</span></td>'
            f"<td>{esc(data.department_name(o['department']))}"
            + (f'<br><span class="en">{esc(o["assignee"])}</span>' if o["assignee"] else "")
            + f"</td><td>{esc(_dimension_label(o['dimension']))}</td>"
            f"<td>{_severity_badge(o['severity'])}</td>"
            f"<td>{esc(STATES.get(o['state'], (o['state'],))[0])}</td>"
            f"<td>{_time(o['due_at'])}</td>"
            f'<td class="num bad">{max(o["days_overdue"], 0)} 天 days</td>'
            f'<td class="num">{fmt_int(o["last_failed"])}</td></tr>'
            for o in data.overdue
        )
        overdue = (
            '<div class="table-wrap"><table><thead><tr><th class="num">编号 no.</th>'
            "<th>工单 work order</th><th>责任部门 department</th><th>维度 dimension</th>"
            "<th>级别 severity</th><th>状态 state</th><th>期限 due</th>"
            '<th class="num">逾期 overdue</th><th class="num">最近问题数 last failed</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div>"
        )
    else:
        overdue = '<p class="empty ok">无逾期工单 No overdue work orders.</p>'
    return (
        '<section class="card" id="overdue">'
        "<h2>逾期工单<small>Overdue work orders</small></h2>"
        f"{overdue}</section>"
    )


def _blocked_section(data: ReportData) -> str:
    if data.blocked:
        rows = "".join(
            f"<tr><td>{b['ingest_date']:%Y-%m-%d}</td>"
            f'<td>{esc(b["name_zh"] or "")}<br><span class="en">{esc(b["resource_id"])}'
            f"</span></td><td>{esc(data.department_name(b['department']))}</td>"
            f'<td class="sample">{esc(b["batch_id"])}</td>'
            f'<td class="num">{fmt_int(b["landed_rows"])}</td>'
            f"<td>{esc(b['rules'] or '')}</td></tr>"
            for b in data.blocked
        )
        content = (
            '<div class="table-wrap"><table><thead><tr><th>归集日期 ingest date</th>'
            "<th>资源 resource</th><th>部门 department</th><th>批次 batch</th>"
            '<th class="num">行数 rows</th><th>未通过的阻断规则 failed blocking rules</th>'
            f"</tr></thead><tbody>{rows}</tbody></table></div>"
        )
    else:
        content = '<p class="empty ok">无被阻断的批次 No batch is blocked.</p>'
    return (
        '<section class="card" id="batches">'
        "<h2>阻断批次<small>Batches held back by a blocking rule</small></h2>"
        f"{content}</section>"
    )


def _docs_section(data: ReportData) -> str:
    rows = []
    for run in data.runs:
        link = (
            f'<a href="{esc(_docs_href(run["data_docs"], data.out_dir))}">数据文档 data docs</a>'
            if run["data_docs"]
            else '<span class="empty">—</span>'
        )
        if run["success"]:
            outcome = '<span class="ok">通过 passed</span>'
        elif run["blocking_failed"]:
            outcome = '<span class="bad">阻断 blocked</span>'
        else:
            outcome = '<span class="bad">未通过 failed</span>'
        rows.append(
            f"<tr><td>{_table_label(data, run['table_name'])}</td><td>{esc(run['trigger'])}</td>"
            f"<td>{_time(run['finished_at'])}</td>"
            f'<td class="num">{fmt_int(run["rows_audited"])}</td>'
            f'<td class="num">{fmt_int(run["rules_failed"])} / {fmt_int(run["rules"])}</td>'
            f"<td>{outcome}</td><td>{link}</td></tr>"
        )
    if not rows:
        content = '<p class="empty">该日无审计运行 No audit runs on this day.</p>'
    else:
        content = (
            '<div class="table-wrap"><table><thead><tr><th>表 table</th><th>触发 trigger</th>'
            '<th>完成 finished</th><th class="num">记录 rows</th>'
            '<th class="num">未通过/规则 failed / rules</th><th>结果 outcome</th>'
            f"<th>GX 数据文档 data docs</th></tr></thead><tbody>{''.join(rows)}</tbody>"
            "</table></div>"
        )
    return (
        '<section class="card" id="data-docs">'
        "<h2>审计运行与数据文档<small>Audit runs and Great Expectations data docs</small></h2>"
        f"{content}</section>"
    )


NAV = (
    ("overall", "总体 overall"), ("departments", "部门 departments"),
    ("dimensions", "维度 dimensions"), ("trends", "趋势 trends"),
    ("work-orders", "工单 work orders"), ("matrix", "部门×维度 matrix"),
    ("rules", "问题规则 failing rules"), ("overdue", "逾期工单 overdue"),
    ("batches", "阻断批次 blocked batches"), ("data-docs", "数据文档 data docs"),
)  # fmt: skip


def render(data: ReportData) -> str:
    """The report page of ``data``."""
    day = data.business_date
    notice = ""
    if not data.runs and not data.scores:
        notice = (
            '<div class="notice" id="no-data"><b>该业务日暂无质量审计结果。</b> '
            f"No quality audit results for {day:%Y-%m-%d} yet: the audits of this business "
            "day have not run (or not finished). 工单与阻断批次仍如下所示 Work orders and "
            "blocked batches are shown below.</div>"
        )
    elif data.runs and not data.scores:
        notice = (
            '<div class="notice" id="no-scores"><b>该业务日尚未计算评分。</b> '
            f"Audits ran on {day:%Y-%m-%d} but its scores have not been computed "
            "(govlake.quality.scores.compute_scores).</div>"
        )
    nav = "".join(f'<a href="#{key}">{esc(label)}</a>' for key, label in NAV)
    sections = [
        _overall_section(data),
        _departments_section(data),
        _dimensions_section(data),
        _trend_section(data),
        _work_orders_section(data),
        _matrix_section(data),
        _rules_section(data),
        _overdue_section(data),
        _blocked_section(data),
        _docs_section(data),
    ]
    title = f"开平市政务数据质量日报 {day:%Y-%m-%d}"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="govlake.quality.report">
<title>{esc(title)} · Kaiping Government Data Quality Daily Report</title>
<style>{CSS}</style>
</head>
<body>
<span id="bigscreen"></span>
<header>
<h1>《开平市政务数据质量日报》<small>Kaiping Government Data Quality Daily Report</small></h1>
<div class="meta">业务日期 Business date <strong id="business-date">{day:%Y-%m-%d}</strong>
· 生成于 generated {data.generated_at:%Y-%m-%d %H:%M} (UTC+8)
· 依据 GB/T 36344-2018 数据质量评价指标</div>
</header>
<nav class="screen-only">{nav}<a href="#bigscreen">大屏模式 big screen</a>
<a href="#">标准模式 standard</a></nav>
<main>
{notice}
{"".join(sections)}
</main>
<footer>评分方法：规则通过率 = 1 − 问题记录/校验记录（执行出错计 0）；
表的维度得分 = 100 × 通过率加权平均（阻断 3、警告 1）；
表、部门、全市总分为下一级得分的平均值。Scoring: docs/quality.md.
工单与阻断批次为生成时的状态 Work orders and batches as of generation time.</footer>
</body>
</html>
"""


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def build_report(
    conn: psycopg.Connection,
    business_date: date | str,
    out_dir: Path | str | None = None,
) -> Path:
    """Write the day's report and refresh ``index.html``; returns the day's report file.

    ``out_dir`` defaults to ``<GOVLAKE_OUTPUT_DIR>/quality``. ``index.html`` is a copy of the
    latest day's report in the folder (building an older day does not replace it).
    """
    day = business_date if isinstance(business_date, date) else date.fromisoformat(business_date)
    folder = Path(out_dir) if out_dir is not None else config.output_dir() / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    ensure_schema(conn)
    data = collect(conn, day)
    data.out_dir = folder
    path = folder / REPORT_NAME.format(day)
    _write(path, render(data))
    latest = max(_report_days(folder.iterdir()), default=day)
    source = folder / REPORT_NAME.format(latest)
    _write(folder / "index.html", source.read_text(encoding="utf-8"))
    return path


def _report_days(paths: Iterable[Path]) -> Iterable[date]:
    for p in paths:
        m = re.fullmatch(r"quality-report-(\d{4}-\d{2}-\d{2})\.html", p.name)
        if m:
            yield date.fromisoformat(m.group(1))
