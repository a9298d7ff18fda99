"""Compute the next state from config, discovery results and the previous state (pure).

images.yaml wins for configuration; runtime history (`digests`, `rebuilds`) is carried over from the
previous file of the same image, whatever its kind was. A source that failed keeps its previous
state untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from analyzer.config.durations import format_duration
from analyzer.config.model import EnrolledImage, Fleet, WarehouseSettings, redact_url
from analyzer.discovery.dockerfile import DockerfileAnalysis, Unusable
from analyzer.discovery.reference import ImageRef, parse_reference
from analyzer.graph import DependencyGraph, build_graph
from analyzer.state.index import ImageFacts, PlanIndex, facts_of
from analyzer.state.model import (
    BaseUse,
    DigestHistory,
    ImageState,
    ManagedState,
    SourceState,
    Unresolvable,
    WarehouseState,
    dependency_targets,
)


@dataclass(frozen=True)
class Discovery:
    """The outcome of reading one managed image's Dockerfile."""

    analysis: DockerfileAnalysis | None = None
    commit: str | None = None
    error: str | None = None


@dataclass
class StatePlan:
    states: dict[str, ImageState]
    graph: DependencyGraph
    orphans: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Managed image name → why its source could not be read (state kept as it was)."""

    @property
    def managed(self) -> list[ImageState]:
        return [s for s in self.states.values() if s.kind == "managed"]

    @property
    def external(self) -> list[ImageState]:
        return [s for s in self.states.values() if s.kind == "external"]


def warehouse_for(ref: ImageRef, settings: WarehouseSettings | None) -> WarehouseState:
    """Kargo subscription settings; discovered bases default to following their tag by digest."""
    settings = settings or WarehouseSettings()
    constraint = settings.constraint
    if settings.image_selection_strategy == "Digest" and not constraint:
        constraint = ref.tag
    return WarehouseState(
        repo_url=ref.name,
        image_selection_strategy=settings.image_selection_strategy,
        constraint=constraint,
        allow_tags_regexes=list(settings.allow_tags),
        ignore_tags_regexes=list(settings.ignore_tags),
        platform=settings.platform,
        discovery_limit=settings.discovery_limit,
    )


def _base_uses(analysis: DockerfileAnalysis, dockerfile: str,
               managed_refs: Mapping[str, str]) -> list[BaseUse]:
    uses: list[BaseUse] = []

    def add(ref: ImageRef, via: str, line: int, stage: str | None, platform: str | None) -> None:
        if ref.pinned:
            kind, tracked, parent = "pinned", None, None
        else:
            tracked = ref.tracked
            parent = managed_refs.get(tracked)
            kind = "managed" if parent else "external"
        uses.append(BaseUse(image=ref.normalized, tracked=tracked, kind=kind, parent=parent,  # type: ignore[arg-type]
                            via=via, dockerfile=dockerfile, line=line, stage=stage,  # type: ignore[arg-type]
                            platform=platform))

    for stage in analysis.stages:
        if stage.ref is not None:
            add(stage.ref, "from", stage.line, stage.name, stage.platform)
    for use in [*analysis.copy_from, *analysis.mount_from, *([analysis.frontend] if analysis.frontend else [])]:
        add(use.ref, use.via, use.line, None, None)
    return uses


def _managed_state(image: EnrolledImage, discovery: Discovery, bases: list[BaseUse]) -> ManagedState:
    assert image.entry.source is not None and image.entry.trigger is not None
    source = image.entry.source
    analysis = discovery.analysis

    def unusable(items: list[Unusable]) -> list[Unresolvable]:
        return [Unresolvable(value=i.raw, dockerfile=source.dockerfile, line=i.line, reason=i.reason)
                for i in items]

    return ManagedState(
        source=SourceState(repo=redact_url(source.repo), ref=source.ref, dockerfile=source.dockerfile,
                           context=source.context, commit=discovery.commit),
        trigger=image.entry.trigger,
        delay=format_duration(image.delay),
        auto_rebuild=image.auto_rebuild,
        platforms=image.platforms,
        syntax=analysis.syntax if analysis else None,
        bases=bases,
        unresolved=unusable(analysis.unresolved) if analysis else [],
        invalid=unusable(analysis.invalid) if analysis else [],
        error=discovery.error,
    )


def plan_state(fleet: Fleet, discoveries: Mapping[str, Discovery],
               previous: Mapping[str, ImageState]) -> StatePlan:
    """The complete next state. Raises DependencyCycle when managed images build FROM each other."""
    managed_refs = {image.ref.tracked: image.name for image in fleet.managed()}
    enrolled_by_ref = {image.ref.tracked: image for image in fleet.images}
    states: dict[str, ImageState] = {}
    failed: dict[str, str] = {}
    uses: dict[str, list[BaseUse]] = {}

    for image in fleet.managed():
        ref = image.ref.tracked
        discovery = discoveries.get(image.name, Discovery(error="not discovered"))
        old = previous.get(ref)
        if discovery.error is not None:
            failed[image.name] = discovery.error
            if old is not None and old.managed is not None:
                states[ref] = old
                uses[image.name] = list(old.managed.bases)
                continue
        bases = _base_uses(discovery.analysis, image.entry.source.dockerfile, managed_refs) \
            if discovery.analysis and image.entry.source else []
        uses[image.name] = bases
        states[ref] = ImageState(
            ref=ref, kind="managed", name=image.name, enrolled_in=_where(image),
            managed=_managed_state(image, discovery, bases),
            digests=old.digests if old else DigestHistory(),
            rebuilds=old.rebuilds if old else [],
        )

    graph = build_graph({name: dependency_targets(bases) for name, bases in uses.items()})
    children = graph.children
    for state in states.values():
        if state.managed is not None and state.name is not None and state.name not in failed:
            state.managed.parents = list(graph.parents.get(state.name, ()))
            state.managed.children = list(children.get(state.name, ()))

    dependents: dict[str, set[str]] = {}
    for name, bases in uses.items():
        for base in bases:
            if base.tracked:
                dependents.setdefault(base.tracked, set()).add(name)
    for state in states.values():
        state.dependents = sorted(dependents.get(state.ref, set()))

    external_refs = {image.ref.tracked for image in fleet.external()}
    external_refs |= {ref for ref in dependents if ref not in managed_refs}
    for ref in sorted(external_refs):
        enrolled = enrolled_by_ref.get(ref)
        old = previous.get(ref)
        parsed = enrolled.ref if enrolled else parse_reference(ref)
        states[ref] = ImageState(
            ref=ref, kind="external",
            name=enrolled.name if enrolled else None,
            enrolled_in=_where(enrolled) if enrolled else None,
            warehouse=warehouse_for(parsed, enrolled.entry.warehouse if enrolled else None),
            dependents=sorted(dependents.get(ref, set())),
            digests=old.digests if old else DigestHistory(),
            rebuilds=old.rebuilds if old else [],
        )

    orphans = sorted(ref for ref in previous if ref not in states)
    return StatePlan(states=dict(sorted(states.items())), graph=graph, orphans=orphans, failed=failed)


class NotIncremental(Exception):
    """The change cannot be planned from the index alone; the caller plans the whole fleet instead."""


@dataclass
class IncrementalPlan:
    """The states a change touches, re-planned; every other state is exactly as the index says."""

    states: dict[str, ImageState]
    """Ref → next state of every image re-planned (rediscovered, or whose graph neighbours changed)."""
    index: PlanIndex
    """The whole fleet after this change."""


def _rediscovered(index: PlanIndex, images: Mapping[str, EnrolledImage],
                  discoveries: Mapping[str, Discovery]) -> dict[str, list[BaseUse]]:
    """Image ref → its bases as discovered now, for every rediscovered image."""
    managed_refs = index.managed_refs()
    out: dict[str, list[BaseUse]] = {}
    for name, image in images.items():
        ref = image.ref.tracked
        discovery = discoveries.get(name)
        facts = index.images.get(ref)
        if discovery is None or discovery.error is not None or discovery.analysis is None:
            raise NotIncremental(f"{name}: not discovered")
        if facts is None or facts.name != name or image.entry.source is None:
            raise NotIncremental(f"{name}: not in the index")
        out[ref] = _base_uses(discovery.analysis, image.entry.source.dockerfile, managed_refs)
    return out


def incremental_refs(index: PlanIndex, images: Mapping[str, EnrolledImage],
                     discoveries: Mapping[str, Discovery]) -> set[str]:
    """The state files `plan_incremental` reads: the rediscovered images' own, and those of every image
    or base one of them started or stopped using (their `dependents`, `children` change)."""
    refs: set[str] = set()
    for ref, bases in _rediscovered(index, images, discoveries).items():
        refs.add(ref)
        refs.update(set(index.images[ref].tracked) ^ {b.tracked for b in bases if b.tracked})
    return refs


def plan_incremental(index: PlanIndex, images: Mapping[str, EnrolledImage],
                     discoveries: Mapping[str, Discovery], previous: Mapping[str, ImageState]) -> IncrementalPlan:
    """The next state of the images in `images` (rediscovered: `discoveries`) and of the states their
    changed edges touch, the rest of the fleet being what `index` says: the same states `plan_state`
    would compute for them. `previous`: the state files of `incremental_refs` (those that exist).

    Raises NotIncremental when the index does not cover the change (a discovery failed, a state the
    index names has no file), and DependencyCycle when the new edges make a loop."""
    new_bases = _rediscovered(index, images, discoveries)
    facts: dict[str, ImageFacts] = dict(index.images)
    states: dict[str, ImageState] = {}
    touched_refs: set[str] = set()
    touched_names: set[str] = set()
    edges_moved = False
    for image in images.values():
        ref = image.ref.tracked
        old = previous.get(ref)
        if old is None or old.kind != "managed":
            raise NotIncremental(f"{ref}: no managed state file")
        bases = new_bases[ref]
        discovery = discoveries[image.name]
        states[ref] = ImageState(
            ref=ref, kind="managed", name=image.name, enrolled_in=_where(image),
            managed=_managed_state(image, discovery, bases), digests=old.digests, rebuilds=old.rebuilds)
        before = index.images[ref]
        facts[ref] = after = facts_of(states[ref], before.source)
        touched_refs.add(ref)
        touched_refs.update(set(before.tracked) ^ set(after.tracked))
        touched_names.update(set(before.parents) ^ set(after.parents))
        edges_moved = edges_moved or before.parents != after.parents

    children: dict[str, set[str]] = {}
    dependents: dict[str, set[str]] = {}
    for item in facts.values():
        for parent in item.parents:
            children.setdefault(parent, set()).add(item.name)
        for tracked in item.tracked:
            dependents.setdefault(tracked, set()).add(item.name)
    ref_of = {item.name: ref for ref, item in facts.items()}
    if touched_names - ref_of.keys():
        raise NotIncremental(f"parents not in the index: {sorted(touched_names - ref_of.keys())[:3]}")
    touched_refs.update(ref_of[name] for name in touched_names)
    if edges_moved:
        order = build_graph({item.name: [(p, True) for p in item.parents] + [(e, False) for e in item.externals]
                             for item in facts.values()}).topological_order()
    else:
        order = index.order

    external = set(index.external)
    orphans = set(index.orphans)
    for ref in sorted(touched_refs):
        users = sorted(dependents.get(ref, set()))
        if ref in facts:  # a managed image: its children and dependents follow the edges
            state = states.get(ref)
            if state is None:
                old = previous.get(ref)
                if old is None or old.kind != "managed" or old.managed is None:
                    raise NotIncremental(f"{ref}: no managed state file")
                state = states[ref] = old.model_copy(deep=True)
            assert state.managed is not None and state.name is not None
            state.managed.parents = list(facts[ref].parents)
            state.managed.children = sorted(children.get(state.name, set()))
            state.dependents = users
            continue
        old = previous.get(ref)
        if ref in external:
            if old is None or old.kind != "external":
                raise NotIncremental(f"{ref}: no external state file")
            if users or old.name is not None:  # enrolled external images stay without dependents
                states[ref] = old.model_copy(deep=True, update={"dependents": users})
            else:  # no longer used: its file stays, as an orphan
                external.discard(ref)
                orphans.add(ref)
        elif users:  # a base newly used (perhaps an orphan's file coming back, history and all)
            external.add(ref)
            orphans.discard(ref)
            states[ref] = ImageState(
                ref=ref, kind="external", warehouse=warehouse_for(parse_reference(ref), None), dependents=users,
                digests=old.digests if old else DigestHistory(), rebuilds=old.rebuilds if old else [])
    new_index = PlanIndex(images=facts, external=sorted(external), orphans=sorted(orphans), order=list(order))
    return IncrementalPlan(states=dict(sorted(states.items())), index=new_index)


def _where(image: EnrolledImage) -> str:
    return f"{image.file}:{image.line}" if image.line else image.file
