"""What the commands share: the options (`--config`, `--state`, `--json`, `--at`, `--stack-config`) and
`load_project`, the one way to go from images.yaml + state/ + stack settings to the Kargo project
(`render`, `check` and the Pulumi program all use it, so they cannot disagree)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from analyzer.errors import InputError, Problem

if TYPE_CHECKING:  # imported when used: `ref` or `plan` need not load the Kargo model to start
    from analyzer.config.model import Fleet
    from analyzer.kargo.build import KargoProject
    from analyzer.kargo.settings import Settings
    from analyzer.state.model import ImageState

DEFAULT_CONFIG = Path("images.yaml")
DEFAULT_STATE = Path("state")
DEFAULT_STACK_CONFIG = Path("Pulumi.prod.yaml")
"""The stack whose settings `render` and `check` use when no --stack-config is given (when present)."""

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def config_option(help: str = "Root enrollment file.", *, name: str = "config",
                  default: Path | None = DEFAULT_CONFIG) -> Decorator:
    return click.option("--config", name, type=click.Path(path_type=Path), default=default,
                        show_default=default is not None, help=help)


def state_option(help: str = "State directory.", *, default: Path | None = DEFAULT_STATE) -> Decorator:
    return click.option("--state", "state_dir", type=click.Path(path_type=Path), default=default,
                        show_default=default is not None, help=help)


def json_option(help: str) -> Decorator:
    return click.option("--json", "as_json", is_flag=True, help=help)


STACK_CONFIG_OPTION = click.option(
    "--stack-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"Pulumi.<stack>.yaml whose image-factory:* settings shape the rendering [default: "
         f"./{DEFAULT_STACK_CONFIG} when present, else built-in defaults].")


# --- time -----------------------------------------------------------------------------------------

def parse_time(text: str) -> datetime:
    """`2026-11-08`, `2026-11-08T12:00`, `2026-11-08T12:00:00Z`, `…+01:00`; naive times are UTC; the
    result is in UTC. ValueError with the accepted form otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"invalid time {text!r}: not an ISO 8601 time (e.g. 2026-11-08T12:00:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class IsoTime(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 time option value (see `parse_time`); a bad one is a usage error (exit 2)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return parse_time(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


TIME = IsoTime()


def now() -> datetime:
    """Now in whole seconds, UTC: how `plan`, `refresh` and `record` read "now"."""
    return datetime.now(UTC).replace(microsecond=0)


def resolve_at(at: datetime | None) -> datetime:
    return at if at is not None else now()


def at_option(help: str = "Plan as of this ISO 8601 time (default: now, UTC).", *,
              name: str = "--at") -> Decorator:
    return click.option(name, type=TIME, metavar="TIME", default=None, help=help)


# --- the project ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedProject:
    fleet: Fleet
    states: Mapping[str, ImageState]
    settings: Settings
    project: KargoProject


def stack_settings(stack_config: Path | Settings | None) -> Settings:
    """The one default-stack rule: the given settings or stack file; else ./Pulumi.prod.yaml when present;
    else the built-in defaults."""
    from analyzer.kargo.settings import Settings, load_stack_settings

    if isinstance(stack_config, Settings):
        return stack_config
    if stack_config is None and DEFAULT_STACK_CONFIG.is_file():
        stack_config = DEFAULT_STACK_CONFIG
    return load_stack_settings(stack_config) if stack_config is not None else Settings()


def _load_fleet_and_states(config: Path, state_dir: Path) -> tuple[Fleet, dict[str, ImageState]]:
    """images.yaml here and, at the same time, the last state files in a forked process (analyzer/workers.py),
    as many as make the two shares about equal in bytes; the same result and errors as loading both here."""
    from analyzer.config.loader import load_fleet
    from analyzer.state.store import checked_states, load_state_files, state_files
    from analyzer.workers import on_two_cores

    files = state_files(state_dir)
    sizes = [_size(file) for file in files]
    cut, theirs_bytes, half = len(files), 0, (sum(sizes) + _size(config)) / 2
    while cut > 0 and theirs_bytes + sizes[cut - 1] <= half:
        cut -= 1
        theirs_bytes += sizes[cut]

    def load(share: tuple[bool, list[Path]]) -> tuple[Fleet | None, tuple[dict[str, ImageState], list[Problem]]]:
        with_fleet, share_files = share
        fleet = load_fleet(config) if with_fleet else None
        return fleet, load_state_files(share_files)

    (fleet, (states, problems)), (_, (their_states, their_problems)) = on_two_cores(
        (True, files[:cut]), (False, files[cut:]), load, size=lambda share: len(share[1]))
    assert fleet is not None
    return fleet, checked_states(state_dir, states | their_states, problems + their_problems)


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def load_project(config: Path, state_dir: Path, stack_config: Path | Settings | None = None) -> LoadedProject:
    """images.yaml + state/ (with its recorded Kargo names) + stack settings → the Kargo project; a graph
    that cannot be rendered (a cycle, a parent with no state) is an InputError on the state directory."""
    from analyzer.graph import GraphError
    from analyzer.kargo.build import build_project
    from analyzer.kargo.name_record import load_name_record

    settings = stack_settings(stack_config)
    fleet, states = _load_fleet_and_states(config, state_dir)
    try:
        project = build_project(fleet, states, settings, load_name_record(state_dir))
    except GraphError as exc:
        raise InputError.single(state_dir, str(exc)) from None
    return LoadedProject(fleet, states, settings, project)


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a command that builds a large, long-lived graph of objects
    (thousands of states, Kargo objects and manifests) in one go: every full collection would walk all of it
    again and find nothing to free (a third of `render`'s time on 7,000 images). Reference counting still
    frees everything acyclic; any cycles made meanwhile are collected once the block ends."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
