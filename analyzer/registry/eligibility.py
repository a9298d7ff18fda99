"""Pure: which digest of a tag an image may be rebuilt onto now, under its delay.

Rule: the newest digest that has been known for at least the delay. "Newest" means most recently
current (last_seen), so a tag reverted to an older digest is followed back; and a tag that moves
more often than the delay still yields an aged digest to rebuild onto — never starve.

Platform-aware: for an image built for `linux/amd64` only, two digests whose amd64 manifests are
equal are the same thing, so a change that only touches arm64 is not an update for it, and its age
is that of the first digest carrying the same amd64 manifest.

Coalescing (`coalesce`, used by the soak gate): Kargo verifies a soak Stage's Freight first in, first
out, so a tag that moves daily would clear one digest — and cascade a fleet-wide rebuild — per day.
A digest that has soaked is SKIPPED when a newer digest of the same tag, first seen no later than the
*anchor*, still resolves and is platform-relevant: that newer digest clears the same gate later and
carries the change. The anchor is the time of the first skip since this (tag, delay) gate last vetted
a digest, or now when nothing has been skipped since. So once skipping starts at A, only digests first
seen by A can supersede; the newest of them has no successor in the window and clears by A + delay:
at most one cascade per stretch of skips, never more than `delay` without a vet once one is due, and
every digest that clears has soaked its full delay. A skipped digest is never a rebuild target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from analyzer.config.durations import format_duration
from analyzer.registry.history import find_record
from analyzer.registry.manifest import normalize_platform, pick_platform
from analyzer.state.model import DigestHistory, DigestRecord, GateRecord

Verdict = Literal["unknown", "up-to-date", "rebuild-due", "soaking", "no-build-recorded"]


def content_of(digest: str, manifests: Mapping[str, str] | None, platforms: Sequence[str]) -> tuple[str, ...]:
    """What an image built for `platforms` gets from `digest` (whose index is `manifests`: platform → child
    manifest digest). The one rule for "did the base change for this image", used by status, plan,
    report, the renderer's summaries and the soak gate alike.

    Single-platform or unreadable digests are compared by digest; an image that declares no platforms
    uses every platform the index carries (so an index whose only change is an attestation is the same
    content); a declared platform the index lacks falls back to the digest."""
    if not manifests:
        return (digest,)
    if not platforms:
        return tuple(sorted(f"{normalize_platform(p)}={child}" for p, child in manifests.items()))
    picked = [pick_platform(dict(manifests), platform) for platform in platforms]
    if any(p is None for p in picked):
        return (digest,)
    return tuple(p for p in picked if p is not None)


def changed_platforms(new: Mapping[str, str], old: Mapping[str, str], platforms: Sequence[str]) -> list[str]:
    """The platforms (declared ones, or all in either index) whose child manifest differs."""
    wanted = platforms or sorted(set(new) | set(old))
    return [p for p in wanted if pick_platform(dict(new), p) != pick_platform(dict(old), p)]


def content_key(record: DigestRecord, platforms: Sequence[str]) -> tuple[str, ...]:
    """`content_of` a recorded digest."""
    return content_of(record.digest, record.platforms, platforms)


def known_since(history: DigestHistory, record: DigestRecord, platforms: Sequence[str] = ()) -> datetime:
    """When content equal to `record`'s (for `platforms`) was first seen behind the tag."""
    key = content_key(record, platforms)
    return min(r.first_seen for r in history.history if content_key(r, platforms) == key)


def by_recency(history: DigestHistory) -> list[DigestRecord]:
    return sorted(history.history, key=lambda r: (r.last_seen, r.first_seen), reverse=True)


def newest(history: DigestHistory) -> DigestRecord | None:
    return find_record(history, history.current) or next(iter(by_recency(history)), None)


def _more_recent(history: DigestHistory, record: DigestRecord | None, other: DigestRecord) -> bool:
    """Whether `record` was current after `other` (then moving to `other` would be a downgrade)."""
    return record is not None and (record.last_seen, record.first_seen) > (other.last_seen, other.first_seen)


