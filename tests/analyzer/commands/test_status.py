"""`image-factory status`: eligibility under the delay, from state files built with the models."""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.registry.history import Observation, record_observation
from analyzer.runtime.records import SkippedRecord
from analyzer.runtime.stateaccess import LocalStateAccess
from analyzer.state.model import DigestHistory, RebuildRecord
from analyzer.state.store import save_state
from tests.support import ROOT
from tests.support.states import external_state, managed_state

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BASE = "docker.io/library/python:3.12-slim"
APP = "registry.example.com/team/app:latest"
D0, D1, D2, D3 = ("sha256:" + c * 64 for c in "0123")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """python moved 3 times within one week (days 10, 11, 12); app was last built on D0, delay 7 days."""
    history = DigestHistory()
    for day, digest in ((0, D0), (10, D1), (11, D2), (12, D3)):
        for hour in range(0, 24, 6):   # seen again on later refreshes
            at = T0 + timedelta(days=day, hours=hour)
            history = record_observation(history, Observation(digest), at, 50)
    folder = tmp_path / "state"
    save_state(folder, external_state(BASE, ["app"], history))
    save_state(folder, managed_state("app", APP, [BASE], delay="168h", rebuilds=[
        RebuildRecord(at=T0 + timedelta(days=1), outcome="succeeded", base_digests={BASE: D0}),
        RebuildRecord(at=T0 + timedelta(days=2), outcome="failed", base_digests={BASE: D1}),
    ]))
    save_state(folder, managed_state("fresh", "registry.example.com/team/fresh:1", [BASE], delay="36h"))
    return folder


def _status(state_dir: Path, at: datetime, *extra: str) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(cli, ["status", "--state", str(state_dir), "--at", at.isoformat(), "--json",
                                      *extra])
    assert result.exit_code == 0, result.output
    return {image["name"]: image["bases"][0] for image in json.loads(result.output)["images"]}


@pytest.mark.parametrize(("day", "eligible", "verdict"), [
    (13, D0, "soaking"),        # D1..D3 all younger than 7 days: stay on D0, no starving either way
    (17.5, D1, "rebuild-due"),  # D1 (first seen day 10) has aged; D2, D3 have not
    (18.5, D2, "rebuild-due"),
    (19.5, D3, "rebuild-due"),  # newest digest older than the delay = the current one
])
def test_tag_moved_three_times_within_delay(state_dir: Path, day: float, eligible: str, verdict: str) -> None:
    base = _status(state_dir, T0 + timedelta(days=day))["app"]
    assert base["ref"] == BASE
    assert base["builtOn"] == D0                    # the failed rebuild onto D1 does not count
    assert base["newest"] == D3
    assert base["eligible"] == eligible
    assert base["verdict"] == verdict


def test_newest_age_and_eligible_at(state_dir: Path) -> None:
    base = _status(state_dir, T0 + timedelta(days=13))["app"]
    assert base["newestFirstSeen"] == (T0 + timedelta(days=12)).isoformat()
    assert base["newestAge"] == "24h"
    assert base["newestEligibleAt"] == (T0 + timedelta(days=19)).isoformat()


def test_image_without_recorded_build_shows_eligible_under_its_own_delay(state_dir: Path) -> None:
    base = _status(state_dir, T0 + timedelta(days=13, hours=1))["fresh"]
    assert base["verdict"] == "no-build-recorded"
    assert base["eligible"] == D2                   # delay 36h: D2 (day 11) aged, D3 (day 12) not yet


def test_text_output(state_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--state", str(state_dir),
                                      "--at", (T0 + timedelta(days=17, hours=12)).isoformat()])
    assert result.exit_code == 0
    assert "app (registry.example.com/team/app:latest), delay 168h" in result.output
    assert f"  {BASE}: rebuild-due" in result.output
    assert f"    eligible: {D1}" in result.output
    assert f"    newest:   {D3} (first seen 132h ago)" in result.output


