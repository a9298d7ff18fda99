"""The `analyze` job: config → Dockerfiles (git) → discovery → graph → state files.

Warm runs are incremental (see analyzer/sources/cache.py): unchanged repositories are not fetched,
unchanged Dockerfiles are not parsed, and a run where nothing moved writes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter

from analyzer.config.loader import include_matches, load_fleet
from analyzer.config.model import EnrolledImage, Fleet
from analyzer.discovery.dockerfile import DockerfileAnalysis, analyze_dockerfile
from analyzer.errors import InputError
from analyzer.graph import DependencyCycle
from analyzer.sources.cache import (
    BlobIndex,
    JsonCache,
    LineSnapshot,
    ParseCache,
    Snapshot,
    code_version,
    config_fingerprint,
    rehash_entries,
    signature_of,
    state_entries,
)
from analyzer.sources.git import GitCache, SourceError, resolve_repo_url
from analyzer.state.derive import (
    Discovery,
    NotIncremental,
    StatePlan,
    incremental_refs,
    plan_incremental,
    plan_state,
)
from analyzer.state.index import PlanIndex, index_of, index_summary, summary_of
from analyzer.state.model import ImageState
from analyzer.state.store import (
    images_dir,
    load_state_refs,
    load_states,
    remove_stale_temp_files,
    remove_states,
    save_states,
)
from analyzer.workers import on_two_cores

MAX_PARALLEL_FETCHES = 4

Progress = Callable[[str, Discovery], None]
T = TypeVar("T")


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
    replanned: int = 0
    """How many states this run planned: every one on a full run, only those a change touched on an
    incremental one, none when nothing moved."""
    incremental: bool = False
    """True when only the images whose sources moved (and their graph neighbours) were re-planned."""

    @property
    def partial(self) -> bool:
        return bool(self.summary["errors"])


def summarize(plan: StatePlan, index: PlanIndex | None = None) -> dict[str, Any]:
    """The run's summary; from `index` (the plan's, already built) when given, so facts are derived once."""
    if index is None:
        index = index_of(plan.states.values(), plan.orphans, plan.graph.topological_order(), {})
    return summary_of(index.images.values(), len(plan.external), plan.failed, plan.orphans, index.order)


class Sources:
    """Git mirrors plus the blob index and parse cache that make warm runs cheap."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.version = code_version()
        self.git = GitCache(cache_dir)
        self._urls: dict[tuple[str, Path], str] = {}

    @functools.cached_property
    def blobs(self) -> BlobIndex:
        """Read on first use: a run where nothing moved never needs it."""
        return BlobIndex(self.cache_dir / "blob-index.json", self.version)

    @functools.cached_property
    def parses(self) -> ParseCache:
        """Read on first use: a run where nothing moved never needs it."""
        return ParseCache(self.cache_dir / "parse-cache.jsonl", self.version)

    def url_of(self, repo: str, root_dir: Path) -> str:
        """The repository URL as configured, local paths made absolute; memoized for the run (many images
        share a repository, and resolving a path costs system calls)."""
        key = (repo, root_dir)
        if key not in self._urls:
            self._urls[key] = resolve_repo_url(repo, root_dir)
        return self._urls[key]

    def load_caches(self) -> None:
        """Read both caches now, before threads use them (each is read once)."""
        self.blobs.data, self.parses.data  # noqa: B018

    def save(self) -> None:
        for loaded in ("blobs", "parses"):
            if loaded in self.__dict__:
                getattr(self, loaded).save()

    def cached(self, image: EnrolledImage, commit: str) -> Discovery | None:
        """The discovery of an unchanged Dockerfile, from the caches alone (no git, no parsing)."""
        source = image.entry.source
        assert source is not None
        blob = self.blobs.get(commit, source.dockerfile)
        analysis = self.parses.get(blob, source.build_args) if blob else None
        return Discovery(analysis=analysis, commit=commit) if analysis else None

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
                analysis = _analyze_one(text, source.build_args, source.dockerfile)
                self.parses.put(blob, source.build_args, analysis)
        except SourceError as exc:
            return Discovery(error=str(exc))
        return Discovery(analysis=analysis, commit=commit)

    def discover_many(self, url: str, commit: str, images: list[EnrolledImage]) -> list[Discovery]:
        """The discoveries of images whose Dockerfiles share one repository commit: every file the caches
        cannot answer is read in one batched git read (`GitCache.read_files`), then parsed (or served from
        the parse cache by its blob id); the same outcome per image as `discover`."""
        cached: dict[str, DockerfileAnalysis] = {}
        need: list[str] = []
        for image in images:
            source = image.entry.source
            assert source is not None
            blob = self.blobs.get(commit, source.dockerfile)
            analysis = self.parses.get(blob, source.build_args) if blob else None
            if analysis is None:
                need.append(source.dockerfile)
            else:
                cached[image.name] = analysis
        files = self.git.read_files(url, commit, need) if need else {}
        results: list[Discovery] = []
        for image in images:
            source = image.entry.source
            assert source is not None
            analysis = cached.get(image.name)
            if analysis is None:
                found = files[source.dockerfile]
                if isinstance(found, SourceError):
                    results.append(Discovery(error=str(found)))
                    continue
                self.blobs.put(commit, source.dockerfile, found.blob)
                analysis = self.parses.get(found.blob, source.build_args)
                if analysis is None:
                    try:
                        analysis = _analyze_one(found.text, source.build_args, source.dockerfile)
                    except SourceError as exc:
                        results.append(Discovery(error=str(exc)))
                        continue
                    self.parses.put(found.blob, source.build_args, analysis)
            results.append(Discovery(analysis=analysis, commit=commit))
        return results


