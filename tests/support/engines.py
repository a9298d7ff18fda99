"""Real engines for the tests: Go programs built (once, cached) by tests/engines/build.sh, and tools from apt.

`engine_bin("kube")` builds or reuses the pinned build and returns its bin folder. A missing toolchain or
tool skips a test locally but FAILS under `CI=true`, because CI can install everything these need.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "tests" / "engines" / "build.sh"


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


@dataclass(frozen=True)
class Engine:
    name: str
    bin_dir: Path

    @property
    def folder(self) -> Path:
        """The cache folder of this pinned build (holds bin/ and build-seconds)."""
        return self.bin_dir.parent

    @property
    def build_seconds(self) -> int | None:
        """Cold build time recorded by build.sh when it built this folder."""
        file = self.folder / "build-seconds"
        return int(file.read_text().strip()) if file.is_file() else None

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


_built: dict[str, Engine] = {}


def engine(name: str) -> Engine:
    """Build (first time only; later a cache hit) and locate an engine of tests/engines/."""
    if name in _built:
        return _built[name]
    if shutil.which("go") is None:
        unavailable("Go is not installed (the engines are built from Go modules)")
    result = subprocess.run(["bash", str(BUILD_SCRIPT), name], cwd=ROOT, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail(f"tests/engines/build.sh {name} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    built_name, _, bin_dir = result.stdout.strip().splitlines()[-1].partition(" ")
    assert built_name == name, result.stdout
    _built[name] = Engine(name, Path(bin_dir))
    return _built[name]
