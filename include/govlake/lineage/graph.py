"""The questions asked of the metadata store: where does this come from, where does it go,
and what would a change touch.

:func:`lineage` walks ``governance.md_edge`` from a dataset (table level) or one of its
columns (column level), upstream, downstream or both, to a depth or all the way:

- retired edges are ignored; an edge seen by several harvesters (dbt, OpenLineage, the
  catalog, by hand) is one edge that lists its ``origins``;
- table level follows every edge touching a dataset — dataset edges and field edges
  folded onto their datasets (the folded column pairs are kept on the edge);
- column level follows field edges. A neighbouring dataset known only at table level — no
  field edge at all between the two datasets in the walking direction (a report or export,
  a model whose column lineage is missing) — is reached through the table edge, from every
  column, whatever field edges the column has elsewhere: the walk continues with the column
  of the same name on the other side, or with the whole dataset when no column of it is
  known (a report, an export); a dataset whose columns do not include that name is not on
  the column's path. Such edges are marked ``inferred``. Where field edges do join the two
  datasets, the column lineage is known, and a column without one there does not flow
  there. A field edge from or to ``''`` (the whole dataset) continues at table level;
- the walk keeps what it has seen, so cycles end it, and each node records its shortest
  distance from the target (negative upstream, positive downstream).

:func:`impact` is everything downstream of a dataset or column that a change would touch:
the datasets by layer (with the columns reached), the quality rules defined on them, their
unsettled work orders, the reports and exports that consume them, and who owns each.

Dataset keys are the platform's own (:mod:`govlake.lineage.naming`).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

Direction = Literal["up", "down", "both"]
DIRECTIONS = ("up", "down", "both")

# layer: (中文, English), in the order data flows through them
LAYERS: dict[str, tuple[str, str]] = {
    "source": ("部门源系统", "departmental source"),
    "lake": ("数据湖", "object store"),
    "raw": ("原始库", "raw"),
    "staging": ("标准化层", "staging"),
    "standards": ("标准代码", "standards"),
    "basic": ("基础库", "basic library"),
    "thematic": ("主题库", "thematic library"),
    "special": ("专题库", "special-topic library"),
    "sensor": ("物联感知库", "sensor library"),
    "governance": ("治理", "governance"),
    "report": ("报表", "report"),
    "export": ("开放与导出", "export"),
    "other": ("其他", "other"),
}
CONSUMER_LAYERS = ("report", "export")
# when several harvesters describe one edge, whose words are shown first
ORIGIN_PRECEDENCE = (
    "manual", "dbt", "openlineage", "ingestion", "catalog", "information_schema",
)  # fmt: skip
SETTLED_ORDER_STATES = ("verified", "closed")
HARVEST_HINT = "先运行 run `govlake metadata harvest`"


class LineageError(Exception):
    """A lineage question that cannot be answered; the message is Chinese first, then English."""


class StoreUnavailable(LineageError):
    """The metadata store is missing or empty (nothing harvested yet)."""


class TargetNotFound(LineageError, LookupError):
    """No dataset or column matches what was asked; the message suggests close keys."""

    def __init__(self, message: str, suggestions: list[str]):
        super().__init__(message)
        self.suggestions = suggestions


def layer_of(dataset: str) -> str:
    """The layer a key implies, for datasets the store does not describe."""
    prefix, colon, _ = dataset.partition(":")
    if colon and prefix in ("source", "lake", "report", "export"):
        return prefix
    schema = dataset.split(".", 1)[0] if "." in dataset and not colon else ""
    return schema if schema in LAYERS else "other"


def layer_label(layer: str) -> str:
    zh, en = LAYERS.get(layer, (layer, layer))
    return f"{zh} {en}"


def layer_rank(layer: str) -> int:
    order = list(LAYERS)
    return order.index(layer) if layer in order else len(order)


# ---------------------------------------------------------------------------------------
# The graph


@dataclass
class Column:
    name: str
    data_type: str | None = None
    grade: str | None = None
    data_element: str | None = None
    distance: int = 0


@dataclass
class Node:
    """A dataset in a lineage graph, with what the store says about it."""

    dataset: str
    layer: str
    kind: str | None = None
    name_zh: str | None = None
    name_en: str | None = None
    description: str | None = None
    owner: str | None = None
    department: str | None = None
    resource_id: str | None = None
    grade: str | None = None
    tags: list[str] = field(default_factory=list)
    known: bool = False  # described in governance.md_dataset
    dropped: bool = False  # no longer seen by any harvester
    distance: int = 0  # hops from the target: negative upstream, positive downstream
    whole: bool = True  # the dataset as a whole is in the graph (not only some columns)
    columns: list[Column] = field(default_factory=list)  # column level: the columns reached

    @property
    def label(self) -> str:
        return self.name_zh or self.name_en or self.dataset

    @property
    def is_consumer(self) -> bool:
        return self.kind == "exposure" or self.layer in CONSUMER_LAYERS


@dataclass
class Edge:
    source: str
    target: str
    source_field: str = ""
    target_field: str = ""
    transformation: str | None = None
    description: str | None = None
    job: str | None = None
    sql: str | None = None
    origins: list[str] = field(default_factory=list)
    # table level: the field edges folded into this one, (source field, target field)
    columns: list[tuple[str, str]] = field(default_factory=list)
    inferred: bool = False  # column level: continued through a table edge by column name
    masking: bool = False  # the step masks the values (OpenLineage column lineage says so)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.source, self.source_field, self.target, self.target_field)

    @property
    def source_label(self) -> str:
        return f"{self.source}.{self.source_field}" if self.source_field else self.source

    @property
    def target_label(self) -> str:
        return f"{self.target}.{self.target_field}" if self.target_field else self.target


@dataclass
class Graph:
    target: str  # the dataset
    field: str | None  # the column, for column-level lineage
    direction: str
    depth: int | None
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    @property
    def level(self) -> str:
        return "column" if self.field else "table"

    @property
    def target_label(self) -> str:
        return f"{self.target}.{self.field}" if self.field else self.target

    def upstream(self) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.distance < 0),
                      key=lambda n: (-n.distance, layer_rank(n.layer), n.dataset))  # fmt: skip

    def downstream(self) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.distance > 0),
                      key=lambda n: (n.distance, layer_rank(n.layer), n.dataset))  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "field": self.field,
            "level": self.level,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges],
        }


# ---------------------------------------------------------------------------------------
# The store


def store_ready(conn: psycopg.Connection) -> bool:
    """Whether the metadata store exists and something has been harvested into it."""
    exists = conn.execute(
        "select to_regclass('governance.md_dataset') is not null "
        "and to_regclass('governance.md_edge') is not null"
    ).fetchone()[0]
    if not exists:
        return False
    return bool(
        conn.execute(
            "select exists (select 1 from governance.md_dataset) "
            "or exists (select 1 from governance.md_edge)"
        ).fetchone()[0]
    )


def require_store(conn: psycopg.Connection) -> None:
    if not store_ready(conn):
        raise StoreUnavailable(
            f"元数据库为空，尚无血缘信息：{HARVEST_HINT} · the metadata store is empty, there is "
            "no lineage yet: run `govlake metadata harvest` first"
        )


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def known_datasets(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """Every dataset key the store knows (described or only named by a live edge)."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select dataset, name_zh, name_en, dropped_at is not null as dropped "
            "from governance.md_dataset "
            "union all select distinct e.dataset, null, null, false from ("
            "  select source_dataset as dataset from governance.md_edge where retired_at is null"
            "  union select target_dataset from governance.md_edge where retired_at is null) e "
            "where not exists (select 1 from governance.md_dataset d where d.dataset = e.dataset)"
        ).fetchall()
    return {row["dataset"]: row for row in rows}


