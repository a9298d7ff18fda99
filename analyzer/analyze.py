"""The `analyze` job: config → Dockerfiles (git) → discovery → graph → state files."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.config.loader import load_fleet
from analyzer.config.model import EnrolledImage, Fleet
from analyzer.discovery.dockerfile import analyze_dockerfile
from analyzer.errors import InputError
from analyzer.graph import DependencyCycle
from analyzer.sources.git import GitCache, SourceError, resolve_repo_url
from analyzer.state.plan import Discovery, StatePlan, plan_state
from analyzer.state.store import load_states, remove_states, save_states

MAX_PARALLEL_FETCHES = 4

Progress = Callable[[str, Discovery], None]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "image-factory" / "git"


@dataclass
class AnalyzeResult:
    plan: StatePlan
    changed: list[Path] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return bool(self.plan.failed)

    def summary(self) -> dict[str, object]:
        managed = self.plan.managed
        edges = self.plan.graph.edges()
        return {
            "managed": len(managed),
            "external": len(self.plan.external),
            "bases": len({b.tracked for s in managed if s.managed for b in s.managed.bases if b.tracked}),
            "edges": len(edges),
            "internal_edges": sum(1 for e in edges if e.internal),
            "pinned": sorted({b.image for s in managed if s.managed for b in s.managed.bases
                              if b.kind == "pinned"}),
            "unresolved": [f"{s.name}: {u.value} ({u.dockerfile}:{u.line})"
                           for s in managed if s.managed for u in s.managed.unresolved],
            "invalid": [f"{s.name}: {u.value} ({u.dockerfile}:{u.line}): {u.reason}"
                        for s in managed if s.managed for u in s.managed.invalid],
            "errors": {name: reason for name, reason in sorted(self.plan.failed.items())},
            "orphans": self.plan.orphans,
            "pruned": [p.name for p in self.pruned],
            "changed_files": [p.name for p in self.changed],
            "order": self.plan.graph.topological_order(),
        }


def discover_image(image: EnrolledImage, root_dir: Path, cache: GitCache) -> Discovery:
    """Read and analyze one managed image's Dockerfile; source failures become a Discovery error."""
    source = image.entry.source
    assert source is not None
    url = resolve_repo_url(source.repo, root_dir)
    try:
        file = cache.read(url, source.ref, source.dockerfile)
    except SourceError as exc:
        return Discovery(error=str(exc))
    return Discovery(analysis=analyze_dockerfile(file.text, source.build_args), commit=file.commit)


def discover_fleet(fleet: Fleet, cache: GitCache, progress: Progress | None = None) -> dict[str, Discovery]:
    root_dir = Path(fleet.root).parent
    images = fleet.managed()
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        futures = {image.name: pool.submit(discover_image, image, root_dir, cache) for image in images}
        results: dict[str, Discovery] = {}
        for name, future in futures.items():
            results[name] = future.result()
            if progress:
                progress(name, results[name])
    return results


def run_analyze(config: Path, state_dir: Path, cache_dir: Path, prune: bool = False,
                progress: Progress | None = None) -> AnalyzeResult:
    """Validate everything first; write state only when the whole input is valid."""
    fleet = load_fleet(config)
    previous = load_states(state_dir)
    discoveries = discover_fleet(fleet, GitCache(cache_dir), progress)
    try:
        plan = plan_state(fleet, discoveries, previous)
    except DependencyCycle as exc:
        raise InputError.single(config, str(exc), field_name="images") from None
    changed = save_states(state_dir, plan.states.values())
    pruned = remove_states(state_dir, plan.orphans) if prune else []
    return AnalyzeResult(plan=plan, changed=changed, pruned=pruned)
