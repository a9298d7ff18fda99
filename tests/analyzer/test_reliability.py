"""Issue 16: no traceback on any input; a bad input is a message naming its file and an exit code
(2 invalid, 1 partial, 3 internal error); one bad Dockerfile fails its image, never the fleet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import analyzer.analyze
import analyzer.discovery.dockerfile
from analyzer.analyze import run_analyze
from analyzer.cli import EXIT_INTERNAL, cli
from analyzer.kargo.conventions import JOB_FAIL_AT_ONCE
from tests.support import ROOT
from tests.support.cli import run
from tests.support.gitrepos import make_remote


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_internal_error_is_exit_4_without_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
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


def test_a_crashing_job_is_retried_not_taken_for_a_verdict(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The rendered podFailurePolicy fails a Job at once on JOB_FAIL_AT_ONCE (a verdict, bad input); a bug in
    the gate must exit with something else, so the Job retries the pod instead of refusing the digest."""
    import analyzer.commands.gate as gate

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("gate bug")

    monkeypatch.setattr(gate, "run_gate", boom)
    result = CliRunner().invoke(cli, [
        "gate", "--warehouse", "python", "--repository", "docker.io/library/python", "--tag", "3.12-slim",
        "--digest", "sha256:" + "a" * 64, "--delay", "168h", "--state", str(tmp_path / "state")])
    assert "internal error: RuntimeError: gate bug" in result.output
    assert result.exit_code == EXIT_INTERNAL and result.exit_code not in JOB_FAIL_AT_ONCE


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


FLEET = ROOT / "tests" / "fixtures" / "good-fleet"
API_STATE = "registry.example.com~payments~api@1.yaml"


def _replace(old: str, new: str) -> object:
    def corrupt(project: Path) -> None:
        path = project / "state" / "images" / API_STATE
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    return corrupt


def _naive(project: Path) -> None:
    _replace("digests:\n  history: []", "digests:\n  current: sha256:" + "a" * 64 + "\n  history:\n  - digest: sha256:"
             + "a" * 64 + "\n    first_seen: 2024-01-01T00:00:00\n    last_seen: 2024-01-02T00:00:00Z")(project)  # type: ignore[operator]


def _fifo(project: Path) -> None:
    os.mkfifo(project / "state" / "images" / "zz.yaml")


def _dangling(project: Path) -> None:
    (project / "state" / "images" / "zz.yaml").symlink_to(project / "nowhere.yaml")


def _device(project: Path) -> None:
    (project / "state" / "images" / "zz.yaml").symlink_to("/dev/zero")


def _images_is_file(project: Path) -> None:
    import shutil
    shutil.rmtree(project / "state" / "images")
    (project / "state" / "images").write_text("x\n")


def _deep(project: Path) -> None:
    (project / "state" / "images" / API_STATE).write_text("[" * 60_000 + "]" * 60_000 + "\n")


def _two_cycle(project: Path) -> None:
    _replace("    parent: base-python", "    parent: web")(project)  # type: ignore[operator]
    path = project / "state" / "images" / "registry.example.com~web~frontend@2.yaml"
    text = path.read_text()
    path.write_text(text.replace("  - dockerfile:", "  - dockerfile: Dockerfile\n"
                                 "    image: registry.example.com/payments/api:1\n"
                                 "    kind: managed\n    line: 9\n    parent: api\n"
                                 "    tracked: registry.example.com/payments/api:1\n    via: from\n  - dockerfile:", 1))