def _fields_of(conn: psycopg.Connection, dataset: str) -> list[str]:
    rows = conn.execute(
        "select name from governance.md_field where dataset = %(d)s "
        "union select source_field from governance.md_edge where source_dataset = %(d)s "
        "  and source_field <> '' and retired_at is null "
        "union select target_field from governance.md_edge where target_dataset = %(d)s "
        "  and target_field <> '' and retired_at is null",
        {"d": dataset},
    ).fetchall()
    return sorted(r[0] for r in rows)


def _suggest(
    wanted: str, candidates: list[str], names: dict[str, list[str]] | None = None
) -> list[str]:
    """Close keys: by spelling, by prefix or containment, and by Chinese/English name."""
    low = wanted.lower()
    found: list[str] = []
    by_lower = {c.lower(): c for c in candidates}
    found += [by_lower[m] for m in difflib.get_close_matches(low, list(by_lower), n=5, cutoff=0.6)]
    found += [c for c in sorted(candidates) if c.lower().startswith(low) or low in c.lower()]
    for key, labels in (names or {}).items():
        if any(label and (label.lower() == low or low in label.lower()) for label in labels):
            found.append(key)
    return list(dict.fromkeys(found))[:8]


def resolve(conn: psycopg.Connection, target: str) -> tuple[str, str | None]:
    """``<dataset>`` or ``<dataset>.<column>`` → (dataset, column or None).

    The dataset is the longest known key that the target starts with (keys contain dots:
    ``basic.population.id_number`` is column ``id_number`` of ``basic.population``).
    Raises :class:`TargetNotFound` naming close keys, :class:`StoreUnavailable` when
    nothing has been harvested.
    """
    require_store(conn)
    wanted = target.strip()
    if not wanted:
        raise TargetNotFound("请给出数据集或字段 · give a dataset or a column", [])
    datasets = known_datasets(conn)
    for exact in (wanted, *(k for k in datasets if k.lower() == wanted.lower())):
        if exact in datasets:
            return exact, None
    prefixes = [k for k in datasets if wanted.lower().startswith(k.lower() + ".")]
    if prefixes:
        dataset = max(prefixes, key=len)
        column = wanted[len(dataset) + 1 :]
        columns = _fields_of(conn, dataset)
        for name in (column, *(c for c in columns if c.lower() == column.lower())):
            if name in columns:
                return dataset, name
        close = _suggest(column, columns)
        raise TargetNotFound(
            f"数据集 {dataset} 没有字段 {column!r} · dataset {dataset} has no column {column!r}"
            + (f"；相近字段 close columns: {', '.join(close)}" if close else "")
            + (f"（共 {len(columns)} 个字段 of {len(columns)} columns）" if columns else ""),
            [f"{dataset}.{c}" for c in close],
        )
    names = {k: [row["name_zh"], row["name_en"]] for k, row in datasets.items()}
    close = _suggest(wanted, list(datasets), names)
    raise TargetNotFound(
        f"元数据库中没有 {wanted!r} · no dataset or column {wanted!r} in the metadata store"
        + (f"；您是否要找 did you mean: {', '.join(close)}" if close else "")
        + "（格式 form: <数据集 dataset>[.<字段 column>]，如 e.g. basic.population.id_number）",
        close,
    )


