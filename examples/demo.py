"""The main job on the example fleet, against a real local registry: what a platform team sees first.

No public registry is reachable here, so a Debian `docker-registry` on 127.0.0.1 serves small synthetic
images under the example fleet's upstream names (docker.io/library/python, gcr.io/distroless/…), reached
through the product's own `registries.hosts.<registry>.endpoint` setting. Everything else is the real
flow, in a workspace under .cache/demo/fleet (a copy of images.yaml + images.d with that setting, and
its own state/): analyze → refresh (real digests, first-seen times) → then python:3.12-slim moves (a new
image is pushed) → refresh → status / plan (what is held, until when, the rebuild order) → graph →
render → check → report (report/index.html).

One thing is made up, and said so when it happens: no build system runs here, so the fleet is recorded
as last built on the digests of the first refresh.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.planning.timeline import graph_from_states  # noqa: E402
from analyzer.state.model import RebuildRecord  # noqa: E402
from analyzer.state.store import load_states, save_states  # noqa: E402
from tests.support.registry import Image, RegistryServer, push_image, push_index  # noqa: E402

CLI = ROOT / "venv" / "bin" / "image-factory"
AMD, ARM = "linux/amd64", "linux/arm64"

# Upstream tags the example fleet follows: (registry, repository, tags, platforms).
UPSTREAM = [
    ("docker.io", "library/python", ["3.12-slim"], [AMD, ARM]),
    ("docker.io", "library/node", ["20-alpine"], [AMD, ARM]),
    ("docker.io", "library/nginx", ["1.27-alpine"], [AMD]),
    ("docker.io", "library/busybox", ["1.36"], [AMD]),
    ("docker.io", "library/redis", ["7", "7.2.5"], [AMD]),
    ("gcr.io", "distroless/static-debian12", ["nonroot"], [AMD]),
    ("docker.io", "docker/dockerfile", ["1", "1.7"], [AMD, ARM]),   # the `# syntax=` frontends
]
MOVES = ("docker.io", "library/python", "3.12-slim")
INTERNAL = "registry.example.com"
"""Where the example fleet's managed images live."""


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(fleet: Path, *args: str) -> None:
    """One CLI command in the demo workspace, shown as a user would type it."""
    print(f"$ image-factory {' '.join(args)}", flush=True)
    result = subprocess.run([str(CLI), *args], cwd=fleet, check=False)
    if result.returncode not in (0, 1):  # 1: partial (e.g. an unresolved FROM), still worth showing
        sys.exit(result.returncode)


def push(registry: RegistryServer, repository: str, tag: str, images: list[Image]) -> str:
    if len(images) == 1:
        return push_image(registry.url, repository, tag, images[0])
    return push_index(registry.url, repository, tag, images)


def upstream_images(repository: str, tag: str, platforms: list[str], label: str) -> list[Image]:
    return [Image.of(f"{repository}:{tag} {label}", platform=p) for p in platforms]


def push_managed(fleet: Path, registry: RegistryServer, amd64: dict[str, Image]) -> dict[str, str]:
    """Each managed image as its build would have pushed it: its last FROM base's layers plus its own
    (parents first), so the registry holds a consistent fleet."""
    states = load_states(fleet / "state")
    by_name = {s.name: s for s in states.values() if s.managed is not None and s.name}
    pushed: dict[str, str] = {}
    for name in graph_from_states(states).topological_order():
        state = by_name[name]
        assert state.managed is not None
        froms = [b.tracked for b in state.managed.bases if b.via == "from" and b.tracked]
        base = amd64[froms[-1]] if froms else None
        image = base.built_on(files={"app.txt": name}) if base else Image.of(state.ref)
        repository, _, tag = state.ref.partition("/")[2].rpartition(":")
        digest = push(registry, repository, tag, [image])
        amd64[state.ref], pushed[state.ref] = image, digest
        print(f"  {state.ref}  {digest[:19]}…  (built on {froms[-1] if froms else 'nothing tracked'})")
    return pushed


