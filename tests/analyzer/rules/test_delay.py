from __future__ import annotations

from datetime import date

import pytest

from analyzer.kargo.conventions import ANNOTATION_EXPEDITE_EXPIRES, ANNOTATION_EXPEDITE_REASON
from analyzer.rules.delay import (
    delay_not_below_parents,
    no_direct_freight,
    rebuild_path_soaked,
    required_soak_time,
    soak_delay_bounds,
    soak_delay_matches_gate,
)
from analyzer.rules.model import Resource
from tests.analyzer.rules.builders import rebuild, request, settings, soak, template, warehouse

TODAY = date(2026, 11, 26)


def messages(findings: list) -> list[str]:
    return [f.message for f in findings]


# --- soak-delay-bounds -------------------------------------------------------------------------

@pytest.mark.parametrize("delay", ["168h", "240h", "720h", "7d", "168h0m0s"])
def test_delay_within_bounds_passes(delay: str) -> None:
    assert soak_delay_bounds(soak(delay=delay), settings()) == []


def test_delay_below_minimum_names_stage_delay_and_fix() -> None:
    [message] = messages(soak_delay_bounds(soak(name="soak-py-1h", delay="1h"), settings()))
    assert "soak-py-1h" in message and "1h" in message and "less than the minimum 7d (168h)" in message
    assert "images.yaml `delay:`" in message


def test_delay_above_maximum() -> None:
    [message] = messages(soak_delay_bounds(soak(delay="2160h"), settings()))
    assert "90d (2160h)" in message and "more than the maximum 30d (720h)" in message


def test_delay_thresholds_come_from_config_and_accept_floats() -> None:
    assert soak_delay_bounds(soak(delay="36h"), settings(minimumDelayDays=1.0)) == []
    assert soak_delay_bounds(soak(delay="36h"), settings(minimumDelayDays=1.5)) == []
    assert soak_delay_bounds(soak(delay="35h"), settings(minimumDelayDays=1.5)) != []


def test_missing_or_invalid_delay_label() -> None:
    assert "has no label image-factory.dev/delay" in messages(soak_delay_bounds(soak(delay=None), settings()))[0]
    assert "not a duration" in messages(soak_delay_bounds(soak(delay="a week"), settings()))[0]


def test_delay_rule_ignores_other_resources() -> None:
    assert soak_delay_bounds(rebuild(), settings()) == []
    assert soak_delay_bounds(warehouse(), settings()) == []


# --- no-direct-freight -------------------------------------------------------------------------

def _direct(annotations: dict[str, str] | None = None) -> object:
    return rebuild(requests=[request(stages=[], direct=True)], annotations=annotations)


def test_rebuild_from_soak_stage_passes() -> None:
    assert no_direct_freight(rebuild(), settings(today=TODAY)) == []


def test_soak_stage_may_take_direct_freight() -> None:
    assert no_direct_freight(soak(), settings(today=TODAY)) == []


def test_direct_freight_without_override_is_a_violation() -> None:
    [message] = messages(no_direct_freight(_direct(), settings(today=TODAY)))  # type: ignore[arg-type]
    assert "rebuild-app takes freight direct from Warehouse python-3-12-slim" in message
    assert "without an expedite override" in message and "sources.stages" in message


def test_valid_unexpired_override_allows_direct_freight() -> None:
    stage = _direct({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "2026-12-01"})
    assert no_direct_freight(stage, settings(today=TODAY)) == []  # type: ignore[arg-type]
    stage = _direct({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "2026-11-26"})
    assert no_direct_freight(stage, settings(today=TODAY)) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("annotations", "expected"), [
    ({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "2026-11-25"},
     "expired on 2026-11-25"),
    ({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "next week"},
     "is not an ISO date"),
    ({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "2027-06-01"},
     "later than 30 days from today (2026-12-26)"),
    ({ANNOTATION_EXPEDITE_EXPIRES: "2026-12-01"}, "without an expedite override"),
    ({ANNOTATION_EXPEDITE_REASON: " ", ANNOTATION_EXPEDITE_EXPIRES: "2026-12-01"}, "without an expedite override"),
])
def test_invalid_overrides(annotations: dict[str, str], expected: str) -> None:
    [message] = messages(no_direct_freight(_direct(annotations), settings(today=TODAY)))  # type: ignore[arg-type]
    assert expected in message


def test_expedite_horizon_is_configurable() -> None:
    stage = _direct({ANNOTATION_EXPEDITE_REASON: "CVE-2026-1234", ANNOTATION_EXPEDITE_EXPIRES: "2027-06-01"})
    assert no_direct_freight(stage, settings(today=TODAY, maximumExpediteDays=365.0)) == []  # type: ignore[arg-type]


# --- required-soak-time ------------------------------------------------------------------------

def test_required_soak_time_is_flagged() -> None:
    stage = rebuild(requests=[request(requiredSoakTime="168h")])
    [message] = messages(required_soak_time(stage, settings()))
    assert "requiredSoakTime=168h" in message and "debounce" in message and "kargo#5342" in message


def test_no_required_soak_time_passes() -> None:
    assert required_soak_time(rebuild(), settings()) == []
    assert required_soak_time(soak(), settings()) == []


# --- rebuild-path-soaked -----------------------------------------------------------------------

def test_rebuild_via_soak_and_parent_rebuild_passes() -> None:
    resources = [warehouse(), soak(), rebuild("rebuild-base"),
                 rebuild("rebuild-app", requests=[request(stages=["soak-python-168h", "rebuild-base"])])]
    assert rebuild_path_soaked(resources, settings()) == []


