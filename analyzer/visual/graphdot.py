"""The fleet's dependency graph as a picture (pure: states + plan in, DOT / Mermaid text out).

Layout is Graphviz's job (`graphviz` package → `dot`); this module only decides what is drawn:
external bases (ellipses) feed managed images (rounded boxes), arrows point the way updates flow.
Status is never told by colour alone: every managed node carries its status as text, stale images
get a double border and a "⚠ stale" line, failed ones an octagon, blocked ones a dashed border.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import graphviz

from analyzer.planning.timeline import ASSUMED_DIGEST, ImagePlan, Plan, Status
from analyzer.state.model import ImageState

FONT = "Helvetica,Arial,sans-serif"
FILL: dict[Status, str] = {
    "up-to-date": "#e8f5e9", "eligible": "#fff3cd", "held": "#e3f2fd",
    "failed": "#f8d7da", "blocked": "#eeeeee", "unknown": "#ffffff",
}
SYMBOL: dict[Status, str] = {
    "up-to-date": "✓", "eligible": "●", "held": "…", "failed": "✗", "blocked": "⊘", "unknown": "?",
}
VIA_LABEL = {"from": "", "copy": "COPY --from", "mount": "RUN --mount", "syntax": "# syntax"}
LEGEND = ("Arrows: base → image built on it.  ⚠ double border = stale;  ✗ octagon = failed;  "
          "⊘ dashed = blocked by a failed parent;  … = newer digest soaking;  ✓ = up to date")


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str
    """`managed`, `external` or `monitored` (an external image nothing is built on)."""
    status: Status | None = None
    stale: bool = False


@dataclass(frozen=True)
class GraphEdge:
    parent: str
    child: str
    via: str
    internal: bool


@dataclass(frozen=True)
class FleetPicture:
    """What the picture shows, independent of the output format (tests assert on this)."""

    nodes: tuple[Node, ...]
    edges: tuple[GraphEdge, ...]


def short_digest(digest: str | None) -> str:
    if digest == ASSUMED_DIGEST:
        return "(assumed new)"
    return digest.split(":", 1)[-1][:12] if digest else "—"


def short_ref(ref: str) -> str:
    """`python:3.12-slim` for Docker Hub official images; other refs unchanged."""
    return ref.removeprefix("docker.io/library/")


def _managed_label(image: ImagePlan) -> str:
    lines = [image.name, f"{SYMBOL[image.status]} {image.status}"]
    if image.stale_since is not None:
        lines.append(f"⚠ stale since {image.stale_since:%Y-%m-%d}")
    elif image.next_rebuild is not None and image.status == "held":
        lines.append(f"rebuild {image.next_rebuild.at:%Y-%m-%d %H:%M}")
    if image.closure:  # its own delay holds for every upstream digest, direct or through parents
        lines.append(f"delay {image.delay_text}")
    return "\n".join(lines)


def fleet_picture(states: Mapping[str, ImageState], plan: Plan) -> FleetPicture:
    """Nodes for every managed image and every external image; edges from the recorded bases."""
    nodes = [Node(id=i.name, label=_managed_label(i), kind="managed", status=i.status, stale=i.stale)
             for i in plan.images]
    for base in plan.bases:
        held = len({d.digest for g in base.gates for d in g.held})
        lines = [short_ref(base.ref)]
        if held:
            lines.append(f"{held} digest(s) soaking")
        kind = "external" if base.dependents else "monitored"
        if kind == "monitored":
            lines.append("monitored only")
        nodes.append(Node(id=base.ref, label="\n".join(lines), kind=kind))
    vias: dict[tuple[str, str], set[str]] = {}
    internal: dict[tuple[str, str], bool] = {}
    for state in states.values():
        if state.managed is None or not state.name:
            continue
        for use in state.managed.bases:
            parent = use.parent or use.tracked
            if use.kind == "pinned" or not parent:
                continue
            vias.setdefault((parent, state.name), set()).add(use.via)
            internal[(parent, state.name)] = use.kind == "managed"
    edges = [GraphEdge(parent=p, child=c, via="from" if "from" in v else sorted(v)[0], internal=internal[(p, c)])
             for (p, c), v in sorted(vias.items())]
    return FleetPicture(nodes=tuple(nodes), edges=tuple(edges))


def dom_id(node_id: str) -> str:
    """The SVG element id of a node: `node_` + letters and digits (Graphviz would entity-escape `-`)."""
    return "node_" + re.sub(r"[^A-Za-z0-9]+", "_", node_id).strip("_")


def to_dot(picture: FleetPicture, title: str = "Image Factory fleet", legend: bool = True) -> graphviz.Digraph:
    """A Graphviz digraph, left to right (wide screens), ready for `.source` or `.pipe('svg')`.

    `legend=False` when the page around the picture explains the symbols already.
    """
    dot = graphviz.Digraph(title, comment=title)
    dot.attr(rankdir="LR", fontname=FONT, fontsize="11", labelloc="b", labeljust="l", label=LEGEND if legend else "",
             nodesep="0.3", ranksep="0.6", tooltip=title, id="fleet_graph")
    dot.attr("node", fontname=FONT, fontsize="12", margin="0.12,0.05")
    dot.attr("edge", fontname=FONT, fontsize="9", color="#555555", arrowsize="0.7")
    # Node names become the SVG <title> people and screen readers see; DOT reads ':' as a port separator.
    names = {node.id: node.id.replace(":", " tag ") for node in picture.nodes}
    for node in picture.nodes:
        attrs = {"id": dom_id(node.id), "tooltip": " — ".join([node.id, *node.label.split("\n")[1:]])}
        if node.kind == "managed":
            assert node.status is not None
            style = ["rounded", "filled"]
            shape = "box"
            if node.status == "failed":
                shape = "octagon"
                style = ["filled", "bold"]
            elif node.status == "blocked":
                style.append("dashed")
            attrs.update(shape=shape, style=",".join(style), fillcolor=FILL[node.status],
                         penwidth="2.2" if node.stale else "1.2", peripheries="2" if node.stale else "1")
        else:
            attrs.update(shape="ellipse", style="filled" if node.kind == "external" else "filled,dotted",
                         fillcolor="#f4f4f4", color="#777777", fontcolor="#333333")
        dot.node(names[node.id], label=node.label, **attrs)
    for edge in picture.edges:
        attrs = {"id": f"edge_{dom_id(edge.parent)[5:]}__{dom_id(edge.child)[5:]}"}
        if edge.via != "from":
            attrs.update(style="dashed", label=VIA_LABEL[edge.via])
        if edge.internal:
            attrs.update(penwidth="1.6", color="#222222")
        for end in (edge.parent, edge.child):
            if end not in names:  # a base whose state file is missing: drawn plainly, never a KeyError
                names[end] = end.replace(":", " tag ")
                dot.node(names[end], label=f"{end}\n(no state file)", id=dom_id(end), shape="ellipse",
                         style="dashed", color="#777777")
        dot.edge(names[edge.parent], names[edge.child], **attrs)
    return dot


def render_svg(dot: graphviz.Digraph) -> str:
    """Lay the graph out with Graphviz's `dot` (must be installed: Debian package `graphviz`)."""
    svg: str = dot.pipe(format="svg", encoding="utf-8")
    return svg


