from datetime import UTC, datetime, timedelta

from analyzer.registry.history import (
    Observation,
    cap_records,
    changed_platforms,
    classify,
    record_observation,
)
from analyzer.state.model import DigestHistory, DigestRecord

T0 = datetime(2026, 11, 1, tzinfo=UTC)
A, B, C = ("sha256:" + c * 64 for c in "abc")


def test_first_observation_creates_record_and_current() -> None:
    history = record_observation(DigestHistory(), Observation(A, {"linux/amd64": "sha256:x"}), T0, 50)
    assert history.current == A
    assert history.history == [DigestRecord(digest=A, first_seen=T0, last_seen=T0,
                                            platforms={"linux/amd64": "sha256:x"})]


def test_unchanged_updates_last_seen_only_and_input_is_not_modified() -> None:
    before = record_observation(DigestHistory(), Observation(A), T0, 50)
    after = record_observation(before, Observation(A), T0 + timedelta(hours=1), 50)
    assert classify(before, Observation(A)) == "unchanged"
    assert len(after.history) == 1
    assert after.history[0].first_seen == T0
    assert after.history[0].last_seen == T0 + timedelta(hours=1)
    assert before.history[0].last_seen == T0


def test_digest_seen_again_is_not_a_new_entry() -> None:
    history = DigestHistory()
    for hours, digest in enumerate([A, B, A]):
        history = record_observation(history, Observation(digest), T0 + timedelta(hours=hours), 50)
    assert [r.digest for r in history.history] == [A, B]
    assert history.current == A
    assert history.history[0].first_seen == T0
    assert history.history[0].last_seen == T0 + timedelta(hours=2)


def test_cap_drops_least_recently_seen_but_keeps_current_and_protected() -> None:
    history = DigestHistory()
    digests = ["sha256:" + f"{i:064x}" for i in range(6)]
    for i, digest in enumerate(digests):
        history = record_observation(history, Observation(digest), T0 + timedelta(hours=i), 3,
                                     protected={digests[0]})
    kept = [r.digest for r in history.history]
    assert len(kept) == 3
    assert digests[0] in kept          # protected (e.g. the deployed digest)
    assert kept[-1] == digests[5] == history.current
    assert digests[1] not in kept and digests[2] not in kept


def test_cap_never_drops_protected_even_beyond_limit() -> None:
    records = [DigestRecord(digest=d, first_seen=T0, last_seen=T0) for d in (A, B, C)]
    assert [r.digest for r in cap_records(records, 2, {A, B, C})] == [A, B, C]


def test_changed_platforms_names_only_the_changed_architecture() -> None:
    previous = DigestRecord(digest=A, first_seen=T0, last_seen=T0,
                            platforms={"linux/amd64": "sha256:1", "linux/arm64/v8": "sha256:2"})
    observation = Observation(B, {"linux/amd64": "sha256:1", "linux/arm64/v8": "sha256:3"})
    assert changed_platforms(previous, observation) == ["linux/arm64/v8"]


def test_vetting_mark_survives_later_observations() -> None:
    history = record_observation(DigestHistory(), Observation(A), T0, 50)
    vetted = history.history[0].model_copy(update={"vetted_at": T0 + timedelta(days=7)})
    history = DigestHistory(current=A, history=[vetted])
    after = record_observation(history, Observation(A), T0 + timedelta(days=8), 50)
    assert after.history[0].vetted_at == T0 + timedelta(days=7)
