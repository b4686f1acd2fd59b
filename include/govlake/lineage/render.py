"""Lineage as people read it: a terminal table, an SVG picture, a standalone HTML page.

The picture is laid out left to right by distance from the target (upstream on the left,
downstream on the right; a dataset two paths away sits at the longer one, so every edge
points right), one box per dataset coloured by its layer and grouped by layer within a
column. At column level each box lists the columns reached, and edges join column rows.
Edges are curves; hovering one highlights it and shows its transformation, step and the
harvesters that saw it (SVG ``<title>``). The SVG is well-formed XML with its own style,
so it stands alone (``--svg``) or inline in a page; the page (``--html``), like the
quality report, has no script, no web font and no external reference.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from govlake import config
from govlake.lineage.graph import (
    LAYERS,
    Edge,
    Graph,
    Impact,
    Node,
    layer_label,
    layer_rank,
)

# Tableau 10 and neighbours, as in the quality report: readable on light and dark
LAYER_COLOURS = {
    "source": "#9c755f",
    "lake": "#76b7b2",
    "raw": "#bab0ac",
    "staging": "#edc948",
    "standards": "#ff9da7",
    "basic": "#4e79a7",
    "thematic": "#59a14f",
    "special": "#f28e2b",
    "sensor": "#b07aa1",
    "governance": "#8c8c8c",
    "report": "#e15759",
    "export": "#d37295",
    "other": "#79706e",
}
BOX_W = 270
GAP_X = 110
HEAD_H = 46
ROW_H = 19
GAP_Y = 18
MARGIN = 24
TOP = 40  # room for the column headings

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def esc(value: object) -> str:
    """Text for HTML and XML alike (characters XML forbids are dropped)."""
    return html.escape(_XML_INVALID.sub("", "" if value is None else str(value)), quote=True)


def colour(layer: str) -> str:
    return LAYER_COLOURS.get(layer, LAYER_COLOURS["other"])


def ink(fill: str) -> str:
    """Text colour readable on ``fill`` (#rrggbb): dark on light colours, white on dark."""
    red, green, blue = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#1b2433" if luminance > 0.6 else "#ffffff"


def _text_width(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _fit(text: str, width: float, size: float) -> str:
    """Cut ``text`` to ``width`` pixels (estimated) with an ellipsis."""
    if _text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if _text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


# ---------------------------------------------------------------------------------------
# Layout


def _longest(start: str, nodes: set[str], away: dict[str, set[str]]) -> dict[str, int]:
    """Longest hop count from ``start`` to each node, walking ``away``; edges closing a
    cycle are left out (found by depth-first search), so the result is finite."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    keep: dict[str, list[str]] = defaultdict(list)
    stack = [(start, iter(sorted(away.get(start, set()) & nodes)))]
    state[start] = 1
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            state[node] = 2
            order.append(node)
        elif state.get(child) == 1:
            continue  # a back edge: it closes a cycle
        else:
            keep[node].append(child)
            if child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(away.get(child, set()) & nodes))))
    distance = dict.fromkeys(order, 0)
    for node in reversed(order):  # topological order from start
        for child in keep[node]:
            distance[child] = max(distance[child], distance[node] + 1)
    return distance


def columns_of(graph: Graph) -> dict[str, int]:
    """Each dataset's column in the picture: 0 the target, negative upstream."""
    ups: dict[str, set[str]] = defaultdict(set)  # node → what feeds it
    downs: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        if edge.source != edge.target:
            ups[edge.target].add(edge.source)
            downs[edge.source].add(edge.target)
    target = graph.target
    upstream = {n.dataset for n in graph.nodes.values() if n.distance < 0} | {target}
    downstream = {n.dataset for n in graph.nodes.values() if n.distance > 0} | {target}
    place = {target: 0}
    for key, hops in _longest(target, upstream, ups).items():
        place.setdefault(key, -hops)
    for key, hops in _longest(target, downstream, downs).items():
        place.setdefault(key, hops)
    for node in graph.nodes.values():  # not reachable inside its side: its BFS distance
        place.setdefault(node.dataset, node.distance)
    return place


class _Box:
    def __init__(self, node: Node, column: int, rows: list[str]):
        self.node, self.column, self.rows = node, column, rows
        self.x = 0.0
        self.y = 0.0

    @property
    def height(self) -> float:
        return HEAD_H + (ROW_H * len(self.rows) + 6 if self.rows else 0)

    def anchor(self, field: str, right: bool) -> tuple[float, float]:
        x = self.x + (BOX_W if right else 0)
        if field and field in self.rows:
            return x, self.y + HEAD_H + 3 + ROW_H * self.rows.index(field) + ROW_H / 2
        return x, self.y + HEAD_H / 2


def _layout(graph: Graph) -> tuple[dict[str, _Box], float, float, dict[int, float]]:
    place = columns_of(graph)
    boxes = {
        key: _Box(node, place[key], [c.name for c in node.columns] if graph.field else [])
        for key, node in graph.nodes.items()
    }
    by_column: dict[int, list[_Box]] = defaultdict(list)
    for box in boxes.values():
        by_column[box.column].append(box)
    neighbours: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        neighbours[edge.source].add(edge.target)
        neighbours[edge.target].add(edge.source)
    index: dict[str, float] = {}
    lo, hi = min(by_column), max(by_column)
    # outward from the target: order each column by layer, then by where its neighbours sit
    for column in sorted(by_column, key=lambda c: (abs(c), c)):
        column_boxes = by_column[column]

        def centre(box: _Box) -> float:
            placed = [index[n] for n in neighbours[box.node.dataset] if n in index]
            return sum(placed) / len(placed) if placed else 0.0

        column_boxes.sort(key=lambda b: (layer_rank(b.node.layer), centre(b), b.node.dataset))
        for i, box in enumerate(column_boxes):
            index[box.node.dataset] = i
    heights = {c: sum(b.height for b in bs) + GAP_Y * (len(bs) - 1) for c, bs in by_column.items()}
    tallest = max(heights.values())
    for column, column_boxes in by_column.items():
        y = TOP + (tallest - heights[column]) / 2
        for box in column_boxes:
            box.x = MARGIN + (column - lo) * (BOX_W + GAP_X)
            box.y = y
            y += box.height + GAP_Y
    width = MARGIN * 2 + (hi - lo + 1) * BOX_W + (hi - lo) * GAP_X
    height = TOP + tallest + MARGIN
    xs = {c: MARGIN + (c - lo) * (BOX_W + GAP_X) for c in by_column}
    return boxes, width, height, xs


# ---------------------------------------------------------------------------------------
# SVG


SVG_STYLE = """
.lineage text { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
  "Microsoft YaHei", "WenQuanYi Micro Hei", system-ui, sans-serif; fill: #1b2433; }
.lineage .heading { font-size: 13px; fill: #5b6778; }
.lineage .box { fill: #ffffff; stroke-width: 1.5; }
.lineage .target .box { stroke-width: 4; }
.lineage .dropped .box { stroke-dasharray: 6 4; }
.lineage .name { font-size: 14px; font-weight: 700; }
.lineage .key { font-size: 11px; font-family: ui-monospace, monospace; }
.lineage .grade { font-size: 11px; font-weight: 700; }
.lineage .row { font-size: 12px; font-family: ui-monospace, monospace; }
.lineage .row-type { font-size: 11px; fill: #5b6778; }
.lineage .edge path.line { fill: none; stroke: #7a8699; stroke-width: 1.6; }
.lineage .edge path.hit { fill: none; stroke: transparent; stroke-width: 12; }
.lineage .edge.indirect path.line { stroke-dasharray: 7 4; }
.lineage .edge.inferred path.line { stroke-dasharray: 2 3; }
.lineage .edge:hover path.line { stroke: #c8372d; stroke-width: 3.2; }
.lineage a:hover .box { stroke-width: 3; }
"""


def _edge_title(edge: Edge) -> str:
    lines = [f"{edge.source_label} → {edge.target_label}"]
    if edge.transformation:
        lines.append(f"转换 transformation: {edge.transformation}")
    if edge.description:
        lines.append(f"说明 description: {edge.description}")
    if edge.job:
        lines.append(f"步骤 job: {edge.job}")
    if edge.columns:
        pairs = [f"{s or '*'}→{t or '*'}" for s, t in edge.columns]
        lines.append(f"字段 columns: {', '.join(pairs[:12])}" + (" …" if len(pairs) > 12 else ""))
    if edge.masking:
        lines.append("脱敏 the step masks the values")
    if edge.inferred:
        lines.append("按同名字段推断 inferred from the table edge by column name")
    lines.append(f"来源 seen by: {', '.join(edge.origins) or '—'}")
    return "\n".join(lines)


def _edge_class(edge: Edge) -> str:
    kinds = ["edge"]
    if edge.transformation and "INDIRECT" in edge.transformation.upper():
        kinds.append("indirect")
    if edge.inferred:
        kinds.append("inferred")
    return " ".join(kinds)


def _heading(column: int) -> str:
    """Columns are placed by the longest path, so they are not hop counts: say the side."""
    if column == 0:
        return "目标 target"
    return "← 上游 upstream" if column < 0 else "下游 downstream →"


def lineage_svg(
    graph: Graph,
    link: Callable[[str], str | None] | None = None,
    id_prefix: str = "lineage",
) -> str:
    """The graph as an SVG document (well-formed XML); ``link(dataset)`` may give each box
    a hyperlink (the catalog site links to the dataset's page)."""
    boxes, width, height, xs = _layout(graph)
    parts: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" id="{esc(id_prefix)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="{esc(_aria(graph))}">',
        f"<title>{esc(_aria(graph))}</title>",
        f"<style>{SVG_STYLE}</style>",
        f'<defs><marker id="{esc(id_prefix)}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#7a8699"/></marker></defs>',
    ]
    for column, x in sorted(xs.items()):
        parts.append(
            f'<text class="heading" x="{x + BOX_W / 2:.0f}" y="{TOP - 16}" '
            f'text-anchor="middle">{esc(_heading(column))}</text>'
        )
    parts.append('<g class="edges">')
    for edge in graph.edges:
        source, target = boxes[edge.source], boxes[edge.target]
        x1, y1 = source.anchor(edge.source_field, right=True)
        x2, y2 = target.anchor(edge.target_field, right=False)
        if edge.source == edge.target:  # a self loop: out of the right side and back in
            x2, y2 = target.anchor(edge.target_field, right=True)
            bend = 60
            d = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1 - 30:.1f} {x2 + bend:.1f},{y2 + 30:.1f} {x2:.1f},{y2:.1f}"  # noqa: E501
        else:
            bend = max(50.0, abs(x2 - x1) / 2)
            d = f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2 - 2:.1f},{y2:.1f}"  # noqa: E501
        parts.append(
            f'<g class="{_edge_class(edge)}" data-source="{esc(edge.source_label)}" '
            f'data-target="{esc(edge.target_label)}"><title>{esc(_edge_title(edge))}</title>'
            f'<path class="hit" d="{d}"/>'
            f'<path class="line" d="{d}" marker-end="url(#{esc(id_prefix)}-arrow)"/></g>'
        )
    parts.append("</g>")
    for key in sorted(boxes, key=lambda k: (boxes[k].column, boxes[k].y)):
        parts.append(_box_svg(graph, boxes[key], link))
    parts.append("</svg>")
    return "".join(parts)


