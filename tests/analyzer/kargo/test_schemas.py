"""Every rendered resource of the example fleet is valid for Kargo v1.11.2 / Argo Rollouts v1.9.1."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from analyzer.kargo.build import build_project
from analyzer.kargo.settings import Settings
from tests.support.kargo_fleet import example_fleet, example_states
from tests.support.kargo_schemas import (
    all_problems,
    crd_problems,
    reference_problems,
    stage_webhook_problems,
    step_config_problems,
    subscription_problems,
)


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return [obj.to_manifest() for obj in build_project(example_fleet(), example_states(), Settings()).objects]


def _one(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return copy.deepcopy(found)


def test_example_fleet_renders_schema_valid_project(manifests: list[dict[str, Any]]) -> None:
    assert {m["kind"] for m in manifests} == {
        "Project",
        "ProjectConfig",
        "AnalysisTemplate",
        "Warehouse",
        "Stage",
        "ServiceAccount",
        "Role",
        "RoleBinding",
    }
    assert all_problems(manifests) == []


def test_jobs_may_only_read_freight(manifests: list[dict[str, Any]]) -> None:
    (role,) = [m for m in manifests if m["kind"] == "Role"]
    assert role["rules"] == [{"apiGroups": ["kargo.akuity.io"], "resources": ["freights"],
                              "verbs": ["get", "list", "watch"]}]
    (binding,) = [m for m in manifests if m["kind"] == "RoleBinding"]
    (template,) = [m for m in manifests if m["kind"] == "AnalysisTemplate" and m["metadata"]["name"] == "gate"]
    pod = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                    "namespace": role["metadata"]["namespace"]}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_crd_check_rejects_unknown_and_missing_fields(manifests: list[dict[str, Any]]) -> None:
    warehouse = _one(manifests, "Warehouse", "python-3-12-slim")
    del warehouse["spec"]["interval"]
    warehouse["spec"]["intervall"] = "5m"
    problems = crd_problems(warehouse)
    assert any("'interval' is a required property" in p for p in problems)
    assert any("'intervall' was unexpected" in p for p in problems)


def test_cel_rule_step_needs_uses_or_task(manifests: list[dict[str, Any]]) -> None:
    stage = _one(manifests, "Stage", "soak-python-3-12-slim-168h")
    stage["spec"]["promotionTemplate"]["spec"]["steps"][0]["task"] = {"name": "t"}
    assert any("exactly one of uses or task" in p for p in crd_problems(stage))


def test_subscription_rules(manifests: list[dict[str, Any]]) -> None:
    warehouse = _one(manifests, "Warehouse", "python-3-12-slim")
    image = warehouse["spec"]["subscriptions"][0]["image"]
    image["allowTags"] = "^3"
    del image["constraint"]
    warehouse["spec"]["subscriptions"].append(
        {"image": {"repoURL": "python", "constraint": "3.13-slim", "imageSelectionStrategy": "Digest"}}
    )
    problems = subscription_problems(warehouse)
    assert any("Digest needs constraint" in p for p in problems)
    assert any("allowTags breaks discovery" in p for p in problems)
    assert any("repoURL python appears 2 times" in p for p in problems)


def test_step_config_checked_against_step_schema(manifests: list[dict[str, Any]]) -> None:
    stage = _one(manifests, "Stage", "rebuild-base-python")
    stage["spec"]["promotionTemplate"]["spec"]["steps"][0]["config"]["method"] = "FETCH"
    assert any("does not match" in p for p in step_config_problems(stage))
    soak = _one(manifests, "Stage", "soak-python-3-12-slim-168h")
    soak["spec"]["promotionTemplate"]["spec"]["steps"][0]["config"] = {}
    assert step_config_problems(soak)  # compose-output needs at least one key


def test_stage_webhook_rules(manifests: list[dict[str, Any]]) -> None:
    stage = _one(manifests, "Stage", "rebuild-payments-api")
    requested = stage["spec"]["requestedFreight"]
    requested.append(copy.deepcopy(requested[0]))
    requested[0]["sources"] = {}
    problems = stage_webhook_problems(stage)
    assert any("requested 2 times" in p for p in problems)
    assert any("neither direct nor stages" in p for p in problems)


def test_reference_rules(manifests: list[dict[str, Any]]) -> None:
    broken = copy.deepcopy(manifests)
    stage = next(m for m in broken if m["metadata"]["name"] == "rebuild-payments-api")
    stage["spec"]["requestedFreight"][0]["sources"]["stages"] = ["soak-nowhere"]
    stage["spec"]["verification"]["args"].append({"name": "undeclared", "value": "x"})
    problems = reference_problems(broken)
    assert any("upstream Stage soak-nowhere does not exist" in p for p in problems)
    assert any("['undeclared'] not declared" in p for p in problems)


def test_job_pod_failure_policy_and_optional_secrets_are_schema_checked(manifests: list[dict[str, Any]]) -> None:
    """The Job spec sits inside the AnalysisTemplate CRD: the batch/v1 fields are validated there."""
    for name in ("gate", "verify-rebuild"):
        template = _one(manifests, "AnalysisTemplate", name)
        assert crd_problems(template) == []
        job = template["spec"]["metrics"][0]["provider"]["job"]["spec"]
        assert job["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy requires it
        rules = job["podFailurePolicy"]["rules"]
        assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
        assert rules[1]["onExitCodes"]["operator"] == "In" and rules[1]["action"] == "FailJob"
        env_from = job["template"]["spec"]["containers"][0]["envFrom"]
        assert {e["secretRef"]["optional"] for e in env_from} == {True}
        del rules[1]["onExitCodes"]["operator"]
        rules[0]["onPodConditions"][0]["stauts"] = "True"
        problems = crd_problems(template)
        assert any("'operator' is a required property" in p for p in problems), problems
        assert any("'stauts' was unexpected" in p or "'status' is a required property" in p for p in problems)
