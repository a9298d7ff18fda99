"""Incremental analysis: what a warm run may skip, kept next to the git mirrors.

- Parse results are cached by the Dockerfile's git blob id and the build args: a blob that did not
  change is never parsed again, a changed blob always is (its id changes).
- Blob ids are cached per (commit, path): a repository whose ref did not move costs no object reads.
- The whole run is fingerprinted (the bytes of the root file and every included file, every source's
  resolved commit, the state files' contents): when nothing moved, `analyze` writes nothing and re-uses
  the last summary. Contents, not size and mtime: an in-place edit that keeps both is still seen.

Every cache file is written atomically (whole or absent) but without fsync: each entry is keyed by what
it was computed from (blob ids, commits, the config and state fingerprints), so a file lost or left old
by a crash is a cold or stale cache, never a wrong answer. The state files themselves are durable.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from analyzer import __version__
from analyzer.discovery.dockerfile import DockerfileAnalysis
from analyzer.state.model import STATE_SCHEMA_VERSION
from analyzer.yamlio import write_atomic, write_atomic_bytes

_ANALYSIS = TypeAdapter(DockerfileAnalysis)
CACHE_FORMAT = 1
T = TypeVar("T")


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def code_version() -> str:
    """Cached results are only valid for the code that produced them: hash the analyzer's sources."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"{__version__}:{STATE_SCHEMA_VERSION}:{CACHE_FORMAT}".encode())
    for path in sorted(root.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class JsonCache:
    """A JSON document in the cache dir; unreadable or foreign-version files are ignored (rebuilt)."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = version
        self.data: dict[str, Any] = {}
        self.dirty = False
        try:
            loaded = json.loads(path.read_text())
            if loaded.get("version") == version:
                self.data = loaded["data"]
        except (OSError, ValueError, KeyError, AttributeError, TypeError, RecursionError):
            pass  # a corrupted or foreign cache is a cold cache
        if not isinstance(self.data, dict):
            self.data = {}

    def save(self) -> None:
        if self.dirty:
            write_atomic(self.path, json.dumps({"version": self.version, "data": self.data}, sort_keys=True),
                         durable=False)
            self.dirty = False


class ParseCache:
    """(blob id, build args) → DockerfileAnalysis, one entry per line (`LineSnapshot`): a run reads the file
    once and validates only the entries it uses, and writes it back only when it parsed something."""

    KEY = "parse-cache"

    def __init__(self, path: Path, version: str) -> None:
        self.file = LineSnapshot(path, version)
        self.data: dict[str, bytes] = self.file.get(self.KEY) or {}
        self.dirty = False

    @staticmethod
    def key(blob: str, build_args: Mapping[str, str]) -> str:
        return _digest([blob, json.dumps(dict(build_args), sort_keys=True)])

    def get(self, blob: str, build_args: Mapping[str, str]) -> DockerfileAnalysis | None:
        raw = self.data.get(self.key(blob, build_args))
        try:
            return _ANALYSIS.validate_json(raw) if raw is not None else None
        except ValueError:  # a corrupted entry is a miss
            return None

    def put(self, blob: str, build_args: Mapping[str, str], analysis: DockerfileAnalysis) -> None:
        self.data[self.key(blob, build_args)] = _ANALYSIS.dump_json(analysis)
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            self.file.put(self.KEY, self.data)
            self.dirty = False


class BlobIndex(JsonCache):
    """(commit, path) → blob id."""

    def get(self, commit: str, path: str) -> str | None:
        value = self.data.get(f"{commit}:{path}")
        return value if isinstance(value, str) else None

    def put(self, commit: str, path: str, blob: str) -> None:
        self.data[f"{commit}:{path}"] = blob
        self.dirty = True


def _file_hash(path: str) -> str:
    """sha256 of a regular file's bytes; anything else (FIFO, device, dangling link) is named by its kind,
    never opened for a blocking read, so that loading the states reports it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return f"special:{stat.S_IFMT(info.st_mode)}"
        h = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            h.update(chunk)
        return h.hexdigest()
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    finally:
        os.close(fd)


def state_entries(folder: Path) -> dict[str, str] | None:
    """Every `*.yaml` file name in a state directory → the hash of its contents; None when the path
    exists but is not a directory."""
    entries: dict[str, str] = {}
    if folder.is_dir():
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.endswith(".yaml"):
                    entries[entry.name] = _file_hash(entry.path)
    elif folder.exists() or folder.is_symlink():
        return None
    return entries


def rehash_entries(entries: dict[str, str], files: Iterable[Path]) -> dict[str, str]:
    """`entries` with the given files (just written or removed) hashed again."""
    out = dict(entries)
    for path in files:
        if path.exists() or path.is_symlink():
            out[path.name] = _file_hash(str(path))
        else:
            out.pop(path.name, None)
    return out


def signature_of(entries: dict[str, str] | None) -> str:
    """Identity of a state directory from its `state_entries`."""
    if entries is None:
        return _digest(["not-a-directory"])
    return _digest(sorted(f"{name}:{digest}" for name, digest in entries.items()))


def state_signature(folder: Path) -> str:
    """Identity of a state directory: every `*.yaml` name and the hash of its contents."""
    return signature_of(state_entries(folder))


def config_fingerprint(root: Path, include_files: Iterable[Path]) -> str:
    """The enrollment's identity: the root file and every included file, by content."""
    return _digest(f"{path}:{_file_hash(str(path))}" for path in [root, *include_files])


class Snapshot(Generic[T]):
    """One typed value cached as JSON under a key (e.g. a fingerprint of the files it was read from).

    Re-validating JSON with pydantic's compiled validators is many times faster than parsing the YAML
    it came from, which is what keeps a run that changed little cheap on a large fleet.
    """

    def __init__(self, path: Path, version: str, adapter: TypeAdapter[T]) -> None:
        self.path = path
        self.version = version
        self.adapter = adapter

    def get(self, key: str) -> T | None:
        try:
            with self.path.open("rb") as handle:
                header = json.loads(handle.readline())
                if header != {"version": self.version, "key": key}:
                    return None
                return self.adapter.validate_json(handle.read())
        except (OSError, ValueError):
            return None

    def key(self) -> str | None:
        """The key the snapshot was taken under (its header alone is read); None when there is none."""
        try:
            with self.path.open("rb") as handle:
                header = json.loads(handle.readline())
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("version") != self.version:
            return None
        key = header.get("key")
        return key if isinstance(key, str) else None

    def put(self, key: str, value: T) -> None:
        header = json.dumps({"version": self.version, "key": key}, sort_keys=True).encode()
        data = header + b"\n" + self.adapter.dump_json(value, by_alias=True)
        write_atomic_bytes(self.path, data, durable=False)


class LineSnapshot:
    """Many values cached under one key, one JSON value per line (`name<TAB>json`), so that a run can read
    the few it needs without validating the rest."""

    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.version = version

    def _header(self, key: str) -> bytes:
        return json.dumps({"version": self.version, "key": key}, sort_keys=True).encode() + b"\n"

    def read(self) -> tuple[str, dict[str, bytes]] | None:
        """(the key the file holds, name → the raw JSON stored under it); None when unreadable or foreign."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return None
        header, _, body = data.partition(b"\n")
        try:
            meta = json.loads(header)
        except ValueError:
            return None
        if not isinstance(meta, dict) or meta.get("version") != self.version or not isinstance(meta.get("key"), str):
            return None
        out: dict[str, bytes] = {}
        for line in body.split(b"\n")[:-1] if body else []:
            name, tab, raw = line.partition(b"\t")
            if not tab:
                return None
            out[name.decode("utf-8", "replace")] = raw
        return meta["key"], out

    def get(self, key: str) -> dict[str, bytes] | None:
        """name → the raw JSON stored under it, when the file holds `key`; else None."""
        found = self.read()
        return found[1] if found is not None and found[0] == key else None

    def put(self, key: str, values: Mapping[str, bytes]) -> None:
        lines = [self._header(key)]
        for name, raw in sorted(values.items()):  # the same bytes whatever order the values came in
            if b"\n" in raw or "\t" in name or "\n" in name:
                raise ValueError(f"{name!r}: a name holds no tab or newline, a value is one line of JSON")
            lines.append(name.encode() + b"\t" + raw + b"\n")
        write_atomic_bytes(self.path, b"".join(lines), durable=False)
