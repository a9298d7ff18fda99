"""The rendered example fleet against the real kube-apiserver: accepted by the CRDs' structural schemas and
CEL rules, stored without pruning, and known-bad objects rejected (so these tests can fail)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from tests.e2e.conftest import Applied, apply
from tests.support.controlplane import ControlPlane


def _missing(sent: Any, stored: Any, path: str = "") -> Iterator[str]:
    """Paths of everything we sent that the server did not store as sent (pruned or changed)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            yield f"{path}: {stored!r}"
            return
        for key, value in sent.items():
            if key not in stored:
                yield f"{path}.{key} (pruned)"
            else:
                yield from _missing(value, stored[key], f"{path}.{key}")
    elif isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            yield f"{path}: list changed"
            return
        for i, (a, b) in enumerate(zip(sent, stored, strict=True)):
            yield from _missing(a, b, f"{path}[{i}]")
    elif sent != stored:
        yield f"{path}: sent {sent!r}, stored {stored!r}"


def test_every_rendered_object_is_accepted_and_stored_as_rendered(applied_fleet: Applied) -> None:
    kinds = sorted({m["kind"] for m in applied_fleet.manifests})
    assert kinds == ["AnalysisTemplate", "Project", "ProjectConfig", "Role", "RoleBinding", "ServiceAccount",
                     "Stage", "Warehouse"]
    assert len(applied_fleet.stored) == len(applied_fleet.manifests) > 20
    for sent, stored in zip(applied_fleet.manifests, applied_fleet.stored, strict=True):
        name = f"{sent['kind']}/{sent['metadata']['name']}"
        assert stored["metadata"]["uid"], name
        assert list(_missing(sent, stored)) == [], name


def test_applied_objects_can_be_read_back_by_kind(applied_fleet: Applied, kube: k8s.ApiClient) -> None:
    objects = k8s.CustomObjectsApi(kube)
    stages = objects.list_namespaced_custom_object("kargo.akuity.io", "v1alpha1", "image-factory", "stages")
    warehouses = objects.list_namespaced_custom_object("kargo.akuity.io", "v1alpha1", "image-factory", "warehouses")
    templates = objects.list_namespaced_custom_object("argoproj.io", "v1alpha1", "image-factory", "analysistemplates")
    rendered = [m["kind"] for m in applied_fleet.manifests]
    assert len(stages["items"]) == rendered.count("Stage") > 10
    assert len(warehouses["items"]) == rendered.count("Warehouse") > 5
    assert sorted(t["metadata"]["name"] for t in templates["items"]) == ["gate", "verify-rebuild"]


def _rendered(applied: Applied, kind: str, name_prefix: str = "") -> dict[str, Any]:
    found = next(m for m in applied.manifests if m["kind"] == kind and m["metadata"]["name"].startswith(name_prefix))
    bad = copy.deepcopy(found)
    bad["metadata"]["name"] = "bad-" + bad["metadata"]["name"][:40]
    return bad


def _rejection(kube: k8s.ApiClient, manifest: dict[str, Any]) -> str:
    with pytest.raises(DynamicApiError) as caught:
        apply(DynamicClient(kube), manifest, dry_run=True)
    assert caught.value.status in (400, 422), caught.value.summary()
    return str(caught.value.summary())


def test_the_real_schema_rejects_a_warehouse_with_an_invalid_interval(applied_fleet: Applied,
                                                                      kube: k8s.ApiClient) -> None:
    bad = _rendered(applied_fleet, "Warehouse")
    bad["spec"]["interval"] = "5 minutes"
    assert "spec.interval" in _rejection(kube, bad)


