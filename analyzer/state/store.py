"""Reading and writing state/ files: validated on read, stable and atomic on write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import ValidationError

from analyzer.errors import InputError, Problem, validation_problems
from analyzer.state.model import ImageState, state_filename
from analyzer.yamlio import dump_stable, load_located, write_atomic

STATE_SUBDIR = "images"


def images_dir(state_dir: Path) -> Path:
    return state_dir / STATE_SUBDIR


def load_state_file(file: Path) -> ImageState:
    doc = load_located(file)
    try:
        state = ImageState.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(validation_problems(file, exc.errors(), doc.line_of)) from None
    if state_filename(state.ref) != file.name:
        raise InputError.single(file, f"file name does not match ref {state.ref!r} "
                                f"(expected {state_filename(state.ref)})", doc.line_of(("ref",)), "ref")
    return state


def load_states(state_dir: Path) -> dict[str, ImageState]:
    """All image states keyed by ref; every bad file is reported, none is skipped silently."""
    states: dict[str, ImageState] = {}
    problems: list[Problem] = []
    folder = images_dir(state_dir)
    if not folder.is_dir():
        return states
    for file in sorted(folder.glob("*.yaml")):
        try:
            state = load_state_file(file)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        states[state.ref] = state
    if problems:
        raise InputError(problems)
    return states


def render_state(state: ImageState) -> str:
    return dump_stable(state.model_dump(mode="json", by_alias=True, exclude_none=True))


def save_state(state_dir: Path, state: ImageState) -> bool:
    """Write one state file atomically; False when it was already identical."""
    return write_atomic(images_dir(state_dir) / state_filename(state.ref), render_state(state))


def save_states(state_dir: Path, states: Iterable[ImageState],
                previous: Mapping[str, ImageState] | None = None) -> list[Path]:
    """Write every state; return the files that changed.

    A state equal to its `previous` version (as loaded from the same directory) is not even rendered.
    """
    changed = []
    previous = previous or {}
    for state in states:
        if previous.get(state.ref) == state and (images_dir(state_dir) / state_filename(state.ref)).exists():
            continue
        if save_state(state_dir, state):
            changed.append(images_dir(state_dir) / state_filename(state.ref))
    return changed


def remove_states(state_dir: Path, refs: Iterable[str]) -> list[Path]:
    removed = []
    for ref in refs:
        path = images_dir(state_dir) / state_filename(ref)
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
