"""The README's first command: examples/demo.py on the example fleet, with its real local registry.

Runs the whole demo (registry, analyze, refresh, an upstream move, status, plan, graph, render, check,
report) in a temporary folder and checks what a newcomer is told: real digests, the held digest with its
clear time, the rebuild order along the chain, and a report with the graph.
"""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_repos.py")], check=True, capture_output=True)
    work = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--workdir", str(work),
                             "--report", str(work / "report")], capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, work


def test_digests_are_real_and_the_move_is_seen(demo: tuple[str, Path]) -> None:
    out, _ = demo
    moved = re.search(r"docker\.io/library/python:3\.12-slim: moved (sha256:[0-9a-f]{64}) -> (sha256:[0-9a-f]{64})",
                      out)
    assert moved and moved.group(1) != moved.group(2), out
    assert "11 tag(s) checked, 11 state file(s) written, 0 failed" in out
    assert "no policy violations" in out


def test_plan_shows_the_hold_and_the_rebuild_order(demo: tuple[str, Path]) -> None:
    out, _ = demo
    plan = out.split("$ image-factory plan\n", 1)[1].split("\n== ", 1)[0]
    at = datetime.strptime(re.search(r"Plan as of (\S+ \S+) UTC", plan).group(1),  # type: ignore[union-attr]
                           "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    cascade = re.findall(r"^\s+\d+\. (\S+ \S+)\s+(\S+)\s+onto docker\.io/library/python:3\.12-slim@", plan, re.M)
    assert [name for _, name in cascade] == ["base-python", "payments-api", "ml-runtime", "payments-worker"]
    days = [(datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=UTC) - at) for when, _ in cascade]
    assert [round(d / timedelta(days=1)) for d in days] == [7, 7, 10, 14]  # each image's own delay holds
    assert re.search(r"^  base-python\s+held\s+next rebuild ", plan, re.M)
    assert re.search(r"^  base-node\s+up-to-date", plan, re.M)


def test_report_has_the_graph_and_the_digests(demo: tuple[str, Path]) -> None:
    out, work = demo
    html = (work / "report" / "index.html").read_text()
    assert "<svg" in html and "payments-worker" in html
    current = re.search(r"python:3\.12-slim: moved sha256:[0-9a-f]{64} -> sha256:([0-9a-f]{12})", out)
    assert current and current.group(1) in html
