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
from analyzer.state.model import DigestRecord, ImageState, RebuildRecord


@dataclass(frozen=True)
class VettedRecord:
    """The gate passed for `digest` of the tracked base `ref` at `at`."""

    ref: str
    digest: str
    at: datetime
    first_seen: datetime | None = None
    """When the digest is not in the history yet (refresh has not seen it): its first-seen time."""
    platforms: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return f"vetted {self.ref}@{self.digest}"


@dataclass(frozen=True)
class RebuildAppend:
    """One rebuild outcome of the managed image `ref`."""

    ref: str
    rebuild: RebuildRecord

    def describe(self) -> str:
        return f"rebuild {self.rebuild.outcome} {self.ref}"


Record = VettedRecord | RebuildAppend


def _new_state(ref: str, kind: Literal["managed", "external"]) -> ImageState:
    """A minimal state file; the next `analyze` fills in the configuration-derived fields."""
    return ImageState(ref=ref, kind=kind)


def apply_vetted(state: ImageState | None, record: VettedRecord) -> ImageState:
    state = state.model_copy(deep=True) if state is not None else _new_state(record.ref, "external")
    for entry in state.digests.history:
        if entry.digest == record.digest:
            if entry.vetted_at is None:
                entry.vetted_at = record.at
            return state
    seen = record.first_seen or record.at
    state.digests.history.append(DigestRecord(
        digest=record.digest, first_seen=seen, last_seen=max(seen, record.at),
        platforms=dict(record.platforms), vetted_at=record.at))
    return state


def apply_rebuild(state: ImageState | None, record: RebuildAppend) -> ImageState:
    state = state.model_copy(deep=True) if state is not None else _new_state(record.ref, "managed")
    if record.rebuild not in state.rebuilds:
        state.rebuilds.append(record.rebuild)
    return state


def apply_record(state: ImageState | None, record: Record) -> ImageState:
    """The state with `record` added; idempotent, and never removes or rewrites an existing entry."""
    if state is not None and state.ref != record.ref:
        raise ValueError(f"record for {record.ref} applied to the state of {state.ref}")
    if isinstance(record, VettedRecord):
        return apply_vetted(state, record)
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
