"""The fleet picture as SVG without Graphviz: a small layered layout in pure Python (picture in, text out).

Used when `dot` is not installed, so the graph is always drawn. Bases on the left, each image one column
right of its furthest parent; within a column, nodes are ordered by the average row of their neighbours
(barycentre sweeps left to right and back), which keeps a fleet graph's few crossings readable. Same
vocabulary as the Graphviz picture: ellipses for bases, rounded boxes for managed images with their
status in words, double border for stale, octagon for failed, dashed for blocked; `node_…` ids and a
<title> per node.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape

from analyzer.visual.graphdot import FILL, LEGEND, VIA_LABEL, FleetPicture, Node, dom_id

CHAR_W, LINE_H, PAD, COL_GAP, ROW_GAP, MARGIN = 7.2, 15, 10, 70, 18, 16


def _size(node: Node) -> tuple[float, float]:
    lines = node.label.split("\n")
    return max(len(line) for line in lines) * CHAR_W + 2 * PAD + 12, len(lines) * LINE_H + 2 * PAD


def _columns(picture: FleetPicture) -> list[list[Node]]:
    by_id = {node.id: node for node in picture.nodes}
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in picture.edges:
        if edge.parent in by_id and edge.child in by_id:
            parents[edge.child].append(edge.parent)
    rank: dict[str, int] = {}

    def rank_of(node_id: str, seen: frozenset[str] = frozenset()) -> int:
        if node_id not in rank:
            ups = [p for p in parents[node_id] if p not in seen]
            rank[node_id] = 1 + max((rank_of(p, seen | {node_id}) for p in ups), default=-1)
        return rank[node_id]

    columns: list[list[Node]] = []
    for node in picture.nodes:
        at = rank_of(node.id)
        columns.extend([] for _ in range(at + 1 - len(columns)))
        columns[at].append(node)
    children: dict[str, list[str]] = defaultdict(list)
    for child, ups in parents.items():
        for parent in ups:
            children[parent].append(child)
    position: dict[str, float] = {node.id: float(i) for i, node in enumerate(picture.nodes)}

    def order(column: list[Node], neighbours: dict[str, list[str]]) -> None:
        """Sort by the average row of the neighbours (barycentre); keep the current order otherwise."""
        def key(node: Node) -> tuple[float, float]:
            rows = [position[n] for n in neighbours[node.id] if n in position]
            return (sum(rows) / len(rows) if rows else position[node.id], position[node.id])
        column.sort(key=key)
        for row, node in enumerate(column):
            position[node.id] = float(row)

    for column in columns:
        order(column, parents)
    for _ in range(2):  # a few sweeps each way settle the usual fleet graph
        for column in reversed(columns[:-1]):
            order(column, children)
        for column in columns[1:]:
            order(column, parents)
    return columns


def _shape(node: Node, x: float, y: float, w: float, h: float) -> str:
    if node.kind != "managed":
        dotted = ' stroke-dasharray="2,3"' if node.kind == "monitored" else ""
        return (f'<ellipse cx="{x + w / 2:.1f}" cy="{y + h / 2:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" '
                f'fill="#f4f4f4" stroke="#777777"{dotted}/>')
    assert node.status is not None
    fill, dash = FILL[node.status], ' stroke-dasharray="5,3"' if node.status == "blocked" else ""
    if node.status == "failed":
        c = 8.0
        points = [(x + c, y), (x + w - c, y), (x + w, y + c), (x + w, y + h - c), (x + w - c, y + h),
                  (x + c, y + h), (x, y + h - c), (x, y + c)]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        return f'<polygon points="{path}" fill="{fill}" stroke="#222222" stroke-width="2"/>'
    box = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8" fill="{fill}" '
           f'stroke="#222222" stroke-width="{2.2 if node.stale else 1.2}"{dash}/>')
    if node.stale:
        box += (f'<rect x="{x + 3:.1f}" y="{y + 3:.1f}" width="{w - 6:.1f}" height="{h - 6:.1f}" rx="6" '
                f'fill="none" stroke="#222222" stroke-width="1"/>')
    return box


def layered_svg(picture: FleetPicture, title: str = "Image Factory fleet", legend: bool = True) -> str:
    """A standalone `<svg>` of the picture (left to right), readable without colour."""
    columns = _columns(picture)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    x = float(MARGIN)
    height = 0.0
    for column in columns:
        width = max((_size(n)[0] for n in column), default=0.0)
        y = float(MARGIN)
        for node in column:
            w, h = _size(node)
            boxes[node.id] = (x + (width - w) / 2, y, w, h)
            y += h + ROW_GAP
        height = max(height, y)
        x += width + COL_GAP
    legend_h = 2 * LINE_H if legend else 0
    total_w, total_h = max(x - COL_GAP + MARGIN, 320.0), height + MARGIN + legend_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="fleet_graph" width="{total_w:.0f}pt" '
           f'height="{total_h:.0f}pt" viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img" '
           f'font-family="Helvetica,Arial,sans-serif" font-size="12">',
           f"<title>{escape(title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>']
    for edge in picture.edges:
        if edge.parent not in boxes or edge.child not in boxes:
            continue
        px, py, pw, ph = boxes[edge.parent]
        cx, cy, _, ch = boxes[edge.child]
        x1, y1, x2, y2 = px + pw, py + ph / 2, cx, cy + ch / 2
        bend = max((x2 - x1) / 2, 20)
        style = ' stroke-dasharray="5,4"' if edge.via != "from" else ""
        stroke = ' stroke="#222222" stroke-width="1.6"' if edge.internal else ' stroke="#555555" stroke-width="1"'
        edge_id = f"edge_{dom_id(edge.parent)[5:]}__{dom_id(edge.child)[5:]}"
        out.append(f'<g id="{edge_id}"><path d="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} '
                   f'{x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" fill="none"{stroke}{style} '
                   'marker-end="url(#arrow)"/>')
        if edge.via != "from":
            out.append(f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 4:.1f}" font-size="9" '
                       f'text-anchor="middle">{escape(VIA_LABEL[edge.via])}</text>')
        out.append("</g>")
    for node in picture.nodes:
        nx, ny, w, h = boxes[node.id]
        lines = node.label.split("\n")
        tooltip = " — ".join([node.id, *lines[1:]])
        out.append(f'<g id="{dom_id(node.id)}" class="node"><title>{escape(tooltip)}</title>')
        out.append(_shape(node, nx, ny, w, h))
        for index, line in enumerate(lines):
            out.append(f'<text x="{nx + w / 2:.1f}" y="{ny + PAD + (index + 0.8) * LINE_H:.1f}" '
                       f'text-anchor="middle">{escape(line)}</text>')
        out.append("</g>")
    if legend:
        out.append(f'<text x="{MARGIN}" y="{total_h - LINE_H / 2:.1f}" font-size="11">{escape(LEGEND)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