def eligible_digest(history: DigestHistory, now: datetime, delay: timedelta,
                    platforms: Sequence[str] = ()) -> DigestRecord | None:
    """The most recently current digest known for at least `delay` at `now`, or None.

    A digest the gate of this delay skipped (superseded, see `coalesce`) is never the target: the
    rebuild waits for the digest that superseded it."""
    for record in by_recency(history):
        if is_skipped(record, delay):
            continue
        if known_since(history, record, platforms) <= now - delay:
            return record
    return None


# --- Coalescing of queued digests (the soak gate's pure rule) ------------------------------------------

def delay_key(delay: timedelta) -> str:
    """How a delay is written in gate records and soak Stage labels (`168h`)."""
    return format_duration(delay)


def _marks(history: DigestHistory, delay: timedelta, outcome: str) -> list[GateRecord]:
    key = delay_key(delay)
    return [mark for record in history.history for mark in record.gates
            if mark.delay == key and mark.outcome == outcome]


def is_skipped(record: DigestRecord, delay: timedelta) -> bool:
    """Skipped by the gate of `delay` (and not vetted by it since, e.g. after a manual re-verification)."""
    outcomes = {m.outcome for m in record.gates if m.delay == delay_key(delay)}
    return outcomes == {"skipped"}


def last_vetted(history: DigestHistory, delay: timedelta) -> datetime | None:
    """When the gate of `delay` last vetted a digest of this tag (records without a delay do not count)."""
    return max((mark.at for mark in _marks(history, delay, "vetted")), default=None)


def coalescing_anchor(history: DigestHistory, delay: timedelta, now: datetime) -> datetime:
    """The first skip since the last vet of this gate, or `now` when nothing was skipped since."""
    since = last_vetted(history, delay)
    skips = [mark.at for mark in _marks(history, delay, "skipped") if since is None or mark.at > since]
    return min(skips, default=now)


def successor_candidates(history: DigestHistory, digest: str, first_seen: datetime, delay: timedelta,
                         now: datetime) -> list[DigestRecord]:
    """Newer digests of the tag that may supersede `digest` (first seen after it, by the anchor, not
    themselves skipped by this gate), newest first: the gate checks them in this order."""
    anchor = coalescing_anchor(history, delay, now)
    found = [r for r in history.history
             if r.digest != digest and first_seen < r.first_seen <= anchor and not is_skipped(r, delay)]
    return sorted(found, key=lambda r: r.first_seen, reverse=True)


@dataclass(frozen=True)
class Successor:
    """A newer digest of the same tag as the gate found it (the registry and platform checks are IO)."""

    digest: str
    first_seen: datetime
    resolves: bool
    relevant: bool
    note: str = ""
    """What the platform check said (why it cannot supersede, when it does not)."""


@dataclass(frozen=True)
class Coalescing:
    skip: bool
    reason: str
    superseded_by: str | None = None


def coalesce(history: DigestHistory, digest: str, first_seen: datetime, delay: timedelta, now: datetime,
             successors: Sequence[Successor]) -> Coalescing:
    """Skip `digest` (it has soaked) in favour of a newer digest that also clears? (pure)

    Only successors inside the window of `successor_candidates` count, and only those that still
    resolve and change a platform a dependent uses; the newest such one supersedes.
    """
    own = next((r for r in history.history if r.digest == digest), None)
    if own is not None and any(m.delay == delay_key(delay) and m.outcome == "vetted" for m in own.gates):
        return Coalescing(False, "already vetted by this gate")
    window = {r.digest for r in successor_candidates(history, digest, first_seen, delay, now)}
    usable = sorted((s for s in successors if s.digest in window and s.resolves and s.relevant),
                    key=lambda s: s.first_seen, reverse=True)
    if usable:
        newer = usable[0]
        return Coalescing(True, f"superseded by {newer.digest} (first seen {newer.first_seen.isoformat()}), "
                                f"which clears this gate by {(newer.first_seen + delay).isoformat()}; "
                                "only the newest digest cascades", newer.digest)
    rejected = [s for s in successors if s.digest in window]
    if rejected:
        notes = "; ".join(f"{s.digest[:19]}: {s.note or 'unusable'}" for s in rejected)
        return Coalescing(False, f"not coalesced: no newer digest that also clears ({notes})")
    anchor = coalescing_anchor(history, delay, now)
    if any(r.first_seen > max(first_seen, anchor) and r.digest != digest for r in history.history):
        return Coalescing(False, f"not coalesced: the newer digests were first seen after {anchor.isoformat()}; "
                                 f"waiting for them would leave this gate without a vetted digest for "
                                 f"more than {delay_key(delay)}")
    return Coalescing(False, "no newer digest of this tag")