def test_the_real_schema_rejects_unknown_fields(applied_fleet: Applied, kube: k8s.ApiClient) -> None:
    bad = _rendered(applied_fleet, "Stage", "rebuild-")
    bad["spec"]["verification"]["analysisTemplate"] = bad["spec"]["verification"].pop("analysisTemplates")
    # Server-side apply answers an undeclared field with a 500 ("field not declared in schema"); a strict
    # create gives the proper 400.
    with pytest.raises(ApiException) as caught:
        k8s.CustomObjectsApi(kube).create_namespaced_custom_object(
            "kargo.akuity.io", "v1alpha1", "image-factory", "stages", bad, dry_run="All", field_validation="Strict")
    assert caught.value.status == 400
    message = json.loads(caught.value.body)["message"]
    assert 'strict decoding error: unknown field "spec.verification.analysisTemplate"' in message


def test_the_api_server_does_not_check_warehouse_subscriptions(applied_fleet: Applied, kube: k8s.ApiClient) -> None:
    """Kargo v1.11.2's CRD keeps `subscriptions[]` as preserve-unknown-fields: only Kargo's webhook (not run
    here) validates them, so the JSON-schema tests of subscriptions (tests/analyzer/kargo) stay necessary."""
    bad = _rendered(applied_fleet, "Warehouse")
    bad["spec"]["subscriptions"][0]["image"]["tagSelectionStrategy"] = "Digest"
    bad["spec"]["subscriptions"][0]["image"]["imageSelectionStrategy"] = "Sometimes"
    stored = apply(DynamicClient(kube), bad, dry_run=True)
    assert stored["spec"]["subscriptions"][0]["image"]["imageSelectionStrategy"] == "Sometimes"


def test_the_real_schema_rejects_a_stage_without_requested_freight(applied_fleet: Applied,
                                                                   kube: k8s.ApiClient) -> None:
    bad = _rendered(applied_fleet, "Stage", "soak-")
    del bad["spec"]["requestedFreight"]
    assert "spec.requestedFreight: Required value" in _rejection(kube, bad)


def test_the_real_cel_rules_reject_a_step_with_both_uses_and_task(applied_fleet: Applied,
                                                                  kube: k8s.ApiClient) -> None:
    bad = _rendered(applied_fleet, "Stage", "soak-")
    bad["spec"]["promotionTemplate"]["spec"]["steps"][0]["task"] = {"name": "some-task"}
    message = _rejection(kube, bad)
    assert "spec.promotionTemplate.spec.steps[0]" in message and "exactly one of uses or task" in message


def test_the_real_schema_rejects_an_analysis_template_job_without_containers(applied_fleet: Applied,
                                                                            kube: k8s.ApiClient) -> None:
    bad = _rendered(applied_fleet, "AnalysisTemplate", "gate")
    del bad["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"]
    assert "containers: Required value" in _rejection(kube, bad)


def test_the_rendered_role_lets_the_job_account_read_freight_and_nothing_more(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient) -> None:
    """The real RBAC authorizer with a real token of the rendered ServiceAccount (what the gate runs as)."""
    token = k8s.CoreV1Api(kube).create_namespaced_service_account_token(
        "image-factory-jobs", "image-factory",
        k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[]))).status.token
    configuration = k8s.Configuration()
    configuration.host = control_plane.url
    configuration.ssl_ca_cert = str(control_plane.pki.ca_cert)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    with k8s.ApiClient(configuration) as job_api:
        freights = k8s.CustomObjectsApi(job_api).list_namespaced_custom_object(
            "kargo.akuity.io", "v1alpha1", "image-factory", "freights")
        assert freights["kind"] == "FreightList"
        with pytest.raises(ApiException) as secrets:
            k8s.CoreV1Api(job_api).list_namespaced_secret("image-factory")
        assert secrets.value.status == 403
        for namespace, plural in (("image-factory", "stages"), ("other", "freights")):
            with pytest.raises(ApiException) as caught:
                k8s.CustomObjectsApi(job_api).list_namespaced_custom_object("kargo.akuity.io", "v1alpha1",
                                                                            namespace, plural)
            assert caught.value.status == 403, (namespace, plural)
