"""When will each image be rebuilt? A pure simulation over digest histories, delays and the graph.

Rules (the same the Kargo pipeline follows):

- A digest of a tracked base *clears* a managed image's gate at `first_seen + delay` (that image's delay),
  whether the image uses the base directly or through managed parents: an image is never rebuilt onto an
  upstream digest younger than its own delay, nor sooner than its parents.
- The digest a rebuild uses is the newest one known for at least the delay: a tag that moves more often
  than the delay still gets rebuilds, each onto an aged digest (no starvation).
- A managed image uses a base digest only once it is available on every path to that base: cleared by its
  own gate when it uses the base directly, and built into every managed parent that depends on the base.
  So parents rebuild before children, and a child rebuilds once, after all its moving parents.
- A failed rebuild is not retried on the same digests; its children never receive those digests through
  it (the branch stops) until a newer digest arrives and the retry succeeds.

Only `at` and the states decide the result; nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from analyzer.config.durations import format_duration, parse_duration
from analyzer.graph import DependencyGraph, build_graph
from analyzer.registry.eligibility import content_key, eligible_digest
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, dependency_targets

Status = Literal["up-to-date", "eligible", "held", "failed", "blocked", "unknown"]
STATUSES: tuple[Status, ...] = ("eligible", "held", "failed", "blocked", "up-to-date", "unknown")
STATUS_TEXT: dict[Status, str] = {
    "up-to-date": "up to date",
    "eligible": "eligible: rebuild due now",
    "held": "held: newer digest soaking",
    "failed": "failed: last rebuild failed",
    "blocked": "blocked: a parent failed",
    "unknown": "unknown: no digest history",
}
ASSUMED_DIGEST = "sha256:" + "0" * 56 + "a55e3d00"
"""The placeholder digest `assume_update` adds: recognisable, valid in form, never a real image."""


@dataclass(frozen=True)
class GateDigest:
    """One digest of a base, as one delay's gate sees it at the planning time."""

    digest: str
    first_seen: datetime
    clears_at: datetime
    cleared: bool


@dataclass(frozen=True)
class Gate:
    """A base's soak gate for one delay: what has cleared and what is still held (queued, oldest first)."""

    delay: timedelta
    users: tuple[str, ...]
    """Managed images that use the base directly with this delay."""
    eligible: GateDigest | None
    held: tuple[GateDigest, ...]

    @property
    def delay_text(self) -> str:
        return format_duration(self.delay)


@dataclass(frozen=True)
class BaseTimeline:
    ref: str
    current: str | None
    dependents: tuple[str, ...]
    gates: tuple[Gate, ...]
    """One per delay in use; empty for a monitored image nothing is built on."""
    seen: int
    """How many digests the history holds."""


@dataclass(frozen=True)
class Rebuild:
    """One (simulated) rebuild of a managed image, onto one digest of every base it depends on."""

    image: str
    at: datetime
    onto: Mapping[str, str]
    """External tracked ref → digest, for every base in the image's closure that has a known digest."""
    changed: tuple[str, ...]
    """The refs whose digest moved, i.e. why this rebuild happens."""
    step: int = 0
    """Position in the whole cascade (1-based): parents always come before their children."""


@dataclass(frozen=True)
class ImagePlan:
    name: str
    ref: str
    delay: timedelta
    auto_rebuild: bool
    parents: tuple[str, ...]
    externals: tuple[str, ...]
    """External refs used directly."""
    closure: tuple[str, ...]
    """Every external ref the image depends on, directly or through parents."""
    status: Status
    reason: str
    last_built: datetime | None
    built_on: Mapping[str, str]
    newest_vetted: Mapping[str, str]
    """Direct external ref → newest digest cleared by this image's gate at the planning time."""
    stale_since: datetime | None
    """Since when a newer digest has been available and not built in (None when not stale)."""
    last_failure: datetime | None
    rebuilds: tuple[Rebuild, ...]
    """Every rebuild the simulation predicts from now on, in time order."""
    waits_longer: Mapping[str, timedelta] = field(default_factory=dict)
    """Upstream ref → the delay its parents impose when longer than this image's own: a shorter delay
    in images.yaml cannot make it rebuild sooner than they do."""

    @property
    def next_rebuild(self) -> Rebuild | None:
        return self.rebuilds[0] if self.rebuilds else None

    @property
    def delay_text(self) -> str:
        return format_duration(self.delay)

    @property
    def stale(self) -> bool:
        return self.stale_since is not None


