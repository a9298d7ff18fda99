"""`image-factory graph`: the fleet's dependency graph, read from state/."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.commands.analyze import STATE_OPTION
from analyzer.graph import DependencyGraph, build_graph
from analyzer.state.model import ImageState
from analyzer.state.store import load_states


def graph_from_states(states: dict[str, ImageState]) -> DependencyGraph:
    """Rebuild the dependency graph from managed images' recorded bases."""
    return build_graph({
        state.name: [(b.parent or b.tracked or "", b.kind == "managed")
                     for b in state.managed.bases if b.kind != "pinned"]
        for state in states.values() if state.managed is not None and state.name
    })


def text_lines(graph: DependencyGraph) -> list[str]:
    """One line per managed image, parents before children: `child <- parent (kind), …`."""
    lines = []
    for name in graph.topological_order():
        parents = [f"{p} (managed)" for p in graph.parents.get(name, ())]
        parents += [f"{e} (external)" for e in graph.externals.get(name, ())]
        lines.append(f"{name} <- {', '.join(parents) if parents else '(no tracked base)'}")
    return lines


@click.command("graph")
@STATE_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(state_dir: Path, fmt: str) -> None:
    """Print the dependency graph of managed images (run `analyze` first)."""
    graph = graph_from_states(load_states(state_dir))
    if fmt == "json":
        click.echo(json.dumps({
            "order": graph.topological_order(),
            "edges": [{"child": e.child, "parent": e.parent, "internal": e.internal} for e in graph.edges()],
        }, indent=2))
    else:
        for line in text_lines(graph):
            click.echo(line)
