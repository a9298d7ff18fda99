"""Delay rules: every rebuild waits behind a soak gate whose delay is within bounds, and nothing bypasses it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from analyzer.config.durations import describe, parse_any_duration
from analyzer.kargo.conventions import (
    ANNOTATION_EXPEDITE_EXPIRES,
    ANNOTATION_EXPEDITE_REASON,
    GATE_ARG_DELAY,
    LABEL_DELAY,
)
from analyzer.rules import stages as kargo
from analyzer.rules.model import STAGE, Finding, Resource, items, mapping, text
from analyzer.rules.settings import PolicySettings

_VAR_REF = re.compile(r"^\$\{\{\s*vars\.([A-Za-z_]\w*)\s*\}\}$")


def _declared_delay(stage: Resource) -> tuple[timedelta | None, str | None]:
    """(delay, problem) from the soak Stage's LABEL_DELAY."""
    raw = stage.labels.get(LABEL_DELAY)
    if raw is None or raw == "":
        return None, f"has no label {LABEL_DELAY}"
    try:
        return parse_any_duration(str(raw)), None
    except ValueError:
        return None, f"has label {LABEL_DELAY}={raw!r}, which is not a duration"


def soak_delay_bounds(stage: Resource, settings: PolicySettings) -> list[Finding]:
    """A soak Stage's declared delay is within [minimumDelayDays, maximumDelayDays]."""
    if not kargo.is_soak(stage):
        return []
    delay, problem = _declared_delay(stage)
    low, high = settings.minimum_delay, settings.maximum_delay
    fix = f"set it between {describe(low)} and {describe(high)} (images.yaml `delay:`)"
    if delay is None:
        return [stage.finding(f"soak Stage {stage.name} {problem}: declare its delay (e.g. 168h) and {fix}")]
    if delay < low:
        return [stage.finding(f"soak Stage {stage.name} delays rebuilds by {describe(delay)}, less than the "
                              f"minimum {describe(low)}: new base digests would reach production unvetted; {fix}")]
    if delay > high:
        return [stage.finding(f"soak Stage {stage.name} delays rebuilds by {describe(delay)}, more than the "
                              f"maximum {describe(high)}: images would stay on an unpatched base too long; {fix}")]
    return []


def _expedite_problem(stage: Resource, today: date, settings: PolicySettings) -> str | None:
    """None when the Stage carries a valid, unexpired expedite override; else what is wrong with it."""
    reason = text(stage.annotations.get(ANNOTATION_EXPEDITE_REASON))
    expires = text(stage.annotations.get(ANNOTATION_EXPEDITE_EXPIRES))
    if not reason or not reason.strip() or not expires:
        return (f"without an expedite override (annotations {ANNOTATION_EXPEDITE_REASON} naming the CVE or "
                f"reason and {ANNOTATION_EXPEDITE_EXPIRES} with an ISO expiry date)")
    try:
        expiry = date.fromisoformat(expires.strip())
    except ValueError:
        return f"with an expedite override whose expiry {expires!r} is not an ISO date (YYYY-MM-DD)"
    if expiry < today:
        return f"with an expedite override ({reason.strip()}) that expired on {expiry.isoformat()}"
    horizon = today + timedelta(days=settings.maximum_expedite_days)
    if expiry > horizon:
        return (f"with an expedite override ({reason.strip()}) expiring {expiry.isoformat()}, later than "
                f"{settings.maximum_expedite_days:g} days from today ({horizon.isoformat()})")
    return None


def no_direct_freight(stage: Resource, settings: PolicySettings) -> list[Finding]:
    """Only soak Stages take freight `direct` from a Warehouse, unless a valid expedite override says so."""
    if stage.type != STAGE or kargo.is_soak(stage):
        return []
    findings = []
    for index, request in enumerate(kargo.requests(stage)):
        if kargo.sources_of(request).get("direct") is not True:
            continue
        problem = _expedite_problem(stage, settings.today, settings)
        if problem is not None:
            findings.append(stage.finding(
                f"Stage {stage.name} takes freight direct from Warehouse {kargo.origin_of(request)} "
                f"(spec.requestedFreight[{index}].sources.direct) {problem}: that skips the soak delay. "
                "Take it from the soak Stage (sources.stages) instead, or add a reviewed `expedite:` "
                "(reason, expires) to the image in images.yaml"))
    return findings


