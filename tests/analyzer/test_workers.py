"""Work shared with a forked child (analyzer/workers.py): the child's share is really done by another
process, and whatever goes wrong there, the outcome is the one sequential work gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analyzer import workers
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, WarehouseState
from analyzer.state.store import images_dir, load_states, save_states
from tests.analyzer.state.test_store import T0


def pid_and_squares(items: list[int]) -> tuple[int, list[int]]:
    return os.getpid(), [i * i for i in items]


def test_the_other_share_is_done_by_another_process() -> None:
    mine, theirs = list(range(workers.MIN_SHARE)), list(range(workers.MIN_SHARE, 2 * workers.MIN_SHARE))
    (own_pid, own), (their_pid, their) = workers.on_two_cores(mine, theirs, pid_and_squares, size=len)
    assert own_pid == os.getpid() != their_pid
    assert own + their == [i * i for i in range(2 * workers.MIN_SHARE)]


def test_small_shares_stay_in_this_process() -> None:
    (own_pid, _), (their_pid, _) = workers.on_two_cores([1], [2], pid_and_squares, size=len)
    assert own_pid == their_pid == os.getpid()


@pytest.mark.parametrize("failure", ["raise", "crash", "unpicklable"])
def test_a_failing_child_leaves_its_share_to_this_process(failure: str) -> None:
    parent = os.getpid()

    def work(items: list[int]) -> object:
        if os.getpid() != parent:
            if failure == "raise":
                raise RuntimeError("child broke")
            if failure == "crash":
                os.kill(os.getpid(), 9)
            return lambda: None  # cannot be pickled
        return [i + 1 for i in items]

    share = list(range(workers.MIN_SHARE))
    assert workers.on_two_cores(share, share, work, size=len) == ([i + 1 for i in share],) * 2


def many_states(count: int) -> list[ImageState]:
    return [ImageState(ref=f"registry.example.com/team/img-{i:04d}:main", kind="external",
                       warehouse=WarehouseState(repoURL="registry.example.com/team/img", constraint="main"),
                       digests=DigestHistory(current=f"sha256:{i:064x}", history=[
                           DigestRecord(digest=f"sha256:{i:064x}", first_seen=T0, last_seen=T0)]))
            for i in range(count)]


def test_a_big_state_batch_is_written_by_two_processes_with_the_same_bytes(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    states = many_states(2 * workers.MIN_SHARE + 1)
    forks: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: (forks.append(1), real_fork())[1])
    changed = save_states(tmp_path / "forked", states, None, workers.on_two_cores)
    assert forks == [1] and len(changed) == len(states)
    monkeypatch.setenv("IMAGE_FACTORY_NO_FORK", "1")
    sequential = save_states(tmp_path / "sequential", states, None, workers.on_two_cores)
    plain = save_states(tmp_path / "plain", states)
    assert [p.name for p in changed] == [p.name for p in sequential] == [p.name for p in plain]
    assert forks == [1]
    forked, one = images_dir(tmp_path / "forked"), images_dir(tmp_path / "plain")
    assert sorted(os.listdir(forked)) == sorted(os.listdir(one))  # no temp file left behind
    assert all((forked / name).read_bytes() == (one / name).read_bytes() for name in os.listdir(forked))
    assert list(load_states(tmp_path / "forked").values()) == sorted(states, key=lambda s: s.ref)


def test_analyze_shared_with_a_forked_process_gives_the_sequential_result(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The state writes of `analyze`, split between two processes, write byte for byte the state files,
    caches and summary that one process writes."""
    from analyzer.analyze import run_analyze
    from bench.fleet import write_fleet

    config = write_fleet(tmp_path / "fleet", repos=6, dockerfiles=80)
    monkeypatch.setattr(workers, "MIN_SHARE", 10)
    forks: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: (forks.append(1), real_fork())[1])
    forked = run_analyze(config, tmp_path / "forked" / "state", tmp_path / "forked" / "cache")
    assert len(forks) == 1  # the state files
    monkeypatch.setenv("IMAGE_FACTORY_NO_FORK", "1")
    sequential = run_analyze(config, tmp_path / "sequential" / "state", tmp_path / "sequential" / "cache")
    assert len(forks) == 1
    assert forked.summary == sequential.summary and len(forked.changed) == len(sequential.changed) > 80
    for folder in ("state/images", "cache"):
        one, other = tmp_path / "forked" / folder, tmp_path / "sequential" / folder
        names = sorted(p.name for p in one.iterdir() if p.is_file())
        assert names == sorted(p.name for p in other.iterdir() if p.is_file())
        assert all((one / n).read_bytes() == (other / n).read_bytes() for n in names if n != "last-runs.json")


def test_a_project_loaded_by_two_processes_is_the_same_and_fails_the_same(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`load_project` reads images.yaml here and the last state files in a forked process: the same fleet and
    states in the same order, and for a broken state file the same problems, as one process."""
    from analyzer.commands.options import load_project
    from analyzer.errors import InputError
    from analyzer.kargo.render import render_files
    from bench.kargo_fleet import write_render_fleet

    config = write_render_fleet(tmp_path / "fleet", 60, 150)
    state = config.parent / "state"
    monkeypatch.setattr(workers, "MIN_SHARE", 10)
    forks: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: (forks.append(1), real_fork())[1])
    forked = load_project(config, state)
    assert forks == [1]
    with monkeypatch.context() as sequential_only:
        sequential_only.setenv("IMAGE_FACTORY_NO_FORK", "1")
        sequential = load_project(config, state)
    assert forks == [1]
    assert forked.fleet == sequential.fleet and list(forked.states.items()) == list(sequential.states.items())
    assert render_files(forked.project.objects) == render_files(sequential.project.objects)

    last = sorted(images_dir(state).glob("*.yaml"))[-1]
    last.write_text(last.read_text().replace("kind: ", "kind: [broken", 1))
    with pytest.raises(InputError) as in_two:
        load_project(config, state)
    assert forks == [1, 1]
    monkeypatch.setenv("IMAGE_FACTORY_NO_FORK", "1")
    with pytest.raises(InputError) as in_one:
        load_project(config, state)
    assert in_two.value.problems == in_one.value.problems and str(last) in str(in_two.value)
