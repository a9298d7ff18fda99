"""Planning arithmetic: gates, queued digests, no starvation, cascades, failures, what-if."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from analyzer.planning.timeline import ASSUMED_DIGEST, PlanningError, plan, plan_assuming_update
from tests.support.fleet_states import DAY, HOUR, NODE, PY, T0, Fleet, digest


def python_chain(api_delay: str = "168h") -> Fleet:
    """python → base-python → ml-runtime → worker (also on base-python); api on python and base-python."""
    return (Fleet()
            .managed("base-python", PY)
            .managed("ml-runtime", "base-python")
            .managed("worker", "base-python", "ml-runtime")
            .managed("api", PY, "base-python", delay=api_delay)
            .managed("web", NODE))


def built_everything_on_d0(fleet: Fleet) -> Fleet:
    fleet.seen(PY, "d0", T0 - 30 * DAY).seen(NODE, "n0", T0 - 30 * DAY)
    for name in ("base-python", "ml-runtime", "worker", "api"):
        fleet.built(name, T0 - 20 * DAY, py="d0")
    return fleet.built("web", T0 - 20 * DAY, node="n0")


def test_held_digest_clears_after_the_delay() -> None:
    fleet = Fleet().managed("base-python", PY).seen(PY, "d1", T0)
    early = plan(fleet.states, T0 + 3 * DAY)
    gate = early.base(PY).gates[0]
    assert gate.delay == timedelta(days=7) and gate.users == ("base-python",)
    assert gate.eligible is None
    assert [(d.digest, d.clears_at) for d in gate.held] == [(digest("d1"), T0 + 7 * DAY)]
    image = early.image("base-python")
    assert image.status == "held"
    assert image.next_rebuild is not None and image.next_rebuild.at == T0 + 7 * DAY
    assert image.next_rebuild.onto == {PY: digest("d1")}

    on_time = plan(fleet.states, T0 + 7 * DAY)
    assert on_time.base(PY).gates[0].eligible is not None
    assert on_time.base(PY).gates[0].held == ()
    assert on_time.image("base-python").status == "eligible"
    assert on_time.image("base-python").newest_vetted == {PY: digest("d1")}

    just_before = plan(fleet.states, T0 + 7 * DAY - timedelta(seconds=1))
    assert just_before.image("base-python").status == "held"


def test_queued_digests_clear_in_order_one_rebuild_each() -> None:
    """The design's example: moves on day 0 and day 2 → rebuilds on day 7 (digest 1) and day 9 (digest 2)."""
    fleet = (Fleet().managed("base-python", PY)
             .seen(PY, "d0", T0 - 30 * DAY).built("base-python", T0 - 20 * DAY, py="d0")
             .seen(PY, "d1", T0).seen(PY, "d2", T0 + 2 * DAY))
    result = plan(fleet.states, T0 + 3 * DAY)
    assert [(d.digest, d.clears_at) for d in result.base(PY).gates[0].held] == [
        (digest("d1"), T0 + 7 * DAY), (digest("d2"), T0 + 9 * DAY)]
    image = result.image("base-python")
    assert [(r.at, r.onto[PY]) for r in image.rebuilds] == [
        (T0 + 7 * DAY, digest("d1")), (T0 + 9 * DAY, digest("d2"))]
    assert image.newest_vetted == {PY: digest("d0")}
    assert image.built_on == {PY: digest("d0")} and image.stale_since is None


def test_tag_moving_three_times_within_the_delay_still_gets_aged_rebuilds() -> None:
    fleet = (Fleet().managed("base-python", PY)
             .seen(PY, "d1", T0).seen(PY, "d2", T0 + 1 * DAY).seen(PY, "d3", T0 + 2 * DAY))
    result = plan(fleet.states, T0 + 7 * DAY + 12 * HOUR)
    image = result.image("base-python")
    assert image.status == "eligible" and image.reason.startswith("no rebuild recorded yet; rebuild due now")
    assert image.newest_vetted == {PY: digest("d1")}
    assert [(r.at, r.onto[PY]) for r in image.rebuilds] == [
        (T0 + 7 * DAY + 12 * HOUR, digest("d1")), (T0 + 8 * DAY, digest("d2")), (T0 + 9 * DAY, digest("d3"))]


