"""The real Pulumi CLI (tests/engines/pulumi) on this project: `pulumi preview --policy-pack policy
--policy-pack-config policy/config.json` with the real CrossGuard pack, installed the way docs/pulumi.md tells
a user to, and GitOps mode (the `gitops` stack, `renderYamlToDirectory`), where the real kubernetes provider
writes the manifests. File backend in a temp dir, passphrase secrets, nothing leaves the machine. The language host is
the Python SDK's own server (tests/support/pulumi_cli.py says why)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.policy.fleets import BAD_FLEET, expected
from tests.support import ROOT
from tests.support.pulumi_cli import (
    GITOPS_STACK,
    STACK,
    Pulumi,
    Result,
    changed_objects,
    copy_project,
    documents,
    expected_outputs,
    render,
    use_fleet,
)

IMAGE_FACTORY = ROOT / "venv" / "bin" / "image-factory"
PACK_NAME = "image-factory"


def _pulumi(tmp_path: Path, fleet: Path | None = None, gitops: bool = True) -> Pulumi:
    project = copy_project(tmp_path / "project")
    if fleet is not None:
        use_fleet(project, fleet)
    cli = Pulumi(project, tmp_path / "home", tmp_path / "backend")
    cli.new_stack(GITOPS_STACK if gitops else STACK)
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


def test_gitops_up_writes_what_render_writes_then_updates_only_what_a_fleet_change_touches(
        tmp_path: Path, policy_pack: Path) -> None:
    cli = _pulumi(tmp_path)
    pack = ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.json"]
    first = cli.program("up", "--yes", *pack)
    assert first.policy_violations() == []
    written = cli.project / "rendered"
    # The provider's layout: 0-crd/ (CustomResourceDefinitions: none here) and 1-manifest/ (everything else).
    assert sorted(p.name for p in written.iterdir()) == ["0-crd", "1-manifest"]
    assert list((written / "0-crd").iterdir()) == []
    rendered, summary = render(cli.project, tmp_path / "render-1", GITOPS_STACK)
    assert documents(written) == rendered  # the same objects, field for field: Pulumi adds nothing
    assert changed_objects(first.steps()) == dict.fromkeys(rendered, "create")

    # What the engine returns for a resource is its inputs (the mocks in tests/support/pulumi_mocks.py echo them).
    state = json.loads(cli.run("stack", "export").stdout)["deployment"]["resources"]
    stage = next(r for r in state if r["type"] == "kubernetes:kargo.akuity.io/v1alpha1:Stage")
    assert {k: v for k, v in stage["outputs"].items() if not k.startswith("__")} == stage["inputs"]
    assert sorted(stage["inputs"]) == ["apiVersion", "kind", "metadata", "spec"]

    # Stack outputs: counts (project, teams, plan) of render's summary, as docs/pulumi.md documents.
    outputs = json.loads(cli.run("stack", "output", "--json").stdout)
    assert outputs == expected_outputs(cli.project, summary)
    assert outputs["counts"]["rebuildStages"] == len(summary["rebuildStages"])
    assert outputs["status"]["managed"] == len(summary["rebuildStages"]) + len(summary["unbuildable"])

    second = cli.program("up", "--yes", *pack)
    assert changed_objects(second.steps()) == {}, second.describe()

    # A fleet change: base-python's rebuild workflow. Exactly the objects whose manifests render changes.
    fleet = cli.project / "images.yaml"
    fleet.write_text(fleet.read_text().replace("workflow: build-base-python.yml",
                                               "workflow: build-base-python-v2.yml"))
    after, _ = render(cli.project, tmp_path / "render-2", GITOPS_STACK)
    touched = {key for key in rendered.keys() | after.keys() if rendered.get(key) != after.get(key)}
    assert touched, "the fleet change changed nothing in render"
    third = cli.program("up", "--yes", *pack)
    assert set(changed_objects(third.steps())) == touched, third.describe()
    assert set(changed_objects(third.steps()).values()) == {"update"}
    assert documents(written) == after


def test_up_with_the_pack_changes_nothing_on_the_bad_fleet_unless_the_preview_is_skipped(
        tmp_path: Path, policy_pack: Path) -> None:
    """`up` runs a preview first, and the pack stops it there; `up --skip-preview` (what pulumi/actions runs
    for `command: up`) applies resources until the first one that violates, then stops part-way."""
    cli = _pulumi(tmp_path, fleet=BAD_FLEET)
    pack = ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.json"]
    up = cli.program("up", "--yes", *pack, check=False)
    assert up.returncode != 0
    assert not (cli.project / "rendered").exists(), up.describe()
    assert json.loads(cli.run("stack", "export").stdout)["deployment"].get("resources") is None

    skipped = cli.program("up", "--yes", "--skip-preview", *pack, check=False)
    assert skipped.returncode != 0
    written = documents(cli.project / "rendered")
    assert written, skipped.describe()  # applied before the violation stopped the update
    reported = {resource for _, _, resource, _ in skipped.policy_violations()}
    assert reported and not reported & set(written)  # the violating resources themselves were not applied


def test_the_cli_ignores_config_for_unknown_policies_as_the_harness_does(tmp_path: Path, policy_pack: Path) -> None:
    """CLI v3.274 runs with a policy name the pack does not have in --policy-pack-config (no error, no
    warning); tests/policy/harness.py reconciles config the same way. `image-factory check` is stricter: it
    rejects the name as a likely typo (exit 2)."""
    from tests.policy.harness import reconcile

    config = {**json.loads((ROOT / "policy" / "config.json").read_text()), "no-such-policy": "mandatory"}
    cli = _pulumi(tmp_path)
    (cli.project / "unknown.json").write_text(json.dumps(config))
    result = cli.program("preview", "--policy-pack", str(policy_pack), "--policy-pack-config", "unknown.json")
    assert result.policy_violations() == []
    assert "no-such-policy" not in result.stdout + result.stderr
    assert "no-such-policy" not in reconcile(config)
    check = subprocess.run([str(IMAGE_FACTORY), "check", "--policy-config", "unknown.json"], cwd=cli.project,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 2 and "no-such-policy: no such policy" in check.stdout + check.stderr


def test_gitops_mode_is_refused_on_the_live_stack_and_required_on_the_gitops_stack(
        tmp_path: Path, policy_pack: Path) -> None:
    """Switching a live stack to GitOps mode would replace (so delete) its live objects: the program stops
    before registering anything (tests/e2e/test_pulumi_up.py shows the live objects stay)."""
    cli = _pulumi(tmp_path, gitops=False)
    cli.run("config", "set", "image-factory:renderYamlToDirectory", "../rendered")
    refused = _preview(cli, policy_pack, check=False)
    assert refused.returncode != 0
    assert "renderYamlToDirectory (GitOps mode) is only for a stack named 'gitops'" in refused.stdout, \
        refused.describe()
    assert changed_objects(refused.steps()) == {}

    cli.new_stack(GITOPS_STACK)
    cli.run("config", "set", "image-factory:renderYamlToDirectory", "")
    required = _preview(cli, policy_pack, check=False)
    assert required.returncode != 0
    assert "stack 'gitops' is a GitOps stack: set image-factory:renderYamlToDirectory" in required.stdout, \
        required.describe()


LOOKALIKE = "\n  - name: python-lookalike\n    image: docker.io/library/python:3-12-slim\n"
"""An external image whose readable Warehouse name is python:3.12-slim's (`python-3-12-slim`)."""


