"""`image-factory render --out DIR`: the Kargo project as YAML manifests (inspection, GitOps, checks)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from analyzer.kargo.build import GraphError, build_project
from analyzer.kargo.name_record import load_name_record, names_path, write_name_record
from analyzer.kargo.render import render_files, write_files
from analyzer.kargo.settings import Settings, load_stack_settings
from analyzer.kargo.stacks import select
from analyzer.state.store import load_states

DEFAULT_STACK_CONFIG = "Pulumi.prod.yaml"


@click.command("render")
@click.option("--config", "config", type=click.Path(path_type=Path), default=Path("images.yaml"),
              show_default=True, help="Root enrollment file.")
@click.option("--state", "state_dir", type=click.Path(path_type=Path), default=Path("state"),
              show_default=True, help="State directory.")
@click.option("--stack-config", type=click.Path(path_type=Path), default=None,
              help=f"Pulumi stack config with the deployment settings [default: ./{DEFAULT_STACK_CONFIG} "
                   "when present, else built-in defaults].")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the manifests (one file per resource).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary (the stack outputs) as JSON.")
@click.option("--record-names", is_flag=True,
              help="Record the names in use in STATE/kargo-names.yaml, so that a later name collision never "
                   "renames an existing Warehouse or Stage.")
def command(config: Path, state_dir: Path, stack_config: Path | None, out_dir: Path, as_json: bool,
            record_names: bool) -> None:
    """Render the Kargo Project, Warehouses, Stages and AnalysisTemplates as YAML manifests."""
    if stack_config is None and Path(DEFAULT_STACK_CONFIG).is_file():
        stack_config = Path(DEFAULT_STACK_CONFIG)
    settings = load_stack_settings(stack_config) if stack_config is not None else Settings()
    fleet = load_fleet(config)
    states = load_states(state_dir)
    try:
        project = build_project(fleet, states, settings, load_name_record(state_dir))
    except GraphError as exc:
        raise InputError.single(state_dir, str(exc)) from None
    result = write_files(out_dir, render_files(select(project, fleet, settings)))
    if record_names and write_name_record(state_dir, project.names):
        click.echo(f"{names_path(state_dir)}: updated", err=True)
    if as_json:
        click.echo(json.dumps(project.summary, indent=2, sort_keys=True))
        return
    counts = project.summary["counts"]
    click.echo(f"{out_dir}: {len(project.objects)} resources ({counts['warehouses']} warehouses, "
               f"{counts['soakStages']} soak stages, {counts['rebuildStages']} rebuild stages); "
               f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
               f"{len(result.removed)} removed")
    if project.summary["notAnalyzed"]:
        click.echo(f"not analyzed yet (run `image-factory analyze`): {', '.join(project.summary['notAnalyzed'])}")
    if project.summary["unbuildable"]:
        click.echo(f"no movable base, no rebuild Stage: {', '.join(project.summary['unbuildable'])}")
    for pinned in project.summary["pinned"]:
        click.echo(f"pinned (not monitored): {pinned['image']}: {pinned['base']} "
                   f"({pinned['dockerfile']}:{pinned['line']})")
