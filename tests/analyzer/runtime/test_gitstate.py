"""Recording to a real git remote (a local bare repository): races, retries, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git
import pytest

from analyzer.runtime.gitstate import Backoff, RecordConflict, StateRemote, StateRepoError, record_to_git
from analyzer.runtime.records import RebuildAppend, VettedRecord
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, RebuildRecord, state_filename
from tests.support import ROOT
from tests.support.staterepo import make_state_remote, read_remote_states, remote_head

T0 = datetime(2026, 11, 1, tzinfo=UTC)
APP = "registry.example.com/team/app:1"
BASES = [f"docker.io/library/base{i}:1" for i in range(8)]


def digest(n: int) -> str:
    return f"sha256:{n:064x}"


def seed_states() -> list[ImageState]:
    bases = [ImageState(ref=ref, kind="external", digests=DigestHistory(current=digest(1), history=[
        DigestRecord(digest=digest(1), first_seen=T0, last_seen=T0)])) for ref in BASES]
    return [ImageState(ref=APP, kind="managed"), *bases]


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return make_state_remote(tmp_path, seed_states())


def rebuild(n: int) -> RebuildAppend:
    return RebuildAppend(APP, RebuildRecord(at=T0 + timedelta(minutes=n), outcome="succeeded",
                                            base_digests={BASES[0]: digest(1)}, result_digest=digest(100 + n)))


def test_record_lands_and_is_idempotent(remote: Path, tmp_path: Path) -> None:
    target = StateRemote(url=str(remote))
    result = record_to_git(target, [VettedRecord(BASES[0], digest(1), T0 + timedelta(days=7))])
    assert result.commit == remote_head(remote) and result.attempts == 1
    assert result.files == [f"state/images/{state_filename(BASES[0])}"]
    again = record_to_git(target, [VettedRecord(BASES[0], digest(1), T0 + timedelta(days=8))])
    assert again.commit is None  # already vetted: nothing to commit
    states = read_remote_states(remote, tmp_path / "check")
    assert states[BASES[0]].digests.history[0].vetted_at == T0 + timedelta(days=7)


def test_lost_race_reapplies_on_the_new_head(remote: Path, tmp_path: Path) -> None:
    """A writer whose push is rejected merges with the winner's entry instead of overwriting it."""
    target = StateRemote(url=str(remote))
    slow = tmp_path / "slow"
    record_to_git(target, [rebuild(1)], workdir=slow)  # the slow writer's copy now sits at that head
    winner = record_to_git(target, [rebuild(2)], workdir=tmp_path / "fast")
    pushes: list[str] = []
    # Another writer lands between the slow writer's fetch and its push (a pre-push hook runs it once).
    hook = slow / ".git" / "hooks" / "pre-push"
    other = tmp_path / "other"
    hook.write_text(f"#!/bin/sh\nif [ ! -e {tmp_path}/raced ]; then touch {tmp_path}/raced; "
                    f"PYTHONPATH={ROOT} {sys.executable} -m analyzer record --state-repo {remote} --workdir {other} "
                    f"rebuild {APP} --outcome failed --reason raced --at 2026-11-02T00:00:00 >/dev/null 2>&1; fi\n")
    hook.chmod(0o755)
    result = record_to_git(target, [rebuild(3)], workdir=slow, sleep=lambda s: None, rng=lambda: 0.5,
                           log=lambda line: pushes.append(line))
    assert result.attempts == 2 and pushes[0].startswith("push to") and "rejected" in pushes[0]
    assert winner.commit is not None
    states = read_remote_states(remote, tmp_path / "check")
    assert [r.result_digest or r.reason for r in states[APP].rebuilds] == [digest(101), digest(102), "raced",
                                                                           digest(103)]


def test_gives_up_loudly_after_n_attempts(remote: Path, tmp_path: Path) -> None:
    # The remote refuses every update as a non-fast-forward would be reported: a permanently lost race.
    (Path(remote) / "hooks" / "update").write_text("#!/bin/sh\necho 'failed to lock' >&2\nexit 1\n")
    (Path(remote) / "hooks" / "update").chmod(0o755)
    before = remote_head(remote)
    slept: list[float] = []
    with pytest.raises(RecordConflict, match=r"gave up recording to .* after 3 attempts"):
        record_to_git(StateRemote(url=str(remote)), [rebuild(1)], backoff=Backoff(attempts=3, base_seconds=1),
                      sleep=slept.append, rng=lambda: 1.0)
    assert slept == [2.0, 4.0]  # exponential backoff between the three attempts
    assert remote_head(remote) == before


def test_unusable_remote_is_a_clear_error_without_credentials(tmp_path: Path) -> None:
    target = StateRemote(url="https://user:s3cret@127.0.0.1:9/state.git")
    with pytest.raises(StateRepoError) as exc:
        record_to_git(target, [rebuild(1)], backoff=Backoff(attempts=2))
    assert "s3cret" not in str(exc.value) and "cannot fetch" in str(exc.value)