def test_a_new_name_collision_only_creates_with_the_recorded_names_and_replaces_without(
        tmp_path: Path, policy_pack: Path) -> None:
    cli = _pulumi(tmp_path)
    # What the PR check requires (state/kargo-names.yaml current), as in the repository.
    subprocess.run([str(IMAGE_FACTORY), "render", "--stack-config", "Pulumi.gitops.yaml", "--out",
                    str(tmp_path / "render-0"), "--record-names"], cwd=cli.project, capture_output=True, check=True)
    assert "python-3-12-slim" in (cli.project / "state" / "kargo-names.yaml").read_text()
    pack = ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.json"]
    first = cli.program("up", "--yes", *pack)
    assert "Warehouse/python-3-12-slim" in changed_objects(first.steps())

    fleet = cli.project / "images.yaml"
    fleet.write_text(fleet.read_text() + LOOKALIKE)
    preview = _preview(cli, policy_pack)
    changes = changed_objects(preview.steps())
    assert set(changes.values()) == {"create"}, preview.describe()
    (added,) = changes
    assert added.startswith("Warehouse/python-3-12-slim-"), changes
    after, _ = render(cli.project, tmp_path / "render-1", GITOPS_STACK)
    assert set(after) - set(documents(cli.project / "rendered")) == {added}  # render agrees

    # The same change without the record: the existing Warehouse and its soak Stages get new names, which
    # Pulumi carries out as deletes (and creates): the Freight history of those objects would be lost.
    (cli.project / "state" / "kargo-names.yaml").unlink()
    unrecorded = changed_objects(_preview(cli, policy_pack).steps())
    assert unrecorded.get("Warehouse/python-3-12-slim") == "delete", unrecorded


