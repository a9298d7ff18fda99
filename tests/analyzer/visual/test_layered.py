"""The built-in layered layout (the graph when `dot` is missing), drawn by a real browser."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from analyzer.planning.timeline import plan
from analyzer.visual.graphdot import dom_id, fleet_picture
from analyzer.visual.layered import layered_svg
from tests.support import ROOT
from tests.support.browser import dump_dom, screenshot
from tests.support.fleet_states import DAY, PY, T0, Fleet
from tests.support.htmlpage import Page


def test_every_node_and_edge_is_drawn_parents_left_of_children(tmp_path: Path) -> None:
    fleet = (Fleet().managed("base-python", PY).managed("ml-runtime", "base-python")
             .managed("worker", "base-python", "ml-runtime").seen(PY, "d0", T0 - 30 * DAY))
    picture = fleet_picture(fleet.states, plan(fleet.states, T0))
    svg = layered_svg(picture)
    page = tmp_path / "graph.svg"
    page.write_text(svg)
    dom = Page(dump_dom(page.as_uri(), tmp_path / "profile"))
    for node in picture.nodes:
        assert dom.ids.get(dom_id(node.id)) == "g", node.id
    for edge in picture.edges:
        assert dom.ids.get(f"edge_{dom_id(edge.parent)[5:]}__{dom_id(edge.child)[5:]}") == "g"
    x = {node.id: float(svg.split(f'id="{dom_id(node.id)}"', 1)[1].split(' x="', 1)[1].split('"', 1)[0])
         for node in picture.nodes}
    assert x[PY] < x["base-python"] < x["ml-runtime"] < x["worker"]
    assert screenshot(page.as_uri(), tmp_path / "graph.png", tmp_path / "profile").stat().st_size > 5_000


def test_report_draws_the_graph_without_dot(tmp_path: Path) -> None:
    """No `dot` on PATH: the report still has the picture (never a placeholder)."""
    root = ROOT
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git",):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = subprocess.run([sys.executable, "-m", "analyzer", "report", "--state", str(root / "state"),
                             "--out", str(tmp_path / "report")], cwd=root, env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "built-in layered layout" in result.stderr
    html = (tmp_path / "report" / "index.html").read_text()
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="fleet_graph"' in html and "payments-worker" in html
    assert (tmp_path / "report" / "graph.svg").read_text().startswith("<svg")
