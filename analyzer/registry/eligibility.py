"""Pure: which digest of a tag an image may be rebuilt onto now, under its delay.

Rule: the newest digest that has been known for at least the delay. "Newest" means most recently
current (last_seen), so a tag reverted to an older digest is followed back; and a tag that moves
more often than the delay still yields an aged digest to rebuild onto — never starve.

Platform-aware: for an image built for `linux/amd64` only, two digests whose amd64 manifests are
equal are the same thing, so a change that only touches arm64 is not an update for it, and its age
is that of the first digest carrying the same amd64 manifest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from analyzer.registry.history import find_record
from analyzer.registry.manifest import pick_platform
from analyzer.state.model import DigestHistory, DigestRecord

Verdict = Literal["unknown", "up-to-date", "rebuild-due", "soaking", "no-build-recorded"]


def content_key(record: DigestRecord, platforms: Sequence[str]) -> tuple[str, ...]:
    """What an image built for `platforms` gets from this digest: the platform manifests, or the digest."""
    if not platforms or not record.platforms:
        return (record.digest,)
    picked = [pick_platform(record.platforms, platform) for platform in platforms]
    if any(p is None for p in picked):
        return (record.digest,)
    return tuple(p for p in picked if p is not None)


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
    """The most recently current digest known for at least `delay` at `now`, or None."""
    for record in by_recency(history):
        if known_since(history, record, platforms) <= now - delay:
            return record
    return None


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