def _aria(graph: Graph) -> str:
    return f"数据血缘 lineage of {graph.target_label}: {len(graph.nodes)} 个数据集 datasets, {len(graph.edges)} 条边 edges"  # noqa: E501


def _box_svg(graph: Graph, box: _Box, link: Callable[[str], str | None] | None) -> str:
    node = box.node
    fill = colour(node.layer)
    kinds = ["node", f"layer-{node.layer}"]
    if node.dataset == graph.target:
        kinds.append("target")
    if node.dropped:
        kinds.append("dropped")
    x, y = box.x, box.y
    # the key under the name; a dataset without a name shows its key once, then its layer
    second = node.dataset if node.label != node.dataset else layer_label(node.layer)
    title = [node.dataset, f"{layer_label(node.layer)}" + (f" · {node.kind}" if node.kind else "")]
    if node.name_zh or node.name_en:
        title.append(" · ".join(n for n in (node.name_zh, node.name_en) if n))
    if node.owner:
        title.append(f"责任单位 owner: {node.owner}")
    if node.grade:
        title.append(f"最高敏感级 grade: {node.grade}")
    if node.dropped:
        title.append("已不存在 no longer seen by any harvester")
    body = [
        f'<g class="{" ".join(kinds)}" data-dataset="{esc(node.dataset)}">',
        f"<title>{esc(chr(10).join(title))}</title>",
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{box.height:.1f}" '
        f'rx="7" stroke="{fill}"/>',
        f'<path d="M{x:.1f},{y + 7:.1f} a7,7 0 0 1 7,-7 h{BOX_W - 14} a7,7 0 0 1 7,7 '
        f'v{HEAD_H - 7} h-{BOX_W} z" fill="{fill}"/>',
        f'<text class="name" x="{x + 10:.1f}" y="{y + 19:.1f}" style="fill:{ink(fill)}">'
        f"{esc(_fit(node.label, BOX_W - 56, 14))}</text>",
        f'<text class="key" x="{x + 10:.1f}" y="{y + 37:.1f}" style="fill:{ink(fill)}">'
        f"{esc(_fit(second, BOX_W - 20, 11))}</text>",
    ]
    if node.grade:
        body.append(
            f'<text class="grade" x="{x + BOX_W - 10:.1f}" y="{y + 19:.1f}" '
            f'text-anchor="end" style="fill:{ink(fill)}">{esc(node.grade)}</text>'
        )
    for i, column in enumerate(node.columns if box.rows else []):
        row_y = y + HEAD_H + 3 + ROW_H * i + 14
        marked = column.name == graph.field and node.dataset == graph.target
        body.append(
            f'<text class="row" x="{x + 10:.1f}" y="{row_y:.1f}"'
            + (' font-weight="700"' if marked else "")
            + f">{esc(_fit(column.name, BOX_W - 110, 12))}</text>"
        )
        detail = " ".join(v for v in (column.data_type, column.grade) if v)
        if detail:
            body.append(
                f'<text class="row-type" x="{x + BOX_W - 10:.1f}" y="{row_y:.1f}" '
                f'text-anchor="end">{esc(_fit(detail, 96, 11))}</text>'
            )
    body.append("</g>")
    inner = "".join(body)
    href = link(node.dataset) if link else None
    return f'<a href="{esc(href)}">{inner}</a>' if href else inner


