"""The real engines the tests run, built from Go modules by tests/engines/build.sh into a pin-keyed cache.

The first call builds (minutes, once per pin change on a machine); later calls only find the binaries.
A machine without Go cannot run these tests: that is an error, not a skip (CI machines have Go).
Tools from apt (etcd) and OS features (mount namespaces) skip a test locally but FAIL under `CI=true`,
because CI installs and has everything these need.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support import ROOT

BUILD_SCRIPT = ROOT / "tests" / "engines" / "build.sh"


class EngineUnavailable(RuntimeError):
    """An engine could not be built; the message carries the build output."""


@functools.cache
def engine_bin(engine: str) -> Path:
    """The folder holding `engine`'s binaries, building them first if their pins changed."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT), engine], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EngineUnavailable(f"building engine {engine!r} failed (exit {result.returncode}):\n"
                                f"{result.stderr[-4000:]}")
    name, _, folder = result.stdout.strip().rpartition("\n")[-1].partition(" ")
    assert name == engine, result.stdout
    return Path(folder)


def built_engine_bin(engine: str) -> Path | None:
    """The folder holding `engine`'s binaries if they are built for the current pins; never builds (None: not
    built, or no Go to compute the pins' key). For optional users such as the benchmark."""
    result = subprocess.run(["bash", str(BUILD_SCRIPT), "--find", engine], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        return None
    name, _, folder = result.stdout.strip().rpartition("\n")[-1].partition(" ")
    return Path(folder) if name == engine else None


@dataclass(frozen=True)
class Engine:
    """One built engine: its bin folder, and the cache folder build.sh made (with build-seconds)."""

    name: str
    bin_dir: Path

    @property
    def folder(self) -> Path:
        return self.bin_dir.parent

    @property
    def build_seconds(self) -> int | None:
        """Cold build time recorded by build.sh when it built this folder."""
        file = self.folder / "build-seconds"
        return int(file.read_text().strip()) if file.is_file() else None

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


def engine(name: str) -> Engine:
    return Engine(name, engine_bin(name))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(message: str) -> NoReturn:
    """Skip locally; fail in CI (where run.sh installs everything, so a missing piece is a bug)."""
    if in_ci():
        pytest.fail(message + " — required in CI")
    pytest.skip(message)


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found ({hint})")
    return path
