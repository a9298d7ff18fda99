"""Kargo's verification step, done by hand: the AnalysisRun that Kargo v1.11.2 would create for a Stage.

Kargo's controller cannot be built here (its api module is not served), so the tests build the
AnalysisRun the way its `pkg/rollouts` AnalysisRunBuilder does (analysis_run_builder.go,
analysis_template.go, and pkg/controller/stages/regular_stages.go for names and labels):

* templates are read from the API server; their metrics, dryRun, measurementRetention and args are copied;
* the Stage's verification args are evaluated (here: the test supplies the evaluated values — Kargo's
  expression engine is not run) and must be STRINGS; they are merged into the template's args, and every
  arg must end up with a value (validateArgsResolution);
* name `<stage>.<ulid>.<freight collection id>` lower-cased; labels `kargo.akuity.io/stage` and
  `kargo.akuity.io/freight-collection`; the Stage's `analysisRunMetadata` labels/annotations unevaluated;
  an owner reference to each Freight (blockOwnerDeletion false).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kubernetes import client as k8s

KARGO = ("kargo.akuity.io", "v1alpha1")
ROLLOUTS = ("argoproj.io", "v1alpha1")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    """A ULID (48-bit ms time + 80 random bits, Crockford base32), as oklog/ulid makes them."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def freight_id(images: list[dict[str, str]]) -> str:
    """A stable Freight name from its artifacts (Kargo hashes the artifact list with SHA-1)."""
    return hashlib.sha1(repr(sorted(tuple(sorted(i.items())) for i in images)).encode()).hexdigest()


def create_freight(api: k8s.ApiClient, namespace: str, warehouse: str, images: list[dict[str, str]],
                   discovered_at: datetime | None = None) -> dict[str, Any]:
    """A Freight from `warehouse` carrying `images` (as the Warehouse controller would discover it)."""
    body: dict[str, Any] = {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight",
                            "metadata": {"name": freight_id(images), "namespace": namespace},
                            "origin": {"kind": "Warehouse", "name": warehouse}, "images": images}
    if discovered_at is not None:
        body["discoveredAt"] = discovered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        *KARGO, namespace, "freights", body)
    return result


def analysis_run(api: k8s.ApiClient, stage: Mapping[str, Any], freight: Mapping[str, Any],
                 evaluated: Mapping[str, str]) -> dict[str, Any]:
    """The AnalysisRun Kargo builds for `stage` verifying `freight`; `evaluated` = the Stage's args, evaluated."""
    namespace = stage["metadata"]["namespace"]
    verification = stage["spec"]["verification"]
    objects = k8s.CustomObjectsApi(api)
    templates = []
    for ref in verification["analysisTemplates"]:
        if ref.get("kind") == "ClusterAnalysisTemplate":
            templates.append(objects.get_cluster_custom_object(*ROLLOUTS, "clusteranalysistemplates", ref["name"]))
        else:
            templates.append(objects.get_namespaced_custom_object(*ROLLOUTS, namespace, "analysistemplates",
                                                                  ref["name"]))
    metrics: list[dict[str, Any]] = []
    dry_run: list[dict[str, Any]] = []
    retention: list[dict[str, Any]] = []
    args: list[dict[str, Any]] = []
    for template in templates:
        spec = template["spec"]
        names = {m["name"] for m in metrics}
        for metric in spec.get("metrics") or []:
            assert metric["name"] not in names, f"two templates define metric {metric['name']}"
            metrics.append(metric)
        dry_run += spec.get("dryRun") or []
        retention += spec.get("measurementRetention") or []
        for arg in spec.get("args") or []:
            if all(a["name"] != arg["name"] for a in args):
                args.append(dict(arg))
    stage_args = [a["name"] for a in verification.get("args") or []]
    assert sorted(evaluated) == sorted(stage_args), "evaluate exactly the Stage's verification args"
    for name, value in evaluated.items():
        assert isinstance(value, str), f"Kargo: evaluated argument {name!r} value is not a string"
        for arg in args:
            if arg["name"] == name:
                arg["value"] = value
                arg.pop("valueFrom", None)
    unresolved = [a["name"] for a in args if "value" not in a and "valueFrom" not in a]
    assert not unresolved, f"Kargo: validate merged arguments: args {unresolved} have no value"
    collection = hashlib.sha1(freight["metadata"]["name"].encode()).hexdigest()
    metadata = verification.get("analysisRunMetadata") or {}
    spec_out: dict[str, Any] = {"metrics": metrics, "args": args}
    if dry_run:
        spec_out["dryRun"] = dry_run
    if retention:
        spec_out["measurementRetention"] = retention
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {
            "name": f"{stage['metadata']['name']}.{ulid()}.{collection}".lower(),
            "namespace": namespace,
            "labels": {**(metadata.get("labels") or {}), "kargo.akuity.io/stage": stage["metadata"]["name"],
                       "kargo.akuity.io/freight-collection": collection},
            "annotations": dict(metadata.get("annotations") or {}),
            "ownerReferences": [{"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight",
                                 "name": freight["metadata"]["name"], "uid": freight["metadata"]["uid"],
                                 "blockOwnerDeletion": False}],
        },
        "spec": spec_out,
    }
