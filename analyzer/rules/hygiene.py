"""Kargo hygiene: discovery intervals and limits, no Warehouse for a managed image, a sane Stage graph."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from graphlib import CycleError, TopologicalSorter

from analyzer.config.durations import describe, parse_go_duration
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.kargo.conventions import ANNOTATION_REF, LABEL_IMAGE
from analyzer.rules import stages as kargo
from analyzer.rules.model import WAREHOUSE, Finding, Resource, text
from analyzer.rules.settings import PolicySettings


def warehouse_interval_floor(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """`spec.interval` is set (the CRD requires it) and not below the floor (registry rate limits)."""
    if warehouse.type != WAREHOUSE:
        return []
    floor = settings.minimum_interval
    raw = warehouse.spec.get("interval")
    if not raw:
        return [warehouse.finding(f"Warehouse {warehouse.name} has no spec.interval (required by the CRD): "
                                  f"set it to at least {describe(floor)}, e.g. 5m0s")]
    try:
        interval = parse_go_duration(str(raw))
    except ValueError:
        return [warehouse.finding(f"Warehouse {warehouse.name} spec.interval={raw!r} is not a Go duration: "
                                  "write e.g. 5m0s or 1h")]
    if interval < floor:
        return [warehouse.finding(
            f"Warehouse {warehouse.name} polls every {raw} (spec.interval), below the floor of {describe(floor)}: "
            "registries rate-limit discovery (Docker Hub especially); raise it to at least the floor")]
    return []


def discovery_limit_bounds(warehouse: Resource, settings: PolicySettings) -> list[Finding]:
    """`discoveryLimit` is a whole number within [minimumDiscoveryLimit, maximumDiscoveryLimit]."""
    if warehouse.type != WAREHOUSE:
        return []
    low, high = settings.minimum_discovery_limit, settings.maximum_discovery_limit
    findings = []
    for path, image in kargo.image_subscriptions(warehouse):
        if "discoveryLimit" not in image:
            continue
        limit = image.get("discoveryLimit")
        whole = isinstance(limit, int | float) and not isinstance(limit, bool) and float(limit).is_integer()
        if not whole or not low <= limit <= high:  # type: ignore[operator]
            findings.append(warehouse.finding(
                f"Warehouse {warehouse.name} {path}.discoveryLimit={limit!r} is outside {low}..{high}: set a "
                f"whole number in that range (Kargo's default is 20)"))
    return findings


def _tracked(ref: str) -> tuple[str, str] | None:
    """(`registry/repository`, `registry/repository:tag`) of a reference, or None if it does not parse."""
    try:
        parsed = parse_reference(ref)
    except InvalidReference:
        return None
    return parsed.name, parsed.tracked


def no_managed_image_warehouse(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """Managed images are built, not monitored: no Warehouse follows one (the rebuild Stage's ref)."""
    managed: dict[str, str] = {}
    managed_repos: dict[str, str] = {}
    for stage in (r for r in resources if kargo.is_rebuild(r)):
        ref = text(stage.annotations.get(ANNOTATION_REF))
        tracked = _tracked(ref) if ref else None
        if tracked:
            managed_repos[tracked[0]] = stage.name
            managed[tracked[1]] = stage.name
    findings = []
    for warehouse in (r for r in resources if r.type == WAREHOUSE):
        for path, image in kargo.image_subscriptions(warehouse):
            repo = text(image.get("repoURL"))
            if not repo:
                continue
            digest = kargo.strategy_of(image) == "Digest"
            constraint = text(image.get("constraint"))
            tracked = _tracked(f"{repo}:{constraint}" if digest and constraint else repo)
            if tracked is None:
                continue
            stage_name = managed.get(tracked[1]) if digest else managed_repos.get(tracked[0])
            if stage_name:
                what = tracked[1] if digest else f"repository {tracked[0]}"
                findings.append(warehouse.finding(
                    f"Warehouse {warehouse.name} {path} follows {what}, a managed image built by rebuild Stage "
                    f"{stage_name}: managed images are rebuilt when their bases move, not monitored; remove "
                    "the Warehouse (or drop `source:` from images.yaml to make the image external)"))
    return findings


def rebuild_graph_acyclic(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """The Stage graph (`sources.stages` edges) has no cycle: freight could never enter one."""
    stage_map = kargo.stages(resources)
    graph = {name: {up for req in kargo.requests(stage) for up in kargo.upstream_names(req) if up in stage_map}
             for name, stage in stage_map.items()}
    findings: list[Finding] = []
    while True:
        try:
            TopologicalSorter(graph).prepare()
            return findings
        except CycleError as exc:
            cycle: list[str] = list(exc.args[1])
        first = min(cycle[:-1])
        findings.append(stage_map[first].finding(
            f"Stage graph has a cycle: freight flows {' → '.join(cycle)} (sources.stages), so it can never "
            "enter; images cannot depend on each other in a loop: fix the Dockerfiles or images.yaml"))
        for name in cycle:
            graph.pop(name, None)
        graph = {name: ups - set(cycle) for name, ups in graph.items()}


def one_rebuild_stage_per_image(resources: Sequence[Resource], settings: PolicySettings) -> list[Finding]:
    """Every managed image has exactly one rebuild Stage (labelled with its image name)."""
    by_image: dict[str, list[Resource]] = defaultdict(list)
    findings = []
    for stage in (r for r in resources if kargo.is_rebuild(r)):
        image = text(stage.labels.get(LABEL_IMAGE))
        if not image:
            findings.append(stage.finding(
                f"rebuild Stage {stage.name} has no label {LABEL_IMAGE}: label it with the managed image name"))
            continue
        by_image[image].append(stage)
    for image, group in sorted(by_image.items()):
        if len(group) > 1:
            names = ", ".join(sorted(s.name for s in group))
            for stage in group:
                findings.append(stage.finding(
                    f"managed image {image} has {len(group)} rebuild Stages ({names}): it would be rebuilt "
                    "more than once per base change; keep exactly one"))
    if settings.managed_images is not None:
        wanted = set(settings.managed_images)
        for image in sorted(wanted - set(by_image)):
            findings.append(Finding(None, f"managed image {image} has no rebuild Stage: its base-image updates "
                                          "would never trigger a rebuild; run `image-factory analyze` and re-render"))
        for image in sorted(set(by_image) - wanted):
            for stage in by_image[image]:
                findings.append(stage.finding(
                    f"rebuild Stage {stage.name} rebuilds {image}, which is not a managed image "
                    "(managedImages config): remove the Stage or enroll the image with a source"))
    return findings
