"""Applying append-only records: idempotent, never rewriting what is there."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from analyzer.runtime.records import RebuildAppend, SkippedRecord, VettedRecord, apply_record, state_ref_for
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, RebuildRecord, WarehouseState

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BASE = "docker.io/library/python:3.12-slim"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def base_state() -> ImageState:
    return ImageState(ref=BASE, kind="external", digests=DigestHistory(current=D1, history=[
        DigestRecord(digest=D1, first_seen=T0, last_seen=T0)]))


def test_vetted_sets_vetted_at_once() -> None:
    first = apply_record(base_state(), VettedRecord(BASE, D1, T0 + timedelta(days=7)))
    assert first.digests.history[0].vetted_at == T0 + timedelta(days=7)
    again = apply_record(first, VettedRecord(BASE, D1, T0 + timedelta(days=9)))
    assert again == first  # the first vetting stands; re-applying changes nothing
    assert base_state().digests.history[0].vetted_at is None  # input not mutated


def test_vetted_unknown_digest_is_appended_with_its_first_seen() -> None:
    state = apply_record(base_state(), VettedRecord(BASE, D2, T0 + timedelta(days=8),
                                                    first_seen=T0 + timedelta(days=1)))
    assert [h.digest for h in state.digests.history] == [D1, D2]
    assert state.digests.history[1].first_seen == T0 + timedelta(days=1)
    assert state.digests.history[1].vetted_at == T0 + timedelta(days=8)


def test_missing_state_file_gets_a_minimal_state() -> None:
    state = apply_record(None, VettedRecord(BASE, D1, T0))
    assert state.kind == "external" and state.ref == BASE and state.digests.history[0].digest == D1
    rebuilt = apply_record(None, RebuildAppend("r.example/app:1", RebuildRecord(at=T0, outcome="failed")))
    assert rebuilt.kind == "managed" and len(rebuilt.rebuilds) == 1


def test_rebuild_records_append_and_deduplicate() -> None:
    app = ImageState(ref="r.example/app:1", kind="managed")
    one = RebuildAppend(app.ref, RebuildRecord(at=T0, outcome="succeeded", base_digests={BASE: D1},
                                               result_digest=D2))
    two = RebuildAppend(app.ref, RebuildRecord(at=T0 + timedelta(hours=1), outcome="failed", reason="x"))
    state = apply_record(apply_record(apply_record(app, one), two), one)
    assert [r.outcome for r in state.rebuilds] == ["succeeded", "failed"]


def test_record_for_another_ref_is_refused() -> None:
    with pytest.raises(ValueError, match="applied to the state of"):
        apply_record(base_state(), VettedRecord("docker.io/library/node:20", D1, T0))


def test_state_ref_for_maps_a_semver_freight_tag_to_its_enrolled_ref() -> None:
    redis = ImageState(ref="docker.io/library/redis:7", kind="external", warehouse=WarehouseState(
        repoURL="docker.io/library/redis", imageSelectionStrategy="SemVer", constraint="^7.0.0"))
    states = {BASE: base_state(), redis.ref: redis}
    assert state_ref_for(states, "docker.io/library/redis:7.2.4") == "docker.io/library/redis:7"
    assert state_ref_for(states, BASE) == BASE
    assert state_ref_for(states, "docker.io/library/python:3.13-slim") == "docker.io/library/python:3.13-slim"


def test_vetted_with_a_delay_records_one_gate_verdict_per_delay() -> None:
    first = apply_record(base_state(), VettedRecord(BASE, D1, T0 + timedelta(days=7), delay="168h"))
    again = apply_record(first, VettedRecord(BASE, D1, T0 + timedelta(days=8), delay="168h"))
    assert again == first
    other = apply_record(first, VettedRecord(BASE, D1, T0 + timedelta(days=14), delay="336h"))
    entry = other.digests.history[0]
    assert entry.vetted_at == T0 + timedelta(days=7)  # the first vetting, for schema-1 readers
    assert [(g.delay, g.outcome, g.at) for g in entry.gates] == [
        ("168h", "vetted", T0 + timedelta(days=7)), ("336h", "vetted", T0 + timedelta(days=14))]


def test_skipped_is_recorded_once_and_never_over_a_verdict() -> None:
    skip = SkippedRecord(BASE, D1, T0 + timedelta(days=7), "168h", D2, "superseded by D2")
    state = apply_record(base_state(), skip)
    assert apply_record(state, dataclasses.replace(skip, at=T0 + timedelta(days=8))) == state
    (gate,) = state.digests.history[0].gates
    assert (gate.outcome, gate.superseded_by, gate.reason) == ("skipped", D2, "superseded by D2")
    assert state.digests.history[0].vetted_at is None
    vetted = apply_record(base_state(), VettedRecord(BASE, D1, T0, delay="168h"))
    assert apply_record(vetted, skip) == vetted  # one verdict per (digest, delay)
    # a re-verification that vets a skipped digest is recorded (and wins: it is no longer skipped)
    revetted = apply_record(state, VettedRecord(BASE, D1, T0 + timedelta(days=9), delay="168h"))
    assert [g.outcome for g in revetted.digests.history[0].gates] == ["skipped", "vetted"]
    unknown = apply_record(base_state(), dataclasses.replace(skip, digest=D2, first_seen=T0 + timedelta(days=1)))
    assert unknown.digests.history[1].first_seen == T0 + timedelta(days=1)


def test_one_failed_rebuild_record_per_vetted_base_set() -> None:
    app = ImageState(ref="r.example/app:1", kind="managed")
    bases = {BASE: D1}

    def failed(hours: int, reason: str) -> RebuildAppend:
        return RebuildAppend(app.ref, RebuildRecord(at=T0 + timedelta(hours=hours), outcome="failed",
                                                    base_digests=bases, reason=reason))

    state = apply_record(apply_record(app, failed(0, "timed out")), failed(2, "killed and retried"))
    assert [(r.outcome, r.reason) for r in state.rebuilds] == [("failed", "timed out")]
    ok = RebuildAppend(app.ref, RebuildRecord(at=T0 + timedelta(hours=3), outcome="succeeded", base_digests=bases,
                                              result_digest=D2))
    state = apply_record(apply_record(state, ok), dataclasses.replace(
        ok, rebuild=ok.rebuild.model_copy(update={"at": T0 + timedelta(hours=4)})))
    assert [r.outcome for r in state.rebuilds] == ["failed", "succeeded"]  # the late build still lands once
    assert apply_record(state, failed(5, "again")) == state
    other = RebuildAppend(app.ref, RebuildRecord(at=T0, outcome="failed", base_digests={BASE: D2}))
    assert len(apply_record(state, other).rebuilds) == 3  # another base set is another outcome
