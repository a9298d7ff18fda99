"""`pulumi up` with the real CLI (tests/engines/pulumi) against the real kube-apiserver of the e2e control
plane: the kubernetes provider applies the program's resources through KUBECONFIG, with the policy pack on.

The stack uses its own Kargo project (`image-factory:project`), so its namespace and cluster-scoped Project
do not collide with the objects the other e2e tests apply."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes.dynamic import DynamicClient

from tests.support.controlplane import ControlPlane
from tests.support.pulumi_cli import Pulumi, changed_objects, copy_project, render

PROJECT = "pulumi-up"


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


def test_up_creates_everything_then_changes_nothing_then_only_what_the_fleet_change_touches(
        tmp_path: Path, control_plane: ControlPlane, policy_pack: Path) -> None:
    project = copy_project(tmp_path / "project")
    cli = Pulumi(project, tmp_path / "home", tmp_path / "backend", {"KUBECONFIG": str(control_plane.kubeconfig)})
    cli.new_stack()
    cli.run("config", "set", "image-factory:project", PROJECT)
    control_plane.ensure_namespace(PROJECT)  # Kargo's management controller would create it; none runs here
    pack = ["--policy-pack", str(policy_pack), "--policy-pack-config", "policy/config.json"]

    first = cli.program("up", "--yes", *pack)
    rendered, summary = render(project, tmp_path / "render-1")
    assert changed_objects(first.steps()) == dict.fromkeys(rendered, "create"), first.describe()
    assert first.policy_violations() == []
    for key, manifest in rendered.items():
        assert list(_subset(manifest, _stored(control_plane, manifest))) == [], key

    outputs = json.loads(cli.run("stack", "output", "--json").stdout)
    assert {k: v for k, v in outputs.items() if k != "status"} == summary
    assert summary["project"] == PROJECT

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
