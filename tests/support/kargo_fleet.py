"""The example fleet (images.yaml + images.d/ at the repo root) planned into state by the real planner,
with Dockerfile analyses written by hand to mirror examples/repos/*/Dockerfile (so these fixtures do not
depend on the discovery code). Used by the Kargo model, render, schema and Pulumi tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from analyzer.config.loader import load_fleet
from analyzer.config.model import Fleet
from analyzer.discovery.dockerfile import DockerfileAnalysis, ImageUse, StageFrom, Unusable
from analyzer.discovery.reference import parse_reference
from analyzer.state.derive import Discovery, plan_state
from analyzer.state.model import ImageState
from analyzer.state.store import load_states, save_states
from tests.support import ROOT

PYTHON = "docker.io/library/python:3.12-slim"
NODE = "docker.io/library/node:20-alpine"
NGINX = "docker.io/library/nginx:1.27-alpine"
REDIS = "docker.io/library/redis:7"
BUSYBOX = "docker.io/library/busybox:1.36"
DISTROLESS = "gcr.io/distroless/static-debian12:nonroot"
GOLANG_PINNED = "golang:1.23@sha256:51a6466e8dbf3e00e422eb0f7a97ac450b2d57b33617bbe8d2ee0bddcd9d0d37"
BASE_PYTHON = "registry.example.com/platform/base-python:3.12"
BASE_NODE = "registry.example.com/platform/base-node:20"
ML_RUNTIME = "registry.example.com/platform/ml-runtime:2024.10"

# image name → (via, reference as written, line) for each image it uses; mirrors examples/repos.
EXAMPLE_USES: dict[str, list[tuple[str, str, int]]] = {
    "base-python": [("from", "python:3.12-slim", 3)],
    "base-node": [("from", "node:20-alpine", 3)],
    "ml-runtime": [("from", BASE_PYTHON, 2)],
    "payments-api": [("from", "python:3.12-slim", 3), ("from", BASE_PYTHON, 9)],
    "payments-worker": [("from", BASE_PYTHON, 1), ("copy", BUSYBOX, 3), ("mount", ML_RUNTIME, 4)],
    "web-frontend": [("from", BASE_NODE, 1), ("from", "nginx:1.27-alpine", 10)],
    "web-docs": [],
    "edge-proxy": [("from", GOLANG_PINNED, 2), ("from", DISTROLESS, 7)],
}


def analysis(uses: list[tuple[str, str, int]]) -> DockerfileAnalysis:
    stages, copies, mounts = [], [], []
    for via, raw, line in uses:
        ref = parse_reference(raw)
        if via == "from":
            stages.append(StageFrom(name=None, source=ref.normalized, raw=raw, line=line, ref=ref))
        else:
            (copies if via == "copy" else mounts).append(ImageUse(ref=ref, raw=raw, line=line, via=via))  # type: ignore[arg-type]
    unresolved = [] if uses else [Unusable(raw="${DOCS_BASE}", line=3, reason="no value for DOCS_BASE")]
    return DockerfileAnalysis(
        syntax=None, stages=stages, copy_from=copies, mount_from=mounts, unresolved=unresolved
    )


def plan(
    fleet: Fleet,
    uses: Mapping[str, list[tuple[str, str, int]]] = EXAMPLE_USES,
    previous: Mapping[str, ImageState] | None = None,
) -> dict[str, ImageState]:
    discoveries = {
        image.name: Discovery(analysis=analysis(list(uses.get(image.name, []))), commit="0" * 40)
        for image in fleet.managed()
    }
    return plan_state(fleet, discoveries, previous or {}).states


def copy_config(target: Path) -> Path:
    """images.yaml and images.d/ copied under `target` (to edit them); returns the root file."""
    shutil.copy(ROOT / "images.yaml", target / "images.yaml")
    shutil.copytree(ROOT / "images.d", target / "images.d")
    return target / "images.yaml"


def edit_config(target: Path, change: Callable[[list[dict[str, Any]]], None]) -> Path:
    """The example config copied under `target`, with `change` applied to the image list of every file."""
    root = copy_config(target)
    for file in [root, *sorted((target / "images.d").glob("*.yaml"))]:
        data = yaml.safe_load(file.read_text())
        change(data.get("images", []))
        file.write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def example_fleet() -> Fleet:
    return load_fleet(ROOT / "images.yaml")


def example_states() -> dict[str, ImageState]:
    return plan(example_fleet())


def write_state_dir(state_dir: Path, states: Mapping[str, ImageState]) -> dict[str, ImageState]:
    """Save states with the real store and read them back (what infra/ and render see)."""
    save_states(state_dir, states.values())
    return load_states(state_dir)