CORRUPTIONS = {
    "bad-ref": (_replace("ref: registry.example.com/payments/api:1", "ref: 'Bad Ref!!'"), "ref: 'Bad Ref!!'"),
    "missing-managed-key": (_replace("kind: managed\n", "kind: managed\nmanaged_: 1\n"), "managed_: unknown field"),
    "self-parent": (_replace("parents:\n  - base-python", "parents:\n  - api"), "is its own parent"),
    "self-base": (_replace("    parent: base-python", "    parent: api"), "is its own parent"),
    "naive-timestamp": (_naive, "first_seen: timestamp without a time zone"),
    "fifo": (_fifo, "zz.yaml: not a regular file"),
    "device": (_device, "zz.yaml: not a regular file"),
    "dangling-symlink": (_dangling, "zz.yaml: cannot read"),
    "images-is-a-file": (_images_is_file, "state/images: not a directory"),
    "deep-nesting": (_deep, "nested more than 64 levels deep"),
    "unknown-parent": (_replace("    parent: base-python", "    parent: nobody"),
                       "parent 'nobody' has no managed state"),
    "managed-base-without-parent": (_replace("    parent: base-python\n", ""), "a base of kind managed names"),
    "bad-name": (_replace("name: api\n", "name: registry.example.com/x:1\n"), "is not an image name"),
    "bad-delay": (_replace("delay: 168h", "delay: soon"), "managed.delay: invalid duration"),
    "duplicate-key": (_replace("rebuilds: []\n", "rebuilds: []\ndigests:\n  history: []\n"),
                      "key 'digests' appears twice in one mapping (lines 2 and 40)"),
}


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    import shutil
    target = tmp_path / "fleet"
    shutil.copytree(FLEET, target)
    return target


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
@pytest.mark.parametrize("command", [["status"], ["plan"], ["graph"], ["render", "--out", "out"]])
def test_corrupted_state_is_a_clear_input_error(project: Path, case: str, command: list[str]) -> None:
    corrupt, expected = CORRUPTIONS[case]
    corrupt(project)  # type: ignore[operator]
    result = run(project, *command, timeout=20)
    no_traceback(result)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert expected in result.stderr


def _drop_managed(project: Path) -> None:
    path = project / "state" / "images" / API_STATE
    data = yaml.safe_load(path.read_text())
    del data["managed"]
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize("corrupt", [_replace("name: api\n", ""), _drop_managed], ids=["no-name", "no-managed"])
@pytest.mark.parametrize("command", [["status"], ["plan"], ["graph"], ["render", "--out", "out"], ["check"]])
def test_managed_state_without_name_or_discovery_is_tolerated(project: Path, corrupt: object,
                                                              command: list[str]) -> None:
    """A managed image's state before its first analyze (record may create it) has no `name:`/`managed:`;
    every command copes: it is not a rebuild candidate yet."""
    corrupt(project)  # type: ignore[operator]
    result = run(project, *command, timeout=30)
    no_traceback(result)
    assert result.returncode in (0, 1, 2), result.stderr


def test_state_cycle_between_two_images_is_exit_2(project: Path) -> None:
    _two_cycle(project)
    for command in (["plan"], ["graph"]):
        result = run(project, *command, timeout=20)
        no_traceback(result)
        assert result.returncode == 2 and "cycle" in result.stderr, result.stderr


def test_report_draws_a_base_without_state(project: Path) -> None:
    result = run(project, "report", "--out", "rep", timeout=60)
    no_traceback(result)
    assert result.returncode == 0, result.stderr


ODD_ARGUMENTS = [
    ["status", "--at", "garbage"], ["status", "--at", "99999-01-01"], ["plan", "--at", "2024-13-01"],
    ["plan", "--assume-update", "Bad Ref"], ["ref", ""], ["ref", "\x01"], ["discover", "."],
    ["discover", "/dev/zero"], ["graph", "--state", "/dev/null"], ["status", "--state", "images.yaml"],
    ["status", "--config", "/dev/zero"], ["render", "--out", "images.yaml"], ["analyze", "--config", "state"],
    ["report", "--out", "/dev/null"], ["analyze", "--cache", "/dev/null"], ["check", "--manifests", "/dev/zero"],
    ["discover", "--build-arg", "=x", "images.yaml"],
]


@pytest.mark.parametrize("arguments", ODD_ARGUMENTS, ids=lambda a: " ".join(a).replace("/", "_"))
def test_odd_cli_arguments_are_not_internal_errors(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                   arguments: list[str]) -> None:
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, arguments)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 2), result.output