# ---------------------------------------------------------------------------------------
# Walking


_EDGE_COLUMNS = (
    "e.source_dataset, e.source_field, e.target_dataset, e.target_field, e.transformation, "
    "e.description, e.job, e.sql, e.origin"
)
_EDGE_MASKING = (
    "select exists (select 1 from information_schema.columns where table_schema = "
    "'governance' and table_name = 'md_edge' and column_name = 'masking')"
)


def _rank(origin: str) -> int:
    return (
        ORIGIN_PRECEDENCE.index(origin) if origin in ORIGIN_PRECEDENCE else len(ORIGIN_PRECEDENCE)
    )


def _merge(rows: list[dict[str, Any]], edge: Edge) -> Edge:
    """Fill an edge from the rows describing it (one per origin), best-described first."""
    rows = sorted(rows, key=lambda r: _rank(r["origin"]))
    edge.origins = sorted({*edge.origins, *(r["origin"] for r in rows)}, key=_rank)
    for attr in ("transformation", "description", "job", "sql"):
        if getattr(edge, attr) is None:
            setattr(edge, attr, next((r[attr] for r in rows if r[attr]), None))
    edge.masking = edge.masking or any(r.get("masking") for r in rows)
    return edge


def _fold(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Edge]:
    """Rows of any level → one table-level edge per (source, target) dataset pair."""
    pairs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        pairs[(row["source_dataset"], row["target_dataset"])].append(row)
    edges = {}
    for (source, target), group in pairs.items():
        whole = [r for r in group if r["source_field"] == "" and r["target_field"] == ""]
        parts = [r for r in group if r not in whole]
        edge = _merge(whole, Edge(source, target)) if whole else Edge(source, target)
        if parts:
            _merge(parts, edge)
            if not whole:  # no table edge: say what the column edges do
                kinds = sorted({r["transformation"] for r in parts if r["transformation"]})
                edge.transformation = ", ".join(kinds) or None
                edge.description = None
        edge.columns = sorted({(r["source_field"], r["target_field"]) for r in parts})
        edges[(source, target)] = edge
    return edges


