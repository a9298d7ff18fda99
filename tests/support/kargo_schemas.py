"""Offline checks of rendered Kargo manifests: the CRD openAPIV3Schemas (Kargo v1.11.2, Argo Rollouts
v1.9.1), the admission-webhook schemas of image subscriptions and promotion-step configs, the CEL rules
and webhook rules those schemas cannot express, and references between objects.

Each check returns a list of human-readable problems (empty = valid), so a test can assert `== []` and
show every problem at once. Reusable by any test that produces Kargo manifests.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support import ROOT

SHARED = Path(os.environ.get("IMAGE_FACTORY_SHARED", ROOT.parent / "shared"))
"""The read-only reference folder next to the project (`../shared`); IMAGE_FACTORY_SHARED overrides it."""
SCHEMAS = SHARED / "schemas" / "kargo"
assert SCHEMAS.is_dir(), (
    f"Kargo schemas not found at {SCHEMAS}: put shared/ next to the project or set IMAGE_FACTORY_SHARED"
)
CRD_FILES = {
    ("kargo.akuity.io/v1alpha1", "Project"): "kargo.akuity.io_projects.yaml",
    ("kargo.akuity.io/v1alpha1", "ProjectConfig"): "kargo.akuity.io_projectconfigs.yaml",
    ("kargo.akuity.io/v1alpha1", "Warehouse"): "kargo.akuity.io_warehouses.yaml",
    ("kargo.akuity.io/v1alpha1", "Stage"): "kargo.akuity.io_stages.yaml",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysis-template-crd.yaml",
}
NAMESPACED = {"ProjectConfig", "Warehouse", "Stage", "AnalysisTemplate", "ServiceAccount", "Role", "RoleBinding"}

_STRINGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}
_META = {"type": "object", "required": ["name", "namespace"]}
BUILTIN_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    # Kubernetes' own OpenAPI is not in shared/; these are the fields of the API reference (core/v1,
    # rbac/v1) that Image Factory writes, strict about anything else.
    ("v1", "ServiceAccount"): {"type": "object", "additionalProperties": False,
                               "required": ["apiVersion", "kind", "metadata"],
                               "properties": {"apiVersion": {}, "kind": {}, "metadata": _META}},
    ("rbac.authorization.k8s.io/v1", "Role"): {
        "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "rules"],
        "properties": {"apiVersion": {}, "kind": {}, "metadata": _META, "rules": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["apiGroups", "resources", "verbs"],
            "properties": {"apiGroups": _STRINGS, "resources": _STRINGS, "verbs": {
                "type": "array", "minItems": 1, "items": {"enum": ["get", "list", "watch", "create", "update",
                                                                     "patch", "delete", "deletecollection"]}}}}}}},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        "type": "object", "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "roleRef", "subjects"],
        "properties": {"apiVersion": {}, "kind": {}, "metadata": _META,
                       "roleRef": {"type": "object", "additionalProperties": False,
                                   "required": ["apiGroup", "kind", "name"],
                                   "properties": {"apiGroup": {"const": "rbac.authorization.k8s.io"},
                                                  "kind": {"enum": ["Role", "ClusterRole"]}, "name": {}}},
                       "subjects": {"type": "array", "minItems": 1, "items": {
                           "type": "object", "additionalProperties": False, "required": ["kind", "name"],
                           "properties": {"kind": {"enum": ["ServiceAccount", "User", "Group"]}, "name": {},
                                          "namespace": {}, "apiGroup": {}}}}}},
}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


def strict_structural(schema: Any) -> Any:
    """A Kubernetes structural schema as plain JSON Schema.

    The API server *prunes* unknown fields instead of rejecting them, which would silently drop a
    misspelt field; so objects with `properties` reject unknown keys here, unless the schema says
    `x-kubernetes-preserve-unknown-fields`. All other `x-kubernetes-*` keys (int-or-string is already an
    `anyOf`, list/map types, CEL validations) are removed; the CEL rules are checked by `cel_problems`.
    """
    if isinstance(schema, list):
        return [strict_structural(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict_structural(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in schema
    ):
        out["additionalProperties"] = False
    if "properties" in schema and isinstance(schema["properties"], dict):  # property names are not schemas
        out["properties"] = {k: strict_structural(v) for k, v in schema["properties"].items()}
    return out


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    crd = yaml.safe_load((SCHEMAS / CRD_FILES[(api_version, kind)]).read_text())
    assert crd["spec"]["group"] == group and crd["spec"]["names"]["kind"] == kind
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema: dict[str, Any] = strict_structural(served["schema"]["openAPIV3Schema"])
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


@cache
def json_schema(relative: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / relative).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _errors(validator: jsonschema.protocols.Validator, instance: Any, what: str) -> list[str]:
    return [
        f"{what}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _where(manifest: dict[str, Any]) -> str:
    return f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"


def crd_problems(manifest: dict[str, Any]) -> list[str]:
    """The manifest against its CRD's openAPIV3Schema, plus the metadata the schema leaves open."""
    key = (manifest.get("apiVersion"), manifest.get("kind"))
    if key in BUILTIN_SCHEMAS:
        schema = BUILTIN_SCHEMAS[key]  # type: ignore[index]
    elif key in CRD_FILES:
        schema = crd_schema(*key)  # type: ignore[arg-type]
    else:
        return [f"{_where(manifest)}: no CRD known for {key}"]
    problems = _errors(jsonschema.Draft7Validator(schema), manifest, _where(manifest))
    metadata = manifest.get("metadata", {})
    if not DNS_LABEL.match(str(metadata.get("name", ""))):
        problems.append(f"{_where(manifest)}: metadata.name is not a DNS-1123 label (<= 63)")
    if (manifest["kind"] in NAMESPACED) != bool(metadata.get("namespace")):
        problems.append(f"{_where(manifest)}: metadata.namespace must be set exactly for namespaced kinds")
    for field in ("labels", "annotations"):
        for name, value in (metadata.get(field) or {}).items():
            if not isinstance(value, str):
                problems.append(f"{_where(manifest)}: metadata.{field}.{name} must be a string")
    return problems + cel_problems(manifest)


