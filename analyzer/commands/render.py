"""`image-factory render --out DIR`: the Kargo project as YAML manifests (inspection, GitOps, checks)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.commands.options import (
    STACK_CONFIG_OPTION,
    config_option,
    cycle_collection_paused,
    json_option,
    load_project,
    state_option,
)
from analyzer.kargo.name_record import names_path, write_name_record
from analyzer.kargo.render import render_files, write_files
from analyzer.kargo.resources import KargoObject
from analyzer.kargo.stacks import select
from analyzer.workers import on_two_cores


@click.command("render")
@config_option()
@state_option()
@STACK_CONFIG_OPTION
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Directory for the manifests (one file per resource).")
@json_option("Print the summary (the stack outputs) as JSON.")
@click.option("--record-names", is_flag=True,
              help="Record the names in use in STATE/kargo-names.yaml, so that a later name collision never "
                   "renames an existing Warehouse or Stage.")
def command(config: Path, state_dir: Path, stack_config: Path | None, out_dir: Path, as_json: bool,
            record_names: bool) -> None:
    """Render the Kargo Project, Warehouses, Stages and AnalysisTemplates as YAML manifests."""
    with cycle_collection_paused():
        loaded = load_project(config, state_dir, stack_config)
        project = loaded.project
        result = write_files(out_dir, _render_on_two_cores(select(project, loaded.fleet, loaded.settings)))
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


def _render_on_two_cores(objects: list[KargoObject]) -> dict[str, str]:
    """`render_files`, the second half of the objects rendered by a forked process (analyzer/workers.py)."""
    half = len(objects) // 2
    first, second = on_two_cores(objects[:half], objects[half:], render_files, size=len)
    return dict(sorted({**first, **second}.items()))