@dataclass(frozen=True)
class Plan:
    at: datetime
    bases: tuple[BaseTimeline, ...]
    images: tuple[ImagePlan, ...]
    """Managed images, parents before children."""
    cascade: tuple[Rebuild, ...]
    """Every predicted rebuild, by time then dependency order."""
    assumed: tuple[str, datetime] | None = None
    """The `assume_update` what-if this plan was made with: (base ref, time)."""

    def image(self, name: str) -> ImagePlan:
        for plan in self.images:
            if plan.name == name:
                return plan
        raise KeyError(name)

    def base(self, ref: str) -> BaseTimeline:
        for base in self.bases:
            if base.ref == ref:
                return base
        raise KeyError(ref)

    def first_onto(self, name: str, ref: str, digest: str) -> Rebuild | None:
        """The first predicted rebuild of `name` that uses `digest` of `ref` (what-if answers)."""
        for rebuild in self.image(name).rebuilds:
            if rebuild.onto.get(ref) == digest:
                return rebuild
        return None

    def summary(self) -> dict[str, int]:
        """Counts for dashboards and stack outputs: images per status, stale images, held digests."""
        counts = {status: 0 for status in STATUSES}
        for image in self.images:
            counts[image.status] += 1
        return {
            "managed": len(self.images),
            **{status.replace("-", "_"): n for status, n in counts.items()},
            "stale": sum(1 for i in self.images if i.stale),
            "bases": len(self.bases),
            "held_digests": len({(b.ref, d.digest) for b in self.bases for g in b.gates for d in g.held}),
            "predicted_rebuilds": len(self.cascade),
        }


class PlanningError(ValueError):
    """States that cannot be planned (e.g. an unknown base for a what-if); the message says which."""


# --- graph and histories ---------------------------------------------------------------------------


def graph_from_states(states: Mapping[str, ImageState]) -> DependencyGraph:
    """The dependency graph from managed images' recorded bases (pinned bases are not tracked)."""
    return build_graph({state.name: dependency_targets(state.managed.bases)
                        for state in states.values() if state.managed is not None and state.name})


def _history(states: Mapping[str, ImageState], ref: str) -> list[DigestRecord]:
    """A base's digests, oldest to newest; "newest" = most recently current (last_seen), as the registry
    refresher judges it, so a tag reverted to an older digest is followed back."""
    state = states.get(ref)
    records = state.digests.history if state is not None else []
    ordered: dict[str, DigestRecord] = {}
    for record in sorted(records, key=lambda r: (r.last_seen, r.first_seen)):
        ordered.setdefault(record.digest, record)
    return list(ordered.values())


def assume_update(states: Mapping[str, ImageState], base: str, at: datetime,
                  digest: str = ASSUMED_DIGEST) -> dict[str, ImageState]:
    """What-if: a copy of `states` in which `base` moved to a new digest at `at`."""
    state = states.get(base)
    if state is None or state.kind != "external":
        known = ", ".join(sorted(r for r, s in states.items() if s.kind == "external")) or "none"
        raise PlanningError(f"unknown base {base!r}: not a tracked external image (known: {known})")
    record = DigestRecord(digest=digest, first_seen=at, last_seen=at)
    history = DigestHistory(current=digest, history=[*state.digests.history, record])
    return {**states, base: state.model_copy(update={"digests": history})}


# --- the simulation --------------------------------------------------------------------------------


@dataclass
class _Image:
    """Mutable simulation state of one managed image."""

    name: str
    delay: timedelta
    direct: tuple[str, ...]
    parents: tuple[str, ...]
    closure: tuple[str, ...]
    built_on: dict[str, str]
    platforms: tuple[str, ...] = ()
    """Platforms the image is built for; empty: every platform matters."""
    built_at: dict[str, dict[str, datetime]] = field(default_factory=dict)
    """External ref → digest → when this image was first built on it (real or predicted)."""
    failed: dict[str, str] | None = None
    """Digests of a failed attempt not yet superseded by a success."""
    failed_at: datetime | None = None
    rebuilds: list[Rebuild] = field(default_factory=list)