def workspace(fleet: Path, endpoint: str) -> None:
    """images.yaml + images.d, the policy config and the stack settings, with the registries routed to the
    local registry; the example repositories are linked, not copied."""
    shutil.rmtree(fleet, ignore_errors=True)
    fleet.mkdir(parents=True)
    config = yaml.safe_load((ROOT / "images.yaml").read_text())
    config["registries"] = {"hosts": {registry: {"endpoint": endpoint}
                                      for registry in sorted({u[0] for u in UPSTREAM} | {INTERNAL})}}
    (fleet / "images.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copytree(ROOT / "images.d", fleet / "images.d")
    shutil.copytree(ROOT / "policy", fleet / "policy", ignore=shutil.ignore_patterns("venv", "__pycache__"))
    shutil.copy(ROOT / "Pulumi.prod.yaml", fleet / "Pulumi.prod.yaml")
    (fleet / "examples").symlink_to(ROOT / "examples")


def record_builds(fleet: Path, now: datetime, pushed: Mapping[str, str]) -> None:
    """DEMO DATA: every managed image recorded as built now on the digests `refresh` just found."""
    states = load_states(fleet / "state")
    current = {ref: s.digests.current for ref, s in states.items() if s.kind == "external" and s.digests.current}
    graph = graph_from_states(states)
    built = []
    for state in states.values():
        if state.managed is None or not state.name:
            continue
        closure = graph.external_closure(state.name)
        onto = {ref: current[ref] for ref in sorted(closure) if ref in current}
        if onto:
            built.append(state.model_copy(update={"rebuilds": [
                *state.rebuilds, RebuildRecord(at=now, outcome="succeeded", base_digests=onto,
                                               result_digest=pushed.get(state.ref))]}))
    save_states(fleet / "state", built)
    print(f"recorded {len(built)} managed images as built on the current digests at {now:%Y-%m-%d %H:%M} UTC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "demo",
                        help="registry storage, git cache, workspace (default: .cache/demo)")
    parser.add_argument("--report", type=Path, default=ROOT / "report", help="report folder (default: report)")
    options = parser.parse_args()
    work, fleet = options.workdir.resolve(), options.workdir.resolve() / "fleet"
    started = time.monotonic()
    step("a local OCI registry (Debian docker-registry) standing in for Docker Hub and gcr.io")
    with RegistryServer.plain(work / "registry") as registry:
        print(f"serving on {registry.url}")
        amd64: dict[str, Image] = {}
        for host, repository, tags, platforms in UPSTREAM:
            for tag in tags:
                images = upstream_images(repository, tag, platforms, "v1")
                digest = push(registry, repository, tag, images)
                amd64[f"{host}/{repository}:{tag}"] = images[0]
                print(f"  {host}/{repository}:{tag}  {digest[:19]}…  ({', '.join(platforms)})")
        workspace(fleet, registry.url)
        print(f"workspace {fleet}: images.yaml routes docker.io, gcr.io and {INTERNAL} "
              f"to {registry.url}")

        step("analyze: every enrolled Dockerfile (real git repositories) -> base images -> state/")
        run(fleet, "analyze", "--cache", str(work / "git"))
        step(f"the managed images, as their builds pushed them to {INTERNAL}")
        pushed = push_managed(fleet, registry, amd64)
        step("refresh: one HEAD per followed tag; each new digest gets its first-seen time")
        run(fleet, "refresh")
        step("DEMO DATA: no build system runs here, so record the fleet as built on these digests")
        record_builds(fleet, datetime.now(UTC).replace(microsecond=0), pushed)

        host, repository, tag = MOVES
        step(f"upstream moves: a new {host}/{repository}:{tag} is pushed")
        digest = push(registry, repository, tag, upstream_images(repository, tag, [AMD, ARM], "v2"))
        print(f"  {host}/{repository}:{tag}  now {digest[:19]}…")
        run(fleet, "refresh")

        step("status: per image and base, what it is built on and what is newest")
        run(fleet, "status")
        step("plan: what is held, until when, and the rebuild order once it clears")
        run(fleet, "plan")
        step("the dependency graph")
        run(fleet, "graph")
        step("render: Kargo resources for this state (GitOps-style files)")
        run(fleet, "render", "--out", str(work / "rendered"))
        step("check: the policy rules over the rendered resources")
        run(fleet, "check", "--policy-config", "policy/config.json")
        step("report: a static page with the graph, digests and holds")
        run(fleet, "report", "--out", str(options.report.resolve()))
    print(f"\nopen {options.report / 'index.html'} (no server needed); demo took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