def test_tag_moving_daily_forever_never_starves() -> None:
    fleet = Fleet().managed("base-python", PY)
    for day in range(10):
        fleet.seen(PY, f"d{day}", T0 + day * DAY)
    result = plan(fleet.states, T0 + 9 * DAY + 12 * HOUR)
    image = result.image("base-python")
    assert image.newest_vetted == {PY: digest("d2")}  # the newest digest known for 7 days
    assert image.status == "eligible" and image.stale_since == T0 + 7 * DAY
    assert [d.digest for d in result.base(PY).gates[0].held] == [digest(f"d{n}") for n in range(3, 10)]


def test_each_delay_in_use_has_its_own_gate() -> None:
    fleet = python_chain(api_delay="240h").seen(PY, "d1", T0)
    gates = plan(fleet.states, T0).base(PY).gates
    assert [(g.delay_text, g.users, g.held[0].clears_at) for g in gates] == [
        ("168h", ("base-python",), T0 + 7 * DAY), ("240h", ("api",), T0 + 10 * DAY)]


def test_cascade_parents_first_one_rebuild_per_child() -> None:
    fleet = built_everything_on_d0(python_chain()).seen(PY, "d1", T0)
    result = plan(fleet.states, T0 + DAY)
    assert [(r.step, r.image, r.at) for r in result.cascade] == [
        (1, "base-python", T0 + 7 * DAY), (2, "api", T0 + 7 * DAY),
        (3, "ml-runtime", T0 + 7 * DAY), (4, "worker", T0 + 7 * DAY)]
    assert all(r.onto == {PY: digest("d1")} for r in result.cascade)
    assert result.image("web").status == "up-to-date" and result.image("web").rebuilds == ()
    assert {i.name: i.status for i in result.images} == {
        "base-python": "held", "ml-runtime": "held", "worker": "held", "api": "held", "web": "up-to-date"}


def test_child_with_a_longer_delay_waits_for_its_own_gate() -> None:
    fleet = built_everything_on_d0(python_chain(api_delay="240h")).seen(PY, "d1", T0)
    result = plan(fleet.states, T0)
    assert result.image("base-python").rebuilds[0].at == T0 + 7 * DAY
    assert [r.at for r in result.image("api").rebuilds] == [T0 + 10 * DAY]


def test_child_with_a_shorter_delay_waits_for_every_parent_on_the_path() -> None:
    fleet = built_everything_on_d0(python_chain(api_delay="72h")).seen(PY, "d1", T0)
    result = plan(fleet.states, T0)
    assert [r.at for r in result.image("api").rebuilds] == [T0 + 7 * DAY]
    assert result.image("api").status == "held"


def test_failed_parent_stops_its_branch_until_a_newer_digest() -> None:
    fleet = built_everything_on_d0(python_chain()).seen(PY, "d1", T0)
    fleet.built("base-python", T0 + 7 * DAY, outcome="failed", py="d1")
    stopped = plan(fleet.states, T0 + 8 * DAY)
    assert stopped.image("base-python").status == "failed"
    assert "needs a fix" in stopped.image("base-python").reason
    for child in ("ml-runtime", "worker", "api"):
        assert stopped.image(child).status == "blocked"
        assert stopped.image(child).rebuilds == ()
        assert "base-python" in stopped.image(child).reason
    assert stopped.cascade == ()
    assert stopped.image("web").status == "up-to-date"

    fleet.seen(PY, "d2", T0 + 3 * DAY)
    retried = plan(fleet.states, T0 + 8 * DAY)
    assert retried.image("base-python").status == "failed"
    assert [(r.image, r.at, r.onto[PY]) for r in retried.cascade] == [
        ("base-python", T0 + 10 * DAY, digest("d2")), ("api", T0 + 10 * DAY, digest("d2")),
        ("ml-runtime", T0 + 10 * DAY, digest("d2")), ("worker", T0 + 10 * DAY, digest("d2"))]
    assert retried.image("api").status == "blocked"


