"""Reading and writing state/ files: validated on read, stable and atomic on write."""

from __future__ import annotations

import functools
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from analyzer.config.durations import parse_duration
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError, Problem, validation_problems
from analyzer.names import is_dns_label
from analyzer.state.model import ImageState, state_filename
from analyzer.yamlio import (
    LocatedDocument,
    commit_temp_files,
    dump_stable,
    load_located,
    new_batch_token,
    unchanged,
    write_atomic,
    write_temp_files,
)

STATE_SUBDIR = "images"
TwoCores = Callable[..., Any]
"""`analyzer.workers.on_two_cores`, passed in by the shell (the state store stays free of process handling)."""


def images_dir(state_dir: Path) -> Path:
    return state_dir / STATE_SUBDIR


def _may_hold_datetime(annotation: Any, seen: frozenset[type] = frozenset()) -> bool:
    """Whether a value of this type annotation can contain a datetime anywhere inside it."""
    if annotation is datetime:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation not in seen and bool(_datetime_fields(annotation, seen | {annotation}))
    return any(_may_hold_datetime(arg, seen) for arg in typing.get_args(annotation))


@functools.cache
def _datetime_fields(model: type[BaseModel], seen: frozenset[type] = frozenset()) -> tuple[str, ...]:
    """The fields of `model` whose type can hold a datetime: the only ones `_naive_times` must walk."""
    return tuple(name for name, info in model.model_fields.items() if _may_hold_datetime(info.annotation, seen))


