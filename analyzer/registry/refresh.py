"""Resolve every tracked tag and fold the answers into the state files' digest histories.

IO is limited to the registry client; the caller loads and saves state. A failed image keeps its
history untouched and is reported with the error's kind and message (never credentials).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from analyzer.config.durations import parse_duration
from analyzer.discovery.reference import parse_reference
from analyzer.registry.client import RegistryClient
from analyzer.registry.eligibility import eligible_digest
from analyzer.registry.errors import NotFound, RegistryError
from analyzer.registry.history import (
    Change,
    Observation,
    changed_platforms,
    classify,
    find_record,
    record_observation,
)
from analyzer.registry.manifest import INDEX_TYPES
from analyzer.state.model import ImageState, RebuildRecord

DEFAULT_WORKERS = 8


@dataclass(frozen=True)
class RefreshResult:
    ref: str
    change: Change | None
    """None when the registry failed."""
    digest: str | None = None
    previous: str | None = None
    changed_platforms: list[str] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    not_built: bool = False
    """A managed parent image whose tag does not exist yet: reported, but not a failure."""

    @property
    def failed(self) -> bool:
        return self.error is not None and not self.not_built

    def as_dict(self) -> dict[str, object]:
        result = self.change or ("not-built" if self.not_built else "error")
        out: dict[str, object] = {"ref": self.ref, "result": result, "digest": self.digest,
                                  "previous": self.previous, "changedPlatforms": self.changed_platforms}
        if self.error is not None:
            out["error"] = {"kind": self.error_kind, "message": self.error}
        return out


def is_tracked(state: ImageState) -> bool:
    """Tags whose digests we record: external images, anything a Warehouse follows, and managed
    images other managed images are built on (their digest is what a child was last built on)."""
    return state.kind == "external" or state.warehouse is not None or (
        state.kind == "managed" and bool(state.dependents))


def last_successful_rebuild(state: ImageState) -> RebuildRecord | None:
    succeeded = [r for r in state.rebuilds if r.outcome == "succeeded"]
    return max(succeeded, key=lambda r: r.at) if succeeded else None


def _dependents(state: ImageState, states: Mapping[str, ImageState]) -> list[ImageState]:
    by_name = {s.name: s for s in states.values() if s.name}
    found = [by_name.get(d) or states.get(d) for d in state.dependents]
    return [s for s in found if s is not None and s.managed is not None]


def protected_digests(state: ImageState, states: Mapping[str, ImageState], now: datetime) -> set[str]:
    """Digests the cap must keep: each dependent's deployed base digest and its eligible one."""
    keep: set[str] = set()
    for dependent in _dependents(state, states):
        assert dependent.managed is not None
        rebuild = last_successful_rebuild(dependent)
        if rebuild and state.ref in rebuild.base_digests:
            keep.add(rebuild.base_digests[state.ref])
        try:
            delay = parse_duration(dependent.managed.delay)
        except ValueError:
            continue
        eligible = eligible_digest(state.digests, now, delay, dependent.managed.platforms)
        if eligible is not None:
            keep.add(eligible.digest)
    return keep


def observe(client: RegistryClient, state: ImageState) -> Observation:
    """One HEAD; the index is read (by digest, mirror first) only for a digest not seen before."""
    ref = parse_reference(state.ref)
    tag = client.head_tag(ref)
    known = find_record(state.digests, tag.digest)
    if known is not None and (known.platforms or not tag.media_type or tag.media_type not in INDEX_TYPES):
        return Observation(tag.digest, dict(known.platforms))
    return Observation(tag.digest, client.platforms(ref, tag))


def refresh_state(client: RegistryClient, state: ImageState, states: Mapping[str, ImageState],
                  now: datetime, limit: int) -> tuple[ImageState, RefreshResult]:
    """The updated state (unchanged object on error) and what happened."""
    try:
        observation = observe(client, state)
    except RegistryError as exc:
        not_built = state.kind == "managed" and isinstance(exc, NotFound) and state.digests.current is None
        return state, RefreshResult(state.ref, None, previous=state.digests.current,
                                    error_kind=exc.kind, error=exc.message, not_built=not_built)
    change = classify(state.digests, observation)
    previous = find_record(state.digests, state.digests.current)
    platforms = changed_platforms(previous, observation) if change == "moved" else []
    history = record_observation(state.digests, observation, now, limit,
                                 protected_digests(state, states, now))
    updated = state.model_copy(update={"digests": history})
    return updated, RefreshResult(state.ref, change, observation.digest, state.digests.current, platforms)


def refresh_all(client: RegistryClient, states: Mapping[str, ImageState], now: datetime, limit: int,
                refs: Iterable[str] | None = None, workers: int = DEFAULT_WORKERS
                ) -> list[tuple[ImageState, RefreshResult]]:
    """Refresh the tracked states (or `refs`) concurrently; results in ref order."""
    targets = sorted(refs) if refs is not None else sorted(r for r, s in states.items() if is_tracked(s))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda ref: refresh_state(client, states[ref], states, now, limit), targets))


