"""The workflows' own Pulumi steps, run as GitHub runs them (`bash --noprofile --norc -eo pipefail` on the
step's `run` text, the job's and the step's `env`), with the real CLI (tests/engines/pulumi) on a copy of the
project, a file backend and the real pack. `${{ … }}` values (secrets, URLs) are replaced by test values;
`gh` is a stub that keeps the comment it is asked to post. No cluster: the steps run on the `gitops` stack
(the test sets STACK), which the PR job runs on `prod` the same way."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.pr_comment import HEADING, LIMIT
from tests.policy.fleets import BAD_FLEET, expected
from tests.support import ROOT
from tests.support.pulumi_cli import GITOPS_STACK, Pulumi, copy_project, documents, render, use_fleet

WORKFLOWS = ROOT / ".github" / "workflows"


def _job(workflow: str, job: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]  # type: ignore[no-any-return]


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name") == name)


class Runner:
    """One job's steps in one workspace (the project copy), sharing GITHUB_ENV-less state like a runner."""

    def __init__(self, cli: Pulumi, job: dict[str, Any], tmp: Path, **values: str) -> None:
        self.cli, self.job, self.tmp = cli, job, tmp
        self.values = values
        self.outputs = tmp / "github-output"
        self.outputs.touch()
        bin_dir = tmp / "stub-bin"
        bin_dir.mkdir(exist_ok=True)
        self.posted = tmp / "posted-comment.md"
        gh = bin_dir / "gh"
        gh.write_text(f"#!/bin/sh\n# gh pr comment N --body-file F\necho \"$@\" > {tmp}/gh-args\n"
                      f"cp \"$5\" {self.posted}\n")
        gh.chmod(0o755)
        self.path = f"{bin_dir}:{cli.env['PATH']}"

    def _env(self, env: dict[str, Any]) -> dict[str, str]:
        resolved = {}
        for key, value in env.items():
            text = str(value)
            # A secret: the test's value, else the test environment's own (the passphrase), else unset.
            resolved[key] = self.values.get(key, self.cli.env.get(key, "")) if "${{" in text else text
        return resolved

    def run(self, name: str) -> subprocess.CompletedProcess[str]:
        step = _step(self.job, name)
        assert step.get("shell") == "bash", f"{name}: `shell: bash` gives -eo pipefail"
        env = {**self.cli.env, **self._env(self.job.get("env", {})), **self._env(step.get("env", {})),
               "PATH": self.path, "GITHUB_OUTPUT": str(self.outputs), "GITHUB_SHA": "0" * 40,
               "RUNNER_TEMP": str(self.tmp / "runner-temp")}
        env.update({k: v for k, v in self.values.items() if k in ("STACK", "PULUMI_BACKEND_URL")})
        os.makedirs(env["RUNNER_TEMP"], exist_ok=True)
        script = self.tmp / "step.sh"
        script.write_text(step["run"])
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=self.cli.project, env=env, capture_output=True, text=True, timeout=600,
                              check=False)

    def output(self, key: str) -> str:
        lines = dict(line.split("=", 1) for line in self.outputs.read_text().splitlines() if "=" in line)
        return lines[key]


def _project(tmp_path: Path, policy_pack: Path, fleet: Path | None = None) -> Pulumi:
    project = copy_project(tmp_path / "project")
    if fleet is not None:
        use_fleet(project, fleet)
    (project / "policy" / "venv").symlink_to(policy_pack / "venv")  # `--policy-pack policy` as in the job
    return Pulumi(project, tmp_path / "home", tmp_path / "backend")


def test_pr_preview_steps_post_every_violation_when_the_preview_fails(tmp_path: Path, policy_pack: Path) -> None:
    cli = _project(tmp_path, policy_pack, BAD_FLEET)
    cli.new_stack(GITOPS_STACK)
    job = _job("pull-request.yml", "preview")
    assert "environment" not in job
    runner = Runner(cli, job, tmp_path, STACK=GITOPS_STACK, PULUMI_BACKEND_URL=cli.env["PULUMI_BACKEND_URL"],
                    PR_NUMBER="12", DETAILS_URL="https://github.example/runs/1")
    login = runner.run("Backend login")
    assert login.returncode == 0, login.stdout + login.stderr

    preview = runner.run("Preview with the policy pack")
    assert preview.returncode != 0  # mandatory violations fail the step (and the job)
    assert runner.output("exit-code") == str(preview.returncode)
    assert "image-factory@v0.1.0" in (cli.project / "preview.txt").read_text()

    # The comment step runs after a failed step (`if: always()`) and posts every violation.
    post = _step(job, "Post the violations and the preview on the PR (also when the preview failed)")
    assert post["if"] == "always()"
    posted = runner.run(post["name"])
    assert posted.returncode == 0, posted.stdout + posted.stderr
    body = runner.posted.read_text()
    assert body.startswith(HEADING) and len(body) <= LIMIT
    assert f"Preview **failed** (exit {preview.returncode})" in body
    for rule, level, resource in expected("fleet"):
        kind, name = resource.split("/")
        assert f"| {level} | `{rule}` | `{kind.lower()}-{name}` |" in body, (rule, resource)
    assert (tmp_path / "gh-args").read_text().split()[:3] == ["pr", "comment", "12"]