class _Walker:
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.cur = conn.cursor(row_factory=dict_row)
        self._fields: dict[str, set[str]] = {}
        # md_edge.masking was added to the store later: read it where it exists
        masking = conn.execute(_EDGE_MASKING).fetchone()[0]
        self.columns = _EDGE_COLUMNS + (", e.masking" if masking else "")

    def rows(self, where: str, params: dict) -> list[dict[str, Any]]:
        return self.cur.execute(
            f"select {self.columns} from governance.md_edge e "
            f"where e.retired_at is null and {where}",
            params,
        ).fetchall()

    def fields(self, datasets: set[str]) -> dict[str, set[str]]:
        missing = [d for d in datasets if d not in self._fields]
        if missing:
            for d in missing:
                self._fields[d] = set()
            for dataset, name in self.conn.execute(
                "select dataset, name from governance.md_field where dataset = any(%s) "
                "and dropped_at is null",
                (missing,),
            ).fetchall():
                self._fields[dataset].add(name)
        return {d: self._fields[d] for d in datasets}

    def step(self, points: set[tuple[str, str]], up: bool) -> list[tuple[Edge, tuple[str, str]]]:
        """One hop from ``points`` ((dataset, field), field '' = the whole dataset):
        each edge found with the point it reaches."""
        near, far = ("target", "source") if up else ("source", "target")
        found: list[tuple[Edge, tuple[str, str]]] = []
        wholes = sorted({d for d, f in points if f == ""})
        if wholes:
            rows = self.rows(f"e.{near}_dataset = any(%(d)s)", {"d": wholes})
            for edge in _fold(rows).values():
                found.append((edge, (getattr(edge, far), "")))
        columns = sorted((d, f) for d, f in points if f != "")
        if not columns:
            return found
        rows = self.rows(
            f"(e.{near}_dataset, e.{near}_field) in "
            "(select * from unnest(%(d)s::text[], %(f)s::text[]))",
            {"d": [d for d, _ in columns], "f": [f for _, f in columns]},
        )
        by_key: dict[tuple[str, str, str, str], list[dict]] = defaultdict(list)
        for row in rows:
            by_key[(row["source_dataset"], row["source_field"], row["target_dataset"],
                    row["target_field"])].append(row)  # fmt: skip
        for (sd, sf, td, tf), group in by_key.items():
            edge = _merge(group, Edge(sd, td, sf, tf))
            found.append((edge, (sd, sf) if up else (td, tf)))
        # neighbours known only at table level (no field edge at all between the two datasets
        # this way: an exposure, a model without column lineage): through the table edge. Where
        # field edges exist, a column without one there does not flow there.
        rows = self.rows(
            f"e.{near}_dataset = any(%(d)s) and e.source_field = '' and e.target_field = '' "
            "and not exists (select 1 from governance.md_edge f where f.retired_at is null "
            "and f.source_dataset = e.source_dataset and f.target_dataset = e.target_dataset "
            "and (f.source_field <> '' or f.target_field <> ''))",
            {"d": sorted({d for d, _ in columns})},
        )
        tables = _fold(rows)
        others = self.fields({getattr(e, far) for e in tables.values()})
        for dataset, column in columns:
            for edge in tables.values():
                if getattr(edge, near) != dataset:
                    continue
                other = getattr(edge, far)
                if column in others[other]:
                    other_field = column
                elif not others[other]:  # no columns known (a report): all of it
                    other_field = ""
                else:  # it has columns, none of this name: not this column's path
                    continue
                inferred = Edge(
                    edge.source, edge.target,
                    other_field if up else column, column if up else other_field,
                    edge.transformation, edge.description, edge.job, edge.sql,
                    list(edge.origins), inferred=True, masking=edge.masking,
                )  # fmt: skip
                found.append((inferred, (other, other_field)))
        return found

    def walk(
        self, start: tuple[str, str], up: bool, depth: int | None
    ) -> tuple[dict[tuple[str, str], int], dict[tuple, Edge]]:
        seen = {start: 0}
        edges: dict[tuple, Edge] = {}
        frontier = {start}
        hops = 0
        sign = -1 if up else 1
        while frontier and (depth is None or hops < depth):
            hops += 1
            nxt: set[tuple[str, str]] = set()
            for edge, point in self.step(frontier, up):
                if edge.key in edges:
                    _combine(edges[edge.key], edge)
                else:
                    edges[edge.key] = edge
                if point not in seen:
                    seen[point] = sign * hops
                    nxt.add(point)
            frontier = nxt
        return seen, edges


