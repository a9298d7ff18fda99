"""What the rest of the fleet needs to know about each image, without its state file (pure).

`analyze` keeps one `PlanIndex` per state folder next to its caches: per managed image the facts that
other images' states and the run's summary are derived from (its graph edges, the refs it uses, the
summary lines), plus the refs of the external states, the orphans and the cascade order. A run where
only some Dockerfiles changed re-plans those images and the states their edges touch from the index
(`derive.plan_incremental`), instead of loading and re-planning every state file. The summary of a
run is computed from the same facts either way (`summary_of`), so both paths print the same summary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from analyzer.graph import split_targets
from analyzer.state.model import ImageState, dependency_targets


class ImageFacts(BaseModel):
    """One managed image as the rest of the fleet sees it (all derived from its state)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    parents: list[str]
    """Managed parents by name: the dependency graph's internal edges, sorted."""
    externals: list[str]
    """External tracked refs it uses directly: the graph's external edges, sorted."""
    tracked: list[str]
    """Every tracked ref its bases name (managed parents' refs included): what `dependents` are made of."""
    pinned: list[str]
    unresolved: list[str]
    """Summary lines (`name: value (dockerfile:line)`)."""
    invalid: list[str]
    source: tuple[str, str] | None = None
    """(repository URL as resolved, git ref) the Dockerfile is read from: which images a moved ref touches."""


class PlanIndex(BaseModel):
    """The whole fleet's facts after one complete run; valid for that run's config and state files."""

    model_config = ConfigDict(extra="forbid")

    images: dict[str, ImageFacts]
    """Managed image ref → its facts, sorted by ref."""
    external: list[str]
    """Refs of the external states (enrolled or discovered), sorted."""
    orphans: list[str]
    """Refs of the state files on disk that are no longer enrolled or used, sorted."""
    order: list[str]
    """Managed images, parents before children (the graph's topological order)."""

    def managed_refs(self) -> dict[str, str]:
        """Tracked ref → managed image name."""
        return {ref: facts.name for ref, facts in self.images.items()}


def facts_of(state: ImageState, source: tuple[str, str] | None = None) -> ImageFacts:
    """The facts of one managed state (its bases decide its edges, as in `plan_state`)."""
    assert state.managed is not None and state.name is not None
    bases = state.managed.bases
    parents, externals = split_targets(state.name, dependency_targets(bases))
    return ImageFacts(
        name=state.name,
        parents=list(parents),
        externals=list(externals),
        tracked=[b.tracked for b in bases if b.tracked],
        pinned=[b.image for b in bases if b.kind == "pinned"],
        unresolved=[f"{state.name}: {u.value} ({u.dockerfile}:{u.line})" for u in state.managed.unresolved],
        invalid=[f"{state.name}: {u.value} ({u.dockerfile}:{u.line}): {u.reason}" for u in state.managed.invalid],
        source=source,
    )


def index_of(states: Iterable[ImageState], orphans: list[str], order: list[str],
             sources: Mapping[str, tuple[str, str]]) -> PlanIndex:
    """The index of a complete plan: `states` every state it wrote, `orphans` the files it left on disk,
    `sources` managed image name → where its Dockerfile is read."""
    images: dict[str, ImageFacts] = {}
    external: list[str] = []
    for state in sorted(states, key=lambda s: s.ref):
        if state.kind == "managed" and state.managed is not None and state.name is not None:
            images[state.ref] = facts_of(state, sources.get(state.name))
        else:
            external.append(state.ref)
    return PlanIndex(images=images, external=external, orphans=sorted(orphans), order=list(order))


def summary_of(images: Iterable[ImageFacts], external: int, errors: Mapping[str, str], orphans: list[str],
               order: list[str]) -> dict[str, Any]:
    """The run's summary (what `analyze` prints), from every managed image's facts in ref order."""
    managed = list(images)
    return {
        "managed": len(managed),
        "external": external,
        "bases": len({ref for facts in managed for ref in facts.tracked}),
        "edges": sum(len(facts.parents) + len(facts.externals) for facts in managed),
        "internal_edges": sum(len(facts.parents) for facts in managed),
        "pinned": sorted({image for facts in managed for image in facts.pinned}),
        "unresolved": [line for facts in managed for line in facts.unresolved],
        "invalid": [line for facts in managed for line in facts.invalid],
        "errors": dict(sorted(errors.items())),
        "orphans": list(orphans),
        "order": list(order),
    }


def index_summary(index: PlanIndex) -> dict[str, Any]:
    """The summary of the complete run the index describes (no errors: only complete runs keep one)."""
    return summary_of(index.images.values(), len(index.external), {}, index.orphans, index.order)