class _Simulation:
    def __init__(self, states: Mapping[str, ImageState], graph: DependencyGraph) -> None:
        self.graph = graph
        self.order = graph.topological_order()
        self.states = {s.name: s for s in states.values() if s.managed is not None and s.name}
        refs = {ref for name in self.order for ref in graph.external_closure(name)}
        self.histories = {ref: _history(states, ref) for ref in refs}
        self.rank = {ref: {r.digest: i for i, r in enumerate(h)} for ref, h in self.histories.items()}
        self.first_seen = {ref: {r.digest: r.first_seen for r in h} for ref, h in self.histories.items()}
        self.records = {ref: {r.digest: r for r in h} for ref, h in self.histories.items()}
        self.images = {name: self._initial(name) for name in self.order}
        self.delays = {name: image.delay for name, image in self.images.items()}
        self.effective = graph.effective_delays(self.delays)

    def _initial(self, name: str) -> _Image:
        state = self.states[name]
        assert state.managed is not None
        closure = tuple(sorted(self.graph.external_closure(name)))
        image = _Image(name=name, delay=parse_duration(state.managed.delay),
                       direct=tuple(self.graph.externals.get(name, ())),
                       parents=tuple(self.graph.parents.get(name, ())), closure=closure, built_on={},
                       platforms=tuple(state.managed.platforms))
        for record in sorted(state.rebuilds, key=lambda r: r.at):
            if record.outcome == "succeeded":
                image.failed, image.failed_at = None, None
                for ref, digest in record.base_digests.items():
                    image.built_on[ref] = digest
                    image.built_at.setdefault(ref, {}).setdefault(digest, record.at)
            else:
                image.failed, image.failed_at = dict(record.base_digests), record.at
        return image

    def relevant(self, image: _Image, ref: str, digest: str, than: str | None) -> bool:
        """Whether `digest` changes what `image` gets from `ref` on its platforms, compared with `than`
        (the rule the gate applies: a change to arm64 only is not an update for an amd64-only image)."""
        new, old = self.records.get(ref, {}).get(digest), self.records.get(ref, {}).get(than or "")
        if new is None or old is None:
            return True
        return content_key(new, image.platforms) != content_key(old, image.platforms)

    def newer(self, ref: str, digest: str | None, than: str | None) -> bool:
        if digest is None:
            return False
        if than is None:
            return True
        ranks = self.rank.get(ref, {})
        return ranks.get(digest, -1) > ranks.get(than, -1)

    def available(self, image: _Image, ref: str, t: datetime) -> dict[str, datetime]:
        """Digests of `ref` that `image` may use at `t` → since when (the latest of all its paths).

        The image's own delay applies to every upstream digest, direct or through parents (the rendered
        rebuild Stage requires the soak Stage at its delay whenever that outlasts its parents')."""
        since: dict[str, datetime] = {
            d: seen + image.delay for d, seen in self.first_seen.get(ref, {}).items() if seen + image.delay <= t}
        for parent in image.parents:
            if ref not in self.images[parent].closure:
                continue
            built = {d: when for d, when in self.images[parent].built_at.get(ref, {}).items() if when <= t}
            since = {d: max(since[d], built[d]) for d in since if d in built}
        return since

    def candidate(self, image: _Image, ref: str, t: datetime) -> str | None:
        ranks = self.rank.get(ref, {})
        usable = self.available(image, ref, t)
        return max(usable, key=lambda d: ranks.get(d, -1)) if usable else None

    def step(self, t: datetime) -> None:
        for name in self.order:
            image = self.images[name]
            target = {ref: cand for ref in image.closure if (cand := self.candidate(image, ref, t))}
            changed = tuple(ref for ref, d in target.items() if self.newer(ref, d, image.built_on.get(ref))
                            and self.relevant(image, ref, d, image.built_on.get(ref)))
            if not changed:
                continue
            onto = {**image.built_on, **{ref: target[ref] for ref in changed}}
            if image.failed is not None and not any(self._beyond_failure(image, ref, onto[ref], t)
                                                    for ref in changed):
                continue  # the same digests already failed: no automatic retry
            image.failed, image.failed_at = None, None
            image.built_on = onto
            for ref in changed:
                image.built_at.setdefault(ref, {}).setdefault(onto[ref], t)
            image.rebuilds.append(Rebuild(image=name, at=t, onto=dict(sorted(onto.items())),
                                          changed=tuple(sorted(changed))))

    def _beyond_failure(self, image: _Image, ref: str, digest: str, t: datetime) -> bool:
        """Whether `digest` is new since the failed attempt (newer than what it tried, or arrived later)."""
        assert image.failed is not None and image.failed_at is not None
        if ref in image.failed:
            return self.newer(ref, digest, image.failed[ref])
        return self.available(image, ref, t).get(digest, t) > image.failed_at

    def event_times(self, at: datetime) -> list[datetime]:
        times = {at}
        for image in self.images.values():
            for ref in image.closure:
                times.update(seen + image.delay for seen in self.first_seen.get(ref, {}).values()
                             if seen + image.delay > at)
        return sorted(times)


