"""Issue 16: no traceback on any input; a bad input is a message naming its file and an exit code
(2 invalid, 1 partial, 3 internal error); one bad Dockerfile fails its image, never the fleet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import analyzer.analyze
import analyzer.discovery.dockerfile
from analyzer.analyze import run_analyze
from analyzer.cli import EXIT_INTERNAL, cli
from tests.support.gitrepos import make_remote

ROOT = Path(__file__).resolve().parents[2]


def run(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_internal_error_is_exit_3_without_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setattr("analyzer.commands.discover.analyze_dockerfile", boom, raising=False)
    import analyzer.commands.discover as discover
    monkeypatch.setattr(discover, "analyze_dockerfile", boom)
    (tmp_path / "Dockerfile").write_text("FROM alpine\n")
    result = CliRunner().invoke(cli, ["discover", str(tmp_path / "Dockerfile")])
    assert result.exit_code == EXIT_INTERNAL
    assert "internal error: RuntimeError: parser bug" in result.output and "Traceback" not in result.output
    debug = CliRunner().invoke(cli, ["--debug", "discover", str(tmp_path / "Dockerfile")])
    assert debug.exit_code == EXIT_INTERNAL and "Traceback" in debug.output


def fleet_with(tmp_path: Path, dockerfiles: dict[str, str]) -> Path:
    remote = make_remote(tmp_path, "team", {f"{name}/Dockerfile": text for name, text in dockerfiles.items()})
    project = tmp_path / "project"
    project.mkdir()
    images = [{"name": name, "image": f"registry.example.com/team/{name}:1",
               "source": {"repo": str(remote), "dockerfile": f"{name}/Dockerfile"},
               "trigger": {"webhook": {"url": "https://ci.example.com/x"}}} for name in dockerfiles]
    (project / "images.yaml").write_text(yaml.safe_dump({"images": images}))
    return project


def test_one_crashing_dockerfile_fails_its_image_not_the_fleet(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    project = fleet_with(tmp_path, {"good": "FROM alpine:3\n", "bad": "FROM debian:12\n"})
    real = analyzer.discovery.dockerfile.analyze_dockerfile

    def flaky(text: str, build_args: object = None) -> object:
        if "debian" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return real(text, build_args)  # type: ignore[arg-type]

    monkeypatch.setattr(analyzer.analyze, "analyze_dockerfile", flaky)
    result = run_analyze(project / "images.yaml", project / "state", tmp_path / "cache")
    assert result.partial
    assert "bad" in result.summary["errors"] and "RecursionError" in result.summary["errors"]["bad"]
    assert (project / "state" / "images" / "registry.example.com~team~good@1.yaml").is_file()


HOSTILE_DOCKERFILES = {
    "nested": "ARG X=1\nFROM " + "${X:-" * 300 + "a" + "}" * 300 + "\n",
    "brackets": "FROM alpine\nRUN " + "[" * 5000 + "\n",
    "digits": "FROM alpine\nCOPY --from=" + "9" * 4301 + " / /\n",
    "pattern": "ARG X=" + "a" * 200 + "b\nFROM alpine${X#*a*a*a*a*a*a*a*a*a*a*a*c}\n",
    "directive": "#syntax=a" + " " * 200_000 + "b\nFROM alpine\n",
}


def test_hostile_dockerfiles_in_a_fleet_end_cleanly(tmp_path: Path) -> None:
    project = fleet_with(tmp_path, {**HOSTILE_DOCKERFILES, "good": "FROM alpine:3\n"})
    result = run(project, "analyze", "--cache", str(tmp_path / "cache"), timeout=60)
    no_traceback(result)
    assert result.returncode in (0, 1), result.stderr
    assert (project / "state" / "images" / "registry.example.com~team~good@1.yaml").is_file()
