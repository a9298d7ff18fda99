"""`pulumi up` with the real CLI (tests/engines/pulumi) against the real kube-apiserver of the e2e control
plane: the kubernetes provider applies the program's resources through KUBECONFIG, with the policy pack on.

The stack uses its own Kargo project (`image-factory:project`), so its namespace and cluster-scoped Project
do not collide with the objects the other e2e tests apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes.dynamic import DynamicClient

from tests.support import ROOT
from tests.support.controlplane import ControlPlane
from tests.support.pulumi_cli import Pulumi, changed_objects, copy_project, expected_outputs, render

PROJECT = "pulumi-up"
READONLY_PROJECT = "pulumi-readonly"


def _subset(sent: Any, stored: Any, path: str = "") -> Iterator[str]:
    """Paths where the stored object differs from what was rendered (the server may add defaults)."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        for key, value in sent.items():
            yield from _subset(value, stored.get(key), f"{path}.{key}") if key in stored else [f"{path}.{key}"]
    elif isinstance(sent, list) and isinstance(stored, list) and len(sent) == len(stored):
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            yield from _subset(a, b, f"{path}[{i}]")
    elif sent != stored:
        yield f"{path}: {stored!r} != {sent!r}"


def _stored(plane: ControlPlane, manifest: dict[str, Any]) -> dict[str, Any]:
    with plane.api_client() as api:
        resource = DynamicClient(api).resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
        got: dict[str, Any] = resource.get(name=manifest["metadata"]["name"],
                                           namespace=manifest["metadata"].get("namespace")).to_dict()
        return got


def _live_stack(tmp_path: Path, control_plane: ControlPlane, policy_pack: Path, kargo_project: str
                ) -> tuple[Path, Pulumi, list[str]]:
    """A copy of the repository with a new stack applying to the control plane as Kargo project
    `kargo_project`, and the CLI arguments that run the policy pack."""
    project = copy_project(tmp_path / "project")
    cli = Pulumi(project, tmp_path / "home", tmp_path / "backend", {"KUBECONFIG": str(control_plane.kubeconfig)})
    cli.new_stack()
    cli.run("config", "set", "image-factory:project", kargo_project)
    control_plane.ensure_namespace(kargo_project)  # Kargo's management controller would create it; none runs here
    return project, cli, ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.json"]


def test_up_creates_everything_then_changes_nothing_then_only_what_the_fleet_change_touches(
        tmp_path: Path, control_plane: ControlPlane, policy_pack: Path) -> None:
    project, cli, pack = _live_stack(tmp_path, control_plane, policy_pack, PROJECT)

    first = cli.program("up", "--yes", *pack)
    rendered, summary = render(project, tmp_path / "render-1")
    assert changed_objects(first.steps()) == dict.fromkeys(rendered, "create"), first.describe()
    assert first.policy_violations() == []
    for key, manifest in rendered.items():
        assert list(_subset(manifest, _stored(control_plane, manifest))) == [], key

    outputs = json.loads(cli.run("stack", "output", "--json").stdout)
    assert outputs == expected_outputs(project, summary)
    assert outputs["project"] == summary["project"] == PROJECT

    second = cli.program("up", "--yes", *pack)
    assert changed_objects(second.steps()) == {}, second.describe()

    fleet = project / "images.yaml"
    fleet.write_text(fleet.read_text().replace("workflow: build-base-python.yml",
                                               "workflow: build-base-python-v2.yml"))
    after, _ = render(project, tmp_path / "render-2")
    touched = {key for key in rendered.keys() | after.keys() if rendered.get(key) != after.get(key)}
    assert touched == {"Stage/rebuild-base-python"}
    third = cli.program("up", "--yes", *pack)
    assert changed_objects(third.steps()) == dict.fromkeys(touched, "update"), third.describe()
    for key in touched:
        assert list(_subset(after[key], _stored(control_plane, after[key]))) == [], key
    print(f"pulumi up against kube-apiserver: create {first.seconds:.1f} s, no-op {second.seconds:.1f} s, "
          f"update {third.seconds:.1f} s")

    # Switching this live stack to GitOps mode is refused before anything changes: every object stays.
    cli.run("config", "set", "image-factory:renderYamlToDirectory", "../rendered")
    switched = cli.program("up", "--yes", *pack, check=False)
    assert switched.returncode != 0 and "GitOps mode" in switched.stdout, switched.describe()
    assert changed_objects(switched.steps()) == {}
    assert not (project / "rendered").exists()
    for key in after:
        assert list(_subset(after[key], _stored(control_plane, after[key]))) == [], key


def _readonly_kubeconfig(plane: ControlPlane, folder: Path) -> Path:
    """infra/preview-rbac.yaml applied, and a kubeconfig with a token of its ServiceAccount (what the
    KUBECONFIG_READONLY secret holds)."""
    from kubernetes import client as k8s
    from kubernetes import utils

    docs = [d for d in yaml.safe_load_all((ROOT / "infra" / "preview-rbac.yaml").read_text()) if d]
    with plane.api_client() as api:
        for doc in docs:
            try:
                utils.create_from_dict(api, doc)
            except utils.FailToCreateError as exc:
                if any(e.status != 409 for e in exc.api_exceptions):
                    raise
        sa = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]
        token = k8s.CoreV1Api(api).create_namespaced_service_account_token(
            sa["name"], sa["namespace"], k8s.AuthenticationV1TokenRequest(
                spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600))).status.token
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["users"] = [{"name": "admin", "user": {"token": token}}]
    path = folder / "kubeconfig-readonly"
    path.write_text(yaml.safe_dump(config))
    return path


def test_preview_with_the_read_only_identity_shows_the_change_and_up_with_it_is_refused(
        tmp_path: Path, control_plane: ControlPlane, policy_pack: Path) -> None:
    project, admin, pack = _live_stack(tmp_path, control_plane, policy_pack, READONLY_PROJECT)
    admin.program("up", "--yes", *pack)

    fleet = project / "images.yaml"
    fleet.write_text(fleet.read_text().replace("workflow: build-base-python.yml",
                                               "workflow: build-base-python-v2.yml"))
    after, _ = render(project, tmp_path / "render-2")
    reader = Pulumi(project, tmp_path / "home", tmp_path / "backend",
                    {"KUBECONFIG": str(_readonly_kubeconfig(control_plane, tmp_path))})
    preview = reader.program("preview", *pack)
    assert changed_objects(preview.steps()) == {"Stage/rebuild-base-python": "update"}, preview.describe()
    assert preview.policy_violations() == []

    up = reader.program("up", "--yes", *pack, check=False)
    assert up.returncode != 0 and "forbidden" in up.stdout.lower(), up.describe()
    stored = _stored(control_plane, after["Stage/rebuild-base-python"])
    assert list(_subset(after["Stage/rebuild-base-python"], stored)) != []  # still the old Stage
