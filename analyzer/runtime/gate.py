"""The soak gate: hold a base digest until its own first-seen time + delay, then vet it.

Pure decisions (remaining wait here; platform relevance and coalescing in `registry.eligibility`, the
one home of the digest rules that status and plan use too) are separate from the IO shell `run_gate`, which
reads state, the Freight time and the registry, sleeps, and records `vetted_at`. The remaining wait is
computed from the first-seen time at start, so a restarted pod resumes instead of starting over.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from analyzer.config.durations import format_duration
from analyzer.discovery.reference import ImageRef, parse_reference
from analyzer.registry.client import RegistryClient
from analyzer.registry.eligibility import (
    DependentBuild,
    Relevance,
    Successor,
    coalesce,
    delay_key,
    platform_relevance,
    successor_candidates,
)
from analyzer.registry.errors import NotFound, RegistryError, Unauthorized
from analyzer.registry.manifest import index_platforms
from analyzer.runtime.firstseen import FirstSeenError, FirstSeenSource, history_first_seen
from analyzer.runtime.records import SkippedRecord, VettedRecord, state_ref_for
from analyzer.runtime.signature import SignatureKeyError, check_signature
from analyzer.runtime.stateaccess import StateAccess
from analyzer.state.model import ImageState

MAX_SLEEP = timedelta(hours=1)
"""Sleep in slices, logging progress, and re-reading the clock after each."""
RETRY_EVERY = timedelta(minutes=5)
"""After the soak, an outage (registry 5xx, unreadable platforms) is retried in the pod at this pace for
`GateRequest.retry_for` before the job gives up with exit 1 (then the Job may retry the pod)."""


@dataclass(frozen=True)
class GateRequest:
    warehouse: str
    repository: str
    tag: str
    digest: str
    delay: timedelta
    cosign_key: Path | None = None
    """PEM public key the upstream signs with; None: signatures are not checked (and the log says so)."""
    retry_for: timedelta = timedelta(minutes=30)
    """How long to keep re-checking after the soak while an outage gets in the way; the template passes
    half the Job's deadline margin, so the retries end before the deadline."""

    @property
    def ref(self) -> str:
        return parse_reference(f"{self.repository}:{self.tag}").tracked


GateVerdict = Literal["vetted", "refused", "skipped", "retry", "misconfigured"]
"""vetted: pass. refused/skipped: a definitive verdict on this digest (retrying cannot change it).
retry: an outage got in the way (the Job retries the pod). misconfigured: a setting is missing or wrong."""


@dataclass(frozen=True)
class GateOutcome:
    verdict: GateVerdict
    reason: str

    @property
    def passed(self) -> bool:
        return self.verdict == "vetted"


def remaining_wait(first_seen: datetime, delay: timedelta, now: datetime) -> timedelta:
    return max(first_seen + delay - now, timedelta(0))


def _dependent_states(base: ImageState, states: Mapping[str, ImageState]) -> list[ImageState]:
    by_name = {s.name: s for s in states.values() if s.name}
    found = [by_name.get(d) or states.get(d) for d in base.dependents]
    return [s for s in found if s is not None and s.kind == "managed"]


def dependent_builds(ref: str, states: Mapping[str, ImageState],
                     platforms_of: Callable[[str], Mapping[str, str] | None]) -> list[DependentBuild]:
    base = states.get(ref)
    if base is None:
        return []
    builds = []
    for dep in _dependent_states(base, states):
        succeeded = [r for r in dep.rebuilds if r.outcome == "succeeded" and ref in r.base_digests]
        last = max(succeeded, key=lambda r: r.at).base_digests[ref] if succeeded else None
        builds.append(DependentBuild(
            name=dep.name or dep.ref,
            platforms=tuple(dep.managed.platforms if dep.managed else ()),
            built_on=last, built_on_platforms=platforms_of(last) if last else None))
    return builds


Log = Callable[[str], None]


@dataclass
class GateIO:
    state: StateAccess
    registry: RegistryClient
    first_seen_source: FirstSeenSource | None
    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    log: Log


