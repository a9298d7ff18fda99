"""The graph picture: exactly the fleet's nodes and edges; status told by shape and text, not colour alone."""

from __future__ import annotations

import html
import re
import shutil

import pytest

from analyzer.planning.timeline import plan
from analyzer.visual.graphdot import fleet_picture, inline_svg, render_svg, to_dot, to_json, to_mermaid
from tests.support.fleet_states import DAY, NODE, PY, T0, Fleet

BUSYBOX = "docker.io/library/busybox:1.36"
REDIS = "docker.io/library/redis:7"


def fleet() -> Fleet:
    f = (Fleet()
         .managed("base-python", PY)
         .managed("ml-runtime", "base-python")
         .managed("worker", "base-python")
         .managed("web", NODE))
    f.managed("tools", BUSYBOX, via="copy")
    f.external(REDIS)
    f.seen(PY, "d0", T0 - 30 * DAY).seen(NODE, "n0", T0 - 30 * DAY).seen(BUSYBOX, "b0", T0 - 30 * DAY)
    for name in ("base-python", "ml-runtime", "worker"):
        f.built(name, T0 - 20 * DAY, py="d0")
    f.built("web", T0 - 20 * DAY, node="n0").built("tools", T0 - 20 * DAY, **{BUSYBOX: "b0"})
    f.seen(PY, "d1", T0)
    f.built("base-python", T0 + 7 * DAY, outcome="failed", py="d1")
    f.seen(NODE, "n1", T0)
    return f


def picture_at(at_days: int = 9):  # type: ignore[no-untyped-def]
    states = fleet().states
    return fleet_picture(states, plan(states, T0 + at_days * DAY))


def test_nodes_and_edges_are_exactly_the_fleet() -> None:
    picture = picture_at()
    assert {(n.id, n.kind) for n in picture.nodes} == {
        ("base-python", "managed"), ("ml-runtime", "managed"), ("worker", "managed"), ("web", "managed"),
        ("tools", "managed"), (PY, "external"), (NODE, "external"), (BUSYBOX, "external"), (REDIS, "monitored")}
    assert {(e.parent, e.child, e.via, e.internal) for e in picture.edges} == {
        (PY, "base-python", "from", False), ("base-python", "ml-runtime", "from", True),
        ("base-python", "worker", "from", True), (NODE, "web", "from", False), (BUSYBOX, "tools", "copy", False)}


def test_status_and_staleness_are_in_the_labels() -> None:
    nodes = {n.id: n for n in picture_at().nodes}
    assert nodes["base-python"].status == "failed" and nodes["base-python"].stale
    assert "✗ failed" in nodes["base-python"].label and "⚠ stale since 2026-11-08" in nodes["base-python"].label
    assert nodes["worker"].status == "blocked" and "⊘ blocked" in nodes["worker"].label
    assert nodes["web"].status == "eligible" and "● eligible" in nodes["web"].label
    assert nodes["tools"].status == "up-to-date" and not nodes["tools"].stale
    assert "monitored only" in nodes[REDIS].label


def node_attributes(source: str) -> dict[str, str]:
    """DOT node statements → their attribute text after the (multi-line) label, keyed by the `id` attribute."""
    out = {}
    for attrs in re.findall(r'\t(?:"[^"]*"|\S+) \[label="(?:[^"\\]|\\.)*"([^\]]*)\]', source, flags=re.DOTALL):
        out[re.search(r"id=(\w+)", attrs).group(1)] = attrs  # type: ignore[union-attr]
    return out


def test_dot_marks_stale_and_failed_by_shape_not_only_colour() -> None:
    source = to_dot(picture_at()).source
    nodes = node_attributes(source)
    assert len(nodes) == 9
    assert "peripheries=2" in nodes["node_base_python"] and "shape=octagon" in nodes["node_base_python"]
    assert "dashed" in nodes["node_worker"] and "peripheries=2" in nodes["node_worker"]
    assert "peripheries=1" in nodes["node_tools"] and "shape=box" in nodes["node_tools"]
    assert "shape=ellipse" in nodes["node_docker_io_library_python_3_12_slim"]
    assert 'label="COPY --from"' in source
    assert "rankdir=LR" in source


def test_svg_has_every_node_and_edge() -> None:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is required (Debian package graphviz)")
    svg = html.unescape(inline_svg(render_svg(to_dot(picture_at()))))
    assert svg.startswith("<svg")
    for node_id in ("node_base_python", "node_ml_runtime", "node_worker", "node_web", "node_tools",
                    "node_docker_io_library_python_3_12_slim", "node_docker_io_library_redis_7"):
        assert f'id="{node_id}"' in svg
    assert svg.count('class="edge"') == 5
    assert 'id="edge_base_python__worker"' in svg
    assert "stale since 2026-11-08" in svg


def test_mermaid_flowchart() -> None:
    text = to_mermaid(picture_at())
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert sum(1 for line in lines if "-->" in line or "==>" in line or "-.->" in line) == 5
    assert any("-.->|COPY --from|" in line for line in lines)
    assert any(line.strip().startswith("n0[\"base-python<br/>✗ failed") for line in lines)
    assert "class n0 stale" in text


def test_json_lists_nodes_with_status() -> None:
    data = to_json(picture_at())
    nodes = {n["id"]: n for n in data["nodes"]}  # type: ignore[attr-defined]
    assert nodes["base-python"]["status"] == "failed" and nodes[PY]["status"] is None
    assert len(data["edges"]) == 5  # type: ignore[arg-type]