def required_soak_time(stage: Resource, settings: PolicySettings) -> list[Finding]:
    """`requiredSoakTime` is a debounce, not a delay; the soak gate is the delay (advisory)."""
    if stage.type != STAGE:
        return []
    findings = []
    for index, request in enumerate(kargo.requests(stage)):
        soak = kargo.sources_of(request).get("requiredSoakTime")
        if soak:
            findings.append(stage.finding(
                f"Stage {stage.name} sets spec.requestedFreight[{index}].sources.requiredSoakTime={soak}: "
                "it is a debounce (a tag that moves more often never qualifies, akuity/kargo#5342; with "
                "availabilityStrategy All it can block promotion for good, akuity/kargo#4586). Remove it and "
                "rely on the soak Stage's gate, which holds each digest for its own delay"))
    return findings


def rebuild_path_soaked(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """Every path from a Warehouse into a rebuild Stage passes through a soak Stage of that Warehouse.

    With `otherStacks` (a team's stack), a Warehouse or Stage the stack names but does not have is in another
    stack of the project and is not checked here (`image-factory check` checks the whole project)."""
    stage_map, warehouse_map = kargo.stages(resources), kargo.warehouses(resources)
    findings = []
    for stage in (s for s in resources if kargo.is_rebuild(s)):
        for index, request in enumerate(kargo.requests(stage)):
            origin = kargo.origin_of(request)
            where = f"spec.requestedFreight[{index}]"
            if origin not in warehouse_map and not settings.other_stacks:
                findings.append(stage.finding(
                    f"rebuild Stage {stage.name} requests freight from Warehouse {origin!r} ({where}.origin), "
                    "which is not in the stack: render the Warehouse or fix the origin"))
                continue
            upstream = kargo.upstream_names(request)
            direct = kargo.sources_of(request).get("direct") is True
            if not upstream and not direct:
                findings.append(stage.finding(
                    f"rebuild Stage {stage.name} takes Warehouse {origin} freight from no Stage "
                    f"({where}.sources.stages is empty): list the soak Stage of {origin}"))
            for name in upstream:
                if settings.other_stacks and name not in stage_map:
                    continue
                problem = _upstream_problem(stage_map.get(name), name, origin)
                if problem:
                    findings.append(stage.finding(
                        f"rebuild Stage {stage.name} takes Warehouse {origin} freight via {name} "
                        f"({where}.sources.stages): {problem}"))
    return findings


def _upstream_problem(upstream: Resource | None, name: str, origin: str) -> str | None:
    if upstream is None:
        return "no such Stage in the stack; list an existing soak or rebuild Stage"
    origins = {kargo.origin_of(r) for r in kargo.requests(upstream)}
    if kargo.is_soak(upstream) or kargo.is_rebuild(upstream):
        if origin not in origins:
            return (f"{name} does not request {origin}, so {origin} freight is never verified there; "
                    f"use the soak Stage of {origin}")
        return None
    return (f"{name} is neither a soak Stage nor a rebuild Stage (label role), so the freight may skip "
            "the soak gate; take it from the soak Stage of the Warehouse")


def _arg_value(args: list[Mapping[str, Any]], name: str) -> tuple[bool, object]:
    for arg in args:
        if arg.get("name") == name:
            return True, arg.get("value")
    return False, None


def _resolve_vars(value: object, stage: Resource) -> object:
    """`${{ vars.x }}` → the Stage's `spec.vars` value of x (promotion vars are not visible to verification)."""
    match = _VAR_REF.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    found, resolved = _arg_value([mapping(v) for v in items(stage.spec.get("vars"))], match.group(1))
    return resolved if found else value


def soak_delay_matches_gate(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """A soak Stage's declared delay equals the `delay` argument its gate verification passes."""
    template_map = kargo.templates(resources)
    findings = []
    for stage in (s for s in resources if kargo.is_soak(s)):
        declared, _ = _declared_delay(stage)
        verification = mapping(stage.spec.get("verification"))
        refs = [mapping(t) for t in items(verification.get("analysisTemplates"))]
        if not refs:
            findings.append(stage.finding(
                f"soak Stage {stage.name} has no gate verification (spec.verification.analysisTemplates): "
                "freight would pass it at once; reference the gate AnalysisTemplate with "
                f"args [{{name: {GATE_ARG_DELAY}, value: <delay>}}]"))
            continue
        args = [mapping(a) for a in items(verification.get("args"))]
        passed, value = _arg_value(args, GATE_ARG_DELAY)
        for ref in refs:
            name, kind = str(ref.get("name", "")), str(ref.get("kind") or "AnalysisTemplate")
            if kind != "AnalysisTemplate":
                continue
            template = template_map.get(name)
            if template is None:
                findings.append(stage.finding(
                    f"soak Stage {stage.name} verifies with AnalysisTemplate {name}, which is not in the "
                    "stack: render it or fix spec.verification.analysisTemplates"))
                continue
            declared_args = [mapping(a) for a in items(template.spec.get("args"))]
            has_arg, default = _arg_value(declared_args, GATE_ARG_DELAY)
            if passed and not has_arg:
                findings.append(stage.finding(
                    f"soak Stage {stage.name} passes argument {GATE_ARG_DELAY} to AnalysisTemplate {name}, "
                    f"which does not declare it in spec.args (the AnalysisRun would fail): declare it"))
            if not passed and has_arg:
                passed, value = default is not None, default
        if declared is None:
            continue  # soak-delay-bounds reports the missing or invalid label
        if not passed:
            findings.append(stage.finding(
                f"soak Stage {stage.name} declares delay {describe(declared)} ({LABEL_DELAY}) but its gate "
                f"verification passes no {GATE_ARG_DELAY!r} argument: add spec.verification.args "
                f"[{{name: {GATE_ARG_DELAY}, value: {stage.labels.get(LABEL_DELAY)}}}]"))
            continue
        value = _resolve_vars(value, stage)
        try:
            gate_delay = parse_any_duration(str(value))
        except ValueError:
            findings.append(stage.finding(
                f"soak Stage {stage.name} passes {GATE_ARG_DELAY}={value!r} to its gate, which is not a "
                f"duration: pass {stage.labels.get(LABEL_DELAY)}"))
            continue
        if gate_delay != declared:
            findings.append(stage.finding(
                f"soak Stage {stage.name} declares delay {describe(declared)} ({LABEL_DELAY}) but its gate "
                f"waits {describe(gate_delay)} (spec.verification.args {GATE_ARG_DELAY}): make them equal, "
                "re-render from images.yaml rather than editing one side"))
    return findings


def _effective_upstream_delays(resources: Sequence[Resource]) -> dict[str, dict[str, timedelta]]:
    """Stage name → origin → the longest soak delay on any path from that origin's Warehouse into it."""
    stage_map = kargo.stages(resources)
    memo: dict[str, dict[str, timedelta]] = {}

    def visit(name: str, seen: frozenset[str]) -> dict[str, timedelta]:
        if name in memo:
            return memo[name]
        stage = stage_map.get(name)
        if stage is None or name in seen:  # missing or cyclic: other rules report it
            return {}
        result: dict[str, timedelta] = {}
        if kargo.is_soak(stage):
            declared, _ = _declared_delay(stage)
            result = {kargo.origin_of(r): declared for r in kargo.requests(stage) if declared is not None}
        for request in kargo.requests(stage):
            origin = kargo.origin_of(request)
            for upstream in kargo.upstream_names(request):
                inherited = visit(upstream, seen | {name}).get(origin)
                if inherited is not None and inherited > result.get(origin, timedelta(0)):
                    result[origin] = inherited
        memo[name] = result
        return result

    return {name: visit(name, frozenset()) for name in stage_map}


def delay_not_below_parents(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """An image cannot be rebuilt sooner than its parents: a declared delay below theirs is not what
    happens (the longest delay on the path applies), so say so."""
    effective = _effective_upstream_delays(resources)
    findings = []
    for stage in (s for s in resources if kargo.is_rebuild(s)):
        declared, _ = _declared_delay(stage)
        if declared is None:
            continue
        for origin, delay in sorted(effective.get(stage.name, {}).items()):
            if delay > declared:
                findings.append(stage.finding(
                    f"rebuild Stage {stage.name} declares delay {describe(declared)} ({LABEL_DELAY}) but "
                    f"{origin} digests reach it only after {describe(delay)} through its parents: its rebuilds "
                    f"follow {describe(delay)}; raise its images.yaml `delay:` to at least {describe(delay)} "
                    "or lower its parents'"))
    return findings