def _combine(kept: Edge, other: Edge) -> None:
    kept.origins = sorted({*kept.origins, *other.origins}, key=_rank)
    kept.columns = sorted({*kept.columns, *other.columns})
    kept.inferred = kept.inferred and other.inferred
    kept.masking = kept.masking or other.masking
    for attr in ("transformation", "description", "job", "sql"):
        if getattr(kept, attr) is None:
            setattr(kept, attr, getattr(other, attr))


def _nearer(kept: int | None, other: int) -> int:
    """The shorter of two distances from the target; downstream when they tie (a node on a
    cycle through the target is shown as what it feeds)."""
    if kept is None or abs(other) < abs(kept) or (abs(other) == abs(kept) and other > kept):
        return other
    return kept


def _describe(conn: psycopg.Connection, graph: Graph, points: dict[tuple[str, str], int]) -> None:
    """Nodes for every dataset reached, with the store's description of it and its columns."""
    for (dataset, column), distance in points.items():
        node = graph.nodes.get(dataset)
        if node is None:
            node = graph.nodes[dataset] = Node(dataset, layer_of(dataset), distance=distance,
                                               whole=False)  # fmt: skip
        else:
            node.distance = _nearer(node.distance, distance)
        if column == "" or graph.field is None:
            node.whole = True
        elif column not in {c.name for c in node.columns}:
            node.columns.append(Column(column, distance=distance))
    keys = list(graph.nodes)
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(
            "select dataset, kind, layer, name_zh, name_en, description, owner, department, "
            "resource_id, grade, tags, dropped_at is not null as dropped "
            "from governance.md_dataset where dataset = any(%s)",
            (keys,),
        ).fetchall():
            node = graph.nodes[row["dataset"]]
            for attr in ("kind", "name_zh", "name_en", "description", "owner", "department",
                         "resource_id", "grade", "dropped"):  # fmt: skip
                setattr(node, attr, row[attr])
            node.layer = row["layer"] or node.layer
            node.tags = list(row["tags"] or [])
            node.known = True
        if graph.field is None:
            return
        info = {
            (r["dataset"], r["name"]): r
            for r in cur.execute(
                "select dataset, name, position, data_type, grade, data_element "
                "from governance.md_field where dataset = any(%s)",
                (keys,),
            ).fetchall()
        }
    for node in graph.nodes.values():
        for column in node.columns:
            row = info.get((node.dataset, column.name))
            if row:
                column.data_type, column.grade = row["data_type"], row["grade"]
                column.data_element = row["data_element"]
        node.columns.sort(key=lambda c: (
            (info.get((node.dataset, c.name)) or {}).get("position") or 10**6, c.name))  # fmt: skip


def _check(direction: str, depth: int | None) -> None:
    if direction not in DIRECTIONS:
        raise LineageError(
            f"方向应为 up、down 或 both · direction must be up, down or both, not {direction!r}"
        )
    if depth is not None and depth < 0:
        raise LineageError(f"深度不能为负 · depth must be 0 or more, not {depth}")


def lineage(
    conn: psycopg.Connection,
    target: str,
    direction: Direction = "both",
    depth: int | None = None,
) -> Graph:
    """The lineage of ``<dataset>`` (table level) or ``<dataset>.<column>`` (column level):
    ``up`` what it comes from, ``down`` what is made from it, ``both``; ``depth`` hops at
    most (``None``: all the way)."""
    _check(direction, depth)
    dataset, column = resolve(conn, target)
    return walk(conn, dataset, column, direction, depth)


def walk(
    conn: psycopg.Connection,
    dataset: str,
    column: str | None = None,
    direction: Direction = "both",
    depth: int | None = None,
) -> Graph:
    """:func:`lineage` of a dataset key (and column) already known, without resolving it."""
    _check(direction, depth)
    graph = Graph(dataset, column, direction, depth)
    walker = _Walker(conn)
    start = (dataset, column or "")
    points: dict[tuple[str, str], int] = {start: 0}
    edges: dict[tuple, Edge] = {}
    for up in (True, False):
        if direction == ("down" if up else "up"):
            continue
        seen, found = walker.walk(start, up, depth)
        for point, distance in seen.items():
            points[point] = _nearer(points.get(point), distance)
        for key, edge in found.items():
            if key in edges:
                _combine(edges[key], edge)
            else:
                edges[key] = edge
    _describe(conn, graph, points)
    graph.nodes[dataset].distance = 0
    graph.edges = sorted(
        edges.values(),
        key=lambda e: (graph.nodes[e.source].distance, graph.nodes[e.target].distance,
                       e.source, e.source_field, e.target, e.target_field),
    )  # fmt: skip
    return graph