@pytest.mark.parametrize(("upstream", "expected"), [
    ("soak-missing", "no such Stage in the stack"),
    ("plain", "neither a soak Stage nor a rebuild Stage"),
    ("soak-node", "does not request python-3-12-slim"),
])
def test_rebuild_path_problems(upstream: str, expected: str) -> None:
    plain = rebuild("plain", image=None)
    plain = type(plain)(plain.type, {**plain.props, "metadata": {"name": "plain", "labels": {}}})
    resources = [warehouse(), warehouse("node-20"), soak(), soak("soak-node", origin="node-20"), plain,
                 rebuild(requests=[request(stages=[upstream])])]
    [message] = messages(rebuild_path_soaked(resources, settings()))
    assert f"via {upstream}" in message and expected in message


def test_rebuild_with_no_upstream_or_unknown_warehouse() -> None:
    assert "from no Stage" in messages(rebuild_path_soaked(
        [warehouse(), rebuild(requests=[request(stages=[])])], settings()))[0]
    assert "not in the stack" in messages(rebuild_path_soaked(
        [rebuild(requests=[request(origin="gone")])], settings()))[0]


# --- soak-delay-matches-gate -------------------------------------------------------------------

def test_declared_delay_equal_to_gate_arg_passes() -> None:
    assert soak_delay_matches_gate([soak(delay="168h", gate_delay="168h0m0s"), template()], settings()) == []


def test_gate_arg_differs_from_label() -> None:
    [message] = messages(soak_delay_matches_gate([soak(delay="168h", gate_delay="72h"), template()], settings()))
    assert "declares delay 7d (168h)" in message and "waits 3d (72h)" in message


def test_gate_delay_from_stage_vars_and_template_default() -> None:
    via_var = soak(gate_delay="${{ vars.delay }}", vars=[{"name": "delay", "value": "168h"}])
    assert soak_delay_matches_gate([via_var, template()], settings()) == []
    defaulted = template(args=[{"name": "warehouse"}, {"name": "delay", "value": "72h"}])
    assert "waits 3d (72h)" in messages(soak_delay_matches_gate([soak(gate_delay=None), defaulted], settings()))[0]


@pytest.mark.parametrize(("resources", "expected"), [
    ([soak(gate_delay=None), template()], "passes no 'delay' argument"),
    ([soak()], "AnalysisTemplate gate, which is not in the stack"),
    ([soak(), template(args=[{"name": "warehouse"}])], "does not declare it in spec.args"),
    ([soak(gate_delay="soon"), template()], "which is not a duration"),
])
def test_gate_problems(resources: list, expected: str) -> None:
    assert any(expected in m for m in messages(soak_delay_matches_gate(resources, settings())))


def test_soak_stage_without_verification() -> None:
    stage = soak()
    stage = type(stage)(stage.type, {**stage.props, "spec": {**stage.spec, "verification": None}})
    assert "has no gate verification" in messages(soak_delay_matches_gate([stage], settings()))[0]


def _rebuild_with_delay(name: str, delay: str, stages: list[str]) -> Resource:
    return rebuild(name=name, image=name.removeprefix("rebuild-"), requests=[request(stages=stages)], delay=delay)


@pytest.mark.parametrize(("child", "flagged"), [("168h", True), ("240h", False), ("336h", False)])
def test_child_delay_below_its_parents_is_flagged(child: str, flagged: bool) -> None:
    """python soaks 10d for the parent; a child declaring 7d is still rebuilt after 10d: say so."""
    resources = [soak(name="soak-python-240h", delay="240h", gate_delay="240h"),
                 _rebuild_with_delay("rebuild-parent", "240h", ["soak-python-240h"]),
                 _rebuild_with_delay("rebuild-child", child, ["rebuild-parent"])]
    findings = delay_not_below_parents(resources, settings())
    assert [f.resource.name for f in findings if f.resource] == (["rebuild-child"] if flagged else [])
    if flagged:
        assert "declares delay 7d (168h)" in findings[0].message and "after 10d (240h)" in findings[0].message


def test_rebuild_path_soaked_leaves_names_of_other_stacks_to_them_with_other_stacks() -> None:
    """A team's stack has its rebuild Stages, not the platform's Warehouses and soak Stages."""
    from analyzer.kargo.build import build_project
    from analyzer.kargo.settings import Settings
    from analyzer.kargo.stacks import select
    from analyzer.rules.model import from_manifest
    from analyzer.rules.settings import PolicySettings
    from tests.support.kargo_fleet import example_fleet, example_states

    fleet = example_fleet()
    project = build_project(fleet, example_states(), Settings())
    team = [from_manifest(o.to_manifest())
            for o in select(project, fleet, Settings(teams=["images.d/payments.yaml"], shared="none"))]
    assert rebuild_path_soaked(team, PolicySettings())  # alone, every edge points out of the stack
    assert rebuild_path_soaked(team, PolicySettings(otherStacks=True)) == []
    # What is in the stack is still checked: a Stage that takes freight from no Stage at all.
    broken = [from_manifest({**m, "spec": {**m["spec"], "requestedFreight": [
        {**r, "sources": {}} for r in m["spec"]["requestedFreight"]]}}) for m in (o.to_manifest() for o in
              select(project, fleet, Settings(teams=["images.d/payments.yaml"], shared="none")))]
    assert rebuild_path_soaked(broken, PolicySettings(otherStacks=True))