def standalone_svg(graph: Graph) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + lineage_svg(graph) + "\n"


# ---------------------------------------------------------------------------------------
# HTML


PAGE_CSS = """
:root { --bg: #f3f5f9; --card: #ffffff; --fg: #1b2433; --muted: #5b6778; --line: #dfe4ec;
  --head: #eef2f8; --accent: #1f5fbf; color-scheme: light;
  --font: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
    "WenQuanYi Micro Hei", system-ui, sans-serif; font-size: 15px; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font-family: var(--font);
  line-height: 1.45; }
header { padding: 1.2rem 2rem 0.4rem; }
header h1 { margin: 0; font-size: 1.8rem; }
header h1 small, h2 small, .en { color: var(--muted); font-weight: 400; font-size: 0.85em; }
header .meta { color: var(--muted); margin-top: 0.3rem; }
main { padding: 0.4rem 2rem 2rem; display: grid; gap: 1rem; }
nav { padding: 0 2rem; display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem 1.3rem 1.2rem; min-width: 0; }
.card h2 { margin: 0 0 0.8rem; font-size: 1.25rem; }
.picture { overflow: auto; max-height: 80vh; border: 1px solid var(--line);
  border-radius: 6px; background: #fbfcfe; }
.picture svg { display: block; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1.2rem; margin: 0 0 0.8rem; padding: 0;
  list-style: none; font-size: 0.9rem; }
.legend i { display: inline-block; width: 1.1em; height: 1.1em; border-radius: 3px;
  vertical-align: -0.2em; margin-right: 0.35em; }
.legend .line { width: 2.2em; height: 0; border-radius: 0; border-top: 2px solid #7a8699;
  vertical-align: 0.3em; }
.legend .line.indirect { border-top-style: dashed; }
.legend .line.inferred { border-top-style: dotted; }
.kpis { display: flex; flex-wrap: wrap; gap: 0.8rem; }
.kpi { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 0.5rem 1rem; min-width: 9rem; }
.kpi b { display: block; font-size: 1.8rem; font-variant-numeric: tabular-nums; }
.kpi span { color: var(--muted); font-size: 0.85rem; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: 0.92rem; }
th, td { padding: 0.4rem 0.55rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--head); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, pre { font-family: ui-monospace, "Noto Sans Mono CJK SC", monospace; font-size: 0.85em; }
pre { white-space: pre-wrap; background: var(--head); padding: 0.6rem; border-radius: 6px;
  max-height: 24rem; overflow: auto; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px;
  margin-right: 0.3em; vertical-align: -0.05em; }
.badge { display: inline-block; padding: 0 0.45rem; border-radius: 999px; font-size: 0.8rem;
  border: 1px solid currentColor; white-space: nowrap; }
.grade-L3, .grade-L4 { color: #c8372d; } .grade-L2 { color: #c07a00; }
.grade-L1 { color: #1a8a4a; }
.empty { color: var(--muted); font-style: italic; }
footer { padding: 0 2rem 2rem; color: var(--muted); font-size: 0.85rem; }
@media print { body { background: #fff; } .picture { max-height: none; overflow: visible; }
  .card { break-inside: avoid; } }
"""


