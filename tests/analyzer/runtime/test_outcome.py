"""`status` shows a failed rebuild with its reason and the last good digest (the rollback target)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.runtime.outcome import rebuild_summary
from analyzer.state.model import RebuildRecord
from analyzer.state.store import save_state
from tests.support.states import external_state, managed_state

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BASE = "docker.io/library/python:3.12-slim"
GOOD, BAD_BASE = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def records() -> list[RebuildRecord]:
    return [RebuildRecord(at=T0, outcome="succeeded", base_digests={BASE: BAD_BASE}, result_digest=GOOD),
            RebuildRecord(at=T0 + timedelta(days=7), outcome="failed", base_digests={BASE: BAD_BASE},
                          reason="timed out after 1:30:00: tag still points to the previous build")]


def test_summary_of_a_failing_image() -> None:
    summary = rebuild_summary(managed_state("app", "r.example/app:1", [BASE], rebuilds=list(reversed(records()))))
    assert summary.failing and summary.last_good is not None and summary.last_good.result_digest == GOOD
    assert rebuild_summary(managed_state("new", "r.example/new:1", [BASE])).text() == []


def test_status_shows_the_failure_and_the_last_good_digest(tmp_path: Path) -> None:
    save_state(tmp_path, external_state(BASE, ["app"]))
    save_state(tmp_path, managed_state("app", "r.example/app:1", [BASE], rebuilds=records()))
    text = CliRunner().invoke(cli, ["status", "--state", str(tmp_path), "--at", "2026-11-09T00:00:00Z"])
    assert text.exit_code == 0, text.output
    assert "  last rebuild FAILED at 2026-11-08T00:00:00+00:00: timed out after 1:30:00" in text.output
    assert f"    last good build: {GOOD} (2026-11-01T00:00:00+00:00)" in text.output
    out = CliRunner().invoke(cli, ["status", "--state", str(tmp_path), "--json"])
    rebuild = json.loads(out.output)["images"][0]["rebuild"]
    assert rebuild["lastOutcome"] == "failed" and rebuild["lastGoodDigest"] == GOOD
    assert rebuild["failureReason"].startswith("timed out")
