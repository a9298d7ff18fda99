"""The CLI contract shared by every command."""

from __future__ import annotations

import json

from tests.support import ROOT
from tests.support.cli import run


def test_help_lists_commands() -> None:
    result = run(ROOT, "--help")
    assert result.returncode == 0
    for name in ("analyze", "discover", "ref", "graph"):
        assert name in result.stdout


def test_ref_contract() -> None:
    result = run(ROOT, "ref", "python:3.12-slim", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {"registry": "docker.io", "repository": "library/python",
                                         "tag": "3.12-slim", "digest": None,
                                         "normalized": "docker.io/library/python:3.12-slim"}


def test_ref_invalid_exits_2_with_reason() -> None:
    result = run(ROOT, "ref", "Python:3", "--json")
    assert result.returncode == 2 and "lowercase" in result.stderr and result.stdout == ""


def test_discover_missing_file_is_one_line_error() -> None:
    result = run(ROOT, "discover", "no/such/Dockerfile", "--json")
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "no/such/Dockerfile" in result.stderr