def known_at(states: Mapping[str, ImageState], at: datetime) -> dict[str, ImageState]:
    """States as they were at `at`: digests first seen later and rebuilds recorded later are left out,
    so planning as of a past time does not use what was learnt afterwards."""
    out = {}
    for ref, state in states.items():
        history = [r.model_copy(update={"last_seen": min(r.last_seen, at)})
                   for r in state.digests.history if r.first_seen <= at]
        rebuilds = [r for r in state.rebuilds if r.at <= at]
        if len(history) == len(state.digests.history) and len(rebuilds) == len(state.rebuilds) \
                and all(r.last_seen <= at for r in state.digests.history):
            out[ref] = state
            continue
        current = max(history, key=lambda r: (r.last_seen, r.first_seen)).digest if history else None
        out[ref] = state.model_copy(update={"digests": DigestHistory(current=current, history=history),
                                            "rebuilds": rebuilds})
    return out


def plan(states: Mapping[str, ImageState], at: datetime, graph: DependencyGraph | None = None) -> Plan:
    """The timeline from `at` on: every gate's held digests and every managed image's predicted rebuilds."""
    graph = graph or graph_from_states(states)
    states = known_at(states, at)
    sim = _Simulation(states, graph)
    initial = {name: (dict(img.built_on), img.failed) for name, img in sim.images.items()}
    stale = _stale_since(sim, at)
    for t in sim.event_times(at):
        sim.step(t)

    position = {name: i for i, name in enumerate(sim.order)}
    cascade = sorted((r for img in sim.images.values() for r in img.rebuilds),
                     key=lambda r: (r.at, position[r.image]))
    numbered = [replace(r, step=i) for i, r in enumerate(cascade, start=1)]
    by_image: dict[str, list[Rebuild]] = {}
    for rebuild in numbered:
        by_image.setdefault(rebuild.image, []).append(rebuild)

    failed_names = {name for name, (_, failed) in initial.items() if failed is not None}
    images = []
    for name in sim.order:
        image = sim.images[name]
        built_on, _ = initial[name]
        state = sim.states[name]
        assert state.managed is not None
        rebuilds = tuple(by_image.get(name, []))
        succeeded = [r.at for r in state.rebuilds if r.outcome == "succeeded"]
        failures = [r.at for r in state.rebuilds if r.outcome == "failed"]
        status, reason = _status(sim, graph, name, rebuilds, at, failed_names, built_on)
        images.append(ImagePlan(
            name=name, ref=state.ref, delay=image.delay, auto_rebuild=state.managed.auto_rebuild,
            parents=image.parents, externals=image.direct, closure=image.closure,
            status=status, reason=reason,
            last_built=max(succeeded) if succeeded else None, built_on=built_on,
            newest_vetted={ref: d for ref in image.direct
                           if (d := _eligible(sim.histories.get(ref, []), image.delay, at))},
            stale_since=stale[name], last_failure=max(failures) if failures else None,
            rebuilds=rebuilds,
            waits_longer={ref: sim.effective[(name, ref)] for ref in image.closure
                          if sim.effective[(name, ref)] > image.delay},
        ))
    return Plan(at=at, bases=_bases(states, sim, at), images=tuple(images), cascade=tuple(numbered))


def state_as_of(states: Mapping[str, ImageState]) -> datetime | None:
    """The newest time recorded anywhere in the state (a digest seen or vetted, a rebuild), or None.

    Planning "as of the state" rather than "now" gives figures that change only when the state does
    (stack outputs must not change on every preview).
    """
    times = [t for s in states.values() for r in s.digests.history for t in (r.first_seen, r.last_seen, r.vetted_at)
             if t is not None]
    times += [r.at for s in states.values() for r in s.rebuilds]
    return max(times, default=None)


