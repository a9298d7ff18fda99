"""`plan`, `graph` and `report` through the real command line on a state/ directory written to disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from analyzer.cli import cli
from analyzer.planning.timeline import ASSUMED_DIGEST
from analyzer.state.store import save_states
from tests.analyzer.visual.test_report import fleet
from tests.support.cli import invoke
from tests.support.fleet_states import PY, digest

AT = "2026-11-10T00:00:00Z"


@pytest.fixture()
def state(tmp_path: Path) -> Path:
    save_states(tmp_path / "state", fleet().states.values())
    return tmp_path / "state"


def run(*args: str) -> Result:
    return invoke(*args, catch_exceptions=False)


def test_plan_text(state: Path) -> None:
    result = run("plan", "--state", str(state), "--at", AT)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Plan as of 2026-11-10 00:00 UTC"
    cascade = lines[lines.index("Cascade (earliest time, parents before children)") + 1:]
    assert cascade[0] == (f"    1. 2026-11-10 00:00  base-python  onto {PY}@{digest('d1')[7:19]}")
    assert cascade[1].startswith("    2. 2026-11-10 00:00  ml-runtime")
    assert any(line.strip().startswith("web-frontend") and "failed" in line for line in lines)


def test_plan_json(state: Path) -> None:
    result = run("plan", "--state", str(state), "--at", "2026-11-10T01:00:00+01:00", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["at"] == "2026-11-10T00:00:00Z"
    assert data["summary"]["managed"] == 4 and data["summary"]["failed"] == 1
    images = {i["name"]: i for i in data["images"]}
    assert images["base-python"]["status"] == "eligible"
    assert images["base-python"]["newest_vetted"] == {PY: digest("d1")}
    assert images["payments-api"]["next_rebuild"]["at"] == "2026-11-11T00:00:00Z"
    assert [r["step"] for r in data["cascade"]] == list(range(1, len(data["cascade"]) + 1))
    python = next(b for b in data["bases"] if b["ref"] == PY)
    assert [(g["delay"], len(g["held"])) for g in python["gates"]] == [("168h", 1), ("240h", 2)]


def test_plan_what_if(state: Path) -> None:
    result = run("plan", "--state", str(state), "--at", AT, "--assume-update", "python:3.12-slim", "--json")
    assert result.exit_code == 0, result.output
    what_if = json.loads(result.output)["what_if"]
    assert what_if["base"] == PY and what_if["digest"] == ASSUMED_DIGEST
    assert what_if["rebuilds"] == {"base-python": "2026-11-17T00:00:00Z", "ml-runtime": "2026-11-17T00:00:00Z",
                                   "payments-api": "2026-11-20T00:00:00Z"}
    text = run("plan", "--state", str(state), "--at", AT, "--assume-update", "python:3.12-slim").output
    assert f"What if {PY} moved at 2026-11-10 00:00:" in text
    assert "  payments-api  rebuilt 2026-11-20 00:00" in text


def test_plan_bad_inputs_exit_2(state: Path) -> None:
    unknown = run("plan", "--state", str(state), "--assume-update", "ruby:3")
    assert unknown.exit_code == 2
    assert "unknown base 'docker.io/library/ruby:3'" in unknown.output and PY in unknown.output
    bad_time = run("plan", "--state", str(state), "--at", "next tuesday")
    assert bad_time.exit_code == 2 and "not an ISO 8601 time" in bad_time.output


def test_graph_formats(state: Path, tmp_path: Path) -> None:
    text = run("graph", "--state", str(state), "--at", AT).output.splitlines()
    assert text[0] == f"base-python <- {PY} (external)  [eligible, STALE]"
    data = json.loads(run("graph", "--state", str(state), "--at", AT, "--format", "json").output)
    assert data["order"] == ["base-python", "web-frontend", "ml-runtime", "payments-api"]
    assert {(e["parent"], e["child"]) for e in data["edges"]} == {
        (PY, "base-python"), ("base-python", "ml-runtime"), ("base-python", "payments-api"), (PY, "payments-api"),
        ("docker.io/library/node:20-alpine", "web-frontend")}
    assert run("graph", "--state", str(state), "--format", "mermaid").output.startswith("flowchart LR\n")
    assert run("graph", "--state", str(state), "--format", "dot").output.startswith("// Image Factory fleet\n")
    out = tmp_path / "g.svg"
    assert run("graph", "--state", str(state), "--format", "svg", "--out", str(out)).exit_code == 0
    assert "<svg" in out.read_text() and "node_payments_api" in out.read_text()


def test_report_writes_index_and_svg(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = run("report", "--state", str(state), "--at", AT, "--out", str(out))
    assert result.exit_code == 0 and "index.html" in result.output
    html = (out / "index.html").read_text()
    assert 'data-image="payments-api"' in html and "<svg" in html
    assert (out / "graph.svg").read_text().lstrip().startswith("<?xml")


def test_empty_state_warns_but_works(tmp_path: Path) -> None:
    for args in (["plan"], ["graph"], ["report", "--out", str(tmp_path / "r")]):
        result = CliRunner().invoke(cli, [*args, "--state", str(tmp_path / "none")])
        assert result.exit_code == 0, result.output
        assert "warning: no state in" in result.output
    assert "0</span> managed images" in (tmp_path / "r" / "index.html").read_text()