def _part_stack(cli: Pulumi, name: str, teams: list[str], shared: str) -> None:
    """A GitOps stack with the gitops stack's settings that renders only its part, into rendered-<name>/."""
    config = yaml.safe_load((cli.project / "Pulumi.gitops.yaml").read_text())["config"]
    config |= {"image-factory:renderYamlToDirectory": f"../rendered-{name}", "image-factory:teams": teams,
               "image-factory:shared": shared}
    (cli.project / f"Pulumi.{name}-gitops.yaml").write_text(yaml.safe_dump({"config": config}))
    cli.new_stack(f"{name}-gitops")


def test_team_stacks_with_the_pack_render_together_exactly_the_one_stack_project(
        tmp_path: Path, policy_pack: Path) -> None:
    """A platform stack (shared objects) and one stack per enrollment file: each passes the pack on its own,
    their parts are disjoint, and together they write what `image-factory render` writes for one stack."""
    cli = _pulumi(tmp_path)
    # The team stacks' policy config: rebuild-path-soaked leaves the names of other stacks to them.
    pack = ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.team.json"]
    parts = {"platform": ([], "all"), "root": (["images.yaml"], "none"),
             "payments": (["images.d/payments.yaml"], "none"), "web": (["images.d/web.yaml"], "none")}
    written: dict[str, dict[str, Any]] = {}
    for name, (teams, shared) in parts.items():
        _part_stack(cli, name, teams, shared)
        up = cli.program("up", "--yes", *pack)
        assert up.policy_violations() == [], up.describe()
        docs = documents(cli.project / f"rendered-{name}")
        assert docs and not set(docs) & set(written), name  # disjoint
        written |= docs
        outputs = json.loads(cli.run("stack", "output", "--json").stdout)
        assert outputs["part"] == {"teams": sorted(teams), "shared": shared, "objects": len(docs)}
    whole, _ = render(cli.project, tmp_path / "render-whole", GITOPS_STACK)
    assert written == whole
    payments = documents(cli.project / "rendered-payments")
    assert set(payments) == {"Stage/rebuild-payments-api", "Stage/rebuild-payments-worker"}
    # A cross-team edge: payments-api builds FROM base-python (root file): its Stage requests freight through
    # rebuild-base-python, which the `root` stack creates, by name.
    sources = [r["sources"] for r in payments["Stage/rebuild-payments-api"]["spec"]["requestedFreight"]]
    assert any("rebuild-base-python" in (s.get("stages") or []) for s in sources)

    # With config.json (one stack), the pack refuses a team's stack alone: its edges point out of the stack.
    cli.run("stack", "select", "payments-gitops")
    alone = _preview(cli, policy_pack, check=False)
    assert alone.returncode != 0
    assert {rule for rule, _, _, _ in alone.policy_violations()} == {"rebuild-path-soaked"}

    # A typo in `teams` stops the stack before anything changes (it would otherwise delete the team's Stages).
    _part_stack(cli, "typo", ["images.d/payment.yaml"], "none")
    typo = _preview(cli, policy_pack, check=False)
    assert typo.returncode != 0 and "no such enrollment file" in typo.stdout, typo.describe()