def _naive_times(value: object, path: tuple[str | int, ...]) -> Iterable[tuple[str | int, ...]]:
    """Paths of every datetime without a time zone (they cannot be compared with the clock). In a model,
    only the fields whose type can hold a datetime are walked (validated values match their types)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _naive_times(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _naive_times(item, (*path, index))
    elif isinstance(value, BaseModel):
        fields = type(value).model_fields
        for name in _datetime_fields(type(value)):
            yield from _naive_times(getattr(value, name), (*path, fields[name].alias or name))


def _semantic_problems(file: Path, doc: LocatedDocument, state: ImageState) -> list[Problem]:
    """What the schema alone lets through but every command relies on."""
    def problem(path: tuple[str | int, ...], message: str) -> Problem:
        return Problem(str(file), doc.line_of(path), ".".join(str(p) for p in path), message)

    problems: list[Problem] = []
    for path, ref in [(("ref",), state.ref)] + [
            (("managed", "bases", i, "tracked"), base.tracked)
            for i, base in enumerate(state.managed.bases if state.managed else []) if base.tracked]:
        try:
            parse_reference(ref)
        except InvalidReference as exc:
            problems.append(problem(path, f"{ref!r} is not a valid image reference: {exc}"))
    if state.name is not None and not is_dns_label(state.name):
        problems.append(problem(("name",), f"{state.name[:80]!r} is not an image name (a DNS-1123 label)"))
    if state.managed is not None:
        try:
            parse_duration(state.managed.delay)
        except ValueError as exc:
            problems.append(problem(("managed", "delay"), str(exc)))
    if state.managed is not None and state.name:
        if state.name in state.managed.parents:
            problems.append(problem(("managed", "parents"), f"image {state.name!r} is its own parent"))
        for i, base in enumerate(state.managed.bases):
            if (base.kind == "managed") != bool(base.parent):
                problems.append(problem(("managed", "bases", i, "kind"),
                                        "a base of kind managed names its `parent:` image, and only such a base"))
            if base.parent == state.name:
                problems.append(problem(("managed", "bases", i, "parent"),
                                        f"image {state.name!r} is its own parent"))
    for naive in _naive_times(state, ()):
        problems.append(problem(naive, "timestamp without a time zone (write it in UTC, e.g. "
                                      "2024-01-01T00:00:00Z)"))
    return problems


def load_state_file(file: Path) -> ImageState:
    doc = load_located(file)
    try:
        state = ImageState.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(validation_problems(file, exc.errors(), doc.line_of)) from None
    problems = _semantic_problems(file, doc, state)
    if problems:
        raise InputError(problems)
    if state_filename(state.ref) != file.name:
        raise InputError.single(file, f"file name does not match ref {state.ref!r} "
                                f"(expected {state_filename(state.ref)})", doc.line_of(("ref",)), "ref")
    return state


def load_states(state_dir: Path) -> dict[str, ImageState]:
    """All image states keyed by ref; every bad file is reported, none is skipped silently."""
    states, problems = load_state_files(state_files(state_dir))
    return checked_states(state_dir, states, problems)


def state_files(state_dir: Path) -> list[Path]:
    """The state files, in name order (none when the folder does not exist yet)."""
    folder = images_dir(state_dir)
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise InputError.single(folder, "not a directory: the state folder must hold one YAML file per image")
        return []
    return sorted(folder.glob("*.yaml"))


def load_state_files(files: list[Path]) -> tuple[dict[str, ImageState], list[Problem]]:
    """Each file's state, and the problems of those that are not valid (a part of `load_states`, which can
    be shared between processes: analyzer/workers.py)."""
    states: dict[str, ImageState] = {}
    problems: list[Problem] = []
    for file in files:
        try:
            state = load_state_file(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        states[state.ref] = state
    return states, problems


def checked_states(state_dir: Path, states: dict[str, ImageState], problems: list[Problem]) -> dict[str, ImageState]:
    """The states of all files, once the checks across files pass; else every problem as one InputError."""
    problems = [*problems, *_cross_file_problems(images_dir(state_dir), states)]
    if problems:
        raise InputError(problems)
    return states


def load_state_refs(state_dir: Path, refs: Iterable[str]) -> dict[str, ImageState]:
    """The state files of these refs that exist, keyed by ref (the per-file load of an incremental run;
    the cross-file checks of `load_states` are the full run's)."""
    states: dict[str, ImageState] = {}
    folder = images_dir(state_dir)
    for ref in sorted(refs):
        file = folder / state_filename(ref)
        if file.exists() or file.is_symlink():
            states[ref] = load_state_file(file)
    return states


def _cross_file_problems(folder: Path, states: Mapping[str, ImageState]) -> list[Problem]:
    """Names are unique, and every managed parent a state names has a state of its own."""
    problems: list[Problem] = []
    names: dict[str, str] = {}
    for state in states.values():
        if state.managed is None or not state.name:
            continue
        if state.name in names:
            problems.append(Problem(str(folder / state_filename(state.ref)), None, "name",
                                    f"image name {state.name!r} is also used by {names[state.name]}"))
        names.setdefault(state.name, state_filename(state.ref))
    known = set(names)
    for state in states.values():
        if state.managed is None:
            continue
        wanted = {*state.managed.parents, *(b.parent for b in state.managed.bases if b.parent)}
        for parent in sorted(wanted - known):
            problems.append(Problem(str(folder / state_filename(state.ref)), None, "managed.parents",
                                    f"parent {parent[:80]!r} has no managed state file "
                                    "(run `image-factory analyze`)"))
    return problems


STALE_TEMP_SECONDS = 60


def remove_stale_temp_files(state_dir: Path, now: float | None = None) -> list[Path]:
    """Temp files a killed writer left behind (`.<name>.yaml.<random>.tmp`, see write_atomic), older than a
    minute so that a writer still at work keeps its own."""
    folder = images_dir(state_dir)
    if not folder.is_dir():
        return []
    limit = (time.time() if now is None else now) - STALE_TEMP_SECONDS
    removed = []
    for path in folder.glob(".*.tmp"):
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_mtime < limit:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed


def render_state(state: ImageState) -> str:
    return dump_stable(state.model_dump(mode="json", by_alias=True, exclude_none=True))


def save_state(state_dir: Path, state: ImageState) -> bool:
    """Write one state file atomically; False when it was already identical."""
    return write_atomic(images_dir(state_dir) / state_filename(state.ref), render_state(state))


def save_states(state_dir: Path, states: Iterable[ImageState], previous: Mapping[str, ImageState] | None = None,
                on_two_cores: TwoCores | None = None) -> list[Path]:
    """Write every state; return the files that changed.

    A state equal to its `previous` version (as loaded from the same directory) is not even rendered.
    The changed files are written as one batch (`write_atomic_many`'s two halves): each atomically, all
    made durable by one sync before any is renamed into place. With `on_two_cores` (analyzer/workers.py,
    which `analyze` passes) the second half of the states is rendered and staged by a forked process; the
    sync and the renames stay here.
    """
    previous = previous or {}
    folder = images_dir(state_dir)
    todo = [(folder / state_filename(state.ref), state) for state in states]
    todo = [(path, state) for path, state in todo if not (previous.get(state.ref) == state and path.exists())]
    token, half = new_batch_token(), len(todo) // 2

    def stage(share: tuple[int, list[tuple[Path, ImageState]]]) -> list[tuple[str, Path]]:
        start, items = share  # temp files numbered apart from the other share's
        files = []
        for path, state in items:
            text = render_state(state)
            if not unchanged(path, text):
                files.append((path, text.encode("utf-8")))
        return write_temp_files(files, token, start)

    if on_two_cores is None:
        temps = stage((0, todo))
    else:
        first, second = on_two_cores((0, todo[:half]), (half, todo[half:]), stage, size=lambda share: len(share[1]))
        temps = first + second
    commit_temp_files(temps)
    return [path for _, path in temps]


def remove_states(state_dir: Path, refs: Iterable[str]) -> list[Path]:
    removed = []
    for ref in refs:
        path = images_dir(state_dir) / state_filename(ref)
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