def cel_problems(manifest: dict[str, Any]) -> list[str]:
    """The `x-kubernetes-validations` (CEL) rules of the Stage and ProjectConfig CRDs."""
    problems = []
    spec = manifest.get("spec") or {}
    if manifest.get("kind") == "Stage":
        for i, step in enumerate(spec.get("promotionTemplate", {}).get("spec", {}).get("steps", [])):
            if ("uses" in step) == ("task" in step):
                problems.append(f"{_where(manifest)}: step {i} must have exactly one of uses or task")
            if "task" in step and ("retry" in step or "continueOnError" in step):
                problems.append(f"{_where(manifest)}: task step {i} cannot set retry/continueOnError")
    if manifest.get("kind") == "ProjectConfig":
        for i, policy in enumerate(spec.get("promotionPolicies", [])):
            if ("stage" in policy) == ("stageSelector" in policy):
                problems.append(
                    f"{_where(manifest)}: promotionPolicies[{i}] needs exactly one of stage or stageSelector"
                )
    return problems


def subscription_problems(manifest: dict[str, Any]) -> list[str]:
    """Warehouse image subscriptions against subscriptions/image.json and the Kargo webhook rules."""
    if manifest.get("kind") != "Warehouse":
        return []
    validator = jsonschema.Draft202012Validator(json_schema("subscriptions/image.json"))
    problems = []
    repos: list[str] = []
    for i, subscription in enumerate(manifest["spec"].get("subscriptions", [])):
        if len(subscription) != 1:
            problems.append(f"{_where(manifest)}: subscriptions[{i}] must have exactly one key")
        image = subscription.get("image")
        if image is None:
            continue
        problems += _errors(validator, image, f"{_where(manifest)} subscriptions[{i}].image")
        if image.get("imageSelectionStrategy", "SemVer") == "Digest" and not image.get("constraint"):
            problems.append(f"{_where(manifest)}: subscriptions[{i}]: Digest needs constraint (the tag)")
        for dead in ("allowTags", "ignoreTags"):
            if dead in image:
                problems.append(f"{_where(manifest)}: subscriptions[{i}]: {dead} breaks discovery since v1.11")
        repos.append(_normalized_repo(image.get("repoURL", "")))
    problems += [
        f"{_where(manifest)}: repoURL {repo} appears {n} times (one per Warehouse)"
        for repo, n in Counter(repos).items()
        if n > 1
    ]
    return problems


def _normalized_repo(repo: str) -> str:
    """Kargo's normalizeImage: docker.io / index.docker.io and library/ are implicit."""
    for prefix in ("docker.io/", "index.docker.io/"):
        repo = repo.removeprefix(prefix)
    return repo.removeprefix("library/")


