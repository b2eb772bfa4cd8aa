"""The flow drawn as a picture: boxes for the steps, arrows for where each option, answer or
button leads, laid out here on the server and rendered as inline SVG
(templates/staff/studio/_flow_diagram.svg), so no JavaScript library is needed.

The layout is layered by breadth-first depth from the first step: the first step on top,
the steps it leads to on the row below, and so on. Steps the first step never reaches go on
a row of their own at the bottom, and a target that names no step gets a dashed box, so both
problems are seen at a glance. Arrows that go back up (a "voltar ao menu") bend round the
side instead of crossing the boxes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

NODE_W, NODE_H = 170, 54
GAP_X, GAP_Y = 30, 70
MARGIN = 20
SIDE = 56  # room left and right for the arrows that go back up
PER_ROW = 4  # boxes on a row of steps the start does not reach
LABEL_MAX = 22  # characters of an option's title on its arrow; WhatsApp's row titles are 24


@dataclass
class Node:
    code: str
    label: str
    x: int = 0
    y: int = 0
    first: bool = False
    unreachable: bool = False
    dead_end: bool = False
    missing: bool = False  # a target no step has: drawn dashed
    step_pk: int | None = None

    @property
    def cx(self) -> int:
        return self.x + NODE_W // 2


@dataclass
class Edge:
    source: str
    target: str
    label: str
    path: str = ""
    label_x: int = 0
    label_y: int = 0
    back: bool = False
    anchor: str = "middle"  # SVG text-anchor of the label


@dataclass
class Diagram:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    width: int = 0
    height: int = 0
    node_w: int = NODE_W
    node_h: int = NODE_H


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _label(titles: list[str]) -> str:
    named = [t for t in titles if t.strip()]
    if not named:
        return ""
    more = len(named) - 1
    return _short(named[0]) + (f" +{more}" if more else "")


def flow_layout(rows: list[dict]) -> Diagram:
    """Lay out staff.studio.flow_graph's rows (in step order, the first one the flow's start)."""
    diagram = Diagram()
    if not rows:
        return diagram
    nodes: dict[str, Node] = {}
    for index, row in enumerate(rows):
        step = row["step"]
        nodes[step.code] = Node(
            code=step.code,
            label=_short(row["label"]),
            first=index == 0,
            unreachable=row["unreachable"],
            dead_end=row["dead_end"],
            step_pk=step.pk,
        )
    # One arrow per pair of steps: four menu options to the same step are one arrow
    # labelled with the first title and how many more.
    titles: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for title, target in row["links"]:
            if not target:
                continue
            if target not in nodes:
                nodes[target] = Node(code=target, label="", missing=True)
            titles.setdefault((row["step"].code, target), []).append(str(title))
    edges = [
        Edge(source=source, target=target, label=_label(names))
        for (source, target), names in titles.items()
    ]

    # Breadth-first depth from the first step.
    depth: dict[str, int] = {rows[0]["step"].code: 0}
    queue = deque([rows[0]["step"].code])
    out: dict[str, list[str]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge.target)
    while queue:
        code = queue.popleft()
        for target in out.get(code, []):
            if target not in depth:
                depth[target] = depth[code] + 1
                queue.append(target)
    # What the start never reaches: one row below everything else, in step order (a code
    # handler such as the order flow's moves in code and declares no arrows: its steps
    # land here, in their order, without being called unreachable).
    bottom = max(depth.values()) + 1
    layers: dict[int, list[Node]] = {}
    for code, node in nodes.items():
        layers.setdefault(depth.get(code, bottom), []).append(node)
    # Those left at the bottom wrap, PER_ROW to a row, so the drawing stays readable.
    orphans = layers.pop(bottom, [])
    for i in range(0, len(orphans), PER_ROW):
        layers[bottom + i // PER_ROW] = orphans[i : i + PER_ROW]

    widest = max(len(layer) for layer in layers.values())
    diagram.width = SIDE * 2 + widest * NODE_W + (widest - 1) * GAP_X
    for row_index, level in enumerate(sorted(layers)):
        layer = layers[level]
        span = len(layer) * NODE_W + (len(layer) - 1) * GAP_X
        left = (diagram.width - span) // 2
        for i, node in enumerate(layer):
            node.x = left + i * (NODE_W + GAP_X)
            node.y = MARGIN + row_index * (NODE_H + GAP_Y)
    # The last gap stays: room for an arrow between two steps of the bottom row.
    diagram.height = MARGIN * 2 + len(layers) * (NODE_H + GAP_Y)

    for edge in edges:
        _route(edge, nodes[edge.source], nodes[edge.target], diagram.width)
    diagram.nodes = list(nodes.values())
    diagram.edges = edges
    return diagram


def _cubic(p0, p1, p2, p3, t: float) -> tuple[int, int]:
    u = 1 - t
    x = u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0]
    y = u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1]
    return round(x), round(y)


def _route(edge: Edge, a: Node, b: Node, width: int) -> None:
    if b.y > a.y:  # downwards: bottom of the source to the top of the target
        p0, p3 = (a.cx, a.y + NODE_H), (b.cx, b.y - 2)
        mid = (p0[1] + p3[1]) // 2
        p1, p2 = (p0[0], mid), (p3[0], mid)
        # The label near the target, where arrows from one step have spread apart.
        edge.label_x, edge.label_y = _cubic(p0, p1, p2, p3, 0.72)
    elif b.y == a.y and a is not b:  # same row: a dip under the row, into the target's bottom
        edge.back = True
        p0, p3 = (a.cx, a.y + NODE_H), (b.cx, b.y + NODE_H + 2)
        low = a.y + NODE_H + GAP_Y * 2 // 3
        p1, p2 = (p0[0], low), (p3[0], low)
        edge.label_x, edge.label_y = _cubic(p0, p1, p2, p3, 0.5)
        edge.label_y -= 3
    else:  # back up (or to itself): round the nearer side, into the target's side
        edge.back = True
        left = a.cx <= width // 2
        side = -1 if left else 1
        x1 = a.x if left else a.x + NODE_W
        x2 = b.x if left else b.x + NODE_W
        y1, y2 = a.y + NODE_H // 2, b.y + NODE_H // 2
        if a is b:
            y1, y2 = a.y + NODE_H // 3, a.y + 2 * NODE_H // 3
        bulge = (min(a.x, b.x) - SIDE + 8) if left else (max(a.x, b.x) + NODE_W + SIDE - 8)
        p0, p1, p2, p3 = (x1, y1), (bulge, y1), (bulge, y2), (x2 + side * 2, y2)
        edge.label_x, edge.label_y = bulge - side * 4, (y1 + y2) // 2
        edge.anchor = "start" if left else "end"
    edge.path = f"M{p0[0]},{p0[1]} C{p1[0]},{p1[1]} {p2[0]},{p2[1]} {p3[0]},{p3[1]}"
