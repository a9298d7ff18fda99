import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from analyzer.registry.eligibility import (
    Coalescing,
    Successor,
    coalesce,
    eligible_digest,
    is_skipped,
    judge,
    known_since,
    last_vetted,
    successor_candidates,
)
from analyzer.registry.history import Observation, record_observation
from analyzer.runtime.records import SkippedRecord, VettedRecord, apply_record
from analyzer.state.model import DigestHistory, DigestRecord, ImageState

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
D0, D1, D2, D3 = ("sha256:" + c * 64 for c in "0123")
BASE = "docker.io/library/python:3.12-slim"


def _history(*steps: tuple[float, str, dict[str, str] | None]) -> DigestHistory:
    history = DigestHistory()
    for days, digest, platforms in steps:
        at = T0 + timedelta(days=days)
        history = record_observation(history, Observation(digest, platforms or {}), at, 50)
    return history


def test_tag_moving_three_times_within_delay_rebuilds_onto_newest_aged_digest() -> None:
    # D0 known since day 0; moves on days 10, 12, 14 (three moves within a week of each other).
    history = _history((0, D0, None), (10, D1, None), (12, D2, None), (14, D3, None))
    assert eligible_digest(history, T0 + timedelta(days=15), WEEK).digest == D0  # type: ignore[union-attr]
    assert eligible_digest(history, T0 + timedelta(days=17), WEEK).digest == D1  # type: ignore[union-attr]
    assert eligible_digest(history, T0 + timedelta(days=19), WEEK).digest == D2  # type: ignore[union-attr]
    assert eligible_digest(history, T0 + timedelta(days=21), WEEK).digest == D3  # type: ignore[union-attr]


def test_never_starves_when_tag_moves_more_often_than_delay() -> None:
    steps = [(float(day), "sha256:" + f"{day:064x}", None) for day in range(0, 30, 2)]
    history = _history(*steps)
    eligible = eligible_digest(history, T0 + timedelta(days=29), WEEK)
    assert eligible is not None
    assert eligible.digest == "sha256:" + f"{22:064x}"  # newest first seen at least 7 days before day 29


def test_nothing_eligible_before_the_delay() -> None:
    history = _history((0, D0, None))
    assert eligible_digest(history, T0 + timedelta(days=6), WEEK) is None
    status = judge(history, T0 + timedelta(days=6), WEEK, [], None)
    assert status.eligible is None
    assert status.eligible_at == T0 + WEEK


def test_reverted_tag_follows_the_current_digest() -> None:
    history = _history((0, D0, None), (8, D1, None), (20, D0, None))
    assert eligible_digest(history, T0 + timedelta(days=21), WEEK).digest == D0  # type: ignore[union-attr]


def test_arm64_only_change_is_not_an_update_for_amd64_images() -> None:
    history = _history((0, D0, {"linux/amd64": "sha256:amd1", "linux/arm64/v8": "sha256:arm1"}),
                       (10, D1, {"linux/amd64": "sha256:amd1", "linux/arm64/v8": "sha256:arm2"}))
    now = T0 + timedelta(days=11)
    assert known_since(history, history.history[1], ["linux/amd64"]) == T0
    amd = judge(history, now, WEEK, ["linux/amd64"], built_on=D0)
    assert amd.verdict == "up-to-date"
    arm = judge(history, now, WEEK, ["linux/arm64"], built_on=D0)
    assert arm.verdict == "soaking"
    assert arm.eligible is not None and arm.eligible.digest == D0
    later = judge(history, T0 + timedelta(days=17), WEEK, ["linux/arm64"], built_on=D0)
    assert later.verdict == "rebuild-due"


def test_verdicts() -> None:
    history = _history((0, D0, None), (10, D1, None))
    assert judge(DigestHistory(), T0, WEEK, [], None).verdict == "unknown"
    assert judge(history, T0 + timedelta(days=11), WEEK, [], None).verdict == "no-build-recorded"
    assert judge(history, T0 + timedelta(days=11), WEEK, [], D1).verdict == "up-to-date"
    assert judge(history, T0 + timedelta(days=11), WEEK, [], D0).verdict == "soaking"
    assert judge(history, T0 + timedelta(days=17), WEEK, [], D0).verdict == "rebuild-due"


# --- coalescing of queued digests in the soak gate --------------------------------------------------

def _digest(n: int) -> str:
    return "sha256:" + f"{n + 1000:064x}"


class GateQueue:
    """Kargo's soak Stage verifying Freight first in, first out, each gate waiting out its own soak and
    applying `coalesce` exactly as the gate job does, with the records applied as the job records them."""

    def __init__(self, moves_days: list[float], delay: timedelta = WEEK,
                 resolves: Callable[[str, datetime], bool] = lambda digest, at: True) -> None:
        self.delay, self.resolves = delay, resolves
        self.state = ImageState(ref=BASE, kind="external", digests=DigestHistory(history=[
            DigestRecord(digest=_digest(i), first_seen=T0 + timedelta(days=d), last_seen=T0 + timedelta(days=d))
            for i, d in enumerate(moves_days)]))
        self.outcomes: list[tuple[str, str, datetime, Coalescing]] = []

    def visible(self, at: datetime) -> DigestHistory:
        """What the state shows at `at`: digests refresh had seen by then (with their gate records)."""
        return DigestHistory(history=[r for r in self.state.digests.history if r.first_seen <= at])

    def run(self) -> list[tuple[str, str, datetime, Coalescing]]:
        clock = T0
        for record in list(self.state.digests.history):
            clock = max(clock, record.first_seen + self.delay)  # FIFO: after the previous verification
            history = self.visible(clock)
            successors = [Successor(r.digest, r.first_seen, self.resolves(r.digest, clock), True)
                          for r in successor_candidates(history, record.digest, record.first_seen, self.delay,
                                                        clock)]
            decision = coalesce(history, record.digest, record.first_seen, self.delay, clock, successors)
            if decision.skip:
                assert decision.superseded_by is not None
                self.state = apply_record(self.state, SkippedRecord(BASE, record.digest, clock, "168h",
                                                                    decision.superseded_by, decision.reason))
                self.outcomes.append((record.digest, "skipped", clock, decision))
            else:
                self.state = apply_record(self.state, VettedRecord(BASE, record.digest, clock, delay="168h"))
                self.outcomes.append((record.digest, "vetted", clock, decision))
        return self.outcomes

    def passes(self) -> list[tuple[str, datetime]]:
        return [(digest, at) for digest, outcome, at, _ in self.outcomes if outcome == "vetted"]


