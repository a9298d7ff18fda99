"""Append-only state records and the pure function that applies one to an image's state.

A record only ever adds information (a `vetted_at`, a rebuild outcome) and applying it twice is the
same as applying it once, so a writer that lost a push race can re-apply its records on top of the
winner's commit: the result is a merge of both runs, never an overwrite of either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from analyzer.discovery.reference import parse_reference
from analyzer.state.model import DigestRecord, GateRecord, ImageState, RebuildRecord


@dataclass(frozen=True)
class VettedRecord:
    """The gate passed for `digest` of the tracked base `ref` at `at`."""

    ref: str
    digest: str
    at: datetime
    first_seen: datetime | None = None
    """When the digest is not in the history yet (refresh has not seen it): its first-seen time."""
    platforms: tuple[tuple[str, str], ...] = ()
    delay: str | None = None
    """The gate's delay (`168h`): recorded as a per-delay `gates` entry, which coalescing reads."""

    def describe(self) -> str:
        return f"vetted {self.ref}@{self.digest}"


@dataclass(frozen=True)
class SkippedRecord:
    """The gate of `delay` let `digest` soak, then skipped it: `superseded_by` (newer) clears it too."""

    ref: str
    digest: str
    at: datetime
    delay: str
    superseded_by: str
    reason: str
    first_seen: datetime | None = None

    def describe(self) -> str:
        return f"skipped {self.ref}@{self.digest} (superseded by {self.superseded_by})"


@dataclass(frozen=True)
class RebuildAppend:
    """One rebuild outcome of the managed image `ref`."""

    ref: str
    rebuild: RebuildRecord

    def describe(self) -> str:
        return f"rebuild {self.rebuild.outcome} {self.ref}"


Record = VettedRecord | SkippedRecord | RebuildAppend


def _new_state(ref: str, kind: Literal["managed", "external"]) -> ImageState:
    """A minimal state file; the next `analyze` fills in the configuration-derived fields."""
    return ImageState(ref=ref, kind=kind)


def _entry(state: ImageState, digest: str, first_seen: datetime | None, at: datetime,
           platforms: tuple[tuple[str, str], ...] = ()) -> DigestRecord:
    """The history entry of `digest`, added (first seen `first_seen`, else `at`) when refresh has not seen it."""
    for entry in state.digests.history:
        if entry.digest == digest:
            return entry
    seen = first_seen or at
    entry = DigestRecord(digest=digest, first_seen=seen, last_seen=max(seen, at), platforms=dict(platforms))
    state.digests.history.append(entry)
    return entry


def apply_vetted(state: ImageState | None, record: VettedRecord) -> ImageState:
    state = state.model_copy(deep=True) if state is not None else _new_state(record.ref, "external")
    entry = _entry(state, record.digest, record.first_seen, record.at, record.platforms)
    if entry.vetted_at is None:
        entry.vetted_at = record.at
    if record.delay is not None and not any(g.delay == record.delay and g.outcome == "vetted" for g in entry.gates):
        entry.gates.append(GateRecord(delay=record.delay, at=record.at, outcome="vetted"))
    return state


def apply_skipped(state: ImageState | None, record: SkippedRecord) -> ImageState:
    """One verdict per (digest, delay): a digest this gate already vetted or skipped is left as it is."""
    state = state.model_copy(deep=True) if state is not None else _new_state(record.ref, "external")
    entry = _entry(state, record.digest, record.first_seen, record.at)
    if not any(g.delay == record.delay for g in entry.gates):
        entry.gates.append(GateRecord(delay=record.delay, at=record.at, outcome="skipped",
                                      superseded_by=record.superseded_by, reason=record.reason))
    return state


def same_outcome(existing: RebuildRecord, new: RebuildRecord) -> bool:
    """Whether `new` repeats what `existing` already says about the same vetted base digest set (pure).

    A failure is recorded once per (image, vetted digest set): a retried or restarted verify pod, or a
    re-run of the verification, adds nothing after any outcome for the same set. A success is recorded
    once per (set, result digest), and is still appended after a failure for the set (the build landed
    late or was fixed): the newest outcome is what `status` shows."""
    if existing.base_digests != new.base_digests:
        return False
    if new.outcome == "failed":
        return True
    return existing.outcome == "succeeded" and existing.result_digest == new.result_digest


def apply_rebuild(state: ImageState | None, record: RebuildAppend) -> ImageState:
    state = state.model_copy(deep=True) if state is not None else _new_state(record.ref, "managed")
    if not any(same_outcome(existing, record.rebuild) for existing in state.rebuilds):
        state.rebuilds.append(record.rebuild)
    return state


def apply_record(state: ImageState | None, record: Record) -> ImageState:
    """The state with `record` added; idempotent, and never removes or rewrites an existing entry."""
    if state is not None and state.ref != record.ref:
        raise ValueError(f"record for {record.ref} applied to the state of {state.ref}")
    if isinstance(record, VettedRecord):
        return apply_vetted(state, record)
    if isinstance(record, SkippedRecord):
        return apply_skipped(state, record)
    return apply_rebuild(state, record)


def state_ref_for(states: Mapping[str, ImageState], ref: str) -> str:
    """The state file's ref for a Freight's `repository:tag` (pure).

    For Digest warehouses they are the same. A SemVer/Lexical warehouse follows many tags
    (`redis:7.2.4`) under one enrolled ref (`redis:7`): map to the one tracked state of that repository
    whose warehouse does not follow a single tag; otherwise keep `ref` as it is.
    """
    if ref in states:
        return ref
    name = parse_reference(ref).name
    candidates = [s.ref for s in states.values()
                  if s.warehouse is not None and s.warehouse.image_selection_strategy != "Digest"
                  and parse_reference(s.ref).name == name]
    return candidates[0] if len(candidates) == 1 else ref
