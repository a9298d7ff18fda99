"""Evaluate the real pack's policies in process, through pulumi-policy's own analyzer servicer.

The Pulumi CLI is not installable here and pulumi-policy has no public test harness, so this drives the
private `_PolicyAnalyzerServicer` the way the engine does (pulumi/pulumi pkg/resource/analyzer/config.go):
each policy's own level plus its schema defaults, then `all`, then per-policy entries, validated against
the policy's config schema, sent through `Configure`; resources go through `Analyze` (one at a time) and
`AnalyzeStack` (all together) as protobuf Structs, so numbers arrive as floats exactly as in a preview.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from analyzer.rules.model import type_token
from policy.policies import PACK_NAME, POLICIES

_PROTO_LEVEL = {EnforcementLevel.ADVISORY: proto.ADVISORY, EnforcementLevel.MANDATORY: proto.MANDATORY,
                EnforcementLevel.REMEDIATE: proto.REMEDIATE, EnforcementLevel.DISABLED: proto.DISABLED}
_LEVEL_NAME = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.REMEDIATE: "remediate",
               proto.DISABLED: "disabled"}


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str
    urn: str
    message: str
    resource: str
    """`Kind/metadata.name` of the resource the diagnostic is about, or `stack`."""


def reconcile(pack_config: Mapping[str, Any]) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """Engine-like config reconciliation; raises jsonschema.ValidationError like the CLI fails the run."""
    result: dict[str, tuple[EnforcementLevel, dict[str, Any]]] = {}
    for policy in POLICIES:
        schema = policy.config_schema.properties if policy.config_schema else {}
        defaults = {k: v["default"] for k, v in schema.items() if "default" in v}
        result[policy.name] = (policy.enforcement_level or EnforcementLevel.ADVISORY, defaults)
    if "all" in pack_config:
        level = EnforcementLevel(pack_config["all"])
        result = {name: (level, props) for name, (_, props) in result.items()}
    for name, value in pack_config.items():
        if name == "all" or name not in result:  # the CLI ignores config for policies the pack lacks
            continue
        level, props = result[name]
        if isinstance(value, str):
            level = EnforcementLevel(value)
        else:
            value = dict(value)
            if "enforcementLevel" in value:
                level = EnforcementLevel(value.pop("enforcementLevel"))
            props = {**props, **value}
        result[name] = (level, props)
    for policy in POLICIES:
        schema = policy.config_schema
        jsonschema.validate(result[policy.name][1], {
            "type": "object", "properties": schema.properties if schema else {},
            "required": (schema.required or []) if schema else []})
    return result


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def servicer(pack_config: Mapping[str, Any] | None = None) -> _PolicyAnalyzerServicer:
    analyzer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", POLICIES, EnforcementLevel.ADVISORY)
    request = proto.ConfigureAnalyzerRequest()
    for name, (level, props) in reconcile(pack_config or {}).items():
        request.policyConfig[name].CopyFrom(
            proto.PolicyConfig(enforcementLevel=_PROTO_LEVEL[level], properties=_struct(props)))
    analyzer.Configure(request, None)
    return analyzer


def _urn(typ: str, name: str) -> str:
    return f"urn:pulumi:prod::image-factory::{typ}::{name}"


def _diagnostics(response: Any, names: Mapping[str, str], default_urn: str = "") -> list[Diagnostic]:
    found = []
    for d in response.diagnostics:
        urn = d.urn or default_urn  # resource policies report no URN: the analyzed resource is the one
        found.append(Diagnostic(d.policyName, _LEVEL_NAME[d.enforcementLevel], urn, d.message,
                                names.get(urn, "stack")))
    return found


def analyze(resources: Iterable[tuple[str, str, Mapping[str, Any]]],
            pack_config: Mapping[str, Any] | None = None) -> list[Diagnostic]:
    """Every diagnostic of the pack over (type token, Pulumi resource name, props) triples."""
    analyzer = servicer(pack_config)
    resources = list(resources)
    names = {_urn(typ, name): f"{typ.rsplit(':', 1)[-1]}/{props.get('metadata', {}).get('name', name)}"
             for typ, name, props in resources}
    found: list[Diagnostic] = []
    for typ, name, props in resources:
        response = analyzer.Analyze(proto.AnalyzeRequest(type=typ, name=name, urn=_urn(typ, name),
                                                         properties=_struct(props)), None)
        found += _diagnostics(response, names, _urn(typ, name))
    stack = proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=typ, name=name, urn=_urn(typ, name), properties=_struct(props))
        for typ, name, props in resources])
    return found + _diagnostics(analyzer.AnalyzeStack(stack, None), names)


def from_manifests(manifests: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """Triples as pulumi_kubernetes registers manifests (the Pulumi name is metadata.name here)."""
    return [(type_token(m), str(m["metadata"]["name"]), m) for m in manifests]