def inline_svg(svg: str) -> str:
    """The `<svg>` element alone (no XML prolog or DOCTYPE), for embedding in HTML."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(picture: FleetPicture) -> str:
    """Mermaid flowchart text (GitHub/GitLab render it in Markdown); classes add colour, labels say it."""
    ids = {node.id: f"n{i}" for i, node in enumerate(picture.nodes)}
    lines = ["flowchart LR"]
    for node in picture.nodes:
        label = _mermaid_text(node.label)
        if node.kind == "managed":
            lines.append(f'    {ids[node.id]}["{label}"]')
        else:
            lines.append(f'    {ids[node.id]}(["{label}"])')
    for edge in picture.edges:
        arrow = "-.->" if edge.via != "from" else ("==>" if edge.internal else "-->")
        label = f"|{VIA_LABEL[edge.via]}|" if edge.via != "from" else ""
        lines.append(f"    {ids[edge.parent]} {arrow}{label} {ids[edge.child]}")
    for status, fill in FILL.items():
        lines.append(f"    classDef {status.replace('-', '_')} fill:{fill},stroke:#333")
    lines.append("    classDef stale stroke-width:4px")
    lines.append("    classDef external fill:#f4f4f4,stroke:#777")
    for node in picture.nodes:
        cls = node.status.replace("-", "_") if node.status else "external"
        lines.append(f"    class {ids[node.id]} {cls}" + (f"\n    class {ids[node.id]} stale" if node.stale else ""))
    return "\n".join(lines) + "\n"


def to_json(picture: FleetPicture) -> dict[str, object]:
    return {
        "nodes": [{"id": n.id, "kind": n.kind, "status": n.status, "stale": n.stale} for n in picture.nodes],
        "edges": [{"parent": e.parent, "child": e.child, "via": e.via, "internal": e.internal}
                  for e in picture.edges],
    }
