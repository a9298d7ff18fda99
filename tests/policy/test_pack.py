"""The real pack's policies, evaluated in process through pulumi-policy's analyzer servicer."""

from __future__ import annotations

import ast

import jsonschema
import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from analyzer.rules.catalog import RULES, StackRule
from analyzer.rules.model import Level
from policy.policies import POLICIES
from tests.policy.fleets import BAD_FLEET, GOOD_FLEET, bad_manifests, expected, render
from tests.policy.harness import analyze, from_manifests
from tests.support import ROOT

POLICY_DIR = ROOT / "policy"


def triples(diagnostics: list) -> list[tuple[str, str, str]]:
    return sorted((d.policy, d.level, d.resource) for d in diagnostics)


def test_pack_registers_every_rule_with_its_level_scope_and_schema() -> None:
    assert [p.name for p in POLICIES] == [r.name for r in RULES]
    for policy, rule in zip(POLICIES, RULES, strict=True):
        assert isinstance(policy, StackValidationPolicy if isinstance(rule, StackRule) else ResourceValidationPolicy)
        assert policy.enforcement_level == EnforcementLevel(rule.level.value)
        properties = policy.config_schema.properties if policy.config_schema else {}
        assert sorted(properties) == sorted(rule.config)
        for schema in properties.values():
            jsonschema.Draft7Validator.check_schema(schema)


def test_good_fleet_has_no_violations() -> None:
    manifests = render(GOOD_FLEET)
    assert {m["kind"] for m in manifests} >= {"Warehouse", "Stage", "AnalysisTemplate"}
    assert analyze(from_manifests(manifests)) == []


def test_bad_fleet_yields_exactly_the_expected_violations() -> None:
    assert triples(analyze(from_manifests(render(BAD_FLEET)))) == expected("fleet")


def test_bad_manifests_yield_exactly_the_expected_violations() -> None:
    assert triples(analyze(from_manifests(bad_manifests()))) == expected("manifests")


def test_messages_are_description_then_what_where_how() -> None:
    [diagnostic] = [d for d in analyze(from_manifests(render(BAD_FLEET))) if d.policy == "digest-constraint-literal"]
    description, message = diagnostic.message.split("\n", 1)
    assert description == "With the Digest strategy, constraint is one literal tag."
    assert "Warehouse debian-12" in message and "'12.*' is not a literal tag" in message and "write the tag" in message


def test_stack_violations_are_tied_to_the_resource_urn() -> None:
    [cycle] = [d for d in analyze(from_manifests(bad_manifests())) if d.policy == "rebuild-graph-acyclic"]
    assert cycle.urn.endswith("::kubernetes:kargo.akuity.io/v1alpha1:Stage::rebuild-a")


def test_all_level_and_disabled_overrides() -> None:
    advisory = analyze(from_manifests(render(BAD_FLEET)), {"all": "advisory"})
    assert {d.level for d in advisory} == {"advisory"} and len(advisory) == len(expected("fleet"))
    some_disabled = analyze(from_manifests(render(BAD_FLEET)),
                            {"soak-delay-bounds": "disabled", "tag-regex-anchored": {"enforcementLevel": "advisory"}})
    found = triples(some_disabled)
    assert not any(rule == "soak-delay-bounds" for rule, _, _ in found)
    assert ("tag-regex-anchored", "advisory", "Warehouse/postgres-16") in found


def test_thresholds_from_config_arrive_as_floats_and_are_cast() -> None:
    relaxed = {"soak-delay-bounds": {"minimumDelayDays": 0.04, "maximumDelayDays": 90},
               "discovery-limit-bounds": {"maximumDiscoveryLimit": 5}}
    found = triples(analyze(from_manifests(render(BAD_FLEET)), relaxed))
    assert not any(rule == "soak-delay-bounds" for rule, _, _ in found)
    redis = [m for m in render(GOOD_FLEET) if m["metadata"]["name"] == "redis-7"]
    assert triples(analyze(from_manifests(redis), {"discovery-limit-bounds": {"maximumDiscoveryLimit": 5}})) == [
        ("discovery-limit-bounds", "mandatory", "Warehouse/redis-7")]


def test_invalid_config_is_rejected_like_the_engine_does() -> None:
    with pytest.raises(jsonschema.ValidationError):
        analyze([], {"soak-delay-bounds": {"minimumDelayDays": -1}})
    with pytest.raises(jsonschema.ValidationError):
        analyze([], {"discovery-limit-bounds": {"maximumDiscoveryLimit": 500}})


def test_allow_latest_config() -> None:
    alpine = [m for m in render(BAD_FLEET) if m["metadata"]["name"] == "alpine-latest"]
    assert triples(analyze(from_manifests(alpine))) == [("tag-admits-latest", "mandatory", "Warehouse/alpine-latest")]
    assert analyze(from_manifests(alpine), {"tag-admits-latest": {"allowLatest": True}}) == []


def test_managed_images_config_finds_missing_rebuild_stages() -> None:
    found = analyze(from_manifests(render(GOOD_FLEET)),
                    {"one-rebuild-stage-per-image": {"managedImages": ["api", "base-python", "web", "worker"]}})
    assert [(d.policy, d.resource) for d in found] == [("one-rebuild-stage-per-image", "stack")]
    assert "managed image worker has no rebuild Stage" in found[0].message


def test_unknown_values_during_preview_become_advisory_diagnostics() -> None:
    [warehouse] = [m for m in render(GOOD_FLEET) if m["kind"] == "Warehouse"][:1]
    warehouse = {**warehouse, "spec": {**warehouse["spec"], "interval": UNKNOWN_STRING_VALUE}}
    found = analyze(from_manifests([warehouse]))
    # every policy that reads the unknown value says so, at advisory level, instead of guessing
    assert sorted((d.policy, d.level) for d in found) == [("no-inline-credentials", "advisory"),
                                                          ("warehouse-interval-floor", "advisory")]
    assert all("can't be known during preview" in d.message for d in found)


def test_pack_layout() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python" and isinstance(project["version"], str)
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text())
    calls = [n.value.func.id for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and isinstance(n.value.func, ast.Name)]
    statements = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)
                  and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    # Only the server: how it reads the engine's messages (policy/serving.py), then the PolicyPack.
    assert calls == ["share_message_dicts", "PolicyPack"] and len(statements) == 2
    assert "-r ../requirements.txt" in (POLICY_DIR / "requirements.txt").read_text()


def test_levels_match_catalog_defaults() -> None:
    assert {r.name for r in RULES if r.level is Level.ADVISORY} == {"required-soak-time", "delay-not-below-parents"}
