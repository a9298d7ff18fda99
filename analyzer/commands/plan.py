"""`image-factory plan`: when each held digest clears its gate and when each managed image will rebuild."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from analyzer.commands.options import at_option, json_option, resolve_at, state_option
from analyzer.config.durations import format_duration
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError
from analyzer.planning.export import iso, plan_as_dict, what_if
from analyzer.planning.timeline import Plan, PlanningError, plan, plan_assuming_update
from analyzer.state.store import load_states
from analyzer.visual.graphdot import short_digest


def _when(text: str | None) -> str:
    """An ISO time for people: to the minute, UTC (`2026-11-23 06:00`)."""
    if not text:
        return "—"
    return f"{datetime.fromisoformat(text.replace('Z', '+00:00')):%Y-%m-%d %H:%M}"


def plan_lines(timeline: Plan) -> list[str]:
    """The plan for people: gates per base, images parents-first, then the cascade in order."""
    lines = [f"Plan as of {_when(iso(timeline.at))} UTC", "", "Bases (gate per delay: eligible digest, held digests)"]
    for base in timeline.bases:
        lines.append(f"  {base.ref}  current {short_digest(base.current)}, {base.seen} digest(s) seen")
        if not base.gates:
            lines.append("    monitored only: nothing is built on it")
        for gate in base.gates:
            eligible = (f"{short_digest(gate.eligible.digest)} (cleared {_when(iso(gate.eligible.clears_at))})"
                        if gate.eligible else "none yet")
            lines.append(f"    gate {gate.delay_text} for {', '.join(gate.users)}: eligible {eligible}")
            for held in gate.held:
                lines.append(f"      held {short_digest(held.digest)} first seen {_when(iso(held.first_seen))}, "
                             f"clears {_when(iso(held.clears_at))}")
    lines += ["", "Images (parents first)"]
    width = max((len(i.name) for i in timeline.images), default=0)
    for image in timeline.images:
        stale = f"; stale since {_when(iso(image.stale_since))}" if image.stale_since else ""
        manual = "; manual promotion (autoRebuild off)" if not image.auto_rebuild else ""
        lines.append(f"  {image.name:<{width}}  {image.status:<10}  {image.reason}{stale}{manual}")
        for ref, longer in sorted(image.waits_longer.items()):
            lines.append(f"  {'':<{width}}  {'':<10}  note: its delay {image.delay_text} is shorter than its "
                         f"parents'; {ref} digests reach it after {format_duration(longer)}")
    lines += ["", "Cascade (earliest time, parents before children)"]
    if not timeline.cascade:
        lines.append("  nothing to rebuild")
    for rebuild in timeline.cascade:
        onto = ", ".join(f"{ref}@{short_digest(rebuild.onto[ref])}" for ref in rebuild.changed)
        lines.append(f"  {rebuild.step:>3}. {_when(iso(rebuild.at))}  {rebuild.image}  onto {onto}")
    answer = what_if(timeline)
    if answer is not None:
        lines += ["", f"What if {answer['base']} moved at {_when(str(answer['at']))}:"]
        rebuilds = answer["rebuilds"]
        assert isinstance(rebuilds, dict)
        if not rebuilds:
            lines.append("  no managed image depends on it")
        for name, when in rebuilds.items():
            lines.append(f"  {name:<{width}}  " + (f"rebuilt {_when(when)}" if when else "not rebuilt (blocked)"))
    return lines


@click.command("plan")
@state_option()
@at_option()
@click.option("--assume-update", "assume", metavar="BASE", default=None,
              help="What-if: plan as if BASE (e.g. python:3.12-slim) got a new digest at --at.")
@json_option("Print the plan as JSON.")
def command(state_dir: Path, at: datetime | None, assume: str | None, as_json: bool) -> None:
    """Show when each held digest clears its gate and when, in which order, each image will rebuild."""
    states = load_states(state_dir)
    if not states:
        click.echo(f"warning: no state in {state_dir}: run `image-factory analyze` first", err=True)
    when = resolve_at(at)
    try:
        if assume is not None:
            timeline = plan_assuming_update(states, parse_reference(assume).tracked, when)
        else:
            timeline = plan(states, when)
    except (PlanningError, InvalidReference) as exc:
        raise InputError.single("--assume-update", str(exc)) from None
    if as_json:
        click.echo(json.dumps(plan_as_dict(timeline), indent=2))
    else:
        for line in plan_lines(timeline):
            click.echo(line)
