"""The program logic, importable by tests: settings + fleet + state → Kargo resources and stack outputs.

`infra/__main__.py` only reads the stack config and calls `build`; the resource graph itself comes from
the analyzer's pure `build_project`, the same objects `image-factory render` writes.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.log
import pulumi_kubernetes as k8s
from pulumi.runtime.sync_await import _sync_await

from analyzer.commands.options import load_project
from analyzer.kargo import resources as model
from analyzer.kargo.build import KargoProject
from analyzer.kargo.settings import Settings, settings_from_config
from analyzer.kargo.stacks import select
from analyzer.planning.timeline import status_summary
from infra.outputs import stack_outputs
from infra.resources import create

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the program runs with cwd = infra/, so never rely on cwd)."""
CONFIG_KEYS = [field.alias or name for name, field in Settings.model_fields.items()]
GITOPS_STACK = "gitops"
"""The stack (or the suffix of stacks) in GitOps mode; every other stack applies to its cluster."""
SDK_DEBUG_ENV = "IMAGE_FACTORY_PULUMI_SDK_DEBUG"
"""Set (to anything) to keep the Pulumi SDK's own debug messages (`pulumi preview --debug`); see main()."""


class ModeError(pulumi.RunError):
    """A stack in the wrong mode (GitOps or live) for its name."""


@dataclass(frozen=True)
class Program:
    project: KargoProject
    resources: dict[tuple[str, str], pulumi.CustomResource]
    """(kind, metadata.name) → Pulumi resource."""
    outputs: dict[str, Any]
    provider: k8s.Provider | None


def read_settings(config: pulumi.Config) -> Settings:
    """Settings from the `image-factory:*` stack config (structured values arrive as JSON strings)."""
    values = {key: value for key in CONFIG_KEYS if (value := config.get(key)) is not None}
    return settings_from_config(values)


def _depends_on(obj: model.KargoObject, created: Mapping[tuple[str, str], pulumi.CustomResource],
                project: pulumi.CustomResource | None) -> list[pulumi.Resource]:
    """The Project (which creates the namespace) first; a Stage after its Warehouses, upstream Stages and
    AnalysisTemplates, so that a fresh `up` never shows a Stage pointing at something missing. In a stack
    that renders part of the project (analyzer/kargo/stacks.py), what another stack creates is not waited
    for: that stack is deployed first."""
    keys: list[tuple[str, str]] = []
    if isinstance(obj, model.Stage):
        for requested in obj.spec.requested_freight:
            keys.append(("Warehouse", requested.origin.name))
            keys += [("Stage", upstream) for upstream in requested.sources.stages or []]
        if obj.spec.verification is not None:
            keys += [("AnalysisTemplate", t.name) for t in obj.spec.verification.analysis_templates]
    deps: list[pulumi.Resource] = [created[key] for key in keys if key in created]
    if project is not None and not isinstance(obj, model.Project):
        deps.insert(0, project)
    return deps


GC_THRESHOLD_ALLOCATIONS = 100_000
"""Python's default is 700: with the SDK's futures, outputs and tasks for 10,000 resources its full
collections walked everything again and again (about 40% of the program's time under mocks)."""


def collect_cycles_rarely() -> None:
    """For the program's own process (`main`; not for a test process importing `build`): it builds a large,
    long-lived graph of objects once, so collections run after many more allocations. Cycles are still
    collected; peak RSS +3% on the 10,466-resource bench fleet."""
    gc.set_threshold(GC_THRESHOLD_ALLOCATIONS, *gc.get_threshold()[1:])


