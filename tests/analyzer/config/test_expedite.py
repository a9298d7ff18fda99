"""`expedite`: a minimal, comment-preserving edit of images.yaml that the config model accepts."""

from __future__ import annotations

import difflib
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.config.loader import load_fleet
from analyzer.kargo.conventions import ANNOTATION_EXPEDITE_EXPIRES, ANNOTATION_EXPEDITE_REASON
from analyzer.state.model import ImageState
from analyzer.state.store import save_state
from tests.support import ROOT


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "images.yaml", tmp_path / "images.yaml")
    shutil.copytree(ROOT / "images.d", tmp_path / "images.d")
    save_state(tmp_path / "state", ImageState(ref="docker.io/library/python:3.12-slim", kind="external"))
    return tmp_path


def run(fleet_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["expedite", *args, "--config", str(fleet_dir / "images.yaml"),
                                      "--state", str(fleet_dir / "state")])
    return result.exit_code, result.output


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_enrolled_base_gets_the_override_and_nothing_else_changes(fleet_dir: Path) -> None:
    before = (fleet_dir / "images.yaml").read_text()
    code, out = run(fleet_dir, "nginx", "--reason", "CVE-2026-1234 openssl", "--expires", "2099-12-31")
    assert code == 0, out
    after = (fleet_dir / "images.yaml").read_text()
    assert changed_lines(before, after) == ["+    expedite:", "+      reason: CVE-2026-1234 openssl",
                                            "+      expires: 2099-12-31"]
    assert "# Third-party images we run as they are" in after and "allowTags: '^7\\.\\d+\\.\\d+$'" in after
    entry = load_fleet(fleet_dir / "images.yaml").by_name()["nginx"].entry
    assert entry.expedite is not None and entry.expedite.expires == date(2099, 12, 31)
    # A second override replaces the first in place.
    code, _ = run(fleet_dir, "docker.io/library/nginx:1.27-alpine", "--reason", "CVE-2026-9999",
                  "--expires", "2099-01-01")
    assert code == 0
    assert changed_lines(before, (fleet_dir / "images.yaml").read_text()) == [
        "+    expedite:", "+      reason: CVE-2026-9999", "+      expires: 2099-01-01"]


def test_discovered_base_gets_a_minimal_external_entry(fleet_dir: Path) -> None:
    code, out = run(fleet_dir, "python:3.12-slim", "--reason", "CVE-2026-1 glibc")
    assert code == 0 and "new external entry" in out
    image = load_fleet(fleet_dir / "images.yaml").by_name()["python-3-12-slim"]
    assert image.ref.tracked == "docker.io/library/python:3.12-slim" and not image.managed
    assert image.entry.expedite is not None and image.entry.expedite.reason == "CVE-2026-1 glibc"


@pytest.mark.parametrize(("base", "extra", "message"), [
    ("payments-api", [], "images.d/payments.yaml:3: expedite: payments-api is a managed image"),
    ("docker.io/library/ruby:3", [], "not enrolled and was not discovered"),
    ("nginx", ["--expires", "2020-01-01"], "is in the past"),
])
def test_refusals_write_nothing(fleet_dir: Path, base: str, extra: list[str], message: str) -> None:
    before = {p: p.read_text() for p in fleet_dir.rglob("*.yaml")}
    code, out = run(fleet_dir, base, "--reason", "CVE-2026-1", *extra)
    assert code == 2 and message in out
    assert {p: p.read_text() for p in fleet_dir.rglob("*.yaml")} == before


def _cli(fleet_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(fleet_dir / "images.yaml"),
                                      "--state", str(fleet_dir / "state")])
    return result.exit_code, result.output


def test_expedite_renders_the_bypass_and_the_policy_accepts_it_until_expiry(tmp_path: Path) -> None:
    """expedite → render: rebuild Stages on the base take freight direct, annotated; check accepts, then
    rejects the same override once it has expired."""
    fleet_dir = tmp_path / "fleet"
    fleet_dir.mkdir()
    shutil.copy(ROOT / "images.yaml", fleet_dir / "images.yaml")
    shutil.copytree(ROOT / "images.d", fleet_dir / "images.d")
    shutil.copytree(ROOT / "state", fleet_dir / "state")
    before_code, before = _cli(fleet_dir, "check")
    assert before_code == 0, before
    until = datetime.now(UTC).date() + timedelta(days=10)
    code, out = run(fleet_dir, "python:3.12-slim", "--reason", "CVE-2026-1234 openssl", "--expires",
                    until.isoformat())
    assert code == 0, out
    code, out = _cli(fleet_dir, "render", "--out", str(tmp_path / "rendered"))
    assert code == 0, out
    stages = [yaml.safe_load(p.read_text()) for p in sorted((tmp_path / "rendered").glob("*.yaml"))]
    expedited = [s for s in stages if s["kind"] == "Stage"
                 and s["metadata"].get("annotations", {}).get(ANNOTATION_EXPEDITE_REASON) == "CVE-2026-1234 openssl"]
    assert expedited, "no rebuild Stage carries the override"
    for stage in expedited:
        assert stage["metadata"]["annotations"][ANNOTATION_EXPEDITE_EXPIRES] == until.isoformat()
        assert any(r["sources"].get("direct") is True for r in stage["spec"]["requestedFreight"])
    code, out = _cli(fleet_dir, "check")
    assert code == 0, out  # accepted until the expiry
    images = fleet_dir / "images.yaml"
    expired = datetime.now(UTC).date() - timedelta(days=1)
    images.write_text(images.read_text().replace(f"expires: {until.isoformat()}", f"expires: {expired.isoformat()}"))
    code, out = _cli(fleet_dir, "check")
    assert code == 1 and f"expired on {expired.isoformat()}" in out
