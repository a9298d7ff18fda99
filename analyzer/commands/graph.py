"""`image-factory graph`: the fleet's dependency graph, read from state/, as text, JSON, DOT, SVG or Mermaid."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
import graphviz

from analyzer.commands.options import at_option, resolve_at, state_option
from analyzer.graph import DependencyGraph
from analyzer.planning.timeline import Plan, graph_from_states, plan
from analyzer.state.store import load_states
from analyzer.visual.graphdot import fleet_picture, render_svg, to_dot, to_json, to_mermaid
from analyzer.visual.layered import layered_svg

__all__ = ["command", "graph_from_states", "text_lines"]
FORMATS = ["text", "json", "dot", "svg", "mermaid"]


def text_lines(graph: DependencyGraph, status: Plan | None = None) -> list[str]:
    """One line per managed image, parents before children: `child <- parent (kind), …  [status]`."""
    lines = []
    for name in graph.topological_order():
        parents = [f"{p} (managed)" for p in graph.parents.get(name, ())]
        parents += [f"{e} (external)" for e in graph.externals.get(name, ())]
        line = f"{name} <- {', '.join(parents) if parents else '(no tracked base)'}"
        if status is not None:
            image = status.image(name)
            line += f"  [{image.status}{', STALE' if image.stale else ''}]"
        lines.append(line)
    return lines


@click.command("graph")
@state_option()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@at_option()
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def command(state_dir: Path, fmt: str, at: datetime | None, out: Path | None) -> None:
    """Print the dependency graph of managed images (run `analyze` first); stale images are marked."""
    states = load_states(state_dir)
    if not states:
        click.echo(f"warning: no state in {state_dir}: run `image-factory analyze` first", err=True)
    graph = graph_from_states(states)
    timeline = plan(states, resolve_at(at), graph)
    picture = fleet_picture(states, timeline)
    if fmt == "json":
        text = json.dumps({"order": graph.topological_order(), **to_json(picture)}, indent=2) + "\n"
    elif fmt == "dot":
        text = to_dot(picture).source
    elif fmt == "svg":
        try:
            text = render_svg(to_dot(picture))
        except graphviz.ExecutableNotFound:
            click.echo("note: `dot` not found (Debian package `graphviz`): built-in layered layout", err=True)
            text = layered_svg(picture)
    elif fmt == "mermaid":
        text = to_mermaid(picture)
    else:
        text = "".join(f"{line}\n" for line in text_lines(graph, timeline))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