def _analyze_one(text: str, build_args: dict[str, str], dockerfile: str) -> DockerfileAnalysis:
    """One Dockerfile's analysis; whatever goes wrong in it fails this image only, never the fleet."""
    try:
        return analyze_dockerfile(text, build_args)
    except Exception as exc:  # a parser bug on one file must not stop the fleet
        raise SourceError(f"{dockerfile}: cannot analyze ({type(exc).__name__}: {str(exc)[:200]})") from None


def _image_source(image: EnrolledImage, root_dir: Path, sources: Sources) -> tuple[str, str]:
    assert image.entry.source is not None
    return sources.url_of(image.entry.source.repo, root_dir), image.entry.source.ref


def resolve_heads(fleet: Fleet, sources: Sources) -> dict[tuple[str, str], str | SourceError]:
    """Every (repository, ref) the fleet reads, resolved to a commit without fetching."""
    root_dir = Path(fleet.root).parent
    wanted = sorted({_image_source(image, root_dir, sources) for image in fleet.managed()})

    def head(item: tuple[str, str]) -> str | SourceError:
        try:
            return sources.git.head(*item)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        return dict(zip(wanted, pool.map(head, wanted), strict=True))


def discover_fleet(fleet: Fleet, sources: Sources, heads: dict[tuple[str, str], str | SourceError],
                   progress: Progress | None = None) -> dict[str, Discovery]:
    """Cache hits are answered inline; the Dockerfiles that need git go to the thread pool, one task per
    repository commit (one batched git read each, not one per file)."""
    root_dir = Path(fleet.root).parent
    sources.load_caches()
    results: dict[str, Discovery] = {}
    pending: list[tuple[EnrolledImage, str, str]] = []
    for image in fleet.managed():
        url, ref = _image_source(image, root_dir, sources)
        commit = heads[(url, ref)]
        found = Discovery(error=str(commit)) if isinstance(commit, SourceError) else sources.cached(image, commit)
        if found is None:
            pending.append((image, url, str(commit)))
        else:
            results[image.name] = found
            if progress:
                progress(image.name, found)
    groups: dict[tuple[str, str], list[EnrolledImage]] = {}
    for image, url, commit in pending:
        groups.setdefault((url, commit), []).append(image)
    for image, discovery in _discover_groups(sources, groups):
        results[image.name] = discovery
        if progress:
            progress(image.name, discovery)
    return {image.name: results[image.name] for image in fleet.managed()}


