"""The CLI contract shared by every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)


def test_help_lists_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for name in ("analyze", "discover", "ref", "graph"):
        assert name in result.stdout


def test_ref_contract() -> None:
    result = run("ref", "python:3.12-slim", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"registry": "docker.io", "repository": "library/python",
                                         "tag": "3.12-slim", "digest": None,
                                         "normalized": "docker.io/library/python:3.12-slim"}


def test_ref_invalid_exits_2_with_reason() -> None:
    result = run("ref", "Python:3", "--json")
    assert result.returncode == 2 and "lowercase" in result.stderr and result.stdout == ""


def test_discover_missing_file_is_one_line_error() -> None:
    result = run("discover", "no/such/Dockerfile", "--json")
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no/such/Dockerfile" in result.stderr
