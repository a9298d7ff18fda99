"""Issue 17: a warm `analyze` after some Dockerfiles changed re-plans only those images and the states their
edges touch, and writes exactly the bytes a full run writes. Each case changes a real git repository of a
generated fleet (bench/fleet.py: internal chains, shared bases, pinned stages, COPY --from, unresolvable
FROMs), runs the warm analyze on the fleet's state and caches, and a cold full analyze (empty cache) on a
copy of the state as it was before the change; the two state trees must be byte-identical."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from analyzer.analyze import AnalyzeResult, _RunCaches, run_analyze
from analyzer.errors import InputError
from analyzer.sources.cache import code_version, state_signature
from analyzer.state.model import DigestHistory, DigestRecord, RebuildRecord
from analyzer.state.store import images_dir, load_state_file, load_states, save_state
from bench.fleet import GIT_ENV, write_fleet
from tests.support.cli import invoke

REPOS = 4
DOCKERFILES = 48


def ref(i: int) -> str:
    return f"registry.example.com/team-{i % REPOS:03d}/img-{i:05d}:main"


def state_file(reference: str) -> str:
    registry, _, rest = reference.partition("/")
    path, _, tag = rest.rpartition(":")
    return f"{registry}~{path.replace('/', '~')}@{tag}.yaml"


class Fleet:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = write_fleet(root, REPOS, DOCKERFILES)
        self.state = root / "state"
        self.cache = root / "cache"

    def repo(self, i: int) -> Path:
        return self.root / "repos" / f"repo-{i % REPOS:03d}"

    def commit(self, changes: dict[int, str | None]) -> None:
        """Commit new text (None: delete) for the Dockerfiles of these images, one commit per repository."""
        for repo in {self.repo(i) for i in changes}:
            for i, text in changes.items():
                if self.repo(i) != repo:
                    continue
                path = f"services/img-{i:05d}/Dockerfile"
                if text is None:
                    (repo / path).unlink()
                else:
                    (repo / path).write_text(text)
            subprocess.run(["git", "commit", "-q", "-a", "--no-gpg-sign", "-m", "change"], cwd=repo, check=True,
                           env={**os.environ, **GIT_ENV}, capture_output=True)

    def analyze(self, state: Path | None = None, cache: Path | None = None, prune: bool = False) -> AnalyzeResult:
        return run_analyze(self.config, state or self.state, cache or self.cache, prune)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(images_dir(folder).glob("*.yaml"))}


@pytest.fixture()
def fleet(tmp_path: Path) -> Fleet:
    fleet = Fleet(tmp_path / "fleet")
    first = fleet.analyze()
    assert not first.partial and not first.incremental
    return fleet


def warm_vs_full(fleet: Fleet, tmp_path: Path, change: Callable[[], None],
                 prune: bool = False) -> tuple[AnalyzeResult, AnalyzeResult]:
    """Apply `change`, then run the warm analyze and a cold full one from the same previous state; assert
    the same files, summary and changed files."""
    copy = tmp_path / "full" / "state"
    shutil.rmtree(copy.parent, ignore_errors=True)
    shutil.copytree(fleet.state, copy)
    change()
    warm = fleet.analyze(prune=prune)
    full = fleet.analyze(state=copy, cache=tmp_path / "full" / "cache", prune=prune)
    assert not full.incremental
    assert files(fleet.state) == files(copy)
    assert warm.summary == full.summary
    assert [p.name for p in warm.changed] == [p.name for p in full.changed]
    return warm, full


def dockerfile(fleet: Fleet, i: int) -> str:
    return (fleet.repo(i) / f"services/img-{i:05d}/Dockerfile").read_text()


def test_one_changed_dockerfile_replans_only_its_repository(fleet: Fleet, tmp_path: Path) -> None:
    warm, full = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({0: dockerfile(fleet, 0) + "RUN echo changed\n"}))
    # the commit moved for the images read from that repository; nothing else is planned
    assert warm.incremental and warm.replanned == DOCKERFILES // REPOS
    assert full.replanned == len(files(fleet.state))
    assert len(warm.changed) == DOCKERFILES // REPOS


def test_changed_bases_touch_their_old_and_new_neighbours(fleet: Fleet, tmp_path: Path) -> None:
    states = load_states(fleet.state)

    def tracked(i: int) -> set[str]:
        managed = states[ref(i)].managed
        assert managed is not None
        return {b.tracked for b in managed.bases if b.tracked}

    i = next(i for i in range(1, DOCKERFILES) if ref(0) not in tracked(i))
    j = i + 1
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({
        i: f"FROM {ref(0)}\nCOPY --from=ruby:3.3-slim /x /x\n",  # a new internal edge and another upstream
        j: "FROM new.example.com/only/here:1\n"}))                # a base nobody used before
    assert warm.incremental
    touched = {p.name for p in warm.changed}
    assert {state_file(ref(0)), state_file(ref(i)), state_file(ref(j)), "new.example.com~only~here@1.yaml"} <= touched
    after = load_states(fleet.state)
    assert after[ref(0)].managed and f"img-{i:05d}" in after[ref(0)].managed.children
    for gone in tracked(i) - {ref(0)}:  # every base it stopped using lost it as a dependent (and was written)
        assert f"img-{i:05d}" not in after[gone].dependents and state_file(gone) in touched
    assert warm.replanned < len(files(fleet.state)) // 2


def test_a_base_losing_its_last_user_is_an_orphan_and_comes_back_with_its_history(fleet: Fleet,
                                                                                  tmp_path: Path) -> None:
    warm_vs_full(fleet, tmp_path, lambda: fleet.commit({3: "FROM new.example.com/once:1\n"}))
    # refresh records a digest on the new base (a state edit: the next run is a full one)
    path = images_dir(fleet.state) / "new.example.com~once@1.yaml"
    state = load_state_file(path)
    state.digests = DigestHistory(current="sha256:" + "1" * 64, history=[DigestRecord(
        digest="sha256:" + "1" * 64, first_seen="2026-11-01T00:00:00Z", last_seen="2026-11-02T00:00:00Z")])
    save_state(fleet.state, state)
    assert not fleet.analyze().incremental
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({3: "FROM alpine:3.20\n"}))
    assert warm.incremental and warm.summary["orphans"] == ["new.example.com/once:1"] and path.is_file()
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({5: "FROM new.example.com/once:1\n"}))
    assert warm.incremental and "new.example.com/once:1" not in warm.summary["orphans"]
    back = load_state_file(path)
    assert back.dependents == ["img-00005"] and back.digests.history[0].digest == "sha256:" + "1" * 64


def test_runtime_history_of_replanned_images_is_kept(fleet: Fleet, tmp_path: Path) -> None:
    for reference in (ref(4), "docker.io/library/alpine:3.20"):
        path = images_dir(fleet.state) / state_file(reference)
        if not path.exists():
            continue
        state = load_state_file(path)
        state.rebuilds = [RebuildRecord(at="2026-11-03T00:00:00Z", outcome="succeeded")]
        save_state(fleet.state, state)
    fleet.analyze()
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({4: "FROM alpine:3.20\nRUN true\n"}))
    assert warm.incremental
    assert load_state_file(images_dir(fleet.state) / state_file(ref(4))).rebuilds[0].outcome == "succeeded"


def test_a_chain_of_incremental_runs_then_a_config_edit(fleet: Fleet, tmp_path: Path) -> None:
    for step, i in enumerate((6, 7, 10)):
        text = f"FROM node:{18 + step}-slim\n"
        warm, _ = warm_vs_full(fleet, tmp_path, lambda i=i, text=text: fleet.commit({i: text}))
        assert warm.incremental
    # the states snapshot plus the incremental runs' delta is exactly what is on disk
    caches = _RunCaches.at(fleet.cache / "snapshots", next(p.name.split("-")[0] for p in
                                                          (fleet.cache / "snapshots").glob("*-index.json")),
                           code_version())
    assert caches.states_on_disk(state_signature(images_dir(fleet.state))) == load_states(fleet.state)

    def edit() -> None:
        fleet.config.write_text(fleet.config.read_text().replace("  - name: img-00011\n",
                                                                 "  - name: img-00011\n    delay: 36h\n"))
    warm, _ = warm_vs_full(fleet, tmp_path, edit)
    assert not warm.incremental  # images.yaml changed: the whole fleet is planned


def test_a_deleted_image_and_prune_take_the_full_path(fleet: Fleet, tmp_path: Path) -> None:
    def delete() -> None:
        lines = fleet.config.read_text().split("\n")
        start = lines.index("  - name: img-00009")
        del lines[start:start + 7]
        fleet.config.write_text("\n".join(lines))
    warm, _ = warm_vs_full(fleet, tmp_path, delete)
    assert not warm.incremental and ref(9) in warm.summary["orphans"]
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({13: "FROM redis:7\n"}))
    assert warm.incremental and ref(9) in warm.summary["orphans"]
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({13: "FROM redis:7\nRUN x\n"}), prune=True)
    assert not warm.incremental and warm.pruned
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({13: "FROM postgres:16\n"}))
    assert warm.incremental and warm.summary["orphans"] == []


def test_a_deleted_dockerfile_falls_back_to_the_full_partial_run(fleet: Fleet, tmp_path: Path) -> None:
    warm, full = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({8: None}))
    assert warm.partial and full.partial and not warm.incremental
    assert list(warm.summary["errors"]) == ["img-00008"]


def test_a_change_that_makes_a_cycle_is_refused_like_a_full_run(fleet: Fleet, tmp_path: Path) -> None:
    fleet.commit({16: f"FROM {ref(12)}\n", 12: "FROM alpine:3.20\n"})
    fleet.analyze()
    before = files(fleet.state)
    fleet.commit({12: f"FROM {ref(16)}\n"})
    with pytest.raises(InputError, match="dependency cycle"):
        fleet.analyze()
    assert files(fleet.state) == before
    fleet.commit({12: f"FROM {ref(12)}\n"})  # onto itself
    with pytest.raises(InputError, match="dependency cycle"):
        fleet.analyze()
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({12: "FROM alpine:3.21\n"}))
    assert not warm.partial


def test_the_cli_reports_what_was_replanned(fleet: Fleet) -> None:
    fleet.commit({0: "FROM python:3.13-slim\n"})
    result = invoke("analyze", "--config", str(fleet.config), "--state", str(fleet.state),
                    "--cache", str(fleet.cache), "--json")
    out = yaml.safe_load(result.output)
    assert result.exit_code == 0 and out["incremental"] is True
    assert 0 < out["replanned"] < out["managed"] and out["changed_files"]


def test_when_most_of_the_fleet_moved_the_whole_fleet_is_planned(fleet: Fleet, tmp_path: Path) -> None:
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({i: f"FROM alpine:3.{i}\n" for i in (0, 1, 2)}))
    assert not warm.incremental  # three of four repositories: file-by-file loading would not pay
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({i: f"FROM debian:{i}\n" for i in (0, 1)}))
    assert warm.incremental and warm.replanned >= DOCKERFILES // 2


def test_progress_reports_each_rediscovered_image_once(fleet: Fleet) -> None:
    fleet.commit({3: "FROM python:3.13-slim\n"})
    seen: list[str] = []
    result = run_analyze(fleet.config, fleet.state, fleet.cache, progress=lambda name, _: seen.append(name))
    assert result.incremental and sorted(seen) == [f"img-{i:05d}" for i in range(3, DOCKERFILES, REPOS)]
    fleet.commit({3: None})  # a failing source: the incremental attempt falls back, nothing is reported twice
    seen.clear()
    result = run_analyze(fleet.config, fleet.state, fleet.cache, progress=lambda name, _: seen.append(name))
    assert not result.incremental and result.partial and len(seen) == len(set(seen)) == DOCKERFILES


def test_the_text_summary_says_the_run_was_incremental(fleet: Fleet) -> None:
    fleet.commit({2: "FROM node:22-slim\n"})
    result = invoke("analyze", "--config", str(fleet.config), "--state", str(fleet.state), "--cache", str(fleet.cache))
    found = re.search(r"state files changed: (\d+) \(incremental: (\d+) states re-planned", result.output)
    assert result.exit_code == 0 and found, result.output
    assert 0 < int(found[1]) <= int(found[2]) < DOCKERFILES


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign-version", "wrong-shape", "bad-values"])
def test_damaged_incremental_caches_are_a_cold_cache(fleet: Fleet, tmp_path: Path, damage: str) -> None:
    warm_vs_full(fleet, tmp_path, lambda: fleet.commit({1: "FROM alpine:3.20\n"}))  # makes a states delta
    snapshots = fleet.cache / "snapshots"
    damaged = [*snapshots.glob("*-index.json"), *snapshots.glob("*.jsonl"), fleet.cache / "parse-cache.jsonl"]
    assert {p.name.split("-", 1)[1] for p in damaged if p.parent == snapshots} == {
        "index.json", "images.jsonl", "states-delta.jsonl"}

    def break_caches() -> None:
        for path in damaged:
            data = path.read_bytes()
            header, _, body = data.partition(b"\n")
            if damage == "bad-values":  # every name still there, every value broken; the index intact
                if path.suffix == ".jsonl":
                    path.write_bytes(header + b"\n" + b"".join(line.partition(b"\t")[0] + b"\t{}\n"
                                                              for line in body.splitlines()))
                continue
            path.write_bytes({
                "garbage": b"{not json\n\x00\t\n",
                "truncated": data[: len(data) // 2],
                "empty": b"",
                "foreign-version": header.replace(b'"version": "', b'"version": "0') + b"\n" + body,
                "wrong-shape": header + b"\n" + (b'{"images": 1}' if path.suffix == ".json"
                                                else b"x\t[1]\nnot-a-line\n"),
            }[damage])
        fleet.commit({5: "FROM alpine:3.21\n"})

    warm, _ = warm_vs_full(fleet, tmp_path, break_caches)
    assert not warm.partial
    warm, _ = warm_vs_full(fleet, tmp_path, lambda: fleet.commit({5: "FROM alpine:3.22\n"}))
    assert warm.incremental  # the next run has whole caches again