def _first_seen(request: GateRequest, key: str, states: Mapping[str, ImageState], io: GateIO
                ) -> tuple[datetime, str]:
    if io.first_seen_source is not None:
        try:
            when = io.first_seen_source.first_seen(request.warehouse, request.repository, request.digest)
        except FirstSeenError as exc:
            io.log(f"Freight time unavailable ({exc}); using the state history")
        else:
            if when is not None:
                return when, "Freight discovery time"
    when = history_first_seen(states, key, request.digest)
    if when is not None:
        return when, "state history"
    return io.now(), "now (digest not seen before)"


def _wait(until: datetime, io: GateIO) -> None:
    while True:
        left = until - io.now()
        if left <= timedelta(0):
            return
        io.log(f"waiting {format_duration(timedelta(seconds=int(left.total_seconds()) or 1))} "
               f"until {until.isoformat()}")
        io.sleep(min(left, MAX_SLEEP).total_seconds())


def _platforms_from(states: Mapping[str, ImageState], ref: str, io: GateIO) -> Callable[[str], dict[str, str] | None]:
    parsed = parse_reference(ref)
    history = {r.digest: r for r in states[ref].digests.history} if ref in states else {}

    def lookup(digest: str) -> dict[str, str] | None:
        record = history.get(digest)
        if record is not None and record.platforms:
            return dict(record.platforms)
        try:
            manifest = io.registry.manifest(parsed, digest)
        except RegistryError as exc:
            io.log(f"cannot read {ref}@{digest[:19]} for the platform comparison: {exc.message}")
            return None
        return index_platforms(manifest.data) if manifest.is_index else {}

    return lookup


def _registry_outcome(what: str, exc: RegistryError) -> GateOutcome:
    """A registry failure as a gate verdict: gone is definitive, refused credentials are a setting to fix,
    anything else (5xx, rate limit, timeouts) is an outage worth a retry of the pod."""
    if isinstance(exc, NotFound):
        return GateOutcome("refused", f"{what}: {exc.message}")
    if isinstance(exc, Unauthorized):
        return GateOutcome("misconfigured", f"{what}: {exc.message} (registry credentials missing or "
                                            "insufficient: check the registry Secret in jobSecrets)")
    return GateOutcome("retry", f"{what}: {exc.message}")


def _resolve(parsed: ImageRef, digest: str, io: GateIO) -> GateOutcome | None:
    """None when `digest` still resolves upstream (HEAD by digest, not a mirror: cheap, not a pull)."""
    try:
        head = io.registry.head_tag(dataclasses.replace(parsed, tag=digest))
    except RegistryError as exc:
        return _registry_outcome("digest no longer resolves", exc)
    if head.digest != digest:
        return GateOutcome("refused", f"registry answered {head.digest} for {digest}")
    return None


def _successors(request: GateRequest, key: str, first_seen: datetime, states: Mapping[str, ImageState],
                lookup: Callable[[str], Mapping[str, str] | None], dependents: Sequence[DependentBuild],
                io: GateIO) -> list[Successor]:
    """Check the coalescing candidates newest first, stopping at the first that supersedes (IO)."""
    history = states[key].digests
    parsed = parse_reference(request.ref)
    found: list[Successor] = []
    for record in successor_candidates(history, request.digest, first_seen, request.delay, io.now()):
        gone = _resolve(parsed, record.digest, io)
        if gone is None and request.cosign_key is not None:  # it would be refused unsigned: cannot supersede
            signature = check_signature(io.registry, parsed, record.digest, request.cosign_key)
            if not signature.ok:
                found.append(Successor(record.digest, record.first_seen, True, False, signature.reason))
                continue
        platforms = lookup(record.digest) if gone is None else None
        relevance = (platform_relevance(record.digest, platforms, dependents) if platforms is not None
                     else Relevance(False, gone.reason if gone else "platforms unreadable"))
        found.append(Successor(record.digest, record.first_seen, gone is None, relevance.relevant,
                               relevance.reason))
        if gone is None and relevance.relevant:
            break
    return found


