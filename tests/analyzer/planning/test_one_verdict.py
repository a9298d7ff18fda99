"""One verdict for one state: `plan` (the timeline), `status` and the gate judge a digest the same way.

The scenario of issue 13: an image built for linux/amd64 only; its base gets a digest that changes only
arm64. All three must say "nothing to do" (and, as a control, all three see a digest that changes amd64).
An image that declares no platforms cares about every platform: a new index digest whose platform
manifests are all unchanged (only an attestation moved) is nothing to do for all three, one that changes
any platform is a rebuild for all three.
"""

from __future__ import annotations

import pytest

from analyzer.commands.status import image_status
from analyzer.planning.timeline import plan
from analyzer.registry.eligibility import platform_relevance
from analyzer.runtime.gate import dependent_builds
from analyzer.state.model import ImageState
from tests.support.fleet_states import DAY, PY, T0, Fleet, digest, registry_ref

AMD, ARM = "linux/amd64", "linux/arm64"


def fleet(moved: dict[str, str], platforms: tuple[str, ...] = (AMD,)) -> dict[str, ImageState]:
    """python d0 (amd a0, arm r0), app (amd64 only) built on d0; then d1 = `moved`, 10 days ago."""
    return (Fleet().managed("app", PY, platforms=platforms)
            .seen(PY, "d0", T0 - 30 * DAY, {AMD: "a0", ARM: "r0"})
            .built("app", T0 - 20 * DAY, py="d0")
            .seen(PY, "d1", T0 - 10 * DAY, moved)).states


@pytest.mark.parametrize(("platforms", "moved", "relevant"), [
    ((AMD,), {AMD: "a0", ARM: "r1"}, False),   # arm64 only changed, app builds amd64 only
    ((AMD,), {AMD: "a1", ARM: "r0"}, True),    # amd64 changed
    ((), {AMD: "a0", ARM: "r0"}, False),       # new index digest, same platform manifests (attestation)
    ((), {AMD: "a0", ARM: "r1"}, True),        # every platform matters: arm64 changed
])
def test_plan_status_and_gate_agree(platforms: tuple[str, ...], moved: dict[str, str], relevant: bool) -> None:
    states = fleet(moved, platforms)
    timeline = plan(states, T0)
    planned = timeline.image("app")
    status = image_status(states[registry_ref("app")], states, T0)
    (base,) = status.bases
    records = {r.digest: r.platforms for r in states[PY].digests.history}
    gate = platform_relevance(digest("d1"), records[digest("d1")],
                              dependent_builds(PY, states, lambda d: records.get(d)))
    assert gate.relevant is relevant, gate.reason
    assert base.status is not None
    if relevant:
        assert (planned.status, base.status.verdict) == ("eligible", "rebuild-due")
        assert planned.rebuilds[0].onto == {PY: digest("d1")}
    else:
        assert (planned.status, base.status.verdict) == ("up-to-date", "up-to-date")
        assert planned.rebuilds == () and timeline.cascade == ()
        assert "no relevant platform changed" in gate.reason