def _discover_groups(sources: Sources, groups: dict[tuple[str, str], list[EnrolledImage]]
                     ) -> Iterator[tuple[EnrolledImage, Discovery]]:
    """Each image of each (repository, commit) group with its discovery; a group is one batched git read, up
    to MAX_PARALLEL_FETCHES at once. Git reads run as processes (the other core): parsing here keeps pace
    with them, so a second Python process (analyzer/workers.py) gained nothing when measured."""
    def one_repository(item: tuple[tuple[str, str], list[EnrolledImage]]) -> list[Discovery]:
        (url, commit), images = item
        return sources.discover_many(url, commit, images)

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        for images, discoveries in zip(groups.values(), pool.map(one_repository, groups.items()), strict=True):
            yield from zip(images, discoveries, strict=True)


def _cached(snapshot: Snapshot[T], key: str | None, load: Callable[[], T]) -> T:
    """The snapshot's value when it was taken of exactly these inputs (`key`), else `load()`."""
    value = snapshot.get(key) if key else None
    return value if value is not None else load()


def _config_fingerprint(config: Path, include: list[str]) -> str:
    return config_fingerprint(config, [f for pattern in include for f in include_matches(config, pattern)])


Heads = dict[tuple[str, str], "str | SourceError"]


def _heads_now(last: dict[str, Any], config: Path, state_signature_now: str, sources: Sources) -> Heads | None:
    """Every source ref of the last complete run resolved again, when its config files and state files are
    unchanged (else None: the whole fleet must be planned).

    Costs a hash of the config files and one ref lookup per repository (the state files were hashed by
    the caller); no YAML is parsed and nothing is fetched.
    """
    try:
        if _config_fingerprint(config, last["include"]) != last["config"]:
            return None
    except OSError:
        return None
    if last["state"] != state_signature_now:
        return None
    wanted = [(url, ref) for url, ref, _ in last["heads"]]

    def head(item: tuple[str, str]) -> str | SourceError:
        try:
            return sources.git.head(*item)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL_FETCHES) as pool:
        return dict(zip(wanted, pool.map(head, wanted), strict=True))


def _valid_last_run(last: object) -> dict[str, Any] | None:
    """The last run's record when it has the shape this code writes; a corrupted one is no record."""
    if not isinstance(last, dict) or not isinstance(last.get("summary"), dict):
        return None
    if not (isinstance(last.get("config"), str) and isinstance(last.get("state"), str)):
        return None
    include, heads = last.get("include"), last.get("heads")
    if not (isinstance(include, list) and all(isinstance(p, str) for p in include)):
        return None
    if not (isinstance(heads, list) and all(isinstance(h, list) and len(h) == 3
                                            and all(isinstance(x, str) for x in h) for h in heads)):
        return None
    return last


@contextlib.contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    """One `analyze` at a time per state directory, across processes: a second run waits, then sees the
    first one's result. The lock is a flock on the folder holding the state directory (nothing is added to
    the git-tracked tree, and nothing is created before the input is known to be valid)."""
    folder = state_dir.absolute().parent
    while not folder.exists() and folder != folder.parent:  # `--state new/dir/state`: lock what exists
        folder = folder.parent
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        raise InputError.single(state_dir, f"cannot use the state directory: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_analyze(config: Path, state_dir: Path, cache_dir: Path, prune: bool = False,
                progress: Progress | None = None) -> AnalyzeResult:
    """Validate everything first; write state only when the whole input is valid.

    When nothing moved since the last complete run (same config, refs and state files), nothing is
    parsed or written and the last summary is returned. Concurrent runs on one state directory serialize.
    """
    with _state_lock(state_dir):
        return _run_analyze(config, state_dir, cache_dir, prune, progress)


