"""Lineage graphs laid out left to right on the server, drawn as SVG.

A layered layout in the Sugiyama manner, kept small: cycles are broken by
reversing back edges, each node goes to the layer after its furthest
predecessor, nodes within a layer are ordered by the mean position of their
neighbours over a few sweeps, and edges are cubic curves from the right side of
one node to the left side of the next. Every node is a link to its page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NODE_WIDTH = 200
NODE_HEIGHT = 46
GAP_X = 64
GAP_Y = 18
MARGIN = 12
_SWEEPS = 4


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A box in the graph: ``kind`` is its CSS class (``run`` or ``version``)."""

    key: str
    kind: str
    label: str
    detail: str
    href: str
    focus: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    layer: int
    row: int
    x: float
    y: float


def layout(
    nodes: Sequence[GraphNode], edges: Iterable[tuple[str, str]]
) -> dict[str, Placement]:
    """Where each node goes: its layer (column), row, and top-left corner."""
    keys = [node.key for node in nodes]
    forward = _acyclic(keys, sorted(set(edges)))
    layers = _layers(keys, forward)
    rows = _order(keys, forward, layers)
    tallest = max((len(column) for column in rows), default=0)
    placements: dict[str, Placement] = {}
    for layer, column in enumerate(rows):
        offset = (tallest - len(column)) * (NODE_HEIGHT + GAP_Y) / 2
        for row, key in enumerate(column):
            x = MARGIN + layer * (NODE_WIDTH + GAP_X)
            y = MARGIN + offset + row * (NODE_HEIGHT + GAP_Y)
            placements[key] = Placement(layer, row, x, y)
    return placements


def _acyclic(keys: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``edges`` with every back edge of a depth-first search reversed."""
    children: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in edges:
        children[source].append(target)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    back: set[tuple[str, str]] = set()
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(children[root]))]
        while stack:
            node, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(children[child])))
    return [(t, s) if (s, t) in back else (s, t) for s, t in edges if s != t]


def _layers(keys: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; sources move right to sit next to their targets."""
    parents: dict[str, list[str]] = {key: [] for key in keys}
    children: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    layer: dict[str, int] = {}
    waiting = {key: len(parents[key]) for key in keys}
    ready = [key for key in keys if waiting[key] == 0]
    while ready:
        key = ready.pop(0)
        layer[key] = max((layer[p] + 1 for p in parents[key]), default=0)
        for child in children[key]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    for key in keys:
        if not parents[key] and children[key]:
            layer[key] = min(layer[c] for c in children[key]) - 1
    lowest = min(layer.values(), default=0)
    return {key: value - lowest for key, value in layer.items()}


def _order(
    keys: list[str], edges: list[tuple[str, str]], layers: dict[str, int]
) -> list[list[str]]:
    """Nodes of each layer, ordered to keep edges short and uncrossed."""
    columns: list[list[str]] = [[] for _ in range(max(layers.values(), default=-1) + 1)]
    for key in keys:
        columns[layers[key]].append(key)
    parents: dict[str, list[str]] = {key: [] for key in keys}
    children: dict[str, list[str]] = {key: [] for key in keys}
    for source, target in edges:
        parents[target].append(source)
        children[source].append(target)
    for sweep in range(_SWEEPS):
        downward = sweep % 2 == 0
        last = len(columns) - 1
        sequence = range(1, last + 1) if downward else range(last - 1, -1, -1)
        neighbours = parents if downward else children
        for index in sequence:
            columns[index] = _by_barycentre(columns[index], neighbours, columns)
    return columns


def _by_barycentre(
    column: list[str], neighbours: dict[str, list[str]], columns: list[list[str]]
) -> list[str]:
    position = {key: row for col in columns for row, key in enumerate(col)}

    def weight(item: tuple[int, str]) -> float:
        row, key = item
        linked = [position[n] for n in neighbours[key]]
        return sum(linked) / len(linked) if linked else float(row)

    return [key for _, key in sorted(enumerate(column), key=weight)]


def render_svg(
    nodes: Sequence[GraphNode],
    edges: Iterable[tuple[str, str]],
    *,
    title: str = "Lineage graph",
) -> Markup:
    """The graph as an inline ``<svg>`` element, nodes linking to their pages."""
    edges = sorted(set(edges))
    placed = layout(nodes, edges)
    width = max((p.x for p in placed.values()), default=0) + NODE_WIDTH + MARGIN
    height = max((p.y for p in placed.values()), default=0) + NODE_HEIGHT + MARGIN
    parts = [
        f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
        f'height="{height:.0f}" aria-label="{escape(title)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>',
    ]
    parts += [_edge(placed[s], placed[t], s, t) for s, t in edges]
    parts += [_node(node, placed[node.key]) for node in nodes]
    parts.append("</svg>")
    return Markup("".join(parts))


def _edge(source: Placement, target: Placement, start: str, end: str) -> str:
    x1, y1 = source.x + NODE_WIDTH, source.y + NODE_HEIGHT / 2
    x2, y2 = target.x, target.y + NODE_HEIGHT / 2
    bend = max(GAP_X / 2, abs(x2 - x1) / 3)
    path = f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} "
    path += f"{x2:.0f},{y2:.0f}"
    return (
        f'<path class="edge" d="{path}" marker-end="url(#arrow)" '
        f'data-from="{escape(start)}" data-to="{escape(end)}"/>'
    )


def _node(node: GraphNode, at: Placement) -> str:
    classes = f"node {node.kind}" + (" focus" if node.focus else "")
    return (
        f'<a href="{escape(node.href)}" class="{escape(classes)}" '
        f'data-node="{escape(node.key)}">'
        f"<title>{escape(node.label)} ({escape(node.detail)})</title>"
        f'<rect x="{at.x:.0f}" y="{at.y:.0f}" width="{NODE_WIDTH}" '
        f'height="{NODE_HEIGHT}" rx="7"/>'
        f'<text x="{at.x + 10:.0f}" y="{at.y + 19:.0f}" class="label">'
        f"{escape(_clip(node.label, 24))}</text>"
        f'<text x="{at.x + 10:.0f}" y="{at.y + 36:.0f}" class="detail">'
        f"{escape(_clip(node.detail, 30))}</text></a>"
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
