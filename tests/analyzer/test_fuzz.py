"""Bounded fuzz pass per input surface (issue 16): no exception other than the project's input errors,
no case slower than SLOW seconds, no internal-error exit. Deterministic: a failure names its seed and index;
`FUZZ_CASES=<n>` scales every surface for the longer release run (see tests/analyzer/fuzzing.py)."""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from analyzer.cli import EXIT_INTERNAL, cli
from analyzer.config.loader import load_fleet
from analyzer.discovery.dockerfile import analyze_dockerfile
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError
from analyzer.state.store import load_state_file
from tests.analyzer import fuzzing

SEED = 16
SLOW = 2.0
SCALE = int(os.environ.get("FUZZ_CASES", "0")) or None


def cases(default: int) -> int:
    return SCALE or default


def _timed(label: str, index: int, started: float) -> None:
    elapsed = time.perf_counter() - started
    assert elapsed < SLOW, f"{label} seed={SEED} index={index} took {elapsed:.1f}s"


def _survives(label: str, index: int, text: str, action: Callable[[], object],
              expected: tuple[type[Exception], ...] = ()) -> None:
    """`action` ends with a result or one of the `expected` input errors, within SLOW seconds."""
    started = time.perf_counter()
    try:
        action()
    except expected:
        pass
    except Exception as exc:  # pragma: no cover - the failure report
        pytest.fail(f"{label} seed={SEED} index={index}: {type(exc).__name__}: {exc} in {text[:300]!r}")
    _timed(label, index, started)


def test_fuzz_dockerfiles() -> None:
    for index, text in fuzzing.dockerfiles(SEED, cases(3000)):
        _survives("dockerfile", index, text, partial(analyze_dockerfile, text, fuzzing.build_args(SEED, index)))


def test_fuzz_references() -> None:
    for index, text in fuzzing.references(SEED, cases(5000)):
        _survives("reference", index, text, partial(parse_reference, text), (InvalidReference,))


def test_fuzz_configs(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    for index, text in fuzzing.configs(SEED, cases(1500)):
        path.write_text(text)
        _survives("config", index, text, partial(load_fleet, path), (InputError,))


def test_fuzz_state_files(tmp_path: Path) -> None:
    folder = fuzzing.ROOT / "tests/fixtures/good-fleet/state/images"
    seeds = [p.read_text() for p in sorted(folder.glob("*.yaml"))]
    names = [p.name for p in sorted(folder.glob("*.yaml"))]
    for index, text in fuzzing.state_texts(SEED, cases(1500), seeds):
        path = tmp_path / names[index % len(names)]
        path.write_text(text)
        _survives("state", index, text, partial(load_state_file, path), (InputError,))


def test_fuzz_state_through_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Structurally mutated state files (values swapped, keys dropped, items repeated) fed to the commands
    that read state: every one ends with exit 0, 1 or 2, never an internal error."""
    project = tmp_path / "fleet"
    shutil.copytree(fuzzing.ROOT / "tests/fixtures/good-fleet", project)
    files = sorted((project / "state" / "images").glob("*.yaml"))
    original = {p: p.read_text() for p in files}
    parsed = {p: yaml.safe_load(t) for p, t in original.items()}
    monkeypatch.chdir(project)
    runner = CliRunner()
    commands = [["status"], ["plan"], ["graph"], ["render", "--out", "out"]]
    for index in range(cases(600)):
        rnd = random.Random(SEED * 1_000_081 + index)
        for path in files:
            path.write_text(original[path])
        target = rnd.choice(files)
        target.write_text(yaml.safe_dump(fuzzing.mutate_data(rnd, parsed[target], rnd.randint(1, 3))))
        command = rnd.choice(commands)
        started = time.perf_counter()
        result = runner.invoke(cli, command)
        assert result.exit_code != EXIT_INTERNAL and (result.exception is None
                                                      or isinstance(result.exception, SystemExit)), (
            f"state-command seed={SEED} index={index} {command}: {result.output[-500:]}")
        _timed("state-command", index, started)