def test_a_single_move_passes() -> None:
    queue = GateQueue([0])
    queue.run()
    assert queue.passes() == [(_digest(0), T0 + WEEK)]
    assert queue.outcomes[0][3].reason == "no newer digest of this tag"


def test_three_moves_within_the_delay_pass_once_the_newest() -> None:
    queue = GateQueue([0, 1, 2])
    queue.run()
    assert queue.passes() == [(_digest(2), T0 + timedelta(days=9))]
    skipped = [(d, c.superseded_by) for d, outcome, _, c in queue.outcomes if outcome == "skipped"]
    assert skipped == [(_digest(0), _digest(2)), (_digest(1), _digest(2))]
    first = queue.state.digests.history[0].gates[0]
    assert (first.outcome, first.delay, first.superseded_by) == ("skipped", "168h", _digest(2))
    assert first.reason is not None and first.reason.startswith(f"superseded by {_digest(2)}")


def test_daily_moves_for_three_weeks_pass_at_most_once_per_delay_and_never_starve() -> None:
    queue = GateQueue([float(day) for day in range(21)])
    queue.run()
    passes = queue.passes()
    times = [at for _, at in passes]
    while_moving = [at for at in times if at <= T0 + timedelta(days=20)]  # the tag still moves daily
    assert while_moving, "starved: nothing cleared while the tag kept moving"
    # at most one pass per delay period — except the tag's final digest, which has no successor and
    # must clear (or the fleet would never get the newest content); and one at least every 2 × delay
    final = _digest(20)
    assert all(b - a >= WEEK for (_, a), (digest, b) in itertools.pairwise(passes) if digest != final)
    assert all(b - a <= 2 * WEEK for a, b in itertools.pairwise([T0 + WEEK, *times]))
    # every digest that cleared has soaked its full delay; the tag's final digest clears (no successor)
    by_digest = {r.digest: r.first_seen for r in queue.state.digests.history}
    assert all(at - by_digest[digest] >= WEEK for digest, at in passes)
    assert passes[-1][0] == _digest(20)
    assert len(passes) == 3  # instead of 21 fleet-wide cascades
    assert times == [T0 + timedelta(days=14), T0 + timedelta(days=22), T0 + timedelta(days=27)]


def test_a_successor_that_no_longer_resolves_does_not_supersede() -> None:
    gone = _digest(1)
    queue = GateQueue([0, 1], resolves=lambda digest, at: digest != gone)
    queue.run()
    assert [d for d, _ in queue.passes()] == [_digest(0), _digest(1)]
    assert queue.outcomes[0][3].reason.startswith("not coalesced: no newer digest that also clears")


def test_never_more_than_a_delay_without_a_vet_once_skipping_started() -> None:
    # Skipping starts at day 7 (d0 superseded by d7); digests first seen after day 7 cannot hold d7 back.
    queue = GateQueue([0, 7, 8, 9])
    queue.run()
    assert queue.passes()[0] == (_digest(1), T0 + timedelta(days=14))
    decision = next(c for d, _, _, c in queue.outcomes if d == _digest(1))
    assert decision.reason.startswith("not coalesced: the newer digests were first seen after")


def test_a_skipped_digest_is_never_the_rebuild_target() -> None:
    queue = GateQueue([0, 1, 2])
    queue.run()
    history = DigestHistory(current=_digest(2), history=queue.state.digests.history)
    # Day 8.5: digests 0 and 1 are skipped, digest 2 still soaking: nothing to rebuild onto yet.
    assert eligible_digest(history, T0 + timedelta(days=8, hours=12), WEEK) is None
    assert eligible_digest(history, T0 + timedelta(days=9), WEEK).digest == _digest(2)  # type: ignore[union-attr]
    assert is_skipped(history.history[0], WEEK) and not is_skipped(history.history[0], 2 * WEEK)
    # another gate (14 days) has its own verdicts: the 7-day skip does not hide the digest from it
    assert eligible_digest(history, T0 + timedelta(days=14, hours=12), 2 * WEEK).digest == _digest(0)  # type: ignore[union-attr]


def test_already_vetted_digest_is_not_coalesced_again() -> None:
    state = apply_record(ImageState(ref=BASE, kind="external"),
                         VettedRecord(BASE, D1, T0, first_seen=T0 - WEEK, delay="168h"))
    state = apply_record(state, VettedRecord(BASE, D2, T0, first_seen=T0 - timedelta(days=1)))
    decision = coalesce(state.digests, D1, T0 - WEEK, WEEK, T0, [Successor(D2, T0 - timedelta(days=1), True, True)])
    assert not decision.skip and decision.reason == "already vetted by this gate"
    assert last_vetted(state.digests, WEEK) == T0 and last_vetted(state.digests, 2 * WEEK) is None