def test_login_fails_hard(tmp_path: Path, policy_pack: Path) -> None:
    cli = _project(tmp_path, policy_pack)
    job = _job("pull-request.yml", "preview")
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    for url, said in (("", "secret PULUMI_BACKEND_URL is not set"),
                      (f"file://{not_a_dir}/backend", "could not log in to the state backend")):
        runner = Runner(cli, job, tmp_path, STACK="prod", PULUMI_BACKEND_URL=url)
        login = runner.run("Backend login")
        assert login.returncode != 0 and said in login.stdout + login.stderr, (url, login.stdout, login.stderr)
    # And a backend that works but has no such stack: `stack select` fails, the job stops there.
    runner = Runner(cli, job, tmp_path, STACK="prod", PULUMI_BACKEND_URL=cli.env["PULUMI_BACKEND_URL"])
    assert runner.run("Backend login").returncode != 0


def test_main_up_step_previews_first_so_the_pack_stops_it_before_any_change(tmp_path: Path,
                                                                            policy_pack: Path) -> None:
    cli = _project(tmp_path, policy_pack, BAD_FLEET)
    cli.new_stack(GITOPS_STACK)
    job = _job("main.yml", "up")
    assert job["environment"] == "production"
    step = _step(job, "Up with the policy pack (previews first; a violation stops it before any change)")
    assert "--skip-preview" not in step["run"] and "--policy-pack policy" in step["run"]
    up = Runner(cli, job, tmp_path, STACK=GITOPS_STACK).run(step["name"])
    assert up.returncode != 0
    assert not (cli.project / "rendered").exists(), up.stdout
    assert cli.run("stack", "export").stdout.count('"urn"') == 0


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    return bare


def _git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True).stdout


def test_gitops_job_commits_exactly_what_render_writes_to_the_manifests_branch(
        tmp_path: Path, policy_pack: Path, origin: Path) -> None:
    cli = _project(tmp_path, policy_pack)
    project = cli.project
    _git(project, "init", "-q", "-b", "main")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x")
    _git(project, "remote", "add", "origin", str(origin))
    job = _job("main.yml", "gitops")
    assert job["environment"] == "production" and job["permissions"] == {"contents": "write"}
    runner = Runner(cli, job, tmp_path)

    def deliver() -> dict[str, dict[str, Any]]:
        rendered = runner.run("Render the manifests with the policy pack")
        assert rendered.returncode == 0, rendered.stdout[-3000:] + rendered.stderr[-3000:]
        committed = runner.run("Commit them to the gitops-manifests branch")
        assert committed.returncode == 0, committed.stdout + committed.stderr
        _git(project, "worktree", "remove", "--force", str(tmp_path / "runner-temp" / "branch"))
        checkout = tmp_path / f"checkout-{len(list(tmp_path.glob('checkout-*')))}"
        subprocess.run(["git", "clone", "-q", "-b", "gitops-manifests", str(origin), str(checkout)], check=True)
        return documents(checkout)

    first = deliver()
    expected_docs, _ = render(project, tmp_path / "render-1", GITOPS_STACK)
    assert first == expected_docs
    log = _git(project, "--git-dir", str(origin), "log", "--format=%s", "gitops-manifests")
    assert log.splitlines() == [f"Manifests of {'0' * 40}"]

    # Nothing changed: the fresh stack writes everything again, and nothing is committed.
    assert deliver() == first
    assert len(_git(project, "--git-dir", str(origin), "log", "--format=%s", "gitops-manifests").splitlines()) == 1

    # An image removed from the fleet: its objects are gone from the branch in the next commit.
    fleet = project / "images.yaml"
    text = fleet.read_text()
    fleet.write_text(text[:text.index("  - name: redis")])  # the last image of the root file
    after, _ = render(project, tmp_path / "render-2", GITOPS_STACK)
    assert set(first) - set(after) == {"Warehouse/redis-7"}
    assert deliver() == after
    assert len(_git(project, "--git-dir", str(origin), "log", "--format=%s", "gitops-manifests").splitlines()) == 2


def test_pr_names_step_fails_until_the_new_names_are_recorded(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", "-A")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x")
    (project / "venv").symlink_to(ROOT / "venv")
    cli = Pulumi(project, tmp_path / "home", tmp_path / "backend")  # its environment only; no CLI run here
    job = _job("pull-request.yml", "policy-check")
    runner = Runner(cli, job, tmp_path)
    name = "Kargo names recorded (an existing Warehouse or Stage keeps its name when a new one collides)"
    assert runner.run(name).returncode == 0  # the repository's record is current

    fleet = project / "images.yaml"
    fleet.write_text(fleet.read_text() + "\n  - name: python-lookalike\n"
                                         "    image: docker.io/library/python:3-12-slim\n")
    stale = runner.run(name)
    assert stale.returncode == 1 and "state/kargo-names.yaml::not current" in stale.stdout
    assert "+  docker.io/library/python:3-12-slim: python-3-12-slim-" in stale.stdout
    assert "-  docker.io/library/python:3.12-slim" not in stale.stdout  # the existing name stays
    _git(project, "add", "-A")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "recorded")
    assert runner.run(name).returncode == 0
