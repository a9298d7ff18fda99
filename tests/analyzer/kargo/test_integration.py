"""analyze → state → render, end to end on real git repositories of the example fleet (local repos made
from examples/repos/ by examples/make_repos.py), including both lifecycle transitions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT
from tests.support.cli import run
from tests.support.kargo_fleet import BASE_NODE, copy_config
from tests.support.kargo_schemas import all_problems


def make_repos(target: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_repos", ROOT / "examples" / "make_repos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for source in sorted(p for p in (ROOT / "examples" / "repos").iterdir() if p.is_dir()):
        module.sync_repo(source, target / source.name)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    copy_config(tmp_path)
    make_repos(tmp_path / "examples" / ".repos")
    return tmp_path


def analyze_and_render(project: Path) -> dict[str, dict[str, Any]]:
    analyzed = run(project, "analyze", "--cache", str(project / ".cache"), "--prune")
    assert analyzed.returncode == 0, analyzed.stdout + analyzed.stderr
    rendered = run(project, "render", "--out", "rendered")
    assert rendered.returncode == 0, rendered.stderr
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted((project / "rendered").glob("*.yaml"))}


def by_kind(files: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in files.values() if m["kind"] == kind}


def rebuild_stages(files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Managed image name → its rebuild Stage."""
    stages = by_kind(files, "Stage").values()
    rebuilds = [s for s in stages if s["metadata"]["labels"]["image-factory.dev/role"] == "rebuild"]
    images = [s["metadata"]["labels"]["image-factory.dev/image"] for s in rebuilds]
    assert len(images) == len(set(images)), "one rebuild Stage per image"
    return dict(zip(images, rebuilds, strict=True))


def managed_states(project: Path) -> dict[str, dict[str, Any]]:
    states = [yaml.safe_load(p.read_text()) for p in (project / "state" / "images").glob("*.yaml")]
    return {s["name"]: s for s in states if s["kind"] == "managed"}


def test_example_fleet_end_to_end(project: Path) -> None:
    files = analyze_and_render(project)
    assert all_problems(files.values()) == []
    managed = managed_states(project)
    followed = {w["metadata"]["annotations"]["image-factory.dev/ref"] for w in by_kind(files, "Warehouse").values()}
    assert not followed & {s["ref"] for s in managed.values()}, "no Warehouse for a managed image"
    stages = rebuild_stages(files)
    for name, state in managed.items():
        if name not in stages:
            assert not [b for b in state["managed"].get("bases", []) if b["kind"] != "pinned"], name
            continue
        upstream = {st for r in stages[name]["spec"]["requestedFreight"] for st in r["sources"].get("stages", [])}
        parents = {st.removeprefix("rebuild-") for st in upstream if st.startswith("rebuild-")}
        assert parents == set(state["managed"].get("parents", [])), name  # sources mirror its parents
    assert set(stages) == set(managed) - {"web-docs"}

    before = {p.name: p.read_bytes() for p in (project / "rendered").iterdir()}
    again = run(project, "render", "--out", "rendered")
    assert again.returncode == 0 and "0 written, 33 unchanged, 0 removed" in again.stdout
    assert {p.name: p.read_bytes() for p in (project / "rendered").iterdir()} == before


def _set_base_node(project: Path, managed: bool) -> None:
    path = project / "images.yaml"
    data = yaml.safe_load(path.read_text())
    (entry,) = [i for i in data["images"] if i["name"] == "base-node"]
    if managed:
        entry["source"] = {
            "repo": "examples/.repos/platform-images",
            "dockerfile": "node/Dockerfile",
            "buildArgs": {"NODE_VERSION": "20"},
        }
        entry["trigger"] = {
            "github": {
                "repository": "example/platform-images",
                "workflow": "build-base-node.yml",
                "tokenSecret": "github-actions-dispatch",
            }
        }
    else:
        del entry["source"], entry["trigger"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_lifecycle_transitions_move_between_warehouse_and_rebuild_stage(project: Path) -> None:
    files = analyze_and_render(project)
    assert "04-stage-rebuild-base-node.yaml" in files
    assert BASE_NODE not in {
        w["metadata"]["annotations"]["image-factory.dev/ref"] for w in by_kind(files, "Warehouse").values()
    }

    _set_base_node(project, managed=False)  # managed → external
    files = analyze_and_render(project)
    warehouses = {
        w["metadata"]["annotations"]["image-factory.dev/ref"]: n for n, w in by_kind(files, "Warehouse").items()
    }
    assert BASE_NODE in warehouses
    assert "base-node" not in rebuild_stages(files)
    assert not (project / "rendered" / "04-stage-rebuild-base-node.yaml").exists()  # stale file removed
    web = rebuild_stages(files)["web-frontend"]
    assert {r["origin"]["name"] for r in web["spec"]["requestedFreight"]} == {
        warehouses[BASE_NODE],
        "nginx-1-27-alpine",
    }
    assert all_problems(files.values()) == []

    _set_base_node(project, managed=True)  # external → managed
    files = analyze_and_render(project)
    assert "base-node" in rebuild_stages(files)
    assert BASE_NODE not in {
        w["metadata"]["annotations"]["image-factory.dev/ref"] for w in by_kind(files, "Warehouse").values()
    }
    web = rebuild_stages(files)["web-frontend"]
    assert {s for r in web["spec"]["requestedFreight"] for s in r["sources"]["stages"]} == {
        "rebuild-base-node",
        "soak-nginx-1-27-alpine-168h",
    }
    assert all_problems(files.values()) == []