def build(fleet_path: Path, state_dir: Path, settings: Settings) -> Program:
    """Create every resource and return them with the stack outputs (the caller exports them)."""
    loaded = load_project(fleet_path, state_dir, settings)
    project, states = loaded.project, loaded.states
    provider = None
    if settings.render_yaml_to_directory:
        # GitOps mode: the provider writes manifests (for Argo CD) instead of applying them. No
        # `always_render`: CI renders from a fresh stack, where every object is created and so written
        # (docs/pulumi.md), and on a kept stack a no-op preview then shows nothing changed.
        provider = k8s.Provider("render", render_yaml_to_directory=settings.render_yaml_to_directory)
    created: dict[tuple[str, str], pulumi.CustomResource] = {}
    project_resource: pulumi.CustomResource | None = None
    objects = select(project, loaded.fleet, settings)  # this stack's part (per-team stacks), in the builder's
    for obj in objects:                                 # order: the Project first, every Stage after its upstreams
        deps = _depends_on(obj, created, project_resource)
        opts = pulumi.ResourceOptions(provider=provider, depends_on=deps)
        resource = create(obj, opts)
        created[(obj.kind, obj.name)] = resource
        if isinstance(obj, model.Project):
            project_resource = resource
    outputs = stack_outputs(loaded.fleet, project.summary, status_summary(states), objects, settings)
    return Program(project=project, resources=created, outputs=outputs, provider=provider)


def is_gitops_stack(stack: str) -> bool:
    return stack == GITOPS_STACK or stack.endswith(f"-{GITOPS_STACK}")


def check_mode(stack: str, settings: Settings) -> None:
    """GitOps mode only on a stack of its own (`gitops`, `<name>-gitops`), and always there.

    Switching a stack between modes changes every resource's provider, which Pulumi carries out as a
    replacement: it would delete every live Kargo object (Freight history included) of a live stack, or
    apply a GitOps stack's objects to the cluster beside the live stack's. Refused before anything runs.
    """
    if settings.render_yaml_to_directory and not is_gitops_stack(stack):
        raise ModeError(f"stack {stack!r} applies to the cluster: renderYamlToDirectory (GitOps mode) is only "
                        f"for a stack named {GITOPS_STACK!r} or '<name>-{GITOPS_STACK}' (switching a live stack "
                        "to GitOps mode would delete its live Kargo objects)")
    if is_gitops_stack(stack) and not settings.render_yaml_to_directory:
        raise ModeError(f"stack {stack!r} is a GitOps stack: set image-factory:renderYamlToDirectory (it "
                        "would otherwise apply to the cluster beside the live stack)")


def _no_debug_log(msg: str, resource: pulumi.Resource | None = None, stream_id: int | None = None,
                  ephemeral: bool | None = None) -> None:
    """Stands in for pulumi.log.debug (same signature) when the SDK's debug messages are off."""


def drop_sdk_debug_messages() -> None:
    """Stop the Pulumi SDK's per-resource debug messages, unless SDK_DEBUG_ENV is set.

    The Python SDK (3.272) sends about four debug messages per resource ("registering resource", "resource
    registration prepared", ...), each a blocking Log RPC from the program's event loop, which the engine turns
    into an event. The CLI shows them only with `--debug`. At 4,200 resources that was 16,807 RPCs and events
    and a quarter to a third of the program's and the CLI's CPU time (docs/pulumi.md). Our own messages and the
    SDK's info, warnings and errors are unchanged.
    """
    if not os.environ.get(SDK_DEBUG_ENV):
        pulumi.log.debug = _no_debug_log


def start_registrations() -> None:
    """Give the event loop one turn, so that every resource registration the program queued starts now.

    The SDK (3.272) counts a registration RPC as outstanding only once its task has started, and its
    `wait_for_rpcs`, entered as soon as the program returns, looks at that list first. Found empty (no task has
    run yet), it waits on every unresolved Output instead, with `asyncio.wait(FIRST_COMPLETED)` re-armed on
    all of them after each resolution: O(Outputs) work each time a resource's registration returns, quadratic
    over the stack (about 7 Outputs per resource). Started here, the registrations are awaited one by one
    and the Outputs are all resolved by the time it looks at them. Nothing registered changes.
    """
    _sync_await(asyncio.sleep(0))


def main() -> Program:
    """The stack: repo-root images.yaml and state/, settings from stack config, outputs exported."""
    collect_cycles_rarely()
    drop_sdk_debug_messages()
    settings = read_settings(pulumi.Config())
    check_mode(pulumi.get_stack(), settings)
    program = build(ROOT / "images.yaml", ROOT / "state", settings)
    for name, value in program.outputs.items():
        pulumi.export(name, value)
    start_registrations()
    return program
