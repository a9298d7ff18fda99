"""verify-rebuild against a real registry and a real git state remote."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.kargo.conventions import JOB_EXIT_INVALID, JOB_EXIT_REFUSED
from analyzer.registry.client import RegistryClient
from analyzer.runtime.gitstate import StateRemote
from analyzer.runtime.stateaccess import GitStateAccess
from analyzer.runtime.verify import (
    BASE_DIGEST_KEY,
    BaseView,
    ImageView,
    VerifyIO,
    VerifyRequest,
    VerifySetupError,
    is_layer_prefix,
    judge_build,
    parse_base_digests,
    run_verify,
)
from analyzer.state.model import ImageState, RebuildRecord
from tests.analyzer.runtime.jobhelpers import Clock
from tests.support import ROOT
from tests.support.registry import Image, RegistryServer, push_image
from tests.support.registry_fixtures import BASIC_PASSWORD, BASIC_USER
from tests.support.staterepo import make_state_remote, read_remote_states
from tests.support.states import external_state, managed_state

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AMD = "linux/amd64"


def test_parse_base_digests() -> None:
    d = "sha256:" + "a" * 64
    assert parse_base_digests(f"python:3.12-slim@{d}, ghcr.io/o/b:1@{d}") == {
        "docker.io/library/python:3.12-slim": d, "ghcr.io/o/b:1": d}
    with pytest.raises(ValueError, match="carries no digest"):
        parse_base_digests("python:3.12-slim")
    with pytest.raises(ValueError, match="no base digests"):
        parse_base_digests(" , ")


def test_layer_prefix_and_annotation() -> None:
    assert is_layer_prefix(["a", "b"], ["a", "b", "c"]) and not is_layer_prefix(["a", "x"], ["a", "b", "c"])
    assert not is_layer_prefix([], ["a"])
    base = BaseView("b:1", "sha256:idx", {AMD: "sha256:amd"}, {AMD: ["l1"]})
    annotated = ImageView("sha256:img", AMD, ["other"], {BASE_DIGEST_KEY: "sha256:amd"})
    assert judge_build([annotated], [base]).ok
    wrong = ImageView("sha256:img", AMD, ["l0", "x"], {})
    verdict = judge_build([wrong], [base])
    assert not verdict.ok and "is not built on b:1@sha256:idx" in verdict.reason


class Setup:
    """Base v1 and v2 in the registry; app:1 built on v1 and recorded; state in a bare git remote."""

    def __init__(self, registry: RegistryServer, repo: str, tmp: Path) -> None:
        self.registry, self.repo, self.tmp = registry, repo, tmp
        self.base_ref = f"{registry.host}/{repo}/base:1"
        self.app_ref = f"{registry.host}/{repo}/app:1"
        self.base1, self.base2 = Image.of("base v1"), Image.of("base v2")
        self.v1 = push_image(registry.url, f"{repo}/base", None, self.base1)
        self.v2 = push_image(registry.url, f"{repo}/base", "1", self.base2)
        self.app1 = self.push_app(self.base1, "app build 1")
        app = managed_state("app", self.app_ref, [self.base_ref], platforms=[AMD], rebuilds=[
            RebuildRecord(at=NOW - timedelta(days=9), outcome="succeeded", base_digests={self.base_ref: self.v1},
                          result_digest=self.app1)])
        self.remote = make_state_remote(tmp, [external_state(self.base_ref, ["app"]), app])

    def push_app(self, base: Image, content: str) -> str:
        return push_image(self.registry.url, f"{self.repo}/app", "1", base.built_on(files={"app": content}))

    def run(self, clock: Clock, timeout: timedelta = timedelta(minutes=10)) -> tuple[bool, str, list[str]]:
        lines: list[str] = []
        io = VerifyIO(GitStateAccess(StateRemote(str(self.remote))), RegistryClient(), clock.now, clock.sleep,
                      lines.append)
        verdict = run_verify(VerifyRequest("app", self.app_ref, {self.base_ref: self.v2}, timeout,
                                           timedelta(seconds=30)), io)
        return verdict.ok, verdict.reason, lines

    def app_state(self, name: str) -> ImageState:
        return read_remote_states(self.remote, self.tmp / name)[self.app_ref]


@pytest.fixture
def setup(registry: RegistryServer, repo: str, tmp_path: Path) -> Setup:
    return Setup(registry, repo, tmp_path)


def test_succeeds_for_an_image_built_on_the_vetted_base(setup: Setup) -> None:
    rebuilt = setup.push_app(setup.base2, "app build 2")
    ok, reason, _ = setup.run(Clock(NOW))
    assert ok, reason
    assert f"built on {setup.base_ref} by layers" in reason
    last = setup.app_state("check").rebuilds[-1]
    assert (last.outcome, last.result_digest, last.base_digests) == ("succeeded", rebuilt, {setup.base_ref: setup.v2})


def test_waits_for_the_tag_to_move_then_succeeds(setup: Setup) -> None:
    clock = Clock(NOW)
    original_sleep = clock.sleep
    pushed: list[str] = []

    def sleep_then_build(seconds: float) -> None:  # the build lands while the job waits
        original_sleep(seconds)
        if len(clock.sleeps) == 2:
            pushed.append(setup.push_app(setup.base2, "late build"))

    clock.sleep = sleep_then_build  # type: ignore[method-assign]
    ok, reason, lines = setup.run(clock)
    assert ok, reason
    assert len(clock.sleeps) == 2 and "still points to the previous build" in lines[0]
    assert setup.app_state("check").rebuilds[-1].result_digest == pushed[0]


def test_fails_for_an_image_built_on_the_wrong_base(setup: Setup) -> None:
    wrong = setup.push_app(setup.base1, "rebuilt on the old base")
    ok, reason, _ = setup.run(Clock(NOW), timeout=timedelta(minutes=2))
    assert not ok
    assert reason.startswith(f"timed out after 0:02:00: {wrong[:19]} on linux/amd64 is not built on "
                             f"{setup.base_ref}@{setup.v2[:19]}")
    last = setup.app_state("check").rebuilds[-1]
    assert last.outcome == "failed" and last.result_digest is None and "is not built on" in (last.reason or "")


def test_times_out_cleanly_when_the_tag_never_moves(setup: Setup) -> None:
    clock = Clock(NOW)
    ok, reason, _ = setup.run(clock, timeout=timedelta(minutes=5))
    assert not ok and "still points to the previous build" in reason
    assert sum(clock.sleeps) <= timedelta(minutes=5).total_seconds()
    states = setup.app_state("check")
    assert [r.outcome for r in states.rebuilds] == ["succeeded", "failed"]  # history kept, failure appended


def test_command_exit_codes(setup: Setup) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "analyzer", "verify-rebuild", "--image=app", f"--ref={setup.app_ref}",
            f"--base-digests={setup.base_ref}@{setup.v2}", f"--state-repo={setup.remote}"]
    timeout = subprocess.run([*args, "--timeout=1s", "--interval=1s"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    assert timeout.returncode == JOB_EXIT_REFUSED  # definitive: the podFailurePolicy does not retry it
    assert timeout.stderr.strip().splitlines()[-1].startswith("verify-rebuild: FAILED: timed out")
    setup.push_app(setup.base2, "good build")
    passed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr
    assert passed.stderr.strip().splitlines()[-1].startswith("verify-rebuild: PASSED: built on")
    bad = subprocess.run([*args[:-2], "--base-digests=python", f"--state-repo={setup.remote}"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert bad.returncode == JOB_EXIT_INVALID and "carries no digest" in bad.stderr


def test_a_rerun_for_an_already_verified_build_passes_without_a_new_record(setup: Setup) -> None:
    setup.push_app(setup.base2, "app build 2")
    assert setup.run(Clock(NOW))[0]
    count = len(setup.app_state("first").rebuilds)
    ok, reason, _ = setup.run(Clock(NOW + timedelta(hours=1)))
    assert ok and reason.startswith("already verified")
    assert len(setup.app_state("second").rebuilds) == count


def test_a_retried_verify_records_one_failure_per_base_set_and_a_late_success(setup: Setup) -> None:
    """A pod retried (or restarted by an eviction) for the same vetted bases adds no second failure."""
    assert not setup.run(Clock(NOW), timeout=timedelta(minutes=2))[0]
    ok, reason, _ = setup.run(Clock(NOW + timedelta(minutes=5)), timeout=timedelta(minutes=2))
    assert not ok and reason.endswith("already recorded on state")
    assert [r.outcome for r in setup.app_state("retried").rebuilds] == ["succeeded", "failed"]
    rebuilt = setup.push_app(setup.base2, "late build")  # the build lands after all: recorded once
    assert setup.run(Clock(NOW + timedelta(hours=1)))[0]
    rebuilds = setup.app_state("late").rebuilds
    assert [(r.outcome, r.result_digest) for r in rebuilds[1:]] == [("failed", None), ("succeeded", rebuilt)]


def test_refused_credentials_fail_at_once_without_a_rebuild_record(
        basic_registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    auth = (BASIC_USER, BASIC_PASSWORD)
    base = Image.of("private base")
    v1 = push_image(basic_registry.url, f"{repo}/base", "1", base, auth=auth)
    push_image(basic_registry.url, f"{repo}/app", "1", base.built_on(files={"app": "x"}), auth=auth)
    base_ref, app_ref = f"{basic_registry.host}/{repo}/base:1", f"{basic_registry.host}/{repo}/app:1"
    remote = make_state_remote(tmp_path, [external_state(base_ref, ["app"]),
                                          managed_state("app", app_ref, [base_ref], platforms=[AMD])])
    clock = Clock(NOW)
    io = VerifyIO(GitStateAccess(StateRemote(str(remote))), RegistryClient(), clock.now, clock.sleep, lambda _: None)
    with pytest.raises(VerifySetupError, match="registry credentials missing or insufficient") as caught:
        run_verify(VerifyRequest("app", app_ref, {base_ref: v1}, timedelta(minutes=90), timedelta(seconds=30)), io)
    assert clock.sleeps == [] and BASIC_PASSWORD not in str(caught.value)
    assert read_remote_states(remote, tmp_path / "check")[app_ref].rebuilds == []
