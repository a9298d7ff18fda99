"""Commit state records to the state branch of a git remote, safely under concurrent writers.

Every job that records something races other jobs on the same branch. The protocol: fetch the
branch, reset a private working copy to it, apply the records (pure, append-only, idempotent), commit,
push without force. A rejected push means someone else landed first: fetch again and re-apply on
their head (a merge, never an overwrite), after an exponential, fully jittered backoff; give up loudly
after `attempts`. Files are written atomically (temp file + rename), so a writer killed at any point
leaves the previous file intact, and the next run resets the working copy anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import git

from analyzer.config.model import redact_url
from analyzer.runtime.records import Record, apply_record
from analyzer.sources.git import redact
from analyzer.state.model import ImageState, state_filename
from analyzer.state.store import images_dir, load_state_file, load_states, save_state

ENV_REPO = "IMAGE_FACTORY_STATE_REPO"
ENV_BRANCH = "IMAGE_FACTORY_STATE_BRANCH"
ENV_PATH = "IMAGE_FACTORY_STATE_PATH"
ENV_USERNAME = "IMAGE_FACTORY_STATE_USERNAME"
ENV_PASSWORD = "IMAGE_FACTORY_STATE_PASSWORD"

# Reads the credentials from the environment when git asks; the secret is never written to a file.
_CREDENTIAL_HELPER = (
    f'!f() {{ test "$1" = get || exit 0; echo "username=${{{ENV_USERNAME}:-x-access-token}}"; '
    f'echo "password=${{{ENV_PASSWORD}}}"; }}; f'
)
# Push failures that mean "someone else moved the branch (or holds its lock) first": worth a retry.
_RACE_RE = re.compile(r"non-fast-forward|fetch first|\[rejected\]|failed to lock|cannot lock|"
                      r"failed to update ref|incorrect old value|stale info|shallow update", re.I)
_MISSING_BRANCH_RE = re.compile(r"couldn't find remote ref|no such ref", re.I)


class StateRepoError(Exception):
    """The state remote could not be used (bad URL, auth, ...); the message is safe to log."""


class RecordConflict(StateRepoError):
    """Every attempt lost the race to other writers; nothing of ours landed."""


@dataclass(frozen=True)
class StateRemote:
    """Where state lives: a git remote, a branch, and the state directory inside the repository."""

    url: str
    branch: str = "state"
    path: str = "state"

    @classmethod
    def from_env(cls, url: str | None = None, branch: str | None = None, path: str | None = None
                 ) -> StateRemote:
        url = url or os.environ.get(ENV_REPO)
        if not url:
            raise StateRepoError(f"no state repository: pass --state-repo or set {ENV_REPO}")
        return cls(url=url, branch=branch or os.environ.get(ENV_BRANCH) or "state",
                   path=path or os.environ.get(ENV_PATH) or "state")

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)


@dataclass(frozen=True)
class Backoff:
    attempts: int = 25
    base_seconds: float = 0.2
    cap_seconds: float = 10.0

    def delay(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base·2^attempt)], so racing writers spread out."""
        return float(rng() * min(self.cap_seconds, self.base_seconds * 2 ** attempt))


@dataclass
class RecordResult:
    commit: str | None
    """The commit that landed, or None when every record was already present."""
    attempts: int
    files: list[str] = field(default_factory=list)


Log = Callable[[str], None]


def _nolog(message: str) -> None:
    pass