def test_failure_without_recorded_digests_is_not_retried_on_what_was_available() -> None:
    fleet = Fleet().managed("base-python", PY).seen(PY, "d0", T0 - 30 * DAY)
    fleet.built("base-python", T0 - 20 * DAY).built("base-python", T0 - 19 * DAY, outcome="failed")
    assert plan(fleet.states, T0).image("base-python").rebuilds == ()
    fleet.seen(PY, "d1", T0)
    assert [r.at for r in plan(fleet.states, T0).image("base-python").rebuilds] == [T0 + 7 * DAY]


def test_success_after_a_failure_clears_it() -> None:
    fleet = Fleet().managed("base-python", PY).seen(PY, "d1", T0)
    fleet.built("base-python", T0 + 7 * DAY, outcome="failed", py="d1")
    fleet.built("base-python", T0 + 8 * DAY, py="d1")
    result = plan(fleet.states, T0 + 9 * DAY)
    assert result.image("base-python").status == "up-to-date"
    assert result.image("base-python").last_built == T0 + 8 * DAY
    assert result.image("base-python").last_failure == T0 + 7 * DAY


def test_stale_since_propagates_to_children() -> None:
    fleet = built_everything_on_d0(python_chain()).seen(PY, "d1", T0)
    result = plan(fleet.states, T0 + 9 * DAY)
    assert result.image("base-python").stale_since == T0 + 7 * DAY
    assert result.image("worker").stale_since == T0 + 7 * DAY
    assert result.image("web").stale_since is None
    assert {i.name for i in result.images if i.status == "eligible"} == {
        "base-python", "ml-runtime", "worker", "api"}
    assert all(r.at == T0 + 9 * DAY for r in result.cascade)


def test_parent_rebuilt_child_not_yet_is_eligible_since_the_parent_build() -> None:
    fleet = built_everything_on_d0(python_chain()).seen(PY, "d1", T0)
    fleet.built("base-python", T0 + 7 * DAY, py="d1")
    result = plan(fleet.states, T0 + 8 * DAY)
    assert result.image("base-python").status == "up-to-date"
    assert result.image("ml-runtime").status == "eligible"
    assert result.image("ml-runtime").stale_since == T0 + 7 * DAY
    assert [r.image for r in result.cascade] == ["api", "ml-runtime", "worker"]


def test_no_history_is_unknown() -> None:
    result = plan(python_chain().states, T0)
    assert {i.status for i in result.images} == {"unknown"}
    assert result.cascade == ()
    assert result.summary()["unknown"] == 5


def test_what_if_base_moved_now() -> None:
    fleet = built_everything_on_d0(python_chain(api_delay="240h"))
    at = T0 + 2 * HOUR
    result = plan_assuming_update(fleet.states, PY, at)
    assert result.assumed == (PY, at)
    first = {name: result.first_onto(name, PY, ASSUMED_DIGEST) for name in
             ("base-python", "ml-runtime", "worker", "api", "web")}
    assert {n: r.at if r else None for n, r in first.items()} == {
        "base-python": at + 7 * DAY, "ml-runtime": at + 7 * DAY, "worker": at + 7 * DAY,
        "api": at + 10 * DAY, "web": None}
    assert [r.digest for r in fleet.states[PY].digests.history] == [digest("d0")]  # input left untouched


def test_what_if_unknown_base_is_an_error() -> None:
    with pytest.raises(PlanningError, match=re.escape("unknown base 'docker.io/library/ruby:3'")):
        plan_assuming_update(python_chain().states, "docker.io/library/ruby:3", T0)


