"""Warm runs: unchanged repos are not fetched, unchanged blobs are not parsed, a changed blob is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import analyzer.analyze
from analyzer.analyze import run_analyze
from analyzer.discovery.dockerfile import DockerfileAnalysis
from tests.support.gitrepos import make_remote, push_change


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    remote = make_remote(tmp_path, "team", {"a/Dockerfile": "FROM python:3.12-slim\n",
                                            "b/Dockerfile": "ARG V=20\nFROM node:${V}-alpine\n"})
    root = tmp_path / "project"
    root.mkdir()
    (root / "images.yaml").write_text(f"""\
images:
  - name: a
    image: r.example.com/a:1
    source: {{repo: "{remote}", dockerfile: a/Dockerfile}}
    trigger: {{webhook: {{url: "https://ci.example.com/a"}}}}
  - name: b
    image: r.example.com/b:1
    source: {{repo: "{remote}", dockerfile: b/Dockerfile, buildArgs: {{V: "20"}}}}
    trigger: {{webhook: {{url: "https://ci.example.com/b"}}}}
""")
    return root


@pytest.fixture()
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every Dockerfile actually parsed."""
    seen: list[str] = []
    real = analyzer.analyze.analyze_dockerfile

    def counting(text: str, build_args: dict[str, str] | None = None) -> DockerfileAnalysis:
        seen.append(text)
        return real(text, build_args)

    monkeypatch.setattr(analyzer.analyze, "analyze_dockerfile", counting)
    return seen


def analyze(project: Path) -> analyzer.analyze.AnalyzeResult:
    return run_analyze(project / "images.yaml", project / "state", project / "cache")


def test_nothing_changed_does_no_work(project: Path, parses: list[str]) -> None:
    first = analyze(project)
    assert len(parses) == 2 and len(first.changed) == 4 and not first.unchanged_inputs
    second = analyze(project)
    assert second.unchanged_inputs and second.changed == [] and len(parses) == 2
    assert second.summary == first.summary


def test_changed_blob_is_reparsed_and_only_it(project: Path, tmp_path: Path, parses: list[str]) -> None:
    analyze(project)
    push_change(tmp_path / "remotes" / "team.git", "a/Dockerfile", "FROM python:3.13-slim\n")
    result = analyze(project)
    assert not result.unchanged_inputs
    assert parses[2:] == ["FROM python:3.13-slim\n"]  # b's blob did not change: served from the parse cache
    state = yaml.safe_load((project / "state/images/r.example.com~a@1.yaml").read_text())
    assert state["managed"]["bases"][0]["tracked"] == "docker.io/library/python:3.13-slim"


def test_config_change_reruns_without_reparsing(project: Path, parses: list[str]) -> None:
    analyze(project)
    config = project / "images.yaml"
    config.write_text(config.read_text().replace("  - name: b\n", "  - name: b\n    delay: 36h\n"))
    result = analyze(project)
    assert not result.unchanged_inputs and len(parses) == 2
    state = yaml.safe_load((project / "state/images/r.example.com~b@1.yaml").read_text())
    assert state["managed"]["delay"] == "36h"


def test_build_args_are_part_of_the_cache_key(project: Path, parses: list[str]) -> None:
    analyze(project)
    config = project / "images.yaml"
    config.write_text(config.read_text().replace('V: "20"', 'V: "22"'))
    analyze(project)
    assert len(parses) == 3
    state = yaml.safe_load((project / "state/images/r.example.com~b@1.yaml").read_text())
    assert state["managed"]["bases"][0]["tracked"] == "docker.io/library/node:22-alpine"


def test_edited_state_file_forces_a_full_run(project: Path, parses: list[str]) -> None:
    analyze(project)
    path = project / "state/images/docker.io~library~python@3.12-slim.yaml"
    path.write_text(path.read_text().replace("dependents:", "# edited\ndependents:"))
    result = analyze(project)
    assert not result.unchanged_inputs and len(parses) == 2
    assert "# edited" not in path.read_text()


def test_unchanged_repository_is_not_fetched(project: Path, parses: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    analyze(project)
    config = project / "images.yaml"
    config.write_text(config.read_text() + "  - name: nginx\n    image: nginx:1.27\n")

    def no_fetch(*args: object, **kwargs: object) -> None:
        raise AssertionError("fetched although the ref did not move")

    monkeypatch.setattr("git.Repo.clone_from", no_fetch)
    monkeypatch.setattr("git.cmd.Git.fetch", no_fetch, raising=False)
    result = analyze(project)
    assert not result.unchanged_inputs and result.summary["external"] == 3
