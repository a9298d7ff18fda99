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
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from analyzer.config.model import redact_url

if TYPE_CHECKING:
    import git

_USERINFO_RE = re.compile(r"(\w+://)[^/\s@]+@")
_SHA_RE = re.compile(r"[0-9a-f]{40}")
_SYMLINK_MODE = 0o120000


def _git_errors(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """What a failing git operation raises. A function, so that GitPython is imported only when it is used
    (local repositories are read without it: ref files and `git cat-file --batch`); an `except` clause
    evaluates it only while matching an exception."""
    import git

    return (git.GitCommandError, git.NoSuchPathError, git.InvalidGitRepositoryError, ValueError, git.BadName,
            git.exc.UnsafeOptionError, git.exc.UnsafeProtocolError, OSError, *more)


class SourceError(Exception):
    """A repository or file could not be read; the message is safe to log (credentials redacted)."""


def redact(text: str) -> str:
    return _USERINFO_RE.sub(r"\1***@", text)


def _detail(exc: Exception) -> str:
    detail = getattr(exc, "stderr", "") or str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return redact(str(detail).strip())


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
        import git

        if not path.exists() and not path.is_symlink():
            return None
        try:
            repo = git.Repo(path)
            if repo.bare and repo.git.config("--get", "remote.origin.url") == url:
                return repo
            repo.close()
        except _git_errors(git.GitError):
            pass
        _remove(path)
        return None

    def _clone(self, url: str, path: Path) -> git.Repo:
        """Clone into a temporary folder next to `path`, then rename: `path` is whole or absent."""
        import git

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
                fast = _branch_from_ref_files(path, ref)
                if fast is not None:
                    return fast
                import git

                with git.Repo(path) as local:
                    return _local_head(local, ref)
            refs = self._ls_remote(url)
        except _git_errors() as exc:
            raise SourceError(f"cannot read {redact_url(url)}: {_detail(exc)}") from None
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", ref):
            if name in refs:
                return refs[name]
        raise SourceError(f"ref {ref!r} not found in {redact_url(url)}")

    def _ls_remote(self, url: str) -> dict[str, str]:
        import git

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
            except _git_errors() as exc:
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

    def git_dir_for(self, url: str, commit: str) -> Path:
        """Where the objects of `commit` are read: a local repository itself (plain path: no mirror), else
        the mirror of `url` (cloned or fetched when it lacks the commit)."""
        if "://" not in url:
            path = local_path(url)
            if path is not None:
                return path
        return Path(self.repo_with(url, commit).git_dir)

    def read_files(self, url: str, commit: str, paths: list[str]) -> dict[str, SourceFile | SourceError]:
        """The files `paths` at `commit`, all read by one `git cat-file --batch` process: each path's tree
        entry (mode and blob id, from its folder's tree object) and the blob itself. The outcome per path is
        exactly `blob_id` + `read_blob`'s (same refusals, same messages); paths the batch protocol cannot
        carry (a newline, `.`/`..` parts) are read the per-file way."""
        out: dict[str, SourceFile | SourceError] = {}
        plain = [p for p in dict.fromkeys(paths) if _BATCH_PATH_RE.fullmatch(p)
                 and not {"", ".", ".."} & set(p.split("/"))]
        for other in dict.fromkeys(p for p in paths if p not in set(plain)):
            try:
                blob = self.blob_id(url, commit, other)
                out[other] = SourceFile(text=self.read_blob(url, commit, blob, other), commit=commit, blob=blob)
            except SourceError as exc:
                out[other] = exc
        if not plain:
            return out
        with self._lock(url):
            try:
                git_dir = self.git_dir_for(url, commit)
            except SourceError as exc:
                return out | dict.fromkeys(plain, exc)
            folders = list(dict.fromkeys(p.rpartition("/")[0] for p in plain))
            requests = [f"{commit}:{folder}" for folder in folders] + [f"{commit}:{p}" for p in plain]
            try:
                proc = subprocess.run(["git", "-C", str(git_dir), "cat-file", "--batch"], check=True,
                                      input="".join(f"{r}\n" for r in requests).encode(), capture_output=True,
                                      env=_repository_env())
                objects = _parse_batch(proc.stdout, len(requests))
            except (subprocess.CalledProcessError, OSError, ValueError) as exc:
                error = SourceError(f"cannot read {redact_url(url)}: {_detail(exc)}")
                return out | dict.fromkeys(plain, error)
        hash_bytes = len(commit) // 2
        trees = {folder: _tree_entries(obj[2], hash_bytes) if obj is not None and obj[1] == "tree" else {}
                 for folder, obj in zip(folders, objects[:len(folders)], strict=True)}
        where = redact_url(url)
        for path, obj in zip(plain, objects[len(folders):], strict=True):
            folder, _, name = path.rpartition("/")
            entry = trees[folder].get(name.encode())
            if entry is None:
                out[path] = SourceError(f"{path} not found at {commit[:12]} in {where}")
                continue
            mode, blob = entry
            if mode in (_TREE_MODE, _GITLINK_MODE) or obj is None or obj[1] != "blob" or obj[0] != blob:
                out[path] = SourceError(f"{path} at {commit[:12]} in {where} is not a file")
            elif mode == _SYMLINK_MODE:
                out[path] = SourceError(f"{path} in {where} is a symlink; name the file itself")
            else:
                try:
                    out[path] = SourceFile(text=obj[2].decode("utf-8"), commit=commit, blob=blob)
                except UnicodeDecodeError:
                    out[path] = SourceError(f"{path} in {where} is not UTF-8 text")
        return out

    def read(self, url: str, ref: str, path: str) -> SourceFile:
        """The file at `path` in `ref` of the repository at `url`."""
        commit = self.head(url, ref)
        blob = self.blob_id(url, commit, path)
        return SourceFile(text=self.read_blob(url, commit, blob, path), commit=commit, blob=blob)


_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_INDEX_FILE", "GIT_NAMESPACE")


def _repository_env() -> dict[str, str]:
    """The environment without variables that would point git at another repository than `-C`'s (set, for
    example, when analyze runs inside a git hook)."""
    return {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}


_BATCH_PATH_RE = re.compile(r"[^\n\r\0]+")
_TREE_MODE = 0o040000
_GITLINK_MODE = 0o160000


def _parse_batch(data: bytes, count: int) -> list[tuple[str, str, bytes] | None]:
    """`git cat-file --batch` output for `count` requests: (id, type, content), None for a missing one."""
    objects: list[tuple[str, str, bytes] | None] = []
    pos = 0
    for _ in range(count):
        end = data.index(b"\n", pos)
        header = data[pos:end].decode()
        pos = end + 1
        if header.endswith((" missing", " ambiguous")):
            objects.append(None)
            continue
        sha, kind, size = header.split(" ")
        objects.append((sha, kind, data[pos:pos + int(size)]))
        pos += int(size) + 1
    return objects


def _tree_entries(data: bytes, hash_bytes: int) -> dict[bytes, tuple[int, str]]:
    """A raw tree object's entries: name → (mode, object id)."""
    entries: dict[bytes, tuple[int, str]] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        entries[data[space + 1:nul]] = (int(data[pos:space], 8), data[nul + 1:nul + 1 + hash_bytes].hex())
        pos = nul + 1 + hash_bytes
    return entries


_REF_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def _branch_from_ref_files(repo: Path, ref: str) -> str | None:
    """`refs/heads/<ref>` of a local repository read from its ref files (no process, no GitPython): the
    loose ref, else packed-refs. None whenever anything is unusual (symbolic ref, linked worktree, an odd
    name, reftable), and the caller takes the general path."""
    if not _REF_NAME_RE.fullmatch(ref) or ".." in ref or ref.endswith((".lock", "/")):
        return None
    git_dir = repo / ".git"
    if not git_dir.is_dir():
        git_dir = repo
        if not (repo / "HEAD").is_file() or not (repo / "objects").is_dir():
            return None
    if (git_dir / "commondir").exists() or not (git_dir / "refs").is_dir():
        return None
    try:
        loose = (git_dir / "refs" / "heads" / ref).read_text().strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        loose = None
    except OSError:
        return None
    if loose is not None:
        return loose if _SHA_RE.fullmatch(loose) else None
    try:
        packed = (git_dir / "packed-refs").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return None
    wanted = f" refs/heads/{ref}"
    for line in packed.splitlines():
        if line.endswith(wanted) and _SHA_RE.fullmatch(line[:40]) and len(line) == 40 + len(wanted):
            return line[:40]
    return None


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _local_head(repo: git.Repo, ref: str) -> str:
    """A branch is read from the ref files directly (no `cat-file` process); anything else via rev-parse."""
    import git

    try:
        return str(git.SymbolicReference.dereference_recursive(repo, f"refs/heads/{ref}"))
    except (ValueError, OSError):
        return str(repo.commit(ref).hexsha)


def _has_commit(repo: git.Repo, commit: str) -> bool:
    """Packed objects count too (the loose-object check `odb.has_object` would miss them)."""
    import git

    try:
        repo.odb.info(bytes.fromhex(commit))
    except (ValueError, git.BadObject, git.GitCommandError):
        return False
    return True
