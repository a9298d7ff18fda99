from datetime import UTC, datetime, timedelta

from analyzer.registry.eligibility import eligible_digest, judge, known_since
from analyzer.registry.history import Observation, record_observation
from analyzer.state.model import DigestHistory

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
D0, D1, D2, D3 = ("sha256:" + c * 64 for c in "0123")


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