def _coalescible(request: GateRequest, key: str, states: Mapping[str, ImageState]) -> bool:
    """Only a Warehouse following one mutable tag (Digest strategy) has newer digests of *the same tag*."""
    state = states.get(key)
    if state is None or key != request.ref:
        return False
    return state.warehouse is None or state.warehouse.image_selection_strategy == "Digest"


def _after_soak(request: GateRequest, key: str, first_seen: datetime, states: Mapping[str, ImageState],
                io: GateIO) -> GateOutcome:
    """The checks once the digest has soaked, and the record of the verdict (vetted or skipped)."""
    parsed = parse_reference(request.ref)
    gone = _resolve(parsed, request.digest, io)
    if gone is not None:
        return gone
    try:
        signature = check_signature(io.registry, parsed, request.digest, request.cosign_key)
    except SignatureKeyError as exc:
        return GateOutcome("misconfigured", f"unusable cosign key: {exc}")
    if not signature.ok:
        return GateOutcome("retry" if signature.transient else "refused", signature.reason)
    io.log(signature.reason)
    lookup = _platforms_from(states, key, io)
    platforms = lookup(request.digest)
    if platforms is None:
        return GateOutcome("retry", f"cannot read the platforms of {request.digest}")
    dependents = dependent_builds(key, states, lookup)
    relevance = platform_relevance(request.digest, platforms, dependents)
    if not relevance.relevant:
        return GateOutcome("refused", relevance.reason)
    if _coalescible(request, key, states):
        successors = _successors(request, key, first_seen, states, lookup, dependents, io)
        decision = coalesce(states[key].digests, request.digest, first_seen, request.delay, io.now(), successors)
        if decision.skip and decision.superseded_by is not None:
            where = io.state.record([SkippedRecord(ref=key, digest=request.digest, at=io.now(),
                                                   delay=delay_key(request.delay),
                                                   superseded_by=decision.superseded_by,
                                                   reason=decision.reason, first_seen=first_seen)])
            return GateOutcome("skipped", f"skipped {request.ref}@{request.digest}: {decision.reason}; {where}")
        io.log(decision.reason)
    where = io.state.record([VettedRecord(ref=key, digest=request.digest, at=io.now(), first_seen=first_seen,
                                          platforms=tuple(sorted(platforms.items())),
                                          delay=delay_key(request.delay))])
    return GateOutcome("vetted", f"vetted {request.ref}@{request.digest} ({relevance.reason}); {where}")


def run_gate(request: GateRequest, io: GateIO) -> GateOutcome:
    """Wait out the soak, then pass only a digest that still exists, changes a used platform and is not
    superseded by a newer digest of the tag that clears too (coalescing; then SKIPPED and recorded)."""
    states = io.state.load()
    key = state_ref_for(states, request.ref)
    # Fail before a week-long wait when the registry refuses our credentials or the digest is gone
    # (an outage here is only logged: the digest is checked again after the wait).
    preflight = _resolve(parse_reference(request.ref), request.digest, io)
    if preflight is not None and preflight.verdict == "retry":
        io.log(f"cannot check the digest yet: {preflight.reason}")
    elif preflight is not None:
        return preflight
    first_seen, source = _first_seen(request, key, states, io)
    until = first_seen + request.delay
    left = remaining_wait(first_seen, request.delay, io.now())
    io.log(f"{request.ref}@{request.digest}: first seen {first_seen.isoformat()} ({source}); "
           f"delay {format_duration(request.delay)}; remaining {format_duration(left)}")
    if left > timedelta(0):
        _wait(until, io)
        states = io.state.load()  # dependents may have been rebuilt while we waited
    give_up = io.now() + request.retry_for
    while True:
        outcome = _after_soak(request, key, first_seen, states, io)
        if outcome.verdict != "retry" or io.now() + RETRY_EVERY > give_up:
            return outcome
        io.log(f"{outcome.reason}; checking again in {format_duration(RETRY_EVERY)}")
        io.sleep(RETRY_EVERY.total_seconds())
        states = io.state.load()
