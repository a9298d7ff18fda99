"""Running `image-factory` in tests: as a process (`python -m analyzer`, the checkout on PYTHONPATH, what a
user or a Job runs) or in-process with click's runner (fast, for one command's output)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from analyzer.cli import cli
from tests.support import ROOT


def python(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in `cwd` with the checkout importable; never raises on a non-zero exit."""
    return subprocess.run([sys.executable, *args], cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=timeout, check=False)


def run(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`image-factory ARGS` as a process in `cwd`."""
    return python(cwd, "-m", "analyzer", *args, timeout=timeout)


def invoke(*args: str, env: Mapping[str, str | None] | None = None, catch_exceptions: bool = True) -> Result:
    """`image-factory ARGS` in-process."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=catch_exceptions)
