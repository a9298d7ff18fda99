"""Safe YAML reading with source positions, and stable, atomic YAML writing.

Reading keeps a map from each value's path (tuple of keys/indices) to its line so that validation
errors can name the line of the offending field. Aliases are bounded to defeat "billion laughs",
nesting is bounded before libyaml composes anything (its recursive composer crashes the process on a
60 KB `[[[[…`), a key given twice in one mapping is an error naming both lines, and only regular files
are read (a FIFO or device named `*.yaml` must not hang a command).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

from analyzer.errors import InputError

MAX_ALIASES = 100
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences accepted (images.yaml and state files use fewer than 10)."""
MAX_FILE_BYTES = 64 * 1024 * 1024
_BLOCK_PREFIX_RE = re.compile(r"^[ ?-]*", re.MULTILINE)

Path_ = tuple[str | int, ...]


_BaseSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PLAIN_TAGS: dict[str, str] = {}
"""Plain scalar → its implicit tag (PyYAML's resolver tries its regular expressions for every scalar; libyaml's
composer calls it back once per node: keys repeat thousands of times in images.yaml and the state files)."""
_PLAIN_TAGS_MAX, _PLAIN_TAG_VALUE_MAX = 50_000, 64


class _SafeLoader(_BaseSafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, with the implicit tag of short plain scalars remembered (no path resolvers are
    registered on it, so a plain scalar's tag depends on its text alone)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and len(value) <= _PLAIN_TAG_VALUE_MAX:
            tag = _PLAIN_TAGS.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_PLAIN_TAGS) < _PLAIN_TAGS_MAX:
                    _PLAIN_TAGS[value] = tag
            return tag
        return super().resolve(kind, value, implicit)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class TooManyAliases(yaml.YAMLError):
    pass


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(f"key {key!r} appears twice in one mapping (lines {first} and {second})")
        self.line = second


class TooDeep(yaml.YAMLError):
    def __init__(self, line: int) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")
        self.line = line


def read_regular_text(file: Path, what: str = "") -> str:
    """UTF-8 text of `file`, which must be a regular file (never blocks on a FIFO, never reads a device);
    any problem is an InputError naming the file."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError.single(file, f"cannot read{what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError.single(file, f"not a regular file{what}")
        if info.st_size > MAX_FILE_BYTES:
            raise InputError.single(file, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = _read_bounded(fd, info.st_size)
    except OSError as exc:
        raise InputError.single(file, f"cannot read{what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError.single(file, f"not UTF-8 text: {exc.reason}") from None


def _read_bounded(fd: int, size_hint: int) -> bytes:
    """Up to MAX_FILE_BYTES + 1 bytes of `fd`, in reads of about the file's size: a buffered
    `read(MAX_FILE_BYTES + 1)` allocates a 64 MiB buffer for every file, which dominated reading 7,000
    small state files."""
    chunks: list[bytes] = []
    left = MAX_FILE_BYTES + 1
    while left > 0:
        chunk = os.read(fd, min(left, max(size_hint + 1, 1 << 16)))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before libyaml's composer sees it.

    Block nesting on a line is bounded by its indentation plus `-`/`?` indicators, flow nesting by the
    number of `[` and `{` (`_flow_weight`), or more tightly by `_flow_depth_bound`; only when that bound
    is too high are the parser's events counted
    (libyaml's parser keeps an explicit stack: only its composer recurses)."""
    block = max(map(len, _BLOCK_PREFIX_RE.findall(text)), default=0) + 2
    if _flow_weight(text) + block <= MAX_DEPTH:
        return
    flow = _flow_depth_bound(text)
    if flow is not None and flow + block <= MAX_DEPTH:
        return
    depth = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooDeep(event.start_mark.line + 1 if event.start_mark else 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


_LINE_BREAK_RE = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_FLOW_CHARS_RE = re.compile(r"[\[\]{}'\"#]")
_BLOCK_NODE_QUOTE_RE = re.compile(r"""(?:^[ \t]*(?:[-?][ \t]+)*|:[ \t]+)(?:'(?:[^']|'')*'|"(?:[^"\\]|\\.)*")""")
_BLOCK_NODE_OPEN_QUOTE_RE = re.compile(r"""(?:^[ \t]*(?:[-?][ \t]+)*|:[ \t]+)['"]""")
_COMMENT_RE = re.compile(r"(?:^|[ \t])#.*")


def _flow_depth_bound(text: str) -> int | None:
    """An upper bound of the flow nesting (`[`, `{`) in `text` that is tight for the usual one-line flow
    collections (`platforms: [linux/amd64]`, `webhook: {url: '…'}`), or None when unsure.

    A line that starts outside any flow collection (the bound so far is 0) has its quoted scalars removed
    where one must start (a block item or a value after `: `) and its comment cut; if what is left holds no
    quote or `#` and its brackets balance (never below zero, zero at the end), the line nests at most as deep as
    its brackets count and ends outside any flow collection (a bracket inside a plain scalar, the only kind
    left, stands where no flow collection is open). Any other line may open what it does not close: every
    opener is added to the bound from then on. A quoted scalar that does not end on its line, or a quote
    left over (which might start one), makes the answer None: the caller counts the parser's events."""
    bound = deepest = 0
    for line in _LINE_BREAK_RE.split(text):
        if not _FLOW_CHARS_RE.search(line):
            continue
        rest = line
        if bound == 0:
            rest = _BLOCK_NODE_QUOTE_RE.sub(" ", rest)
            if _BLOCK_NODE_OPEN_QUOTE_RE.search(rest):
                return None  # a quoted scalar going on to the next line
            rest = _COMMENT_RE.sub("", rest)
            if "'" in rest or '"' in rest or "#" in rest:
                return None  # libyaml also reads `[#` as a comment: a `#` left over is not understood
        closed, highest, openers = _bracket_nesting("".join(_BRACKETS_RE.findall(rest)))
        if bound == 0 and closed:
            deepest = max(deepest, highest)
        else:
            bound += openers
            deepest = max(deepest, bound)
    return deepest


_BRACKETS_RE = re.compile(r"[\[\]{}]")


@functools.lru_cache(maxsize=1024)
def _bracket_nesting(brackets: str) -> tuple[bool, int, int]:
    """For a line's brackets: whether each closer has an opener before it and none is left open, the
    deepest weighted nesting, and the weight of all openers."""
    open_weights: list[int] = []
    depth = highest = openers = 0
    closed = True
    for char in brackets:
        if char in "[{":
            weight = _FLOW_WEIGHT[char]
            open_weights.append(weight)
            depth += weight
            openers += weight
            highest = max(highest, depth)
        elif open_weights:
            depth -= open_weights.pop()
        else:
            closed = False
    return closed and not open_weights, highest, openers


_FLOW_WEIGHT = {"[": 2, "{": 1}
"""Nesting a flow opener can add: a `[` holds a sequence and, for an item written `a: b` or `? a`, a
single-pair mapping inside it (two collections for one bracket); a `{` holds one mapping."""


def _flow_weight(text: str) -> int:
    return sum(weight * text.count(opener) for opener, weight in _FLOW_WEIGHT.items())


def _key_text(key_node: yaml.Node) -> str:
    """A mapping key as the paths of `_positions` and `_line_by_walking` name it."""
    return key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)


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
            keys: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = _key_text(key_node)
                line = key_node.start_mark.line + 1
                if key in keys and isinstance(key_node, yaml.ScalarNode):
                    raise DuplicateKey(key, keys[key], line)
                keys[key] = line
                out[(*path, key)] = line
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))
    return out


