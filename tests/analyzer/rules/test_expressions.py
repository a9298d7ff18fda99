"""The expression rule, and its verdicts checked against Kargo's own template engine (tier 1)."""

from __future__ import annotations

from typing import Any

import pytest

from analyzer.kargo.build import build_project
from analyzer.kargo.settings import Settings
from analyzer.rules.expressions import kargo_expressions
from analyzer.rules.model import from_manifest
from tests.analyzer.rules.builders import rebuild, settings, soak
from tests.support.kargo_eval import Freight, digest_of, evaluate
from tests.support.kargo_fleet import example_fleet, example_states

IMAGE = 'imageFrom("docker.io/library/python", warehouse("python-3-12-slim"))'
FITS = [
    '${{ quote({ "ref": "main", "inputs": { "image": "x" } }) }}',
    '${{ quote({ "a": "\\u007d\\u007d" }) }}',
    f"docker.io/library/python:${{{{ {IMAGE}.Tag }}}}@${{{{ {IMAGE}.Digest }}}}",
    "${{ `raw }` + \"]\" }}",
    "no expression at all {{ }}",
]
CUT_SHORT = [
    '${{ quote({"ref": "main", "inputs": {"image": "x"}}) }}',
    '${{ quote({ "a": "}}" }) }}',
    "${{ (1 + 2 }}",
    "${{ 'open }}",
    "prefix ${{ 1 + 1",
]


def step_with(value: str) -> list[dict[str, Any]]:
    return [{"uses": "compose-output", "as": "x", "config": {"value": value}}]


@pytest.mark.parametrize("value", FITS)
def test_expressions_kargo_can_parse_pass(value: str) -> None:
    assert kargo_expressions(rebuild(steps=step_with(value)), settings()) == []


@pytest.mark.parametrize("value", CUT_SHORT)
def test_expressions_kargo_cuts_short_fail(value: str) -> None:
    [finding] = kargo_expressions(rebuild(steps=step_with(value)), settings())
    assert "spec.promotionTemplate.spec.steps[0].config.value" in finding.message


@pytest.mark.parametrize(("value", "ok"), [
    (f"${{{{ {IMAGE}.Tag }}}}", False),
    (f"${{{{ quote({IMAGE}.Tag) }}}}", True),
    ("168h", True),
    (f"v${{{{ {IMAGE}.Tag }}}}", True),  # not a whole expression: Kargo keeps text
])
def test_whole_expression_verification_args_must_be_quoted(value: str, ok: bool) -> None:
    stage = soak(verification={"analysisTemplates": [{"name": "gate"}], "args": [{"name": "tag", "value": value}]})
    findings = kargo_expressions(stage, settings())
    assert (findings == []) is ok
    if not ok:
        assert "verification.args[0] (tag)" in findings[0].message and "quote(" in findings[0].message


def test_rendered_example_fleet_passes() -> None:
    project = build_project(example_fleet(), example_states(), Settings())
    for obj in project.by_kind("Stage"):
        assert kargo_expressions(from_manifest(obj.to_manifest()), settings()) == [], obj.name


def test_the_rule_agrees_with_kargo() -> None:
    """Every sample through Kargo's engine: it errors exactly where the rule reports a cut-short expression."""
    manifests = []
    for index, value in enumerate(FITS + CUT_SHORT):
        manifest = rebuild(name=f"s{index}", steps=step_with(value)).props
        manifests.append({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage", **manifest})
    warehouse = {"kind": "Warehouse", "metadata": {"name": "python-3-12-slim"},
                 "spec": {"subscriptions": [{"image": {"repoURL": "docker.io/library/python"}}]}}
    freight = [Freight("python-3-12-slim", {"docker.io/library/python": ("3.12", digest_of("p"))})]
    evaluated = evaluate([*manifests, warehouse], freight)
    for index, value in enumerate(FITS + CUT_SHORT):
        kargo_failed = "error" in evaluated[f"s{index}"].steps[0]
        rule_failed = bool(kargo_expressions(rebuild(steps=step_with(value)), settings()))
        assert kargo_failed == rule_failed == (value in CUT_SHORT), value