def legend_html(graph: Graph) -> str:
    layers = sorted({n.layer for n in graph.nodes.values()}, key=layer_rank)
    items = [
        f'<li><i style="background:{colour(layer)}"></i>{esc(layer_label(layer))}</li>'
        for layer in layers
    ]
    items += [
        '<li><i class="line"></i>直接 direct</li>',
        '<li><i class="line indirect"></i>间接 indirect（过滤、关联 filter, join）</li>',
    ]
    if any(e.inferred for e in graph.edges):
        items.append('<li><i class="line inferred"></i>按同名字段推断 inferred by name</li>')
    return f'<ul class="legend" id="legend">{"".join(items)}</ul>'


def _grade(grade: str | None) -> str:
    return f'<span class="badge grade-{esc(grade)}">{esc(grade)}</span>' if grade else ""


def datasets_table(graph: Graph, link: Callable[[str], str | None] | None = None) -> str:
    rows = []
    nodes = sorted(graph.nodes.values(),
                   key=lambda n: (n.distance, layer_rank(n.layer), n.dataset))  # fmt: skip
    for node in nodes:
        href = link(node.dataset) if link else None
        key = f"<code>{esc(node.dataset)}</code>"
        if href:
            key = f'<a href="{esc(href)}">{key}</a>'
        columns = ", ".join(c.name for c in node.columns)
        rows.append(
            f'<tr><td class="num">{node.distance:+d}</td><td>{key}</td>'
            f'<td>{esc(node.name_zh or "")}<br><span class="en">{esc(node.name_en or "")}</span>'
            f'</td><td><span class="swatch" style="background:{colour(node.layer)}"></span>'
            f"{esc(layer_label(node.layer))}</td><td>{esc(node.kind or '')}</td>"
            f"<td>{esc(node.owner or '')}</td><td>{_grade(node.grade)}</td>"
            f"<td>{esc(columns)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table id="datasets"><thead><tr><th>距离 hops</th>'
        "<th>数据集 dataset</th><th>名称 name</th><th>层 layer</th><th>类型 kind</th>"
        "<th>责任单位 owner</th><th>敏感级 grade</th><th>字段 columns</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def edges_table(graph: Graph) -> str:
    if not graph.edges:
        return '<p class="empty">没有上下游 No upstream or downstream edges.</p>'
    rows = []
    for edge in graph.edges:
        step = esc(edge.description or "")
        if edge.columns:
            pairs = ", ".join(f"{s or '*'} → {t or '*'}" for s, t in edge.columns)
            step += f'<br><span class="en">字段 columns: {esc(pairs)}</span>'
        if edge.masking:
            step += '<br><span class="en">脱敏 the step masks the values</span>'
        if edge.inferred:
            step += '<br><span class="en">按同名字段推断 inferred by column name</span>'
        sql = (
            f"<details><summary>SQL</summary><pre>{esc(edge.sql)}</pre></details>"
            if edge.sql
            else ""
        )
        rows.append(
            f"<tr><td><code>{esc(edge.source_label)}</code></td>"
            f"<td><code>{esc(edge.target_label)}</code></td>"
            f"<td>{esc(edge.transformation or '')}</td><td>{step}{sql}</td>"
            f"<td><code>{esc(edge.job or '')}</code></td><td>{esc(', '.join(edge.origins))}</td>"
            "</tr>"
        )
    return (
        '<div class="table-wrap"><table id="edges"><thead><tr><th>上游 from</th>'
        "<th>下游 to</th><th>转换 transformation</th><th>步骤与 SQL step and SQL</th>"
        "<th>作业 job</th><th>来源 seen by</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _direction_label(graph: Graph) -> str:
    return {"up": "上游 upstream", "down": "下游 downstream", "both": "上下游 up and down"}.get(
        graph.direction, graph.direction
    )


def lineage_html(graph: Graph, generated_at: datetime | None = None) -> str:
    """A standalone page: the picture, its legend, the datasets and every edge with its
    step and SQL."""
    when = generated_at or datetime.now(ZoneInfo(config.TIMEZONE))
    level = "字段级 column level" if graph.field else "表级 table level"
    depth = "不限 unlimited" if graph.depth is None else str(graph.depth)
    kpis = [
        ("上游数据集 upstream datasets", len(graph.upstream())),
        ("下游数据集 downstream datasets", len(graph.downstream())),
        ("血缘边 edges", len(graph.edges)),
    ]
    tiles = "".join(f'<div class="kpi"><b>{v}</b><span>{esc(k)}</span></div>' for k, v in kpis)
    title = f"数据血缘 {graph.target_label}"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="govlake.lineage.render">
<title>{esc(title)} · Data lineage</title>
<style>{PAGE_CSS}</style>
</head>
<body>
<header>
<h1>数据血缘 <code id="target">{esc(graph.target_label)}</code><small>Data lineage</small></h1>
<div class="meta">{esc(level)} · 方向 direction: {esc(_direction_label(graph))} ·
深度 depth: {esc(depth)} · 生成于 generated {when:%Y-%m-%d %H:%M} (UTC+8)</div>
</header>
<main>
<section class="kpis">{tiles}</section>
<section class="card" id="picture"><h2>血缘图 <small>Lineage graph</small></h2>
{legend_html(graph)}
<p class="en">鼠标悬停在连线上可查看转换与步骤 Hover over an edge for its transformation and
step; 左侧为上游、右侧为下游 upstream on the left, downstream on the right.</p>
<div class="picture">{lineage_svg(graph)}</div></section>
<section class="card"><h2>数据集 <small>Datasets</small></h2>{datasets_table(graph)}</section>
<section class="card"><h2>血缘关系 <small>Edges, steps and SQL</small></h2>
{edges_table(graph)}</section>
</main>
<footer>来自元数据库 From the metadata store (governance.md_*), harvested from the catalog,
dbt and OpenLineage events · `govlake lineage`.</footer>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------
# Terminal


def print_graph(graph: Graph, console: Console) -> None:
    level = "字段级 column level" if graph.field else "表级 table level"
    depth = "不限 unlimited" if graph.depth is None else str(graph.depth)
    nodes = Table(
        title=f"数据血缘 Lineage of {graph.target_label} — {level}, "
        f"{_direction_label(graph)}, 深度 depth {depth}"
    )
    for column in ("距离 hops", "数据集 dataset", "名称 name", "层 layer", "责任单位 owner",
                   "敏感级 grade", "字段 columns"):  # fmt: skip
        nodes.add_column(column, overflow="fold", no_wrap=column == "数据集 dataset")
    for node in sorted(graph.nodes.values(),
                       key=lambda n: (n.distance, layer_rank(n.layer), n.dataset)):  # fmt: skip
        nodes.add_row(
            f"{node.distance:+d}", node.dataset, node.label if node.label != node.dataset else "",
            LAYERS.get(node.layer, (node.layer,))[0] + f" {node.layer}", node.owner or "",
            node.grade or "", ", ".join(c.name for c in node.columns),
        )  # fmt: skip
    console.print(nodes)
    if not graph.edges:
        console.print("没有上下游 no upstream or downstream edges")
        return
    edges = Table(title=f"血缘关系 Edges ({len(graph.edges)})")
    for column in ("上游 from", "下游 to", "转换 transformation", "作业 job", "来源 seen by"):
        edges.add_column(column, overflow="fold")
    for edge in graph.edges:
        edges.add_row(
            edge.source_label, edge.target_label,
            (edge.transformation or "") + (" (推断 inferred)" if edge.inferred else ""),
            edge.job or "", ", ".join(edge.origins),
        )  # fmt: skip
    console.print(edges)


def print_impact(impact: Impact, console: Console) -> None:
    level = "字段级 column level" if impact.field else "表级 table level"
    console.print(
        f"[bold]影响分析 Impact of a change to {impact.target_label}[/bold] ({level}): "
        f"{len(impact.datasets) - 1} 个下游数据集 downstream datasets, "
        f"{len(impact.consumers)} 个报表与导出 reports and exports, "
        f"{len(impact.rules)} 条质量规则 quality rules, "
        f"{len(impact.work_orders)} 张未关闭工单 open work orders"
    )
    datasets = Table(title="受影响的数据集 Datasets touched, by layer")
    for column in ("层 layer", "数据集 dataset", "名称 name", "距离 hops", "责任单位 owner",
                   "字段 columns"):  # fmt: skip
        datasets.add_column(column, overflow="fold")
    for layer, nodes in impact.by_layer().items():
        for node in nodes:
            datasets.add_row(
                layer_label(layer), node.dataset, node.label if node.label != node.dataset else "",
                str(node.distance), node.owner or "",
                "整表 whole table" if node.whole else ", ".join(c.name for c in node.columns),
            )  # fmt: skip
    console.print(datasets)
    if impact.rules:
        rules = Table(title=f"质量规则 Quality rules ({len(impact.rules)})")
        for column in ("规则 rule", "表 table", "字段 column", "维度 dimension", "严重度 severity",
                       "说明 description"):  # fmt: skip
            rules.add_column(column, overflow="fold")
        for r in impact.rules:
            rules.add_row(r["rule_id"], r["table_name"], r["column_name"] or "", r["dimension"],
                          r["severity"], r["description_zh"])  # fmt: skip
        console.print(rules)
    if impact.work_orders:
        orders = Table(title=f"未关闭工单 Open work orders ({len(impact.work_orders)})")
        for column in ("编号 id", "状态 state", "表 table", "部门 department", "标题 title"):
            orders.add_column(column, overflow="fold")
        for o in impact.work_orders:
            orders.add_row(str(o["work_order_id"]), o["state"], o["table_name"],
                           o["department"], o["title"])  # fmt: skip
        console.print(orders)
    owners = Table(title="需通知的责任单位 Owners to tell")
    for column in ("责任单位 owner", "数据集 datasets", "报表与导出 reports and exports",
                   "规则 rules", "工单 orders"):  # fmt: skip
        owners.add_column(column, overflow="fold")
    for o in impact.owners:
        owners.add_row(o["owner"], ", ".join(o["datasets"]), ", ".join(o["consumers"]),
                       str(o["rules"]), str(o["work_orders"]))  # fmt: skip
    console.print(owners)
