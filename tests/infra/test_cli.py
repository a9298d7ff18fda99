"""The real Pulumi CLI (tests/engines/pulumi) on this project: `pulumi preview --policy-pack policy
--policy-pack-config policy/config.json` with the real CrossGuard pack, installed the way docs/pulumi.md tells
a user to, and GitOps mode (`renderYamlToDirectory`), where the real kubernetes provider writes the
manifests. File backend in a temp dir, passphrase secrets, nothing leaves the machine. The language host is
the Python SDK's own server (tests/support/pulumi_cli.py says why)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.policy.fleets import BAD_FLEET, expected
from tests.support.pulumi_cli import Pulumi, Result, copy_project, install_policy_pack, use_fleet

ROOT = Path(__file__).resolve().parents[2]
IMAGE_FACTORY = ROOT / "venv" / "bin" / "image-factory"
PACK_NAME = "image-factory"


@pytest.fixture(scope="session")
def policy_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """policy/ of a project copy, its virtualenv installed from policy/requirements.txt alone."""
    project = copy_project(tmp_path_factory.mktemp("pack") / "project")
    install_policy_pack(project / "policy")
    return project / "policy"


def _pulumi(tmp_path: Path, fleet: Path | None = None, gitops: bool = True) -> Pulumi:
    project = copy_project(tmp_path / "project")
    if fleet is not None:
        use_fleet(project, fleet)
    cli = Pulumi(project, tmp_path / "home", tmp_path / "backend")
    cli.new_stack()
    if gitops:
        cli.run("config", "set", "image-factory:renderYamlToDirectory", "../rendered")
    return cli


def _preview(cli: Pulumi, pack: Path, check: bool = True) -> Result:
    return cli.program("preview", "--policy-pack", str(pack), "--policy-pack-config", "policy/config.json",
                       check=check)


def _check(project: Path) -> tuple[int, list[dict[str, Any]]]:
    """`image-factory check` on the same project, with the same policy config, as JSON."""
    proc = subprocess.run([str(IMAGE_FACTORY), "check", "--stack-config", "Pulumi.prod.yaml", "--policy-config",
                           "policy/config.json", "--format", "json"], cwd=project, capture_output=True, text=True,
                          check=False)
    return proc.returncode, json.loads(proc.stdout)["violations"]


def _policy_summary(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if PACK_NAME in line and "local:" in line]


def test_preview_with_the_pack_passes_on_the_example_fleet(tmp_path: Path, policy_pack: Path) -> None:
    cli = _pulumi(tmp_path)
    result = _preview(cli, policy_pack)
    assert result.policy_violations() == [], result.describe()
    code, violations = _check(cli.project)
    assert (code, violations) == (0, [])
    creates = [urn for urn, op in result.steps().items() if op == "create"]
    assert len(creates) > 20, result.describe()
    # The CLI's own summary line for the pack: passed, no violations.
    assert any(line.startswith("✅") for line in _policy_summary(result.stdout)), result.stdout


def test_preview_with_the_pack_fails_on_the_bad_fleet_exactly_as_check(tmp_path: Path, policy_pack: Path) -> None:
    cli = _pulumi(tmp_path, fleet=BAD_FLEET)
    result = _preview(cli, policy_pack, check=False)
    assert result.returncode != 0, result.describe()
    found = result.policy_violations()
    assert sorted((rule, level, resource) for rule, level, resource, _ in found) == expected("fleet"), \
        result.describe()

    code, violations = _check(cli.project)
    assert code == 1
    # One truth for both paths: the same (rule, level, resource) and the same message after the policy's
    # description, which the CLI puts first.
    assert [(rule, level, resource, message.split("\n", 1)[1].rstrip("\n"))
            for rule, level, resource, message in found] == \
        sorted((v["rule"], v["level"], v["resource"], v["message"]) for v in violations)
    # And the human-readable output (what a PR comment shows) names each rule and resource.
    assert any(line.startswith("❌") for line in _policy_summary(result.stdout)), result.stdout
    for rule, level, resource, _ in found:
        kind, name = resource.split("/")
        assert f"[{level}]" in result.stdout
        assert rule in result.stdout and f"{kind.lower()}-{name}" in result.stdout


def _documents(folder: Path) -> list[dict[str, Any]]:
    docs = [doc for path in sorted(folder.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return sorted(docs, key=lambda d: (d["kind"], d["metadata"]["name"]))


def test_gitops_up_writes_the_manifests_render_writes(tmp_path: Path, policy_pack: Path) -> None:
    cli = _pulumi(tmp_path)
    up = cli.program("up", "--yes", "--policy-pack", str(policy_pack), "--policy-pack-config",
                     "policy/config.json")
    assert up.policy_violations() == []
    written = cli.project / "rendered"
    # The provider's layout: 0-crd/ (CustomResourceDefinitions: none here) and 1-manifest/ (everything else).
    assert sorted(p.name for p in written.iterdir()) == ["0-crd", "1-manifest"]
    assert list((written / "0-crd").iterdir()) == []

    out = tmp_path / "render"
    subprocess.run([str(IMAGE_FACTORY), "render", "--stack-config", "Pulumi.prod.yaml", "--out", str(out)],
                   cwd=cli.project, check=True, capture_output=True)
    assert _documents(written) == _documents(out)