class _NotPlain(Exception):
    """The document needs PyYAML's full constructor (anchors, merge keys, floats, dates, explicit tags...)."""


_TAG = "tag:yaml.org,2002:"


def _construct(loader: Any, root: yaml.Node) -> tuple[Any, bool]:
    """`loader.construct_document(root)`, built directly when the document holds only mappings, sequences,
    strings, ints, bools and nulls, no node twice and no key twice in a mapping (the state files and
    images.yaml): the same values without PyYAML's per-node constructor machinery, and without walking the
    nodes for their lines (`_positions`), which nothing needs unless something is wrong. Anything else is
    checked by `_positions` (a key given twice, too many aliases) before PyYAML constructs it."""
    try:
        return _build_plain(loader, root, set()), True
    except _NotPlain:
        _positions(root)
        return loader.construct_document(root), False
    except Exception:
        _positions(root)  # a key given twice or too many aliases is what is reported, as before
        raise


def _build_plain(loader: Any, node: yaml.Node, seen: set[int]) -> Any:
    """A plain document's values (see `_construct`); a module function, not a closure, so that no reference
    cycle keeps the loader (and libyaml's buffers) alive after the document is built."""
    if id(node) in seen:
        raise _NotPlain  # an alias: PyYAML shares the object
    seen.add(id(node))
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "int":
            return loader.construct_yaml_int(node)
        if tag == _TAG + "bool":
            return loader.construct_yaml_bool(node)
        if tag == _TAG + "null":
            return None
    elif isinstance(node, yaml.MappingNode) and tag == _TAG + "map":
        out = {}
        for key_node, value_node in node.value:
            key = _build_plain(loader, key_node, seen)
            if isinstance(key, (dict, list)):
                raise _NotPlain
            out[key] = _build_plain(loader, value_node, seen)
        if len({k.value for k, _ in node.value}) < len(node.value):
            raise _NotPlain  # a key given twice: `_positions` names both lines
        return out
    elif isinstance(node, yaml.SequenceNode) and tag == _TAG + "seq":
        return [_build_plain(loader, item, seen) for item in node.value]
    raise _NotPlain