@contextlib.contextmanager
def _exclusive(workdir: Path) -> Iterator[None]:
    """One writer per working copy; a stale lock of a killed run is released by the kernel."""
    workdir.parent.mkdir(parents=True, exist_ok=True)
    with open(workdir.with_name(workdir.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _git_error(action: str, remote: StateRemote, exc: git.GitCommandError) -> StateRepoError:
    detail = str(exc.stderr or exc).strip().replace("\n", " ")
    return StateRepoError(f"cannot {action} {remote.safe_url} ({remote.branch}): {redact(detail)}")


def _usable(workdir: Path) -> git.Repo | None:
    """The working copy's repository, after removing the lock files a killed run left anywhere under
    `.git` (index.lock, HEAD.lock, refs/**.lock, …: we hold the working copy's lock, so they are stale);
    None when `.git` is half-made (a run killed during `git init`)."""
    dot_git = workdir / ".git"
    if not dot_git.is_dir():
        return None
    for stale in [*dot_git.glob("*.lock"), *dot_git.glob("refs/**/*.lock"), *dot_git.glob("logs/**/*.lock")]:
        stale.unlink(missing_ok=True)
    try:
        repo = git.Repo(workdir)
        repo.git.rev_parse("--git-dir")
        repo.config_reader().sections()
        return repo
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError, OSError, ValueError):
        return None


def _open(workdir: Path, remote: StateRemote) -> git.Repo:
    repo_or_none = _usable(workdir)
    if repo_or_none is None and workdir.exists():
        shutil.rmtree(workdir)  # only a private working copy, reset to the remote on every run anyway
    if repo_or_none is not None:
        repo = repo_or_none
        if "origin" in [r.name for r in repo.remotes]:
            repo.remotes.origin.set_url(remote.url)
        else:
            repo.create_remote("origin", remote.url)
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(workdir)
        repo.create_remote("origin", remote.url)
    with repo.config_writer() as config:
        if not config.has_option("user", "name"):
            config.set_value("user", "name", os.environ.get("GIT_AUTHOR_NAME", "image-factory"))
            config.set_value("user", "email", os.environ.get("GIT_AUTHOR_EMAIL", "image-factory@localhost"))
        if os.environ.get(ENV_PASSWORD):
            config.set_value("credential", "helper", _CREDENTIAL_HELPER)
    return repo


def _reset_to_remote(repo: git.Repo, remote: StateRemote) -> str | None:
    """Make the working copy exactly the remote branch; return its head (None: branch does not exist)."""
    branch = remote.branch
    try:
        repo.git.fetch("--no-tags", "origin", f"+refs/heads/{branch}:refs/remotes/origin/{branch}")
    except git.GitCommandError as exc:
        if not _MISSING_BRANCH_RE.search(str(exc.stderr or "")):
            raise _git_error("fetch", remote, exc) from None
        repo.git.symbolic_ref("HEAD", f"refs/heads/{branch}")
        with contextlib.suppress(git.GitCommandError):
            repo.git.update_ref("-d", f"refs/heads/{branch}")
        repo.git.read_tree("--empty")
        repo.git.clean("-ffdxq")
        return None
    repo.git.checkout("--force", "-B", branch, f"refs/remotes/origin/{branch}")
    repo.git.clean("-ffdxq")
    return str(repo.git.rev_parse("HEAD"))


def _apply(workdir: Path, remote: StateRemote, records: Sequence[Record]) -> list[str]:
    state_dir = workdir / remote.path
    changed: list[str] = []
    for record in records:
        file = images_dir(state_dir) / state_filename(record.ref)
        previous = load_state_file(file) if file.exists() else None
        if save_state(state_dir, apply_record(previous, record)):
            changed.append(str(file.relative_to(workdir)))
    return sorted(set(changed))


def _commit_message(records: Sequence[Record]) -> str:
    lines = [record.describe() for record in records]
    subject = lines[0] if len(lines) == 1 else f"record {len(lines)} entries"
    return subject + ("\n\n" + "\n".join(lines) if len(lines) > 1 else "") + "\n"


def record_to_git(remote: StateRemote, records: Sequence[Record], workdir: Path | None = None,
                  backoff: Backoff | None = None, log: Log = _nolog,
                  sleep: Callable[[float], None] = time.sleep,
                  rng: Callable[[], float] = random.random) -> RecordResult:
    """Land `records` on the state branch, re-applying them on every newer head until a push succeeds."""
    if not records:
        raise ValueError("nothing to record")
    backoff = backoff or Backoff()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="image-factory-state-") as tmp:
            return record_to_git(remote, records, Path(tmp) / "repo", backoff, log, sleep, rng)
    with _exclusive(workdir):
        repo = _open(workdir, remote)
        last_reason = ""
        for attempt in range(1, backoff.attempts + 1):
            try:
                _reset_to_remote(repo, remote)
                files = _apply(workdir, remote, records)
                if not files:
                    return RecordResult(commit=None, attempts=attempt)
                repo.git.add("--all", "--", *files)
                repo.git.commit("--quiet", "--no-verify", "-m", _commit_message(records))
            except git.GitCommandError as exc:
                raise _git_error("update the working copy of", remote, exc) from None
            try:
                repo.git.push("--porcelain", "origin", f"HEAD:refs/heads/{remote.branch}")
            except git.GitCommandError as exc:
                output = f"{exc.stdout or ''} {exc.stderr or ''}"
                if not _RACE_RE.search(output):
                    raise _git_error("push to", remote, exc) from None
                last_reason = "another writer landed first"
                if attempt < backoff.attempts:
                    pause = backoff.delay(attempt, rng)
                    log(f"push to {remote.safe_url} ({remote.branch}) rejected: {last_reason}; "
                        f"re-applying on the new head, attempt {attempt + 1}/{backoff.attempts} "
                        f"in {pause:.2f}s")
                    sleep(pause)
                continue
            return RecordResult(commit=repo.head.commit.hexsha, attempts=attempt, files=files)
    raise RecordConflict(f"gave up recording to {remote.safe_url} ({remote.branch}) after "
                         f"{backoff.attempts} attempts: {last_reason}")


def fetch_states(remote: StateRemote, workdir: Path | None = None) -> dict[str, ImageState]:
    """Every state file on the remote branch, validated (empty when the branch does not exist yet)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="image-factory-state-") as tmp:
            return fetch_states(remote, Path(tmp) / "repo")
    with _exclusive(workdir):
        repo = _open(workdir, remote)
        try:
            _reset_to_remote(repo, remote)
        except git.GitCommandError as exc:
            raise _git_error("read", remote, exc) from None
        return load_states(workdir / remote.path)
