"""Issue 16: the cache is a cache. A warm run sees every change a cold run would: included files, state
edits that keep size and mtime, concurrent runs; stale temp files and broken mirrors are repaired."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from analyzer.analyze import run_analyze
from analyzer.errors import InputError
from tests.support import ROOT
from tests.support.gitrepos import make_remote

STATE_A = "r.example.com~a@1.yaml"
STATE_B = "r.example.com~b@1.yaml"


def entry(name: str, remote: Path | str) -> dict[str, object]:
    return {"name": name, "image": f"r.example.com/{name}:1",
            "source": {"repo": str(remote), "dockerfile": f"{name}/Dockerfile"},
            "trigger": {"webhook": {"url": f"https://ci.example.com/{name}"}}}


@pytest.fixture()
def remote(tmp_path: Path) -> Path:
    return make_remote(tmp_path, "team", {"a/Dockerfile": "FROM python:3.12-slim\n",
                                          "b/Dockerfile": "FROM node:20-alpine\n"})


@pytest.fixture()
def project(tmp_path: Path, remote: Path) -> Path:
    root = tmp_path / "project"
    (root / "images.d").mkdir(parents=True)
    (root / "images.yaml").write_text("include: ['images.d/*.yaml']\nimages: []\n")
    (root / "images.d" / "team.yaml").write_text(yaml.safe_dump({"images": [entry("a", remote)]}))
    return root


def analyze(project: Path) -> object:
    return run_analyze(project / "images.yaml", project / "state", project / "cache")


def test_warm_run_sees_a_newly_enrolled_image_in_an_include(project: Path, remote: Path) -> None:
    analyze(project)
    assert (project / "state" / "images" / STATE_A).is_file()
    (project / "images.d" / "team.yaml").write_text(yaml.safe_dump({"images": [entry("a", remote),
                                                                                 entry("b", remote)]}))
    result = analyze(project)
    assert not result.unchanged_inputs  # type: ignore[attr-defined]
    assert (project / "state" / "images" / STATE_B).is_file()


def test_warm_run_sees_broken_yaml_in_an_include(project: Path) -> None:
    analyze(project)
    (project / "images.d" / "team.yaml").write_text("images: [\n")
    with pytest.raises(InputError) as info:
        analyze(project)
    assert "team.yaml" in str(info.value)


def test_warm_run_sees_a_new_include_file(project: Path, remote: Path) -> None:
    analyze(project)
    (project / "images.d" / "other.yaml").write_text(yaml.safe_dump({"images": [entry("b", remote)]}))
    analyze(project)
    assert (project / "state" / "images" / STATE_B).is_file()


def test_state_edit_keeping_size_and_mtime_is_seen(project: Path) -> None:
    analyze(project)
    path = project / "state" / "images" / STATE_A
    text = path.read_text()
    stat = path.stat()
    edited = text.replace("autoRebuild: true", "autoRebuild: fals")  # same size, now invalid
    assert len(edited) == len(text) and edited != text
    path.write_text(edited)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(InputError) as info:
        analyze(project)
    assert STATE_A in str(info.value)


def test_stale_temp_files_are_removed(project: Path) -> None:
    analyze(project)
    stale = project / "state" / "images" / f".{STATE_A}.abc123.tmp"
    stale.write_text("half")
    old = stale.stat().st_mtime - 3600
    os.utime(stale, (old, old))
    analyze(project)
    assert not stale.exists()


def test_duplicate_digests_key_in_state_is_an_error_not_history_loss(project: Path) -> None:
    analyze(project)
    path = project / "state" / "images" / "docker.io~library~python@3.12-slim.yaml"
    path.write_text(path.read_text() + "digests:\n  history: []\n")
    with pytest.raises(InputError) as info:
        analyze(project)
    assert "key 'digests' appears twice" in str(info.value)


def mirror_of(project: Path, remote: Path) -> Path:
    """Repositories named by URL are read through a mirror (a plain local path is read in place): enroll
    `a` by its file:// URL."""
    from analyzer.sources.git import GitCache
    (project / "images.d" / "team.yaml").write_text(yaml.safe_dump({"images": [entry("a", remote.as_uri())]}))
    return GitCache(project / "cache")._mirror_path(remote.as_uri())


def test_local_repository_path_is_read_in_place_without_a_mirror(project: Path) -> None:
    result = analyze(project)
    assert not result.partial  # type: ignore[attr-defined]
    assert not list((project / "cache").glob("*.git"))
    assert "python:3.12-slim" in (project / "state" / "images" / STATE_A).read_text()


