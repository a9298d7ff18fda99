"""The real pack over the resources the real Pulumi program registers under mocks (`Mocks.new_resource`
sees each resource's type token and inputs, the same shape a policy pack gets in a preview)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest

from analyzer.config.loader import load_fleet
from infra import program
from tests.policy.fleets import BAD_FLEET, expected
from tests.policy.harness import analyze
from tests.support import ROOT
from tests.support.kargo_fleet import example_states, write_state_dir
from tests.support.pulumi_mocks import EchoMocks


def _captured(mocks: EchoMocks, fleet: Path, state_dir: Path,
              ) -> tuple[program.Program, list[tuple[str, str, dict[str, Any]]]]:
    """Run the program; return it and the custom resources it registered (providers excluded)."""
    start = len(mocks.created)
    built = program.build(fleet, state_dir, program.read_settings(pulumi.Config()))

    @pulumi.runtime.test
    def settle() -> pulumi.Output[Any]:  # registrations reach the mocks only while the loop runs
        return pulumi.Output.all(*[r.urn for r in built.resources.values()])

    settle()
    captured = [(a.typ, a.name, dict(a.inputs)) for a in mocks.created[start:]
                if a.custom and not a.typ.startswith("pulumi:providers:")]
    assert len(captured) == len(built.project.objects)
    return built, captured


def test_example_fleet_program_resources_have_no_violations(tmp_path: Path, pulumi_mocks: EchoMocks) -> None:
    state_dir = tmp_path / "state"
    write_state_dir(state_dir, example_states())
    built, resources = _captured(pulumi_mocks, ROOT / "images.yaml", state_dir)
    kinds = {typ.rsplit(":", 1)[-1] for typ, _, _ in resources}
    assert {"Warehouse", "Stage", "AnalysisTemplate", "Project", "ProjectConfig"} <= kinds
    unbuildable = set(built.project.summary["unbuildable"])  # no external base: nothing to follow
    managed = [i.name for i in load_fleet(ROOT / "images.yaml").managed() if i.name not in unbuildable]
    assert len(managed) >= 5
    assert analyze(resources, {"one-rebuild-stage-per-image": {"managedImages": managed}}) == []


@pytest.mark.parametrize("strict", [False, True])
def test_bad_fleet_program_resources_yield_exactly_the_expected_violations(
        pulumi_mocks: EchoMocks, strict: bool) -> None:
    _, resources = _captured(pulumi_mocks, BAD_FLEET / "images.yaml", BAD_FLEET / "state")
    config = {"all": "mandatory"} if strict else {}
    found = sorted((d.policy, d.level, d.resource) for d in analyze(resources, config))
    assert found == expected("fleet")  # every expected one is mandatory already