def test_first_record_creates_the_branch(tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    git.Repo.init(bare, bare=True)
    result = record_to_git(StateRemote(url=str(bare), branch="state"), [rebuild(1)])
    assert result.commit == remote_head(bare)
    assert len(read_remote_states(bare, tmp_path / "check")[APP].rebuilds) == 1


def _record_cmd(remote: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "analyzer", "record", "--state-repo", str(remote), "--attempts", "200", *args]


def test_record_vetted_with_a_delay_writes_the_gate_entry(remote: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(_record_cmd(remote, "vetted", BASES[0], digest(7), "--at", "2026-11-08T00:00:00",
                                      "--delay", "7d"), cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (entry,) = [r for r in read_remote_states(remote, tmp_path / "check")[BASES[0]].digests.history
                if r.digest == digest(7)]
    assert [(g.delay, g.outcome) for g in entry.gates] == [("168h", "vetted")]
    bad = subprocess.run(_record_cmd(remote, "vetted", BASES[0], digest(7), "--delay", "a week"), cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--delay" in bad.stderr


def test_twenty_concurrent_record_processes_all_land(remote: Path, tmp_path: Path) -> None:
    """12 writers append to one file, 8 to eight other files, all at once: nothing lost, all valid YAML."""
    commands = [_record_cmd(remote, "rebuild", APP, "--outcome", "succeeded", "--base", f"{BASES[0]}@{digest(1)}",
                            "--result-digest", digest(200 + n), "--at", f"2026-11-03T00:{n:02d}:00")
                for n in range(12)]
    commands += [_record_cmd(remote, "vetted", ref, digest(1), "--at", "2026-11-08T00:00:00") for ref in BASES]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd in commands]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 20, [err for _, err in outputs]
    assert any("rejected" in err for _, err in outputs)  # they really raced (typically 50+ lost pushes)
    states = read_remote_states(remote, tmp_path / "check")
    assert sorted(r.result_digest or "" for r in states[APP].rebuilds) == [digest(200 + n) for n in range(12)]
    for ref in BASES:
        assert states[ref].digests.history[0].vetted_at == datetime(2026, 11, 8, tzinfo=UTC)
    log = git.Repo(tmp_path / "check").git.log("--oneline").splitlines()
    assert len(log) == 21  # seed + one commit per writer


PAUSE_IN_WRITE = """
import os, sys, time, pathlib
marker = pathlib.Path(sys.argv[1])
def paused_fsync(fd):
    marker.write_text("paused")
    time.sleep(600)
os.fsync = paused_fsync  # the temp file is written, not yet renamed over the state file
from analyzer.cli import cli
cli(args=sys.argv[2:], prog_name="image-factory")
"""


def test_sigkill_while_writing_leaves_the_previous_file(remote: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    record_to_git(StateRemote(url=str(remote)), [rebuild(1)], workdir=workdir)
    file = workdir / "state" / "images" / state_filename(APP)
    before_text, before_head = file.read_text(), remote_head(remote)
    marker = tmp_path / "paused"
    args = _record_cmd(remote, "--workdir", str(workdir), "rebuild", APP, "--outcome", "failed",
                       "--reason", "killed")[3:]
    proc = subprocess.Popen([sys.executable, "-c", PAUSE_IN_WRITE, str(marker), *args], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(600):
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the writer never reached the write"
        temps = list(file.parent.glob(f".{file.name}.*.tmp"))
        assert len(temps) == 1 and "killed" in temps[0].read_text()  # really in the middle of writing
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert file.read_text() == before_text  # the previous file is intact
    assert remote_head(remote) == before_head  # nothing half-done was pushed
    # The next run in the same working copy recovers: stale temp files are cleaned, the entry lands.
    result = record_to_git(StateRemote(url=str(remote)), [rebuild(2)], workdir=workdir)
    assert result.commit is not None and not list(file.parent.glob("*.tmp"))
    states = read_remote_states(remote, tmp_path / "check")
    assert [r.result_digest for r in states[APP].rebuilds] == [digest(101), digest(102)]


def test_state_remote_password_stays_in_the_environment(remote: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_FACTORY_STATE_PASSWORD", "pa55-never-on-disk")
    workdir = tmp_path / "work"
    record_to_git(StateRemote(url=str(remote)), [rebuild(1)], workdir=workdir)
    config = (workdir / ".git" / "config").read_text()
    assert "credential" in config and "IMAGE_FACTORY_STATE_PASSWORD" in config
    assert "pa55-never-on-disk" not in config
    helper = git.Repo(workdir).git.config("credential.helper")
    answer = subprocess.run(["sh", "-c", helper.removeprefix("!") + " get"], capture_output=True, text=True,
                            env={**os.environ, "IMAGE_FACTORY_STATE_USERNAME": "bot"})
    assert answer.stdout.splitlines() == ["username=bot", "password=pa55-never-on-disk"]


@pytest.mark.parametrize("lock", [".git/index.lock", ".git/HEAD.lock", ".git/refs/heads/state.lock",
                                  ".git/refs/remotes/origin/state.lock", ".git/config.lock"])
def test_ref_lock_left_by_a_killed_run_is_recovered(remote: Path, tmp_path: Path, lock: str) -> None:
    """Issue 16: a kill while git holds a lock anywhere under .git must not break every later run."""
    workdir = tmp_path / "work"
    record_to_git(StateRemote(url=str(remote)), [rebuild(1)], workdir=workdir)
    (workdir / lock).parent.mkdir(parents=True, exist_ok=True)
    (workdir / lock).write_text("")
    result = record_to_git(StateRemote(url=str(remote)), [rebuild(2)], workdir=workdir)
    assert result.commit == remote_head(remote)


@pytest.mark.parametrize("leftover", ["empty-git-dir", "objects-only", "no-config"])
def test_half_made_working_copy_is_recreated(remote: Path, tmp_path: Path, leftover: str) -> None:
    """Issue 16: a kill during `git init` leaves a `.git` git cannot use; the next run starts afresh."""
    workdir = tmp_path / "work"
    if leftover == "no-config":
        record_to_git(StateRemote(url=str(remote)), [rebuild(1)], workdir=workdir)
        (workdir / ".git" / "config").unlink()
        (workdir / ".git" / "HEAD").unlink()
    else:
        (workdir / ".git").mkdir(parents=True)
        if leftover == "objects-only":
            (workdir / ".git" / "objects").mkdir()
    result = record_to_git(StateRemote(url=str(remote)), [rebuild(2)], workdir=workdir)
    assert result.commit == remote_head(remote)
