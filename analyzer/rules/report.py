"""Violations as text (grouped by resource), JSON, or SARIF 2.1.0 (for GitHub code scanning annotations)."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from analyzer.rules import stages as kargo
from analyzer.rules.catalog import RULES
from analyzer.rules.model import STAGE, Level, Resource, Violation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_SARIF_LEVEL = {Level.MANDATORY: "error", Level.ADVISORY: "warning", Level.DISABLED: "none"}
_SOURCE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)$")


def relocate_soak_sources(violations: Sequence[Violation], resources: Sequence[Resource]) -> list[Violation]:
    """Point a soak Stage's violations at the images.yaml entry that asked for that delay.

    A soak Stage is rendered from a base image (often one discovered in a Dockerfile, with no line of its
    own); the line to fix is the `delay:` of an image whose rebuild Stage waits on it."""
    downstream: dict[str, list[str]] = defaultdict(list)
    for resource in resources:
        if kargo.is_rebuild(resource) and resource.source:
            for request in kargo.requests(resource):
                for name in kargo.upstream_names(request):
                    downstream[name].append(resource.source)
    soak = {r.name for r in resources if kargo.is_soak(r)}
    return [replace(v, source=sorted(downstream[v.resource_name])[0])
            if v.resource_type == STAGE and v.resource_name in soak and downstream.get(v.resource_name) else v
            for v in violations]


def summary(violations: Sequence[Violation]) -> dict[str, int]:
    return {"violations": len(violations),
            "mandatory": sum(v.level is Level.MANDATORY for v in violations),
            "advisory": sum(v.level is Level.ADVISORY for v in violations),
            "resources": len({v.resource for v in violations})}


def as_text(violations: Sequence[Violation]) -> str:
    """One block per resource (with its images.yaml line), one line per violation."""
    if not violations:
        return "no policy violations"
    groups: dict[tuple[str, str | None], list[Violation]] = defaultdict(list)
    for violation in violations:
        key = (violation.resource if violation.resource_name else "stack", violation.source)
        groups[key].append(violation)
    lines = []
    for (resource, source), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        lines.append(f"{resource}" + (f" ({source})" if source else ""))
        lines.extend(f"  {v.level.value:<9} {v.rule}: {v.message}" for v in group)
    counts = summary(violations)
    lines.append(f"{counts['violations']} violation(s): {counts['mandatory']} mandatory, "
                 f"{counts['advisory']} advisory, in {counts['resources']} resource(s)")
    return "\n".join(lines)


def as_json(violations: Sequence[Violation]) -> dict[str, Any]:
    return {"violations": [v.as_dict() for v in violations], "summary": summary(violations)}


def _fingerprint(violation: Violation) -> str:
    digest = hashlib.sha256(violation.message.encode()).hexdigest()[:16]
    return f"{violation.rule}:{violation.resource}:{digest}"


def _location(source: str | None, fallback: str) -> dict[str, Any]:
    match = _SOURCE.match(source or "")
    uri, line = (match.group("file"), int(match.group("line"))) if match else (source or fallback, 1)
    return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                 "region": {"startLine": line}}}


def as_sarif(violations: Sequence[Violation], version: str, fallback_uri: str,
             source_prefix: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log; each result points at the images.yaml line its resource was rendered from.

    `source_prefix` is prepended to relative sources (they are relative to the images.yaml directory),
    so that URIs are relative to the repository root, as GitHub expects."""
    index = {rule.name: i for i, rule in enumerate(RULES)}
    rules = [{"id": rule.name, "name": rule.name, "shortDescription": {"text": rule.description},
              "defaultConfiguration": {"level": _SARIF_LEVEL[rule.level]}}
             for rule in RULES]
    results = []
    for violation in violations:
        source = f"{source_prefix}{violation.source}" if violation.source else None
        results.append({
            "ruleId": violation.rule, "ruleIndex": index[violation.rule],
            "level": _SARIF_LEVEL[violation.level],
            "message": {"text": f"{violation.resource if violation.resource_name else 'stack'}: "
                                f"{violation.message}"},
            "locations": [_location(source, fallback_uri)],
            "partialFingerprints": {"imageFactory/v1": _fingerprint(violation)},
        })
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [{
        "tool": {"driver": {"name": "image-factory", "version": version, "rules": rules}},
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
        "results": results,
    }]}
