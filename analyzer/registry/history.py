"""Pure updates of a tag's digest history: what we saw, when we first and last saw it.

Registries do not say when a digest was published, so `first_seen` (our first observation) starts
the soak clock. A digest seen again later keeps its record (and its `first_seen`). The list is
append-only and capped; the cap never drops protected digests (current, deployed, eligible).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from analyzer.state.model import DigestHistory, DigestRecord

Change = Literal["new", "unchanged", "moved"]


@dataclass(frozen=True)
class Observation:
    """A tag resolved now: its digest and, for multi-arch tags, `os/arch[/variant]` → manifest digest."""

    digest: str
    platforms: dict[str, str] = field(default_factory=dict)


def find_record(history: DigestHistory, digest: str | None) -> DigestRecord | None:
    return next((r for r in history.history if r.digest == digest), None) if digest else None


def classify(history: DigestHistory, observation: Observation) -> Change:
    if history.current is None:
        return "new"
    return "unchanged" if history.current == observation.digest else "moved"


def changed_platforms(previous: DigestRecord | None, observation: Observation) -> list[str]:
    """Platforms whose manifest digest differs from the previous current digest's (added ones too)."""
    if previous is None:
        return sorted(observation.platforms)
    keys = set(previous.platforms) | set(observation.platforms)
    return sorted(k for k in keys if previous.platforms.get(k) != observation.platforms.get(k))


def cap_records(records: list[DigestRecord], limit: int, protected: Iterable[str]) -> list[DigestRecord]:
    """Drop the least recently seen unprotected records until at most `limit` remain (order kept).

    Protected records are never dropped, even if that leaves more than `limit`.
    """
    keep = set(protected)
    excess = len(records) - limit
    if excess <= 0:
        return records
    droppable = sorted((r for r in records if r.digest not in keep),
                       key=lambda r: (r.last_seen, r.first_seen))
    dropped = {r.digest for r in droppable[:excess]}
    return [r for r in records if r.digest not in dropped]


def record_observation(history: DigestHistory, observation: Observation, now: datetime, limit: int,
                       protected: Iterable[str] = ()) -> DigestHistory:
    """The history after seeing `observation` at `now`; the input is not modified."""
    records = list(history.history)
    index = next((i for i, r in enumerate(records) if r.digest == observation.digest), None)
    if index is None:
        records.append(DigestRecord(digest=observation.digest, first_seen=now, last_seen=now,
                                    platforms=dict(observation.platforms)))
    else:
        old = records[index]
        records[index] = old.model_copy(update={
            "last_seen": max(old.last_seen, now),
            "platforms": dict(observation.platforms) or old.platforms,
        })
    capped = cap_records(records, limit, {observation.digest, *protected})
    return DigestHistory(current=observation.digest, history=capped)
