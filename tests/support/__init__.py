"""Helpers the tests share (real registries, git repos, engines, the CLI); ROOT is the repository root."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the one place a test computes it."""