@dataclass
class _RunCaches:
    """The snapshots of one (config, state directory) pair, next to the git caches."""

    fleet: Snapshot[Fleet]
    """The whole fleet, keyed by the config fingerprint."""
    images: LineSnapshot
    """Each managed image's enrollment alone (name → EnrolledImage JSON), keyed by the config fingerprint."""
    states: Snapshot[dict[str, ImageState]]
    """Every state file on disk, keyed by the state signature (written by full runs)."""
    states_delta: LineSnapshot
    """The states incremental runs wrote since that snapshot (ref → ImageState JSON), keyed by
    `snapshot signature>current signature`: the two together are every state file on disk."""
    index: Snapshot[PlanIndex]
    """The fleet's facts (state/index.py), keyed by `config fingerprint:state signature`."""

    @classmethod
    def at(cls, folder: Path, run_key: str, version: str) -> _RunCaches:
        return cls(fleet=Snapshot(folder / f"{run_key}-fleet.json", version, TypeAdapter(Fleet)),
                   images=LineSnapshot(folder / f"{run_key}-images.jsonl", version),
                   states=Snapshot(folder / f"{run_key}-states.json", version, TypeAdapter(dict[str, ImageState])),
                   states_delta=LineSnapshot(folder / f"{run_key}-states-delta.jsonl", version),
                   index=Snapshot(folder / f"{run_key}-index.json", version, TypeAdapter(PlanIndex)))

    def states_on_disk(self, signature: str) -> dict[str, ImageState] | None:
        """Every state file of a state directory with this signature, from the snapshot and the delta."""
        states = self.states.get(signature)
        if states is not None:
            return states
        delta = self.states_delta.read()
        base, _, now = delta[0].partition(">") if delta else ("", "", "")
        if delta is None or now != signature:
            return None
        states = self.states.get(base)
        if states is None:
            return None
        try:
            return states | {ref: _STATE.validate_json(raw) for ref, raw in delta[1].items()}
        except ValueError:
            return None

    def record_delta(self, before: str, after: str, written: Mapping[str, ImageState]) -> None:
        """An incremental run took the state directory from signature `before` to `after` by writing the
        `written` states (and nothing else): extend the delta, when it or the snapshot describes `before`."""
        delta = self.states_delta.read()
        entries = {ref: _STATE.dump_json(state, by_alias=True) for ref, state in written.items()}
        if delta is not None and delta[0].partition(">")[2] == before:
            base, entries = delta[0].partition(">")[0], delta[1] | entries
        elif self.states.key() == before:
            base = before
        else:
            return
        if len(entries) > MAX_DELTA_STATES:  # the next full run reads the state files and starts afresh
            self.states_delta.path.unlink(missing_ok=True)
            return
        self.states_delta.put(f"{base}>{after}", entries)


_ENROLLED = TypeAdapter(EnrolledImage)
_STATE = TypeAdapter(ImageState)
MAX_DELTA_STATES = 5000


def _run_analyze(config: Path, state_dir: Path, cache_dir: Path, prune: bool,
                 progress: Progress | None) -> AnalyzeResult:
    remove_stale_temp_files(state_dir)
    sources = Sources(cache_dir)
    last_runs = JsonCache(cache_dir / "last-runs.json", sources.version)
    run_key = hashlib.sha256(f"{config.resolve()}\0{state_dir.resolve()}".encode()).hexdigest()[:16]
    last = _valid_last_run(last_runs.data.get(run_key))
    entries_before = state_entries(images_dir(state_dir))  # read once: nothing writes state until below
    signature_before = signature_of(entries_before)
    caches = _RunCaches.at(cache_dir / "snapshots", run_key, last_runs.version)
    if last and not prune:
        heads_now = _heads_now(last, config, signature_before, sources)
        if heads_now is not None:
            moved = {(url, ref) for url, ref, commit in last["heads"] if heads_now[(url, ref)] != commit}
            if not moved:
                return AnalyzeResult(summary=last["summary"], unchanged_inputs=True)
            done = _run_incremental(state_dir, sources, caches, last, heads_now, moved, entries_before, progress)
            if done is not None:
                result, last_runs.data[run_key] = done
                last_runs.dirty = True
                last_runs.save()
                return result

    fleet = _cached(caches.fleet, _config_fingerprint(config, last["include"]) if last else None,
                    lambda: load_fleet(config))
    config_key = _config_fingerprint(config, fleet.include)
    if not last or config_key != last["config"]:
        caches.fleet.put(config_key, fleet)
    stored = caches.images.get(config_key)
    if stored is None or stored.keys() != {image.name for image in fleet.managed()}:
        caches.images.put(config_key, {image.name: _ENROLLED.dump_json(image, by_alias=True)
                                       for image in fleet.managed()})
    heads = resolve_heads(fleet, sources)
    snapshot = caches.states_on_disk(signature_before)
    previous = snapshot if snapshot is not None else load_states(state_dir)
    discoveries = discover_fleet(fleet, sources, heads, progress)
    sources.save()
    try:
        plan = plan_state(fleet, discoveries, previous)
    except DependencyCycle as exc:
        raise InputError.single(config, str(exc), field_name="images") from None
    # Files match the snapshot exactly (same signature), so an equal state need not be rendered again.
    changed = save_states(state_dir, plan.states.values(), snapshot, on_two_cores)
    pruned = remove_states(state_dir, plan.orphans) if prune else []
    root_dir = Path(fleet.root).parent
    index = index_of(plan.states.values(), [] if prune else plan.orphans, plan.graph.topological_order(),
                     {image.name: _image_source(image, root_dir, sources) for image in fleet.managed()})
    result = AnalyzeResult(summary=summarize(plan, index), changed=changed, pruned=pruned,
                           replanned=len(plan.states))
    if not result.partial:
        signature = signature_of(rehash_entries(entries_before or {}, [*changed, *pruned])) \
            if entries_before is not None else signature_of(state_entries(images_dir(state_dir)))
        on_disk = {ref: previous[ref] for ref in plan.orphans if not prune} | plan.states
        caches.states.put(signature, on_disk)
        caches.index.put(f"{config_key}:{signature}", index)
        last_runs.data[run_key] = {
            "config": config_key, "include": fleet.include,
            "heads": sorted([url, ref, commit] for (url, ref), commit in heads.items()),
            "state": signature, "summary": result.summary,
        }
        last_runs.dirty = True
        last_runs.save()
    return result