# ---------------------------------------------------------------------------------------
# Impact


@dataclass
class Impact:
    target: str
    field: str | None
    graph: Graph
    datasets: list[Node]  # the target and everything downstream, nearest first
    rules: list[dict[str, Any]]
    work_orders: list[dict[str, Any]]
    owners: list[dict[str, Any]]

    @property
    def target_label(self) -> str:
        return self.graph.target_label

    @property
    def consumers(self) -> list[Node]:
        """The reports and exports reached."""
        return [n for n in self.datasets if n.is_consumer]

    def by_layer(self) -> dict[str, list[Node]]:
        layers: dict[str, list[Node]] = {}
        for node in sorted(self.datasets, key=lambda n: (layer_rank(n.layer), n.dataset)):
            layers.setdefault(node.layer, []).append(node)
        return layers

    def to_dict(self) -> dict[str, Any]:
        def node(n: Node) -> dict[str, Any]:
            return {
                "dataset": n.dataset, "kind": n.kind, "layer": n.layer, "name_zh": n.name_zh,
                "name_en": n.name_en, "owner": n.owner, "department": n.department,
                "grade": n.grade, "distance": n.distance, "whole": n.whole,
                "columns": [c.name for c in n.columns],
            }  # fmt: skip

        return {
            "target": self.target,
            "field": self.field,
            "level": self.graph.level,
            "datasets": [node(n) for n in self.datasets],
            "by_layer": {k: [n.dataset for n in v] for k, v in self.by_layer().items()},
            "consumers": [node(n) for n in self.consumers],
            "rules": self.rules,
            "work_orders": [
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in w.items()}
                for w in self.work_orders
            ],
            "owners": self.owners,
            "edges": [asdict(e) for e in self.graph.edges],
        }


def _touches(node: Node, column: str | None) -> bool:
    """Whether a change reaching ``node`` touches a rule or order on ``column``."""
    return node.whole or column is None or column in {c.name for c in node.columns}


def impact(conn: psycopg.Connection, target: str) -> Impact:
    """Everything a change to ``<dataset>`` or ``<dataset>.<column>`` would touch downstream."""
    graph = lineage(conn, target, "down", None)
    datasets = sorted(graph.nodes.values(),
                      key=lambda n: (n.distance, layer_rank(n.layer), n.dataset))  # fmt: skip
    tables = [n.dataset for n in datasets]
    rules: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    with conn.cursor(row_factory=dict_row) as cur:
        if _table_exists(conn, "governance.quality_rule"):
            rules = cur.execute(
                "select rule_id, table_name, column_name, template, dimension, severity, stage, "
                "department, description_zh, description_en from governance.quality_rule "
                "where table_name = any(%s) order by table_name, rule_id",
                (tables,),
            ).fetchall()
        if _table_exists(conn, "governance.work_order"):
            orders = cur.execute(
                "select o.work_order_id, o.rule_id, o.table_name, o.department, o.assignee, "
                "o.severity, o.state, o.title, o.due_at, o.last_failed, r.column_name "
                "from governance.work_order o "
                "left join governance.quality_rule r using (rule_id) "
                "where o.table_name = any(%s) and o.state <> all(%s) "
                "order by o.due_at, o.work_order_id",
                (tables, list(SETTLED_ORDER_STATES)),
            ).fetchall()
    rules = [r for r in rules if _touches(graph.nodes[r["table_name"]], r["column_name"])]
    orders = [o for o in orders if _touches(graph.nodes[o["table_name"]], o["column_name"])]
    owners: dict[str, dict[str, Any]] = {}
    for node in datasets:
        who = node.owner or node.department or "未登记 unregistered"
        entry = owners.setdefault(
            who, {"owner": who, "datasets": [], "consumers": [], "rules": 0, "work_orders": 0}
        )
        entry["datasets"].append(node.dataset)
        if node.is_consumer:
            entry["consumers"].append(node.dataset)
    for row, kind in [(r, "rules") for r in rules] + [(o, "work_orders") for o in orders]:
        node = graph.nodes[row["table_name"]]
        owners[node.owner or node.department or "未登记 unregistered"][kind] += 1
    return Impact(
        target=graph.target, field=graph.field, graph=graph, datasets=datasets, rules=rules,
        work_orders=orders,
        owners=sorted(owners.values(), key=lambda o: (-len(o["datasets"]), o["owner"])),
    )  # fmt: skip
