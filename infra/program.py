"""The program logic, importable by tests: settings + fleet + state → Kargo resources and stack outputs.

`infra/__main__.py` only reads the stack config and calls `build`; the resource graph itself comes from
the analyzer's pure `build_project`, the same objects `image-factory render` writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from analyzer.commands.options import load_project
from analyzer.kargo import resources as model
from analyzer.kargo.build import KargoProject
from analyzer.kargo.settings import Settings, settings_from_config
from analyzer.planning.timeline import status_summary
from infra.resources import create

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the program runs with cwd = infra/, so never rely on cwd)."""
CONFIG_KEYS = [field.alias or name for name, field in Settings.model_fields.items()]


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
    AnalysisTemplates, so that a fresh `up` never shows a Stage pointing at something missing."""
    deps: list[pulumi.Resource] = []
    if project is not None and not isinstance(obj, model.Project):
        deps.append(project)
    if isinstance(obj, model.Stage):
        for requested in obj.spec.requested_freight:
            deps.append(created[("Warehouse", requested.origin.name)])
            deps += [created[("Stage", upstream)] for upstream in requested.sources.stages or []]
        if obj.spec.verification is not None:
            deps += [created[("AnalysisTemplate", t.name)] for t in obj.spec.verification.analysis_templates]
    return deps


def build(fleet_path: Path, state_dir: Path, settings: Settings) -> Program:
    """Create every resource and return them with the stack outputs (the caller exports them)."""
    loaded = load_project(fleet_path, state_dir, settings)
    project, states = loaded.project, loaded.states
    provider = None
    if settings.render_yaml_to_directory:
        # GitOps mode: the provider writes manifests (for Argo CD) instead of applying them.
        provider = k8s.Provider("render", render_yaml_to_directory=settings.render_yaml_to_directory,
                                always_render=True)
    created: dict[tuple[str, str], pulumi.CustomResource] = {}
    project_resource: pulumi.CustomResource | None = None
    for obj in project.objects:  # the builder's order: the Project first, every Stage after its upstream Stages
        deps = _depends_on(obj, created, project_resource)
        opts = pulumi.ResourceOptions(provider=provider, depends_on=deps)
        resource = create(obj, opts)
        created[(obj.kind, obj.name)] = resource
        if isinstance(obj, model.Project):
            project_resource = resource
    outputs = {**project.summary, "status": status_summary(states)}
    return Program(project=project, resources=created, outputs=outputs, provider=provider)


def main() -> Program:
    """The stack: repo-root images.yaml and state/, settings from stack config, outputs exported."""
    settings = read_settings(pulumi.Config())
    program = build(ROOT / "images.yaml", ROOT / "state", settings)
    for name, value in program.outputs.items():
        pulumi.export(name, value)
    return program
