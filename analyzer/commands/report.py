"""`image-factory report --out DIR`: a static HTML status page (index.html + graph.svg), no server needed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
import graphviz

from analyzer.commands.options import at_option, resolve_at, state_option
from analyzer.planning.timeline import plan
from analyzer.state.store import load_states
from analyzer.visual.graphdot import fleet_picture, render_svg, to_dot
from analyzer.visual.layered import layered_svg
from analyzer.visual.report import render_report


@click.command("report")
@state_option()
@at_option()
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("report"), show_default=True,
              help="Directory for index.html and graph.svg.")
def command(state_dir: Path, at: datetime | None, out: Path) -> None:
    """Write the fleet status page: graph picture, image table, timeline and recent rebuilds."""
    states = load_states(state_dir)
    if not states:
        click.echo(f"warning: no state in {state_dir}: run `image-factory analyze` first", err=True)
    timeline = plan(states, resolve_at(at))
    picture = fleet_picture(states, timeline)
    try:
        svg = render_svg(to_dot(picture, legend=False))
        standalone = render_svg(to_dot(picture))
    except graphviz.ExecutableNotFound:
        click.echo("note: `dot` not found (Debian package `graphviz`): the graph is laid out by the built-in "
                   "layered layout", err=True)
        svg, standalone = layered_svg(picture, legend=False), layered_svg(picture)
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph.svg").write_text(standalone, encoding="utf-8")
    (out / "index.html").write_text(render_report(states, timeline, svg), encoding="utf-8")
    click.echo(f"wrote {out / 'index.html'}")