class LocatedDocument:
    """A parsed YAML document plus the line of every value in it, worked out from its nodes when first asked
    for (only an error message needs a line)."""

    def __init__(self, file: Path, data: Any, root: yaml.Node | None, plain: bool = False) -> None:
        self.file = file
        self.data = data
        self._root = root
        self._plain = plain
        """No node appears twice and no key twice in a mapping: a path names one node, found by walking."""

    @functools.cached_property
    def lines(self) -> dict[Path_, int]:
        return _positions(self._root) if self._root is not None else {}

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest known prefix of `path` (pydantic locations may go below YAML nodes).

        In a plain document the path is followed through the nodes (what `lines` would say, without
        mapping every value's line first: loading images.yaml names the line of each of its images)."""
        if self._plain and self._root is not None:
            return _line_by_walking(self._root, path)
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def _line_by_walking(root: yaml.Node, path: Path_) -> int:
    """`_positions(root)`'s line for the deepest prefix of `path` that names a node: a mapping key's own
    line, a sequence item's first line (only for documents where no node appears twice)."""
    node, line = root, root.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = _key_text(key_node)
                if key == part:
                    node, line = value_node, key_node.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def load_located(file: Path) -> LocatedDocument:
    """Load one YAML document safely; raise InputError naming the file and line on any problem."""
    text = read_regular_text(file)
    try:
        check_depth(text)
    except (TooDeep, yaml.MarkedYAMLError) as exc:
        line = exc.line if isinstance(exc, TooDeep) else (exc.problem_mark.line + 1 if exc.problem_mark else None)
        message = str(exc) if isinstance(exc, TooDeep) else f"invalid YAML: {exc.problem or exc}"
        raise InputError.single(file, message, line) from None
    except yaml.YAMLError as exc:
        raise InputError.single(file, f"invalid YAML: {exc}") from None
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        data, plain = _construct(loader, node) if node is not None else (None, False)
    except DuplicateKey as exc:
        raise InputError.single(file, str(exc), exc.line) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise InputError.single(file, f"invalid YAML: {exc.problem or exc}", line) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        raise InputError.single(file, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return LocatedDocument(file, data, node, plain)


class _NoAliasDumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """libyaml's emitter when available (several times faster), never emitting aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump_pyyaml(data: Any, sort_keys: bool, width: int) -> str:
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=sort_keys, default_flow_style=False,
                     allow_unicode=True, width=width)


def dump_stable(data: Any, sort_keys: bool = True, width: int = 120) -> str:
    """Diff-friendly YAML: block style, no aliases, unicode kept; keys sorted unless order is meaningful.

    Documents made of what state files and manifests hold (mappings with string keys, lists, short
    single-line ASCII strings, ints, bools, None) are written by `_FastBlockEmitter`, which produces
    PyYAML's exact bytes several times faster; anything else is written by PyYAML itself."""
    try:
        return _FastBlockEmitter(sort_keys, width).dump(data)
    except _NotFast:
        return _dump_pyyaml(data, sort_keys, width)


class _NotFast(Exception):
    """The document holds something only PyYAML's own emitter is trusted with."""


_FAST_TEXT_RE = re.compile(r"[ -~]*")
_FAST_TEXT_MAX = 100_000
_FAST_KEY_MAX = 100


_PLAIN_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/@~+=-]*(?::[A-Za-z0-9._/@~+=-]+)*")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _scalar_text(value: str) -> str | None:
    """PyYAML's rendering of a one-line printable-ASCII string as a block sequence item or block mapping
    value/simple key, where style (plain, quoted) does not depend on the position; None for anything else.

    A word of letters, digits and `._/@~+=-` (with inner `:`s) that starts with a letter or digit has no
    indicator PyYAML's analysis would quote, so it is written plain unless the resolver would read it back
    as something else (a number, bool, date: PyYAML's own resolver decides); everything else is rendered by
    PyYAML itself, once per distinct string."""
    if value in _SCALAR_TEXTS:
        return _SCALAR_TEXTS[value]
    text: str | None = value
    if not _PLAIN_WORD_RE.fullmatch(value) or \
            _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG:  # type: ignore[no-untyped-call]
        text = _scalar_text_by_pyyaml(value)
    if len(_SCALAR_TEXTS) > 1 << 18:
        _SCALAR_TEXTS.clear()
    _SCALAR_TEXTS[value] = text
    return text


_SCALAR_TEXTS: dict[str, str | None] = {}
"""Memo of `_scalar_text` (keys, kinds and refs repeat across thousands of documents)."""


@functools.lru_cache(maxsize=1 << 16)
def _scalar_text_by_pyyaml(value: str) -> str | None:
    if len(value) > _FAST_TEXT_MAX or not _FAST_TEXT_RE.fullmatch(value):
        return None
    text = _dump_pyyaml([value], sort_keys=False, width=1_000_000)
    if not text.startswith("- ") or text.count("\n") != 1:
        return None
    return text[2:-1]


class _FastBlockEmitter:
    """PyYAML's block style for plain data: 2-space indents, sequences inside mappings not indented,
    `{}`/`[]` for empty collections. A line that could reach `width` (where PyYAML would fold) raises
    `_NotFast`, as does any value outside the supported kinds."""

    def __init__(self, sort_keys: bool, width: int) -> None:
        self.sort_keys = sort_keys
        self.limit = width - 10
        self.out: list[str] = []

    def dump(self, data: Any) -> str:
        if isinstance(data, dict) and data:
            self._mapping(data, 0, "")
        elif isinstance(data, list) and data:
            self._sequence(data, 0, "")
        else:
            raise _NotFast
        return "".join(self.out)

    def _scalar(self, value: Any, column: int) -> str:
        if isinstance(value, str):
            text = _scalar_text(value)
            if text is None:
                raise _NotFast
            # PyYAML folds plain and single-quoted scalars only at a space, double-quoted ones anywhere
            if column + len(text) > self.limit and (" " in value or text.startswith('"')):
                raise _NotFast
            return text
        if value is True:
            return "true"
        if value is False:
            return "false"
        if value is None:
            return "null"
        if type(value) is int:
            return str(value)
        raise _NotFast

    def _mapping(self, data: dict[Any, Any], indent: int, first: str) -> None:
        """Keys at `indent`; the first line starts with `first` (a sequence's `- `) instead of spaces."""
        items = sorted(data.items()) if self.sort_keys else data.items()
        pad = " " * indent
        lead = first or pad
        out = self.out
        for key, value in items:
            if type(key) is not str or len(key) > _FAST_KEY_MAX:  # PyYAML writes long keys as `? key`
                raise _NotFast
            name = self._scalar(key, indent)
            if isinstance(value, dict):
                if value:
                    out.append(f"{lead}{name}:\n")
                    self._mapping(value, indent + 2, "")
                else:
                    out.append(f"{lead}{name}: {{}}\n")
            elif isinstance(value, list):
                if value:
                    out.append(f"{lead}{name}:\n")
                    self._sequence(value, indent, "")
                else:
                    out.append(f"{lead}{name}: []\n")
            else:
                out.append(f"{lead}{name}: {self._scalar(value, indent + len(name) + 2)}\n")
            lead = pad

    def _sequence(self, data: list[Any], indent: int, first: str) -> None:
        pad = " " * indent
        if first:
            raise _NotFast  # a sequence directly inside a sequence: left to PyYAML
        out = self.out
        for item in data:
            if isinstance(item, dict):
                if item:
                    self._mapping(item, indent + 2, f"{pad}- ")
                else:
                    out.append(f"{pad}- {{}}\n")
            elif isinstance(item, list):
                raise _NotFast
            else:
                out.append(f"{pad}- {self._scalar(item, indent + 2)}\n")


def write_atomic_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` atomically: temp file in the same dir, fsync, rename.

    Readers never see a torn file either way; `durable=False` skips the fsyncs for derived output
    (rendered manifests) that can be regenerated after a power loss.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if durable:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.cache
def _libc_syncfs() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs  # libc's symbols are in the process already
    except (OSError, AttributeError):
        return None


def _syncfs(fd: int) -> None:
    """Flush every dirty page of the filesystem holding `fd` (Linux `syncfs`; elsewhere `sync`)."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        os.sync()
    elif syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _create_temp(path: Path, token: str) -> tuple[str, int]:
    """A new temp file beside `path`, named like mkstemp's (`.<name>.<8 characters>.tmp`, mode 0600) but
    from a per-batch random token plus a counter instead of fresh randomness per file (mkstemp's name
    generator was a tenth of writing 10,000 state files); mkstemp's own name if that one is taken or, past
    65,536 files in a batch, too long."""
    tmp = str(path.parent / f".{path.name}.{token}.tmp")
    try:
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if not isinstance(exc, FileExistsError) and exc.errno != errno.ENAMETOOLONG:
            raise
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        return tmp, fd


def write_atomic_many(files: list[tuple[Path, bytes]]) -> None:
    """Write many files atomically with one durability barrier for the whole batch.

    Every file goes to a temp file next to it first; then one `syncfs` makes all of them durable; only
    then is each renamed over its target, and each touched directory is fsynced once. A crash at any
    point leaves every target either whole-old or whole-new (never torn) plus, at worst, temp files
    that `remove_stale_temp_files` cleans up; the same guarantee `write_atomic_bytes` gives per file,
    at the cost of one sync instead of two fsyncs per file.
    """
    commit_temp_files(write_temp_files(files, new_batch_token()))


def new_batch_token() -> str:
    return secrets.token_hex(2)


def write_temp_files(files: list[tuple[Path, bytes]], token: str, start: int = 0) -> list[tuple[str, Path]]:
    """The first half of `write_atomic_many`: each file's bytes in a new temp file beside it (named from the
    batch's `token` and the file's number in the batch, counted from `start`), nothing renamed yet; on
    failure no temp file of this call is left."""
    temps: list[tuple[str, Path]] = []
    folders: set[Path] = set()
    try:
        for index, (path, data) in enumerate(files):
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            tmp, fd = _create_temp(path, f"{token}{start + index:x}")
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
    return temps


def commit_temp_files(temps: list[tuple[str, Path]]) -> None:
    """The second half of `write_atomic_many`: one sync, then every rename, then one fsync per folder; on
    failure the temp files not yet renamed are removed."""
    if not temps:
        return
    try:
        barrier = os.open(temps[0][1].parent, os.O_RDONLY)
        try:
            _syncfs(barrier)
        finally:
            os.close(barrier)
        pending = list(temps)
        while pending:
            tmp, path = pending[-1]
            os.replace(tmp, path)
            pending.pop()
        for folder in sorted({path.parent for _, path in temps}):
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise


def unchanged(path: Path, text: str) -> bool:
    """True when `path` already holds exactly `text`."""
    try:
        return path.read_text(encoding="utf-8") == text
    except FileNotFoundError:
        return False


def write_atomic(path: Path, text: str, durable: bool = True) -> bool:
    """Write `text` to `path` atomically (temp file in the same dir, fsync, rename).

    Returns False, writing nothing, when the file already has exactly this content, so that
    re-running with no change touches nothing.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic_bytes(path, text.encode("utf-8"), durable)
    return True
