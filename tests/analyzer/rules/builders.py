"""Hand-built Kargo manifests for rule tests, shaped like the renderer's output (analyzer.kargo.build)."""

from __future__ import annotations

from typing import Any

from analyzer.kargo.conventions import (
    ANNOTATION_REF,
    ANNOTATION_SOURCE,
    LABEL_DELAY,
    LABEL_IMAGE,
    LABEL_ROLE,
)
from analyzer.rules.model import Resource, from_manifest
from analyzer.rules.settings import PolicySettings

NS = "image-factory"


def settings(**values: Any) -> PolicySettings:
    return PolicySettings.model_validate(values)


def warehouse(name: str = "python-3-12-slim", interval: str | None = "5m0s", **image: Any) -> Resource:
    image = {"repoURL": "docker.io/library/python", "imageSelectionStrategy": "Digest",
             "constraint": "3.12-slim", **image}
    spec: dict[str, Any] = {"subscriptions": [{"image": {k: v for k, v in image.items() if v is not None}}]}
    if interval is not None:
        spec["interval"] = interval
    return from_manifest({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Warehouse",
                          "metadata": {"name": name, "namespace": NS, "labels": {LABEL_ROLE: "warehouse"},
                                       "annotations": {ANNOTATION_SOURCE: "images.yaml:3"}},
                          "spec": spec})


def soak(name: str = "soak-python-168h", origin: str = "python-3-12-slim", delay: str | None = "168h",
         gate_delay: str | None = "168h", template: str = "gate", **extra: Any) -> Resource:
    labels = {LABEL_ROLE: "soak"}
    if delay is not None:
        labels[LABEL_DELAY] = delay
    args = [{"name": "warehouse", "value": origin}]
    if gate_delay is not None:
        args.append({"name": "delay", "value": gate_delay})
    spec: dict[str, Any] = {
        "requestedFreight": [{"origin": {"kind": "Warehouse", "name": origin}, "sources": {"direct": True}}],
        "promotionTemplate": {"spec": {"steps": [{"uses": "compose-output", "config": {"a": "b"}}]}},
        "verification": {"analysisTemplates": [{"name": template}], "args": args},
        **extra,
    }
    return from_manifest({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
                          "metadata": {"name": name, "namespace": NS, "labels": labels}, "spec": spec})


def rebuild(name: str = "rebuild-app", image: str | None = "app",
            requests: list[dict[str, Any]] | None = None, annotations: dict[str, str] | None = None,
            ref: str = "registry.example.com/apps/app:1", steps: list[dict[str, Any]] | None = None,
            delay: str | None = None) -> Resource:
    labels = {LABEL_ROLE: "rebuild"}
    if image is not None:
        labels[LABEL_IMAGE] = image
    if delay is not None:
        labels[LABEL_DELAY] = delay
    requests = requests if requests is not None else [request()]
    steps = steps if steps is not None else [{"uses": "http", "config": {
        "method": "POST", "url": "https://ci.example.com/hook",
        "headers": [{"name": "Authorization", "value": 'Bearer ${{ secret("ci-token").token }}'}]}}]
    return from_manifest({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Stage",
                          "metadata": {"name": name, "namespace": NS, "labels": labels,
                                       "annotations": {ANNOTATION_REF: ref, ANNOTATION_SOURCE: "images.yaml:9",
                                                       **(annotations or {})}},
                          "spec": {"requestedFreight": requests,
                                   "promotionTemplate": {"spec": {"steps": steps}}}})


def request(origin: str = "python-3-12-slim", stages: list[str] | None = None, **sources: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"stages": stages if stages is not None else ["soak-python-168h"], **sources}
    return {"origin": {"kind": "Warehouse", "name": origin}, "sources": body}


def template(name: str = "gate", args: list[dict[str, Any]] | None = None,
             env: list[dict[str, Any]] | None = None) -> Resource:
    args = args if args is not None else [{"name": "warehouse"}, {"name": "delay"}]
    container: dict[str, Any] = {"name": "gate", "image": "ghcr.io/image-factory/image-factory:0.1.0"}
    if env is not None:
        container["env"] = env
    return from_manifest({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
                          "metadata": {"name": name, "namespace": NS},
                          "spec": {"args": args, "metrics": [{"name": "gate", "provider": {"job": {"spec": {
                              "template": {"spec": {"containers": [container]}}}}}}]}})
