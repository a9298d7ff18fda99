"""The real engines the tests run, built from Go modules by tests/engines/build.sh into a pin-keyed cache.

The first call builds (minutes, once per pin change on a machine); later calls only find the binaries.
A machine without Go cannot run these tests: that is an error, not a skip (CI machines have Go).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