def _run_incremental(state_dir: Path, sources: Sources, caches: _RunCaches, last: dict[str, Any], heads: Heads,
                     moved: set[tuple[str, str]], entries_before: dict[str, str] | None,
                     progress: Progress | None) -> tuple[AnalyzeResult, dict[str, Any]] | None:
    """Only some source refs moved since the last complete run (config and state files unchanged):
    rediscover the images read from them, and re-plan those and the states their changed edges touch from
    the last run's index and the state files they need. Returns the result and the run's record, or None
    when it cannot (no index for these inputs, a source that fails, a cycle, a state file missing or
    invalid): the caller then plans the whole fleet, which reports any of these as a full run does."""
    if entries_before is None or any(isinstance(commit, SourceError) for commit in heads.values()):
        return None
    index = caches.index.get(f"{last['config']}:{last['state']}")
    enrolled = caches.images.get(last["config"]) if index is not None else None
    if index is None or enrolled is None:
        return None
    groups: dict[tuple[str, str], list[EnrolledImage]] = {}
    try:
        for facts in index.images.values():
            if facts.source is None:
                return None
            if facts.source in moved:
                url, ref = facts.source
                groups.setdefault((url, str(heads[(url, ref)])), []).append(
                    _ENROLLED.validate_json(enrolled[facts.name]))
    except (KeyError, ValueError):  # damaged: the full run this falls back to writes it anew
        caches.images.path.unlink(missing_ok=True)
        return None
    if 2 * sum(len(members) for members in groups.values()) > len(index.images):
        return None  # most of the fleet moved: reading it from the snapshots is cheaper than file by file

    images: dict[str, EnrolledImage] = {}
    discoveries: dict[str, Discovery] = {}
    sources.load_caches()
    for image, discovery in _discover_groups(sources, groups):
        images[image.name] = image
        discoveries[image.name] = discovery
    sources.save()
    if any(d.error is not None for d in discoveries.values()):
        return None
    try:
        previous = load_state_refs(state_dir, incremental_refs(index, images, discoveries))
        plan = plan_incremental(index, images, discoveries, previous)
    except (NotIncremental, DependencyCycle, InputError):
        return None
    if progress:  # only now: after a fallback, the full run reports every image once
        for name, discovery in discoveries.items():
            progress(name, discovery)
    changed = save_states(state_dir, plan.states.values())
    signature = signature_of(rehash_entries(entries_before, changed))
    caches.index.put(f"{last['config']}:{signature}", plan.index)
    caches.record_delta(last["state"], signature, plan.states)
    summary = index_summary(plan.index)
    record = {**last, "heads": sorted([url, ref, str(heads[(url, ref)])] for url, ref, _ in last["heads"]),
              "state": signature, "summary": summary}
    return AnalyzeResult(summary=summary, changed=changed, replanned=len(plan.states), incremental=True), record