def test_summary_counts() -> None:
    fleet = built_everything_on_d0(python_chain()).seen(PY, "d1", T0)
    fleet.built("base-python", T0 + 7 * DAY, outcome="failed", py="d1")
    summary = plan(fleet.states, T0 + 8 * DAY).summary()
    assert summary == {"managed": 5, "eligible": 0, "held": 0, "failed": 1, "blocked": 3, "up_to_date": 1,
                       "unknown": 0, "stale": 4, "bases": 2, "held_digests": 0, "predicted_rebuilds": 0}


def test_a_tag_reverted_to_an_older_digest_is_followed_back() -> None:
    fleet = Fleet().managed("base-python", PY).seen(PY, "d1", T0).seen(PY, "d2", T0 + 2 * DAY)
    fleet.built("base-python", T0 + 9 * DAY, py="d2")
    history = fleet.states[PY].digests.history
    history[0] = history[0].model_copy(update={"last_seen": T0 + 10 * DAY})  # upstream went back to d1
    image = plan(fleet.states, T0 + 10 * DAY).image("base-python")
    assert image.newest_vetted == {PY: digest("d1")}
    assert image.status == "eligible" and image.rebuilds[0].onto == {PY: digest("d1")}


def test_planning_as_of_a_past_time_ignores_what_came_later() -> None:
    fleet = (Fleet().managed("base-python", PY).seen(PY, "d1", T0).seen(PY, "d2", T0 + 5 * DAY)
             .built("base-python", T0 + 8 * DAY, py="d1"))
    then = plan(fleet.states, T0 + 3 * DAY)
    assert then.base(PY).seen == 1 and then.base(PY).current == digest("d1")
    image = then.image("base-python")
    assert image.last_built is None and image.status == "held"
    assert [(r.at, r.onto[PY]) for r in image.rebuilds] == [(T0 + 7 * DAY, digest("d1"))]
    now = plan(fleet.states, T0 + 10 * DAY)
    assert now.image("base-python").last_built == T0 + 8 * DAY
    assert now.image("base-python").rebuilds[0].at == T0 + 12 * DAY


@pytest.mark.parametrize(("delays", "expected_days", "gates"), [
    (("168h", "168h", "168h"), (7, 7, 7), [("168h", ("base-python",))]),
    (("168h", "240h", "336h"), (7, 10, 14),
     [("168h", ("base-python",)), ("240h", ("ml-runtime",)), ("336h", ("worker",))]),
    (("336h", "168h", "168h"), (14, 14, 14), [("336h", ("base-python",))]),
])
def test_own_delay_holds_through_parents(delays: tuple[str, str, str], expected_days: tuple[int, int, int],
                                         gates: list[tuple[str, tuple[str, ...]]]) -> None:
    """python → base-python → ml-runtime → worker, each reaching python only through its parent: each is
    rebuilt onto a python digest at least as old as the longest delay on its path, its own included, and
    an image whose delay outlasts its parents' has its own gate (as the rendered soak Stages do)."""
    fleet = (Fleet().managed("base-python", PY, delay=delays[0]).managed("ml-runtime", "base-python", delay=delays[1])
             .managed("worker", "ml-runtime", delay=delays[2]))
    fleet.seen(PY, "d0", T0 - 60 * DAY)
    for name in ("base-python", "ml-runtime", "worker"):
        fleet.built(name, T0 - 50 * DAY, py="d0")
    result = plan(fleet.seen(PY, "d1", T0).states, T0)
    assert [result.image(n).rebuilds[0].at for n in ("base-python", "ml-runtime", "worker")] == [
        T0 + d * DAY for d in expected_days]
    assert [(g.delay_text, g.users) for g in result.base(PY).gates] == gates
    waits = {n: dict(result.image(n).waits_longer) for n in ("base-python", "ml-runtime", "worker")}
    assert waits == {n: ({PY: DAY * days} if days * DAY > timedelta(hours=int(d[:-1])) else {})
                     for n, d, days in zip(("base-python", "ml-runtime", "worker"), delays, expected_days, strict=True)}