@dataclass(frozen=True)
class BaseStatus:
    newest: DigestRecord | None
    newest_known_since: datetime | None
    eligible: DigestRecord | None
    built_on: str | None
    verdict: Verdict
    eligible_at: datetime | None
    """When the newest digest becomes eligible (None when it already is, or unknown)."""


def judge(history: DigestHistory, now: datetime, delay: timedelta, platforms: Sequence[str],
          built_on: str | None) -> BaseStatus:
    """Status of one base for one image built for `platforms`, last built on `built_on`."""
    latest = newest(history)
    if latest is None:
        return BaseStatus(None, None, None, built_on, "unknown", None)
    since = known_since(history, latest, platforms)
    eligible = eligible_digest(history, now, delay, platforms)
    eligible_at = since + delay if since + delay > now else None
    built_record = find_record(history, built_on)
    built_key = content_key(built_record, platforms) if built_record else (built_on,) if built_on else None
    verdict: Verdict
    if built_key is None:
        verdict = "no-build-recorded"
    elif built_key == content_key(latest, platforms):
        verdict = "up-to-date"
    elif (eligible is not None and content_key(eligible, platforms) != built_key
          and not _more_recent(history, built_record, eligible)):
        verdict = "rebuild-due"
    else:
        verdict = "soaking"
    return BaseStatus(latest, since, eligible, built_on, verdict, eligible_at)


# --- Platform relevance for the dependents (the soak gate's last check) ------------------------------

@dataclass(frozen=True)
class DependentBuild:
    """What one managed dependent was last built on, for the platform comparison."""

    name: str
    platforms: tuple[str, ...]
    """Platforms it builds; empty means every platform matters."""
    built_on: str | None
    built_on_platforms: Mapping[str, str] | None
    """Platform → manifest digest of `built_on` (None when unknown; {} for a single-platform image)."""


@dataclass(frozen=True)
class Relevance:
    relevant: bool
    reason: str


def platform_relevance(digest: str, platforms: Mapping[str, str], dependents: Sequence[DependentBuild]
                       ) -> Relevance:
    """Does the new digest change anything a dependent actually runs on? (pure)

    Relevant as soon as one dependent has no known previous base, or its `content_of` the new digest
    differs from that of the digest it was built on — the same comparison `judge` makes for status/plan.
    """
    if not dependents:
        return Relevance(True, "no dependents recorded")
    unused: set[str] = set()
    for dep in dependents:
        if dep.built_on is None:
            return Relevance(True, f"{dep.name} has no recorded build on this base")
        if dep.built_on == digest:
            continue
        old = dep.built_on_platforms
        if content_of(digest, platforms, dep.platforms) != content_of(dep.built_on, old, dep.platforms):
            changed = changed_platforms(platforms, old or {}, dep.platforms) if platforms and old else []
            if not changed:
                return Relevance(True, f"{dep.name}: image changed since {dep.built_on[:19]}")
            return Relevance(True, f"{dep.name}: {', '.join(changed)} changed")
        unused.update(changed_platforms(platforms, old or {}, ()))
    used = sorted({p for dep in dependents for p in dep.platforms})
    if not unused:
        return Relevance(False, "no relevant platform changed: dependents are already built on this digest")
    return Relevance(False, f"no relevant platform changed: only {', '.join(sorted(unused))} changed; "
                            f"dependents use {', '.join(used) or 'every platform'}")
