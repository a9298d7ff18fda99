"""Git source access (GitPython): one bare mirror per repository URL.

A ref is first resolved without fetching (local repositories: read their refs directly; remote ones:
`git ls-remote`), and the mirror is fetched only when it lacks that commit, so a repository whose
ref did not move costs no fetch. Files are read from the object database (no checkout).
Credentials come from the environment / git's credential helpers; every error message is redacted.

Mirrors survive kills and concurrent runs: each is cloned into a temporary folder and renamed into place,
clones and fetches of one repository are serialized across processes by a lock file next to the mirror,
and a mirror that is not a mirror of its URL (a clone killed before git wrote its config) is re-cloned.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import git

from analyzer.config.model import redact_url

_USERINFO_RE = re.compile(r"(\w+://)[^/\s@]+@")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_SYMLINK_MODE = 0o120000
_GIT_ERRORS = (git.GitCommandError, git.NoSuchPathError, git.InvalidGitRepositoryError, ValueError, git.BadName,
               git.exc.UnsafeOptionError, git.exc.UnsafeProtocolError, OSError)


class SourceError(Exception):
    """A repository or file could not be read; the message is safe to log (credentials redacted)."""


def redact(text: str) -> str:
    return _USERINFO_RE.sub(r"\1***@", text)


def _detail(exc: Exception) -> str:
    return redact((getattr(exc, "stderr", "") or str(exc)).strip())


@dataclass(frozen=True)
class SourceFile:
    text: str
    commit: str
    blob: str


def resolve_repo_url(repo: str, base_dir: Path) -> str:
    """Relative local paths are relative to the root images.yaml, whichever file enrolls the image."""
    if "://" in repo or re.match(r"^[\w.-]+@[\w.-]+:", repo):
        return repo
    path = Path(repo)
    return str(path if path.is_absolute() else (base_dir / path).resolve())


def local_path(url: str) -> Path | None:
    """The filesystem path of a local repository URL (plain path or file://), else None."""
    if url.startswith("file://"):
        return Path(urlsplit(url).path)
    return None if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url) else Path(url)