def test_half_made_mirror_from_a_killed_clone_is_recloned(project: Path, remote: Path) -> None:
    mirror = mirror_of(project, remote)
    mirror.mkdir(parents=True)
    (mirror / "HEAD").write_text("ref: refs/heads/main\n")  # what `git clone` writes first
    (project / "cache" / f".{mirror.name}.x1y2.tmp").mkdir()  # a temp clone killed before its rename
    result = analyze(project)
    assert not result.partial, result.summary["errors"]  # type: ignore[attr-defined]
    assert (project / "state" / "images" / STATE_A).is_file()
    assert not list((project / "cache").glob(".*.tmp"))


def test_a_good_mirror_is_reused_not_recloned(project: Path, remote: Path) -> None:
    from tests.support.gitrepos import push_change
    mirror = mirror_of(project, remote)
    analyze(project)
    inode = mirror.stat().st_ino
    push_change(remote, "a/Dockerfile", "FROM python:3.13-slim\n")
    assert not analyze(project).partial  # type: ignore[attr-defined]
    assert mirror.stat().st_ino == inode
    assert "python:3.13-slim" in (project / "state" / "images" / STATE_A).read_text()


def test_concurrent_analyze_runs_land_the_sequential_result(tmp_path: Path, project: Path) -> None:
    import subprocess
    import sys
    root = ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    expected: dict[str, str] | None = None
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        state = project / "state"
        if state.exists():
            import shutil
            shutil.rmtree(state)
        procs = [subprocess.Popen([sys.executable, "-m", "analyzer", "analyze", "--cache", str(cache)],
                                  cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
        files = {p.name: p.read_text() for p in sorted((state / "images").iterdir())}
        assert not [name for name in files if name.endswith(".tmp")]
        expected = expected or files
        assert files == expected
        again = subprocess.run([sys.executable, "-m", "analyzer", "analyze", "--cache", str(cache)], cwd=project,
                               env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "state files changed: 0" in again.stdout


def test_sigkill_at_any_moment_is_repaired_by_the_next_run(tmp_path: Path, project: Path, remote: Path) -> None:
    """Kill `analyze` at staggered moments of a cold run (clone, parse, state writes); the next run must
    succeed and land exactly the uninterrupted result, with no temp file left in state/."""
    import shutil
    import signal
    import subprocess
    import sys
    import time
    root = ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "analyzer", "analyze", "--cache"]
    reference = subprocess.run([*command, str(tmp_path / "ref-cache")], cwd=project, env=env, capture_output=True,
                               text=True, timeout=120)
    assert reference.returncode == 0, reference.stderr
    expected = {p.name: p.read_text() for p in sorted((project / "state" / "images").iterdir())}
    for attempt, delay in enumerate([0.15, 0.3, 0.45, 0.6, 0.8]):
        shutil.rmtree(project / "state")
        cache = tmp_path / f"kill-cache{attempt}"
        proc = subprocess.Popen([*command, str(cache)], cwd=project, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        for stale in (project / "state" / "images").glob(".*.tmp") if (project / "state" / "images").is_dir() else []:
            old = time.time() - 3600
            os.utime(stale, (old, old))  # what the next run finds after a minute
        again = subprocess.run([*command, str(cache)], cwd=project, env=env, capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0 and "Traceback" not in again.stderr, (delay, again.stderr)
        assert {p.name: p.read_text() for p in sorted((project / "state" / "images").iterdir())} == expected


def test_config_replaced_by_a_fifo_after_a_run_does_not_hang(project: Path) -> None:
    analyze(project)
    (project / "images.yaml").rename(project / "images.yaml.bak")
    os.mkfifo(project / "images.yaml")
    with pytest.raises(InputError) as info:
        analyze(project)
    assert "not a regular file" in str(info.value)


@pytest.mark.parametrize("damage", ["garbage", "wrong-shape", "deep"])
def test_corrupted_cache_files_are_a_cold_cache(project: Path, damage: str) -> None:
    import json
    analyze(project)
    expected = {p.name: p.read_text() for p in (project / "state" / "images").iterdir()}
    for path in (project / "cache").glob("*.json"):
        data = json.loads(path.read_text())
        if damage == "garbage":
            path.write_text("{not json")
        elif damage == "deep":
            path.write_text("[" * 100_000 + "]" * 100_000)
        else:  # right version, wrong content
            data["data"] = {key: {"include": 1, "summary": []} if "runs" in path.name else ["x"]
                            for key in data["data"]}
            path.write_text(json.dumps(data))
    (project / "state" / "images" / STATE_A).unlink()
    result = analyze(project)
    assert not result.partial  # type: ignore[attr-defined]
    assert {p.name: p.read_text() for p in (project / "state" / "images").iterdir()} == expected


def test_state_folder_under_a_new_directory_is_created(project: Path) -> None:
    result = run_analyze(project / "images.yaml", project / "new" / "deeper" / "state", project / "cache")
    assert not result.partial
    assert (project / "new" / "deeper" / "state" / "images" / STATE_A).is_file()
