"""Git source access (GitPython): one bare mirror per repository URL, fetched once per run.

Files are read straight from the object database at the configured ref (no checkout). Credentials
come from the environment / git's credential helpers; every error message is redacted.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import git

from analyzer.config.model import redact_url

_USERINFO_RE = re.compile(r"(\w+://)[^/\s@]+@")
_SYMLINK_MODE = 0o120000


class SourceError(Exception):
    """A repository or file could not be read; the message is safe to log (credentials redacted)."""


def redact(text: str) -> str:
    return _USERINFO_RE.sub(r"\1***@", text)


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


class GitCache:
    """Bare mirrors under `cache_dir`, keyed by a hash of the URL; safe to use from several threads."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._fetched: dict[str, git.Repo] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def mirror(self, url: str) -> git.Repo:
        """Clone the repository once, fetch it once per GitCache lifetime (one run)."""
        with self._lock(url):
            if url in self._fetched:
                return self._fetched[url]
            path = self.cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:20] + ".git")
            try:
                if (path / "HEAD").exists():
                    repo = git.Repo(path)
                    repo.git.fetch("--prune", "--force", "--tags", "origin",
                                   "+refs/heads/*:refs/heads/*")
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    repo = git.Repo.clone_from(url, path, mirror=True)
            except (git.GitCommandError, git.NoSuchPathError, git.InvalidGitRepositoryError) as exc:
                detail = getattr(exc, "stderr", "") or str(exc)
                raise SourceError(f"cannot fetch {redact_url(url)}: {redact(detail.strip())}") from None
            self._fetched[url] = repo
            return repo

    def read(self, url: str, ref: str, path: str) -> SourceFile:
        """The file at `path` in `ref` (branch, tag or commit) of the repository at `url`."""
        repo = self.mirror(url)
        try:
            commit = repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError):
            raise SourceError(f"ref {ref!r} not found in {redact_url(url)}") from None
        try:
            item = commit.tree / path
        except KeyError:
            raise SourceError(f"{path} not found at {ref} ({commit.hexsha[:12]}) "
                              f"in {redact_url(url)}") from None
        if item.type != "blob":
            raise SourceError(f"{path} at {ref} in {redact_url(url)} is not a file")
        if item.mode == _SYMLINK_MODE:
            raise SourceError(f"{path} at {ref} in {redact_url(url)} is a symlink; name the file itself")
        data = item.data_stream.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise SourceError(f"{path} at {ref} in {redact_url(url)} is not UTF-8 text") from None
        return SourceFile(text=text, commit=commit.hexsha, blob=item.hexsha)
