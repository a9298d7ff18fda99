"""`image-factory analyze`: discover every enrolled image's bases and write state/."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from analyzer.analyze import AnalyzeResult, default_cache_dir, run_analyze
from analyzer.cli import EXIT_OK, EXIT_PARTIAL
from analyzer.commands.options import config_option, cycle_collection_paused, json_option, state_option
from analyzer.config.loader import load_fleet
from analyzer.state.derive import Discovery

if TYPE_CHECKING:
    from rich.console import Console


def _print_summary(result: AnalyzeResult, console: Console) -> None:
    summary = result.summary
    console.print(f"images: {summary['managed']} managed, {summary['external']} external/base; "
                  f"bases: {summary['bases']}; edges: {summary['edges']} ({summary['internal_edges']} internal); "
                  f"unresolved: {len(summary['unresolved'])}; "
                  f"errors: {len(summary['errors'])}", highlight=False)
    for key in ("unresolved", "invalid"):
        for line in summary[key]:
            console.print(f"  {key}: {line}", highlight=False, markup=False)
    for pinned in summary["pinned"]:
        console.print(f"  pinned (not tracked): {pinned}", highlight=False, markup=False)
    for name, reason in summary["errors"].items():
        console.print(f"  error: {name}: {reason} (previous state kept)", highlight=False, markup=False)
    for orphan in summary["orphans"]:
        verb = "removed" if result.pruned else "orphan (use --prune to remove)"
        console.print(f"  {verb}: {orphan}", highlight=False, markup=False)
    note = " (nothing moved since the last run)" if result.unchanged_inputs else ""
    if result.incremental:
        note = f" (incremental: {result.replanned} states re-planned, the rest unchanged)"
    console.print(f"state files changed: {len(result.changed)}{note}", highlight=False)


@click.command("analyze")
@config_option()
@state_option()
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), default=None,
              help="Git mirror cache (default: $XDG_CACHE_HOME/image-factory/git).")
@click.option("--prune", is_flag=True, help="Remove state files of images no longer enrolled or used.")
@json_option("Print the summary as JSON.")
def command(config: Path, state_dir: Path, cache_dir: Path | None, prune: bool, as_json: bool) -> None:
    """Discover base images of every enrolled image and write the state files.

    Exit 0 when all sources were read, 1 when some failed (their state is kept), 2 on invalid input.
    """
    cache = cache_dir or default_cache_dir()
    if as_json:  # rich is not even imported: this is what jobs and benchmarks run
        with cycle_collection_paused():
            result = run_analyze(config, state_dir, cache, prune, None)
        click.echo(json.dumps({**result.summary, "changed_files": [p.name for p in result.changed],
                               "pruned": [p.name for p in result.pruned],
                               "unchanged_inputs": result.unchanged_inputs, "replanned": result.replanned,
                               "incremental": result.incremental}, indent=2, sort_keys=True))
        sys.exit(EXIT_PARTIAL if result.partial else EXIT_OK)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = Console(stderr=True)
    if console.is_terminal:
        total = len(load_fleet(config).managed())
        with Progress(TextColumn("discovering"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.description}"), console=console, transient=True) as bar:
            task = bar.add_task("", total=total)

            def tick(name: str, discovery: Discovery) -> None:
                bar.update(task, advance=1, description=name)

            with cycle_collection_paused():
                result = run_analyze(config, state_dir, cache, prune, tick)
    else:
        def line(name: str, discovery: Discovery) -> None:
            status = f"error: {discovery.error}" if discovery.error else "ok"
            click.echo(f"discovered {name}: {status}", err=True)

        with cycle_collection_paused():
            result = run_analyze(config, state_dir, cache, prune, line)
    _print_summary(result, Console(highlight=False, soft_wrap=True))
    sys.exit(EXIT_PARTIAL if result.partial else EXIT_OK)
