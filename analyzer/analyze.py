"""The `analyze` job: config → Dockerfiles (git) → discovery → graph → state files.

Warm runs are incremental (see analyzer/sources/cache.py): unchanged repositories are not fetched,
unchanged Dockerfiles are not parsed, and a run where nothing moved writes nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.config.loader import load_fleet
from analyzer.config.model import EnrolledImage, Fleet
from analyzer.discovery.dockerfile import analyze_dockerfile
from analyzer.errors import InputError
from analyzer.graph import DependencyCycle
from analyzer.sources.cache import BlobIndex, JsonCache, ParseCache, code_version, run_fingerprint, state_signature
from analyzer.sources.git import GitCache, SourceError, resolve_repo_url
from analyzer.state.plan import Discovery, StatePlan, plan_state
from analyzer.state.store import images_dir, load_states, remove_states, save_states

MAX_PARALLEL_FETCHES = 4

Progress = Callable[[str, Discovery], None]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "image-factory" / "git"


@dataclass
class AnalyzeResult:
    summary: dict[str, Any]
    changed: list[Path] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)
    unchanged_inputs: bool = False
    """True when nothing moved since the last complete run and no work was done."""

    @property
    def partial(self) -> bool:
        return bool(self.summary["errors"])


def summarize(plan: StatePlan) -> dict[str, Any]:
    managed = [s for s in plan.managed if s.managed]
    edges = plan.graph.edges()
    return {
        "managed": len(managed),
        "external": len(plan.external),
        "bases": len({b.tracked for s in managed if s.managed for b in s.managed.bases if b.tracked}),
        "edges": len(edges),
        "internal_edges": sum(1 for e in edges if e.internal),
        "pinned": sorted({b.image for s in managed if s.managed for b in s.managed.bases if b.kind == "pinned"}),
        "unresolved": [f"{s.name}: {u.value} ({u.dockerfile}:{u.line})"
                       for s in managed if s.managed for u in s.managed.unresolved],
        "invalid": [f"{s.name}: {u.value} ({u.dockerfile}:{u.line}): {u.reason}"
                    for s in managed if s.managed for u in s.managed.invalid],
        "errors": dict(sorted(plan.failed.items())),
        "orphans": plan.orphans,
        "order": plan.graph.topological_order(),
    }


class Sources:
    """Git mirrors plus the blob index and parse cache that make warm runs cheap."""

    def __init__(self, cache_dir: Path) -> None:
        version = code_version()
        self.git = GitCache(cache_dir)
        self.blobs = BlobIndex(cache_dir / "blob-index.json", version)
        self.parses = ParseCache(cache_dir / "parse-cache.json", version)

    def save(self) -> None:
        self.blobs.save()
        self.parses.save()

    def discover(self, image: EnrolledImage, url: str, commit: str) -> Discovery:
        source = image.entry.source
        assert source is not None
        try:
            blob = self.blobs.get(commit, source.dockerfile)
            if blob is None:
                blob = self.git.blob_id(url, commit, source.dockerfile)
                self.blobs.put(commit, source.dockerfile, blob)
            analysis = self.parses.get(blob, source.build_args)
            if analysis is None:
                text = self.git.read_blob(url, commit, blob, source.dockerfile)
                analysis = analyze_dockerfile(text, source.build_args)
                self.parses.put(blob, source.build_args, analysis)
        except SourceError as exc:
            return Discovery(error=str(exc))
        return Discovery(analysis=analysis, commit=commit)


def _image_source(image: EnrolledImage, root_dir: Path) -> tuple[str, str]:
    assert image.entry.source is not None
    return resolve_repo_url(image.entry.source.repo, root_dir), image.entry.source.ref


def resolve_heads(fleet: Fleet, sources: Sources) -> dict[tuple[str, str], str | SourceError]:
    """Every (repository, ref) the fleet reads, resolved to a commit without fetching."""
    root_dir = Path(fleet.root).parent
    wanted = sorted({_image_source(image, root_dir) for image in fleet.managed()})

    def head(item: tuple[str, str]) -> str | SourceError:
        try:
            return sources.git.head(*item)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        return dict(zip(wanted, pool.map(head, wanted), strict=True))


def discover_fleet(fleet: Fleet, sources: Sources, heads: dict[tuple[str, str], str | SourceError],
                   progress: Progress | None = None) -> dict[str, Discovery]:
    root_dir = Path(fleet.root).parent

    def one(image: EnrolledImage) -> Discovery:
        url, ref = _image_source(image, root_dir)
        commit = heads[(url, ref)]
        if isinstance(commit, SourceError):
            return Discovery(error=str(commit))
        return sources.discover(image, url, commit)

    results: dict[str, Discovery] = {}
    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        for image, discovery in zip(fleet.managed(), pool.map(one, fleet.managed()), strict=True):
            results[image.name] = discovery
            if progress:
                progress(image.name, discovery)
    return results


def run_analyze(config: Path, state_dir: Path, cache_dir: Path, prune: bool = False,
                progress: Progress | None = None) -> AnalyzeResult:
    """Validate everything first; write state only when the whole input is valid."""
    fleet = load_fleet(config)
    sources = Sources(cache_dir)
    heads = resolve_heads(fleet, sources)
    last_runs = JsonCache(cache_dir / "last-runs.json", code_version())
    run_key = hashlib.sha256(f"{config.resolve()}\0{state_dir.resolve()}".encode()).hexdigest()[:16]
    fingerprint = None
    if not any(isinstance(h, SourceError) for h in heads.values()):
        fingerprint = run_fingerprint([Path(f) for f in fleet.files], heads, last_runs.version)  # type: ignore[arg-type]
        last = last_runs.data.get(run_key)
        if (not prune and last and last["fingerprint"] == fingerprint
                and last["state"] == state_signature(images_dir(state_dir))):
            return AnalyzeResult(summary=last["summary"], unchanged_inputs=True)

    previous = load_states(state_dir)
    discoveries = discover_fleet(fleet, sources, heads, progress)
    sources.save()
    try:
        plan = plan_state(fleet, discoveries, previous)
    except DependencyCycle as exc:
        raise InputError.single(config, str(exc), field_name="images") from None
    changed = save_states(state_dir, plan.states.values())
    pruned = remove_states(state_dir, plan.orphans) if prune else []
    result = AnalyzeResult(summary=summarize(plan), changed=changed, pruned=pruned)
    if fingerprint and not result.partial:
        last_runs.data[run_key] = {"fingerprint": fingerprint, "state": state_signature(images_dir(state_dir)),
                                   "summary": result.summary}
        last_runs.dirty = True
        last_runs.save()
    return result