class GitCache:
    """Bare mirrors under `cache_dir`, keyed by a hash of the URL; safe to use from several threads."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._repos: dict[str, git.Repo] = {}
        self._remote_refs: dict[str, dict[str, str]] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    def _lock(self, url: str) -> threading.RLock:
        """One lock per repository: GitPython's persistent `cat-file` pipes are not thread-safe."""
        with self._guard:
            return self._locks.setdefault(url, threading.RLock())

    def _mirror_path(self, url: str) -> Path:
        return self.cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:20] + ".git")

    @contextlib.contextmanager
    def _process_lock(self, url: str) -> Iterator[None]:
        """Exclusive across processes (flock on `<mirror>.lock`) while a mirror is created or fetched."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._mirror_path(url).with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _open_mirror(self, url: str, path: Path) -> git.Repo | None:
        """The mirror at `path` when it is a usable mirror of `url`; a broken one is removed."""
        if not path.exists() and not path.is_symlink():
            return None
        try:
            repo = git.Repo(path)
            if repo.bare and repo.git.config("--get", "remote.origin.url") == url:
                return repo
            repo.close()
        except (*_GIT_ERRORS, git.GitError):
            pass
        _remove(path)
        return None

    def _clone(self, url: str, path: Path) -> git.Repo:
        """Clone into a temporary folder next to `path`, then rename: `path` is whole or absent."""
        for stale in self.cache_dir.glob(f".{path.name}.*.tmp"):  # clones killed before their rename
            _remove(stale)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.cache_dir))
        try:
            git.Repo.clone_from(url, tmp / "m.git", mirror=True).close()
            os.rename(tmp / "m.git", path)
        finally:
            _remove(tmp)
        return git.Repo(path)

    def head(self, url: str, ref: str) -> str:
        """The commit `ref` (branch, tag or commit id) points to at `url`, without fetching."""
        if _SHA_RE.fullmatch(ref):
            return ref
        path = local_path(url)
        try:
            if path is not None:
                with git.Repo(path) as local:
                    return _local_head(local, ref)
            refs = self._ls_remote(url)
        except _GIT_ERRORS as exc:
            raise SourceError(f"cannot read {redact_url(url)}: {_detail(exc)}") from None
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", ref):
            if name in refs:
                return refs[name]
        raise SourceError(f"ref {ref!r} not found in {redact_url(url)}")

    def _ls_remote(self, url: str) -> dict[str, str]:
        with self._lock(url):
            if url not in self._remote_refs:
                if url.startswith("-"):  # the config refuses these; never let git read a URL as an option
                    raise ValueError("a repository URL must not start with '-'")
                out = str(git.cmd.Git().ls_remote("--", url))
                pairs = (line.split("\t", 1) for line in out.splitlines() if "\t" in line)
                self._remote_refs[url] = {name: sha for sha, name in pairs}
            return self._remote_refs[url]

    def repo_with(self, url: str, commit: str) -> git.Repo:
        """The mirror of `url`, cloned or fetched only if it does not have `commit` yet."""
        with self._lock(url):
            repo = self._repos.get(url)
            path = self._mirror_path(url)
            try:
                if repo is not None and _has_commit(repo, commit):
                    return repo
                with self._process_lock(url):
                    if repo is None:
                        repo = self._open_mirror(url, path)
                    if repo is not None and _has_commit(repo, commit):
                        self._repos[url] = repo
                        return repo
                    if repo is None:
                        repo = self._clone(url, path)
                    else:
                        repo.git.fetch("--prune", "--force", "--tags", "origin", "+refs/heads/*:refs/heads/*")
            except _GIT_ERRORS as exc:
                raise SourceError(f"cannot fetch {redact_url(url)}: {_detail(exc)}") from None
            self._repos[url] = repo
            if not _has_commit(repo, commit):
                raise SourceError(f"commit {commit[:12]} not found in {redact_url(url)}")
            return repo

    def blob_id(self, url: str, commit: str, path: str) -> str:
        """Id of the file `path` in `commit`; refuses directories and symlinks."""
        with self._lock(url):
            repo = self.repo_with(url, commit)
            try:
                item = repo.commit(commit).tree / path
            except KeyError:
                raise SourceError(f"{path} not found at {commit[:12]} in {redact_url(url)}") from None
        if item.type != "blob":
            raise SourceError(f"{path} at {commit[:12]} in {redact_url(url)} is not a file")
        if item.mode == _SYMLINK_MODE:
            raise SourceError(f"{path} in {redact_url(url)} is a symlink; name the file itself")
        return str(item.hexsha)

    def read_blob(self, url: str, commit: str, blob: str, path: str) -> str:
        with self._lock(url):
            data = self.repo_with(url, commit).odb.stream(bytes.fromhex(blob)).read()
        try:
            return str(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise SourceError(f"{path} in {redact_url(url)} is not UTF-8 text") from None

    def read(self, url: str, ref: str, path: str) -> SourceFile:
        """The file at `path` in `ref` of the repository at `url`."""
        commit = self.head(url, ref)
        blob = self.blob_id(url, commit, path)
        return SourceFile(text=self.read_blob(url, commit, blob, path), commit=commit, blob=blob)


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _local_head(repo: git.Repo, ref: str) -> str:
    """A branch is read from the ref files directly (no `cat-file` process); anything else via rev-parse."""
    try:
        return str(git.SymbolicReference.dereference_recursive(repo, f"refs/heads/{ref}"))
    except (ValueError, OSError):
        return str(repo.commit(ref).hexsha)


def _has_commit(repo: git.Repo, commit: str) -> bool:
    """Packed objects count too (the loose-object check `odb.has_object` would miss them)."""
    try:
        repo.odb.info(bytes.fromhex(commit))
    except (ValueError, git.BadObject, git.GitCommandError):
        return False
    return True
