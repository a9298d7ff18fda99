"""`image-factory status`: per managed image, its bases' newest and eligible digests under its delay."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import click

from analyzer.commands.options import at_option, config_option, json_option, resolve_at, state_option
from analyzer.config.durations import format_duration, parse_duration
from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from analyzer.planning.timeline import plan
from analyzer.registry.eligibility import BaseStatus, judge
from analyzer.registry.refresh import last_successful_rebuild
from analyzer.runtime.outcome import RebuildSummary, rebuild_summary
from analyzer.state.model import DigestHistory, ImageState, Unresolvable
from analyzer.state.store import load_states


def _age(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=max(int(delta.total_seconds()), 0)))


@dataclass(frozen=True)
class BaseLine:
    ref: str
    kind: str
    status: BaseStatus | None
    """None for a base pinned by digest (nothing to follow)."""

    def as_dict(self, now: datetime) -> dict[str, object]:
        status = self.status
        if status is None:
            return {"ref": self.ref, "kind": self.kind, "verdict": "pinned" if self.kind == "pinned" else "managed"}
        return {
            "ref": self.ref, "kind": self.kind, "verdict": status.verdict, "builtOn": status.built_on,
            "newest": status.newest.digest if status.newest else None,
            "newestFirstSeen": status.newest.first_seen.isoformat() if status.newest else None,
            "newestAge": _age(now - status.newest_known_since) if status.newest_known_since else None,
            "eligible": status.eligible.digest if status.eligible else None,
            "newestEligibleAt": status.eligible_at.isoformat() if status.eligible_at else None,
        }

    def text(self, now: datetime) -> list[str]:
        status = self.status
        if status is None and self.kind == "managed":
            return [f"  {self.ref}: managed parent (it is rebuilt by its own Stage; this image follows its "
                    "rebuilds: see the verdict above)"]
        if status is None:
            return [f"  {self.ref}: pinned"]
        newest = status.newest.digest if status.newest else "-"
        if status.newest_known_since:
            newest += f" (first seen {_age(now - status.newest_known_since)} ago)"
        eligible = status.eligible.digest if status.eligible else "-"
        if status.eligible_at:
            eligible += f" (newest becomes eligible at {status.eligible_at.isoformat()})"
        return [f"  {self.ref}: {status.verdict}", f"    built on: {status.built_on or '-'}",
                f"    newest:   {newest}", f"    eligible: {eligible}"]


@dataclass(frozen=True)
class ImageStatus:
    name: str | None
    ref: str
    delay: timedelta
    platforms: list[str]
    bases: list[BaseLine]
    rebuild: RebuildSummary
    unresolved: list[Unresolvable]
    verdict: tuple[str, str] | None = None
    """(status, reason) of the rebuild plan for this image: the same answer `plan` and the report give."""
    """FROM values discovery could not turn into an image: why an image may have no tracked base."""

    def as_dict(self, now: datetime) -> dict[str, object]:
        return {"name": self.name, "ref": self.ref, "delay": format_duration(self.delay),
                "platforms": self.platforms, "bases": [b.as_dict(now) for b in self.bases],
                "unresolved": [u.model_dump(mode="json") for u in self.unresolved],
                "verdict": {"status": self.verdict[0], "reason": self.verdict[1]} if self.verdict else None,
                "rebuild": self.rebuild.as_dict()}

    def text(self, now: datetime) -> list[str]:
        lines = [f"{self.name} ({self.ref}), delay {format_duration(self.delay)}"]
        if self.verdict:
            lines.append(f"  verdict: {self.verdict[0]}: {self.verdict[1]}")
        lines += [f"  unresolved FROM {u.value} ({u.dockerfile}:{u.line}): {u.reason}" for u in self.unresolved]
        for base in self.bases:
            lines += base.text(now)
        return lines + self.rebuild.text()


def image_status(state: ImageState, states: dict[str, ImageState], now: datetime) -> ImageStatus:
    assert state.managed is not None
    try:
        delay = parse_duration(state.managed.delay)
    except ValueError as exc:
        raise InputError.single(state.ref, str(exc), field_name="managed.delay") from None
    rebuild = last_successful_rebuild(state)
    bases: list[BaseLine] = []
    seen: set[str] = set()
    for base in state.managed.bases:
        key = base.tracked or base.image
        if key in seen:
            continue
        seen.add(key)
        if base.tracked is None or base.kind == "managed":
            # a managed parent is not gated by this image's delay: its rebuilds cascade (see the verdict)
            bases.append(BaseLine(base.tracked or base.image, base.kind, None))
            continue
        history = states[base.tracked].digests if base.tracked in states else DigestHistory()
        built_on = rebuild.base_digests.get(base.tracked) if rebuild else None
        bases.append(BaseLine(base.tracked, base.kind,
                              judge(history, now, delay, state.managed.platforms, built_on)))
    return ImageStatus(state.name, state.ref, delay, list(state.managed.platforms), bases, rebuild_summary(state),
                       list(state.managed.unresolved))


@click.command("status")
@config_option("Root enrollment file; when given, images are listed in enrollment order and enrolled images "
               "without state are reported.", name="config_path", default=None)
@state_option()
@at_option("Evaluate at this ISO 8601 time instead of now.")
@json_option("Print a JSON report.")
def command(config_path: Path | None, state_dir: Path, at: datetime | None, as_json: bool) -> None:
    """Show, per managed image, whether a base has a digest eligible for rebuild under its delay."""
    now = resolve_at(at)
    states = load_states(state_dir)
    managed = {ref: s for ref, s in states.items() if s.kind == "managed" and s.managed is not None}
    order = sorted(managed, key=lambda r: (managed[r].name or "", r))
    missing: list[str] = []
    if config_path is not None:
        fleet = load_fleet(config_path)
        enrolled = [image.ref.tracked for image in fleet.managed()]
        missing = [ref for ref in enrolled if ref not in managed]
        order = [ref for ref in enrolled if ref in managed]
    timeline = plan(states, now)
    verdicts = {image.name: (image.status, image.reason) for image in timeline.images}
    images = [replace(image_status(managed[ref], states, now), verdict=verdicts.get(managed[ref].name or ""))
              for ref in order]
    if as_json:
        click.echo(json.dumps({"at": now.isoformat(), "images": [i.as_dict(now) for i in images],
                               "notAnalyzed": missing}, indent=2))
        return
    for image in images:
        for line in image.text(now):
            click.echo(line)
    for ref in missing:
        click.echo(f"{ref}: enrolled but not analyzed yet (no state file)")
