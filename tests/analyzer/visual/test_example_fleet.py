"""The bundled example fleet end to end: analyze real git repos, then graph, plan and report (in chromium)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.support import ROOT
from tests.support.browser import dump_dom, screenshot
from tests.support.cli import python
from tests.support.htmlpage import Page

PY = "docker.io/library/python:3.12-slim"
NODE = "docker.io/library/node:20-alpine"
NGINX = "docker.io/library/nginx:1.27-alpine"
BUSYBOX = "docker.io/library/busybox:1.36"
DISTROLESS = "gcr.io/distroless/static-debian12:nonroot"
REDIS = "docker.io/library/redis:7"
FRONTEND, FRONTEND_17 = "docker.io/docker/dockerfile:1", "docker.io/docker/dockerfile:1.7"  # `# syntax=`
MANAGED = ["base-node", "base-python", "edge-proxy", "web-docs", "ml-runtime", "payments-api", "web-frontend",
           "payments-worker"]
DEMO_AT = "2026-11-20T09:00:00Z"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = python(cwd, *args, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example enrollment whose sources are real git repositories, analyzed into state/."""
    project = tmp_path_factory.mktemp("example")
    shutil.copy(ROOT / "images.yaml", project / "images.yaml")
    shutil.copytree(ROOT / "images.d", project / "images.d")
    make_repos = load_example("make_repos")
    for source in sorted(p for p in (ROOT / "examples" / "repos").iterdir() if p.is_dir()):
        make_repos.sync_repo(source, project / "examples" / ".repos" / source.name)
    run(project, "-m", "analyzer", "analyze", "--cache", str(project / "cache"))
    return project


def test_graph_has_exactly_the_example_nodes_and_edges(project: Path) -> None:
    data = json.loads(run(project, "-m", "analyzer", "graph", "--format", "json").stdout)
    assert data["order"] == MANAGED
    assert {(n["id"], n["kind"]) for n in data["nodes"]} == {
        *((name, "managed") for name in MANAGED),
        (PY, "external"), (NODE, "external"), (NGINX, "external"), (BUSYBOX, "external"),
        (DISTROLESS, "external"), (REDIS, "monitored"), (FRONTEND, "external"), (FRONTEND_17, "external")}
    assert {(e["parent"], e["child"], e["via"], e["internal"]) for e in data["edges"]} == {
        (PY, "base-python", "from", False),
        (NODE, "base-node", "from", False),
        ("base-python", "ml-runtime", "from", True),
        (PY, "payments-api", "from", False),
        ("base-python", "payments-api", "from", True),
        ("base-python", "payments-worker", "from", True),
        (BUSYBOX, "payments-worker", "copy", False),
        ("ml-runtime", "payments-worker", "mount", True),
        ("base-node", "web-frontend", "from", True),
        (NGINX, "web-frontend", "from", False),
        (DISTROLESS, "edge-proxy", "from", False),
        (FRONTEND, "payments-api", "syntax", False),
        (FRONTEND_17, "base-python", "syntax", False),
    }


def test_example_plan_and_report_with_demo_history(project: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    shutil.copytree(project / "state", state)
    run(project, str(ROOT / "examples" / "demo_history.py"), str(state))

    plan = json.loads(run(project, "-m", "analyzer", "plan", "--state", str(state), "--at", DEMO_AT,
                          "--json").stdout)
    assert {i["name"]: i["status"] for i in plan["images"]} == {
        "base-node": "eligible", "web-frontend": "eligible", "base-python": "held", "ml-runtime": "held",
        "payments-api": "held", "edge-proxy": "held", "payments-worker": "failed", "web-docs": "unknown"}
    assert [(r["step"], r["image"], r["at"]) for r in plan["cascade"]] == [
        (1, "base-node", "2026-11-20T09:00:00Z"), (2, "web-frontend", "2026-11-20T09:00:00Z"),
        (3, "base-python", "2026-11-23T06:00:00Z"), (4, "payments-api", "2026-11-23T06:00:00Z"),
        (5, "edge-proxy", "2026-11-25T03:00:00Z"),
        # python moved 2026-11-16 06:00: ml-runtime's own 10d and payments-worker's 14d hold, not base-python's 7d
        (6, "ml-runtime", "2026-11-26T06:00:00Z"), (7, "payments-worker", "2026-11-30T06:00:00Z")]

    out = tmp_path / "report"
    run(project, "-m", "analyzer", "report", "--state", str(state), "--at", DEMO_AT, "--out", str(out))
    url = (out / "index.html").as_uri()
    dom = Page(dump_dom(url, tmp_path / "profile"))
    rows = dom.table("images-table").body
    assert [r.attrs["data-image"] for r in rows] == MANAGED
    assert all(r.cells[0].attrs.get("scope") == "row" for r in rows)
    worker = next(r for r in rows if r.attrs["data-image"] == "payments-worker")
    assert worker.texts[6].startswith("✗ failed last rebuild failed")
    for name in MANAGED:
        assert dom.ids.get("node_" + name.replace("-", "_")) == "g", name
    assert dom.ids.get("node_gcr_io_distroless_static_debian12_nonroot") == "g"
    shot = screenshot(url, tmp_path / "example-report.png", tmp_path / "profile")
    assert shot.stat().st_size > 20_000