def step_config_problems(manifest: dict[str, Any]) -> list[str]:
    """Each promotion step's `config` against promotion-steps/<uses>-config.json.

    Expressions are strings, so a config with `${{ }}` in string fields validates as written; Kargo
    checks again after evaluation.
    """
    if manifest.get("kind") != "Stage":
        return []
    problems = []
    for i, step in enumerate(manifest["spec"].get("promotionTemplate", {}).get("spec", {}).get("steps", [])):
        path = SCHEMAS / "promotion-steps" / f"{step.get('uses')}-config.json"
        if not path.is_file():
            problems.append(f"{_where(manifest)}: step {i} uses unknown step {step.get('uses')!r}")
            continue
        validator = jsonschema.Draft202012Validator(json_schema(f"promotion-steps/{path.name}"))
        problems += _errors(validator, step.get("config", {}), f"{_where(manifest)} step {i} config")
    return problems


def stage_webhook_problems(manifest: dict[str, Any]) -> list[str]:
    """Stage rules Kargo's webhook applies: unique origins, and a source for each request."""
    if manifest.get("kind") != "Stage":
        return []
    problems = []
    requested = manifest["spec"].get("requestedFreight", [])
    origins = Counter((r["origin"].get("kind"), r["origin"]["name"]) for r in requested)
    problems += [
        f"{_where(manifest)}: freight with origin {o} requested {n} times" for o, n in origins.items() if n > 1
    ]
    for r in requested:
        sources = r.get("sources", {})
        if not sources.get("direct") and not sources.get("stages"):
            problems.append(f"{_where(manifest)}: origin {r['origin']['name']} has neither direct nor stages")
        if "requiredSoakTime" in sources:
            problems.append(f"{_where(manifest)}: requiredSoakTime is a debounce (kargo#5342), not a delay")
    return problems


def reference_problems(manifests: Iterable[dict[str, Any]]) -> list[str]:
    """Cross-object rules: origins, upstream stages and analysis templates exist; args are declared."""
    manifests = list(manifests)
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for m in manifests:
        by_kind.setdefault(m["kind"], {})[m["metadata"]["name"]] = m
    problems = []
    projects = by_kind.get("Project", {})
    for name, config in by_kind.get("ProjectConfig", {}).items():
        if name not in projects or config["metadata"]["namespace"] != name:
            problems.append(f"ProjectConfig/{name}: must be named like its Project and live in its namespace")
    namespaces = {m["metadata"].get("namespace") for m in manifests if m["kind"] in NAMESPACED}
    if namespaces - set(projects):
        problems.append(f"objects in namespaces {sorted(namespaces - set(projects))} with no Project")
    for name, stage in by_kind.get("Stage", {}).items():
        for r in stage["spec"]["requestedFreight"]:
            if r["origin"]["name"] not in by_kind.get("Warehouse", {}):
                problems.append(f"Stage/{name}: origin Warehouse {r['origin']['name']} does not exist")
            for upstream in r["sources"].get("stages", []):
                if upstream not in by_kind["Stage"]:
                    problems.append(f"Stage/{name}: upstream Stage {upstream} does not exist")
        verification = stage["spec"].get("verification")
        if verification:
            passed = {a["name"] for a in verification.get("args", [])}
            for ref in verification["analysisTemplates"]:
                template = by_kind.get("AnalysisTemplate", {}).get(ref["name"])
                if template is None:
                    problems.append(f"Stage/{name}: AnalysisTemplate {ref['name']} does not exist")
                    continue
                declared = {a["name"] for a in template["spec"].get("args", [])}
                if passed - declared:
                    problems.append(
                        f"Stage/{name}: args {sorted(passed - declared)} not declared in AnalysisTemplate/{ref['name']}"
                    )
                required = {a["name"] for a in template["spec"].get("args", []) if "value" not in a}
                if required - passed:
                    problems.append(
                        f"Stage/{name}: AnalysisTemplate/{ref['name']} args {sorted(required - passed)} not passed"
                    )
    return problems


def all_problems(manifests: Iterable[dict[str, Any]]) -> list[str]:
    """Every check above, on every manifest and across them."""
    manifests = [copy.deepcopy(m) for m in manifests]
    problems = []
    for manifest in manifests:
        problems += crd_problems(manifest)
        problems += subscription_problems(manifest)
        problems += step_config_problems(manifest)
        problems += stage_webhook_problems(manifest)
    return problems + reference_problems(manifests)


def expressions_in(value: Any) -> list[str]:
    """Every `${{ … }}` expression in a manifest fragment (for tests on secrets and expressions)."""
    if isinstance(value, str):
        return EXPRESSION.findall(value)
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions_in(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions_in(v)]
    return []
