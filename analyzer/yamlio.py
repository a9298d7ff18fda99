"""Safe YAML reading with source positions, and stable, atomic YAML writing.

Reading keeps a map from each value's path (tuple of keys/indices) to its line so that validation
errors can name the line of the offending field. Aliases are bounded to defeat "billion laughs".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from analyzer.errors import InputError

MAX_ALIASES = 100

Path_ = tuple[str | int, ...]


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class TooManyAliases(yaml.YAMLError):
    pass


def _positions(root: yaml.Node) -> dict[Path_, int]:
    """Line of every value, walking the node graph once.

    An alias is a second reference to an already-seen node; it is not descended into, so a
    "billion laughs" document costs one visit per alias, and more than MAX_ALIASES is refused
    before anything is constructed.
    """
    out: dict[Path_, int] = {}
    seen: set[int] = set()
    aliases = 0
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        out.setdefault(path, node.start_mark.line + 1)
        if id(node) in seen:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise TooManyAliases(f"more than {MAX_ALIASES} aliases (line {node.start_mark.line + 1})")
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
                out[(*path, key)] = key_node.start_mark.line + 1
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return out


class LocatedDocument:
    """A parsed YAML document plus the line of every value in it."""

    def __init__(self, file: Path, data: Any, lines: dict[Path_, int]) -> None:
        self.file = file
        self.data = data
        self.lines = lines

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of `path` (pydantic locations may go below YAML nodes)."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def load_located(file: Path) -> LocatedDocument:
    """Load one YAML document safely; raise InputError naming the file and line on any problem."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError.single(file, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError.single(file, f"not UTF-8 text: {exc.reason}") from None
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines = _positions(node) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError.single(file, f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise InputError.single(file, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return LocatedDocument(file, data, lines)


def dump_stable(data: Any) -> str:
    """Diff-friendly YAML: sorted keys, block style, no aliases, unicode kept."""

    class _NoAliasDumper(_SafeDumper):  # type: ignore[valid-type,misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=120)


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temp file in the same dir, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> bool:
    """Write `text` to `path` atomically (temp file in the same dir, fsync, rename).

    Returns False, writing nothing, when the file already has exactly this content, so that
    re-running with no change touches nothing.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic_bytes(path, text.encode("utf-8"))
    return True
