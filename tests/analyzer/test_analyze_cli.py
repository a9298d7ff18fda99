"""`image-factory analyze` end to end on real git repositories (local bare remotes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.cli import run
from tests.support.gitrepos import make_remote, push_change

PY = "docker.io~library~python@3.12-slim.yaml"
BASE = "registry.example.com~platform~base@1.yaml"
API = "registry.example.com~team~api@main.yaml"


@pytest.fixture()
def fleet(tmp_path: Path) -> Path:
    platform = make_remote(tmp_path, "platform", {"base/Dockerfile": "FROM python:3.12-slim\nRUN true\n"})
    team = make_remote(tmp_path, "team", {"api/Dockerfile": (
        "# syntax=docker/dockerfile:1\nARG TAG=3.12-slim\nFROM python:${TAG} AS build\nRUN make\n"
        "FROM registry.example.com/platform/base:1\nCOPY --from=build /out /out\n")})
    project = tmp_path / "project"
    project.mkdir()
    (project / "images.yaml").write_text(f"""\
images:
  - name: base
    image: registry.example.com/platform/base:1
    source: {{repo: "file://{platform}", dockerfile: base/Dockerfile}}
    trigger: {{webhook: {{url: "https://ci.example.com/base"}}}}
  - name: api
    image: registry.example.com/team/api:main
    source: {{repo: "{team}", dockerfile: api/Dockerfile}}
    trigger: {{github: {{repository: team/api, workflow: build.yml, tokenSecret: gh}}}}
""")
    return project


def state_files(project: Path) -> dict[str, str]:
    folder = project / "state" / "images"
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml"))}


def test_analyze_writes_state_and_is_idempotent(fleet: Path) -> None:
    result = run(fleet, "analyze", "--cache", "cache")
    assert result.returncode == 0, result.stderr
    files = state_files(fleet)
    frontend = "docker.io~docker~dockerfile@1.yaml"
    assert set(files) == {PY, BASE, API, frontend}
    api = yaml.safe_load(files[API])
    assert api["kind"] == "managed" and api["managed"]["parents"] == ["base"]
    assert [(b["tracked"], b["kind"], b["line"], b["via"]) for b in api["managed"]["bases"]] == [
        ("docker.io/library/python:3.12-slim", "external", 3, "from"),
        ("registry.example.com/platform/base:1", "managed", 5, "from"),
        ("docker.io/docker/dockerfile:1", "external", 1, "syntax")]   # the frontend is tracked like a base
    assert api["managed"]["syntax"] == "docker.io/docker/dockerfile:1"
    assert yaml.safe_load(files[frontend])["dependents"] == ["api"]
    python = yaml.safe_load(files[PY])
    assert python["warehouse"] == {"repoURL": "docker.io/library/python", "imageSelectionStrategy": "Digest",
                                   "constraint": "3.12-slim", "allowTagsRegexes": [], "ignoreTagsRegexes": []}
    assert python["dependents"] == ["api", "base"]
    assert "images: 2 managed" in result.stdout

    again = run(fleet, "analyze", "--cache", "cache")
    assert again.returncode == 0 and "state files changed: 0" in again.stdout
    assert state_files(fleet) == files


def test_new_commit_is_picked_up(fleet: Path, tmp_path: Path) -> None:
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    push_change(tmp_path / "remotes" / "platform.git", "base/Dockerfile", "FROM python:3.13-slim\n")
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    files = state_files(fleet)
    assert "docker.io~library~python@3.13-slim.yaml" in files
    assert yaml.safe_load(files[PY])["dependents"] == ["api"]


def test_unreachable_repository_is_partial_and_keeps_state(fleet: Path, tmp_path: Path) -> None:
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    before = state_files(fleet)
    shutil.rmtree(tmp_path / "remotes" / "team.git")
    shutil.rmtree(fleet / "cache")
    result = run(fleet, "analyze", "--cache", "cache")
    assert result.returncode == 1
    assert "error: api:" in result.stdout and "previous state kept" in result.stdout
    assert state_files(fleet) == before


def test_invalid_config_writes_nothing(fleet: Path) -> None:
    config = fleet / "images.yaml"
    config.write_text(config.read_text().replace("trigger: {webhook", "delay: soon\n    trigger: {webhook", 1))
    result = run(fleet, "analyze", "--cache", "cache")
    assert result.returncode == 2
    assert "images.yaml:5: images[name=base].delay: invalid duration 'soon'" in result.stderr
    assert not (fleet / "state").exists()


def test_demotion_keeps_history(fleet: Path) -> None:
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    base_file = fleet / "state" / "images" / BASE
    data = yaml.safe_load(base_file.read_text())
    data["rebuilds"] = [{"at": "2026-11-01T00:00:00Z", "outcome": "succeeded", "result_digest": "sha256:" + "b" * 64}]
    base_file.write_text(yaml.safe_dump(data))
    config = fleet / "images.yaml"
    text = config.read_text()
    start = text.index("    source: {repo: \"file://")
    config.write_text(text[:start] + text[text.index("  - name: api"):])  # base loses source and trigger
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    base = yaml.safe_load(base_file.read_text())
    assert base["kind"] == "external" and "managed" not in base
    assert base["warehouse"]["constraint"] == "1" and len(base["rebuilds"]) == 1
    assert base["dependents"] == ["api"]


def test_orphans_are_reported_and_removed_only_with_prune(fleet: Path) -> None:
    assert run(fleet, "analyze", "--cache", "cache").returncode == 0
    config = fleet / "images.yaml"
    text = config.read_text()
    config.write_text(text[:text.index("  - name: api")])
    result = run(fleet, "analyze", "--cache", "cache")
    assert result.returncode == 0
    assert "orphan (use --prune to remove): registry.example.com/team/api:main" in result.stdout
    assert API in state_files(fleet)
    result = run(fleet, "analyze", "--cache", "cache", "--prune")
    assert result.returncode == 0 and "removed: registry.example.com/team/api:main" in result.stdout
    assert set(state_files(fleet)) == {PY, BASE}


def test_unreadable_repository_is_reported_by_url(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "images.yaml").write_text(
        "images:\n  - name: a\n    image: r.example.com/a:1\n    source: {repo: 'file:///nonexistent/repo.git'}\n"
        "    trigger: {webhook: {url: 'https://ci.example.com/a'}}\n")
    result = run(project, "analyze", "--cache", "cache", "--json")
    assert result.returncode == 1
    assert "cannot read file:///nonexistent/repo.git" in result.stdout
