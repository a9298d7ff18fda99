"""Fixtures of the e2e tests: one real control plane (etcd, kube-apiserver, Argo Rollouts) per session,
the example fleet rendered and applied to it, the job runner, and the real registry."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from tests.support.controlplane import ControlPlane, start_control_plane
from tests.support.engines import ROOT, engine
from tests.support.jobrunner import JobRunner
from tests.support.kargo_fleet import copy_config, example_states, write_state_dir
from tests.support.registry_fixtures import *  # noqa: F403

NAMESPACE = "image-factory"
"""The Kargo project (and namespace) the example fleet renders into."""
FIELD_MANAGER = "image-factory-e2e"
IMAGE_FACTORY = ROOT / "venv" / "bin" / "image-factory"


@dataclass
class StartCost:
    """What the session paid for the engines: build/locate time and control-plane start times."""

    engines_s: float
    timings: dict[str, float]


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd + kube-apiserver + CRDs + the Rollouts analysis controller for the project namespace."""
    begin = time.monotonic()
    engine("kube"), engine("rollouts")
    engines_s = time.monotonic() - begin
    plane = start_control_plane(tmp_path_factory.mktemp("controlplane"), NAMESPACE)
    plane.timings["engines_s"] = engines_s
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def kube(control_plane: ControlPlane) -> Iterator[k8s.ApiClient]:
    with control_plane.api_client() as api:
        yield api


@dataclass
class Applied:
    """The rendered manifests and what the API server answered for each."""

    folder: Path
    manifests: list[dict[str, Any]]
    stored: list[dict[str, Any]]


def apply(dynamic: DynamicClient, manifest: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    """Server-side apply with strict field validation (unknown or duplicate fields are errors)."""
    resource = dynamic.resources.get(api_version=manifest["apiVersion"], kind=manifest["kind"])
    result = dynamic.server_side_apply(resource, body=manifest, namespace=manifest["metadata"].get("namespace"),
                                       field_manager=FIELD_MANAGER, force_conflicts=True,
                                       dry_run="All" if dry_run else None,
                                       query_params=[("fieldValidation", "Strict")])
    stored: dict[str, Any] = result.to_dict()
    return stored


def render_example_fleet(into: Path) -> Path:
    """`image-factory render` (the real CLI) of the example fleet; returns the output folder."""
    into.mkdir(parents=True, exist_ok=True)
    copy_config(into)
    write_state_dir(into / "state", example_states())
    out = into / "out"
    subprocess.run([str(IMAGE_FACTORY), "render", "--config", str(into / "images.yaml"), "--state",
                    str(into / "state"), "--out", str(out)], check=True, capture_output=True, text=True)
    return out


@pytest.fixture(scope="session")
def applied_fleet(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Applied:
    """The example fleet rendered and applied, in file order (Project first, as `kubectl apply -f DIR`)."""
    out = render_example_fleet(tmp_path_factory.mktemp("render"))
    manifests = [yaml.safe_load(f.read_text()) for f in sorted(out.glob("*.yaml"))]
    stored = []
    with control_plane.api_client() as api:
        dynamic = DynamicClient(api)
        for manifest in manifests:
            try:
                stored.append(apply(dynamic, manifest))
            except DynamicApiError as exc:
                pytest.fail(f"API server rejected {manifest['kind']}/{manifest['metadata']['name']}: "
                            f"{exc.status} {exc.summary()}")
    return Applied(out, manifests, stored)


@pytest.fixture(scope="session")
def job_runner(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobRunner]:
    """Runs the Jobs Rollouts creates in the project namespace (`image-factory` → this checkout's CLI)."""
    runner = JobRunner(control_plane, NAMESPACE, {"image-factory": IMAGE_FACTORY},
                       tmp_path_factory.mktemp("jobs"))
    with runner:
        yield runner