def status_summary(states: Mapping[str, ImageState]) -> dict[str, Any]:
    """Plan summary as of the state's newest record, for dashboards (`asOf` is null without any history)."""
    as_of = state_as_of(states)
    at = as_of or datetime(1970, 1, 1, tzinfo=UTC)
    return {"asOf": as_of.isoformat() if as_of else None, **plan(states, at).summary()}


def plan_assuming_update(states: Mapping[str, ImageState], base: str, at: datetime) -> Plan:
    """What-if: the plan if `base` moved to a new digest at `at`; see `Plan.first_onto(…, ASSUMED_DIGEST)`."""
    return replace(plan(assume_update(states, base, at), at), assumed=(base, at))


def _eligible(history: list[DigestRecord], delay: timedelta, at: datetime) -> str | None:
    """The newest digest known for at least `delay` at `at` (the rule `status` applies too)."""
    record = eligible_digest(DigestHistory(history=history), at, delay)
    return record.digest if record else None


def _stale_since(sim: _Simulation, at: datetime) -> dict[str, datetime | None]:
    """Per image, since when a usable digest newer than the one built in has waited (before any
    predicted rebuild); an image on a stale parent is stale at least since that parent is."""
    out: dict[str, datetime | None] = {}
    for name in sim.order:
        image = sim.images[name]
        since = [when for ref in image.closure for digest, when in sim.available(image, ref, at).items()
                 if sim.newer(ref, digest, image.built_on.get(ref))]
        since += [s for parent in image.parents if (s := out[parent]) is not None]
        out[name] = min(since) if since else None
    return out


def _status(sim: _Simulation, graph: DependencyGraph, name: str, rebuilds: tuple[Rebuild, ...],
            at: datetime, failed_names: set[str], built_on: Mapping[str, str]) -> tuple[Status, str]:
    """Status as of `at`; `built_on` is what the records say (before any predicted rebuild)."""
    image = sim.images[name]
    if name in failed_names:
        retry = f"; retry onto a newer digest at {_iso(rebuilds[0].at)}" if rebuilds else \
            "; no newer digest queued: needs a fix and a manual rebuild"
        return "failed", "last rebuild failed" + retry
    failed_ancestors = sorted(a for a in graph.ancestors(name) if a in failed_names)
    if failed_ancestors and (not rebuilds or rebuilds[0].at > at):
        then = f"; next rebuild {_iso(rebuilds[0].at)}" if rebuilds else ""
        return "blocked", "waiting for failed " + ", ".join(failed_ancestors) + then
    if not image.closure:
        return "unknown", "no tracked base (unresolved or pinned by digest)"
    if not any(sim.histories.get(ref) for ref in image.closure):
        return "unknown", "no digest seen yet for " + ", ".join(image.closure)
    if rebuilds and rebuilds[0].at <= at:
        first = "" if built_on else "no rebuild recorded yet; "
        return "eligible", first + "rebuild due now onto " + ", ".join(rebuilds[0].changed)
    if rebuilds:
        return "held", f"next rebuild {_iso(rebuilds[0].at)} onto " + ", ".join(rebuilds[0].changed)
    return "up-to-date", "built on the newest vetted digests"


def _bases(states: Mapping[str, ImageState], sim: _Simulation, at: datetime) -> tuple[BaseTimeline, ...]:
    out = []
    for ref, state in sorted(states.items()):
        if state.kind != "external":
            continue
        history = _history(states, ref)
        users: dict[timedelta, list[str]] = {}
        for image in sim.images.values():
            if ref in image.closure and sim.graph.gates_own_delay(image.name, ref, sim.delays, sim.effective):
                users.setdefault(image.delay, []).append(image.name)
        gates = []
        for delay, names in sorted(users.items()):
            seen = [GateDigest(r.digest, r.first_seen, r.first_seen + delay, r.first_seen + delay <= at)
                    for r in history]
            cleared = [d for d in seen if d.cleared]
            gates.append(Gate(delay=delay, users=tuple(sorted(names)), eligible=cleared[-1] if cleared else None,
                              held=tuple(d for d in seen if not d.cleared)))
        out.append(BaseTimeline(ref=ref, current=state.digests.current, dependents=tuple(state.dependents),
                                gates=tuple(gates), seen=len(history)))
    return tuple(out)


def _iso(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M}"