def test_config_lists_enrolled_images_without_state(state_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "images.yaml"
    config.write_text(
        "images:\n"
        "  - name: app\n    image: registry.example.com/team/app:latest\n"
        "    source: {repo: https://git.example.com/team/app.git}\n"
        "    trigger: {webhook: {url: https://ci.example.com/build}}\n"
        "  - name: newcomer\n    image: registry.example.com/team/newcomer:1\n"
        "    source: {repo: https://git.example.com/team/new.git}\n"
        "    trigger: {webhook: {url: https://ci.example.com/build}}\n")
    result = CliRunner().invoke(cli, ["status", "--config", str(config), "--state", str(state_dir), "--json",
                                      "--at", T0.isoformat()])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [i["name"] for i in report["images"]] == ["app"]
    assert report["notAnalyzed"] == ["registry.example.com/team/newcomer:1"]


def test_invalid_at_is_exit_2(state_dir: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--state", str(state_dir), "--at", "next tuesday"])
    assert result.exit_code == 2
    assert "invalid time 'next tuesday'" in result.output


def test_a_digest_the_gate_skipped_is_not_shown_as_the_rebuild_target(state_dir: Path) -> None:
    """The 7-day gate coalesced D1 and D2 into D3 (recorded by the gate job): status agrees with it."""
    records = [SkippedRecord(BASE, digest, T0 + timedelta(days=day), "168h", D3, "superseded by D3")
               for digest, day in ((D1, 17), (D2, 18))]
    LocalStateAccess(state_dir).record(records)
    held = _status(state_dir, T0 + timedelta(days=18, hours=12))["app"]
    assert (held["eligible"], held["verdict"]) == (D0, "soaking")  # not D1 or D2: they will never cascade
    assert _status(state_dir, T0 + timedelta(days=19, hours=12))["app"]["eligible"] == D3
    fresh = _status(state_dir, T0 + timedelta(days=18, hours=12))["fresh"]  # its own 36h gate skipped nothing
    assert fresh["eligible"] == D3


def test_image_without_a_tracked_base_says_why() -> None:
    """web-docs (the example fleet's committed state): its only FROM is `${DOCS_BASE}` with no value."""
    root = ROOT
    result = CliRunner().invoke(cli, ["status", "--state", str(root / "state"), "--at", T0.isoformat()])
    assert result.exit_code == 0
    block = result.output.split("web-docs (registry.example.com/web/docs:main), delay 168h\n", 1)[1]
    assert block.startswith("  verdict: unknown: no tracked base (unresolved or pinned by digest)\n"
                            "  unresolved FROM ${DOCS_BASE} (docs/Dockerfile:3): ${DOCS_BASE} expands to blank: "
                            "ARG DOCS_BASE has no default and no build arg")
    data = json.loads(CliRunner().invoke(cli, ["status", "--state", str(root / "state"), "--json"]).output)
    docs = next(i for i in data["images"] if i["name"] == "web-docs")
    assert docs["bases"] == [] and docs["unresolved"][0]["line"] == 3


def test_status_and_plan_give_one_verdict(tmp_path: Path) -> None:
    """The example fleet with the demo history: every image's status verdict is the plan's."""
    root = ROOT
    state = tmp_path / "state"
    shutil.copytree(root / "state", state)
    subprocess.run([sys.executable, str(root / "examples" / "demo_history.py"), str(state)], check=True,
                   capture_output=True, cwd=root)
    at = "2026-11-20T09:00:00Z"
    status = json.loads(CliRunner().invoke(cli, ["status", "--state", str(state), "--at", at, "--json"]).output)
    planned = json.loads(CliRunner().invoke(cli, ["plan", "--state", str(state), "--at", at, "--json"]).output)
    verdicts = {i["name"]: i["verdict"]["status"] for i in status["images"]}
    assert verdicts == {i["name"]: i["status"] for i in planned["images"]}
    assert set(verdicts.values()) >= {"eligible", "held", "failed", "unknown"}
    worker = next(i for i in status["images"] if i["name"] == "payments-worker")
    assert {b["ref"]: b["verdict"] for b in worker["bases"]}["registry.example.com/platform/base-python:3.12"] \
        == "managed"
