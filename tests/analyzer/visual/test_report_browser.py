"""The report opened in a real headless browser (Debian's chromium): rendered DOM and a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from PIL import Image

from analyzer.state.store import save_states
from analyzer.visual.graphdot import FILL
from tests.analyzer.visual.test_report import fleet
from tests.support import ROOT
from tests.support.browser import dump_dom, screenshot
from tests.support.cli import run
from tests.support.htmlpage import Page


def write_report(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    save_states(state, fleet().states.values())
    out = tmp_path / "report"
    result = run(ROOT, "report", "--state", str(state), "--at", "2026-11-10T00:00:00Z", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "graph.svg").is_file()
    return out / "index.html"


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    index = write_report(tmp_path)
    url = index.as_uri()
    dom = Page(dump_dom(url, tmp_path / "profile"))
    images = dom.table("images-table")
    assert [r.attrs["data-image"] for r in images.body] == ["base-python", "web-frontend", "ml-runtime",
                                                             "payments-api"]
    assert [r.attrs["data-status"] for r in images.body] == ["eligible", "failed", "eligible", "held"]
    for node in ("node_base_python", "node_web_frontend", "node_ml_runtime", "node_payments_api",
                 "node_docker_io_library_python_3_12_slim", "node_docker_io_library_node_20_alpine"):
        assert dom.ids.get(node) == "g", node
    assert dom.ids.get("fleet_graph") == "g"
    assert len(dom.table("cascade-table").body) >= 3
    assert dom.table("rebuilds-table").body[0].texts[2] == "✗ failed"

    shot = screenshot(url, tmp_path / "report.png", tmp_path / "profile")
    if os.environ.get("REPORT_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REPORT_SCREENSHOT_DIR"]) / "report-test.png")
    with Image.open(shot) as image:
        assert image.size == (1366, 900)
        pixels = image.convert("RGB").getcolors(1 << 24) or []
    counts = {"#{:02x}{:02x}{:02x}".format(*colour): n for n, colour in pixels}
    # Two eligible nodes and one failed node of the graph fill far more pixels than the table's badges.
    assert counts.get(FILL["eligible"], 0) > 8000, "the graph's eligible nodes were not painted"
    assert counts.get(FILL["failed"], 0) > 3000, "the graph's failed node was not painted"
    assert len(counts) > 50, "the screenshot is nearly blank"
