"""The soak gate, against a real registry and a real git state remote."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from kubernetes import client as k8s

from analyzer.kargo.conventions import JOB_EXIT_INVALID, JOB_EXIT_REFUSED
from analyzer.registry.client import RegistryClient, RetryPolicy
from analyzer.registry.eligibility import DependentBuild, platform_relevance
from analyzer.runtime.firstseen import FirstSeenError, KubernetesFreightSource, freight_first_seen
from analyzer.runtime.gate import GateIO, GateRequest, remaining_wait, run_gate
from analyzer.runtime.gitstate import ENV_REPO, StateRemote
from analyzer.runtime.signature import SignatureKeyError, SignedLayer, judge_signatures, load_public_key
from analyzer.runtime.stateaccess import GitStateAccess
from analyzer.state.model import DigestHistory, DigestRecord, RebuildRecord
from tests.analyzer.runtime.jobhelpers import Clock
from tests.support import ROOT
from tests.support.cosign import key_pair, payload, push_signature
from tests.support.registry import Fault, FaultProxy, Image, RegistryServer, push_index
from tests.support.registry_fixtures import BASIC_PASSWORD, BASIC_USER
from tests.support.staterepo import make_state_remote, read_remote_states
from tests.support.states import external_state, managed_state

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
AMD, ARM = "linux/amd64", "linux/arm64"


# --- pure ---------------------------------------------------------------------------------------

def test_remaining_wait_resumes_instead_of_starting_over() -> None:
    first_seen = NOW - timedelta(days=5)
    assert remaining_wait(first_seen, WEEK, NOW) == timedelta(days=2)
    assert remaining_wait(first_seen, WEEK, NOW + timedelta(days=3)) == timedelta(0)


def test_platform_relevance() -> None:
    old = {AMD: "sha256:a1", ARM: "sha256:b1"}
    only_arm = {AMD: "sha256:a1", ARM: "sha256:b2"}
    dep = DependentBuild("app", (AMD,), "sha256:old", old)
    verdict = platform_relevance("sha256:new", only_arm, [dep])
    assert not verdict.relevant
    assert verdict.reason == "no relevant platform changed: only linux/arm64 changed; dependents use linux/amd64"
    assert platform_relevance("sha256:new", only_arm, [dep, DependentBuild("arm-app", (ARM,), "sha256:old", old)]
                              ).relevant
    assert platform_relevance("sha256:new", only_arm, [DependentBuild("any", (), "sha256:old", old)]).relevant
    assert platform_relevance("sha256:new", only_arm, [DependentBuild("new", (AMD,), None, None)]).relevant
    assert platform_relevance("sha256:new", {}, [DependentBuild("single", (AMD,), "sha256:old", {})]).relevant
    assert not platform_relevance("sha256:old", old, [dep]).relevant


def freight(name: str, warehouse: str, repo: str, digest: str, discovered: str) -> dict[str, Any]:
    return {"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "Freight",
            "metadata": {"name": name, "namespace": "image-factory", "creationTimestamp": discovered},
            "origin": {"kind": "Warehouse", "name": warehouse}, "discoveredAt": discovered,
            "images": [{"repoURL": repo, "tag": "3.12-slim", "digest": digest}]}


def test_freight_first_seen_picks_the_warehouse_and_digest() -> None:
    items = [freight("a", "python", "python", "sha256:1", "2026-11-01T00:00:00Z"),
             freight("b", "python", "docker.io/library/python", "sha256:2", "2026-11-03T00:00:00Z"),
             freight("c", "other", "python", "sha256:2", "2026-10-01T00:00:00Z")]
    assert freight_first_seen(items, "python", "docker.io/library/python", "sha256:2") == \
        datetime(2026, 11, 3, tzinfo=UTC)
    assert freight_first_seen(items, "python", "python", "sha256:3") is None


# --- a Kubernetes API server answering the Freight list -------------------------------------------

class FakeKubeAPI:
    """Serves `GET /apis/kargo.akuity.io/v1alpha1/namespaces/NS/freights` like the API server does."""

    def __init__(self, items: list[dict[str, Any]], status: int = 200) -> None:
        self.items, self.status, self.paths = items, status, list[str]()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                api.paths.append(self.path)
                body = json.dumps({"apiVersion": "kargo.akuity.io/v1alpha1", "kind": "FreightList",
                                   "metadata": {}, "items": api.items}).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def source(self) -> KubernetesFreightSource:
        config = k8s.Configuration()
        config.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        return KubernetesFreightSource("image-factory", k8s.ApiClient(config))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_freight_time_is_read_with_the_kubernetes_client() -> None:
    api = FakeKubeAPI([freight("a", "python", "docker.io/library/python", "sha256:1", "2026-11-01T10:00:00Z")])
    try:
        assert api.source().first_seen("python", "docker.io/library/python", "sha256:1") == \
            datetime(2026, 11, 1, 10, tzinfo=UTC)
        assert api.paths == ["/apis/kargo.akuity.io/v1alpha1/namespaces/image-factory/freights"]
    finally:
        api.close()
    forbidden = FakeKubeAPI([], status=403)
    try:
        with pytest.raises(FirstSeenError, match="HTTP 403"):
            forbidden.source().first_seen("python", "python", "sha256:1")
    finally:
        forbidden.close()


# --- the gate end to end -------------------------------------------------------------------------

class Fleet:
    """A two-platform base in the real registry, an app built on its first digest, state in git."""

    def __init__(self, registry: RegistryServer, repo: str, tmp: Path) -> None:
        self.registry = registry
        self.repository = f"{registry.host}/{repo}/base"
        self.ref = f"{self.repository}:1"
        self.amd1, self.arm1 = Image.of("amd v1", platform=AMD), Image.of("arm v1", platform=ARM)
        self.v1 = self.push(self.amd1, self.arm1)
        self.platforms_v1 = {AMD: self.amd1.digest, ARM: self.arm1.digest}
        history = DigestHistory(current=self.v1, history=[
            DigestRecord(digest=self.v1, first_seen=NOW - timedelta(days=30), last_seen=NOW,
                         platforms=self.platforms_v1)])
        app = managed_state("app", f"{registry.host}/{repo}/app:1", [self.ref], platforms=[AMD],
                            rebuilds=[RebuildRecord(at=NOW - timedelta(days=20), outcome="succeeded",
                                                    base_digests={self.ref: self.v1})])
        self.remote = make_state_remote(tmp, [external_state(self.ref, ["app"], history), app])
        self.tmp = tmp

    def push(self, *images: Image) -> str:
        repo = self.repository.split("/", 1)[1]
        return push_index(self.registry.url, repo, "1", list(images))

    def io(self, clock: Clock, source: KubernetesFreightSource | None = None) -> tuple[GateIO, list[str]]:
        lines: list[str] = []
        return GateIO(GitStateAccess(StateRemote(str(self.remote))), RegistryClient(), source, clock.now,
                      clock.sleep, lines.append), lines

    def request(self, digest: str, delay: timedelta = WEEK) -> GateRequest:
        return GateRequest("base-1", self.repository, "1", digest, delay)

    def states(self, name: str) -> dict[str, Any]:
        return read_remote_states(self.remote, self.tmp / name)


@pytest.fixture
def fleet(registry: RegistryServer, repo: str, tmp_path: Path) -> Iterator[Fleet]:
    yield Fleet(registry, repo, tmp_path)


def test_gate_waits_the_remaining_time_then_vets(fleet: Fleet) -> None:
    v2 = fleet.push(Image.of("amd v2", platform=AMD), fleet.arm1)
    api = FakeKubeAPI([freight("f2", "base-1", fleet.repository, v2, "2026-11-15T12:00:00Z")])
    clock = Clock(NOW)  # 5 days after the Freight appeared: 2 days left
    try:
        io, lines = fleet.io(clock, api.source())
        outcome = run_gate(fleet.request(v2), io)
    finally:
        api.close()
    assert outcome.passed, outcome.reason
    assert sum(clock.sleeps) == timedelta(days=2).total_seconds()  # resumed, not a fresh 7 days
    assert "Freight discovery time" in lines[0] and "remaining 48h" in lines[0]
    assert "app: linux/amd64 changed" in outcome.reason
    record = next(r for r in fleet.states("check")[fleet.ref].digests.history if r.digest == v2)
    assert record.vetted_at == NOW + timedelta(days=2)
    assert record.first_seen == datetime(2026, 11, 15, 12, tzinfo=UTC)
    assert record.platforms[AMD] != fleet.amd1.digest


def test_gate_falls_back_to_the_state_history_when_freight_is_unavailable(fleet: Fleet) -> None:
    down = FakeKubeAPI([], status=500)
    clock = Clock(NOW)
    try:
        io, lines = fleet.io(clock, down.source())
        outcome = run_gate(fleet.request(fleet.v1, timedelta(days=7)), io)
    finally:
        down.close()
    assert any("Freight time unavailable" in line for line in lines)
    assert "(state history)" in next(line for line in lines if "first seen" in line)
    assert clock.sleeps == []  # first seen 30 days ago in the history
    assert not outcome.passed and "already built on this digest" in outcome.reason


def test_gate_fails_when_only_an_unused_platform_changed(fleet: Fleet) -> None:
    v2 = fleet.push(fleet.amd1, Image.of("arm v2", platform=ARM))
    io, _ = fleet.io(Clock(NOW))
    outcome = run_gate(fleet.request(v2, timedelta(0)), io)
    assert not outcome.passed
    assert outcome.reason == ("no relevant platform changed: only linux/arm64 changed; "
                              "dependents use linux/amd64")
    assert all(r.digest != v2 for r in fleet.states("check")[fleet.ref].digests.history)  # nothing recorded


def test_gate_fails_when_the_digest_no_longer_resolves(fleet: Fleet) -> None:
    missing = "sha256:" + "0" * 64
    io, _ = fleet.io(Clock(NOW))
    outcome = run_gate(fleet.request(missing, timedelta(0)), io)
    assert not outcome.passed and outcome.reason.startswith("digest no longer resolves")
    assert "not found" in outcome.reason


def test_gate_command_exit_codes(fleet: Fleet) -> None:
    v2 = fleet.push(Image.of("amd v3", platform=AMD), fleet.arm1)
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env["PYTHONPATH"] = str(ROOT)
    args = [sys.executable, "-m", "analyzer", "gate", "--warehouse=base-1", f"--repository={fleet.repository}",
            "--tag=1", "--delay=0s", f"--state-repo={fleet.remote}"]
    passed = subprocess.run([*args, f"--digest={v2}"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stderr
    assert passed.stderr.strip().splitlines()[-1].startswith("gate: PASSED: vetted ")
    failed = subprocess.run([*args, f"--digest=sha256:{'1' * 64}"], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert failed.returncode == JOB_EXIT_REFUSED  # definitive: the podFailurePolicy fails the Job at once
    assert failed.stderr.strip().splitlines()[-1].startswith("gate: FAILED: digest no longer resolves")
    bad = subprocess.run([*args, "--digest=sha256:1"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == JOB_EXIT_INVALID and "invalid argument" in bad.stderr
    # The state-repo Secret is optional in the pod: without it the job says what is missing and stops.
    no_state = subprocess.run([a for a in args if not a.startswith("--state-repo")] + [f"--digest={v2}"], cwd=ROOT,
                              env={k: v for k, v in env.items() if k != ENV_REPO}, capture_output=True, text=True)
    assert no_state.returncode == JOB_EXIT_INVALID
    assert f"missing setting {ENV_REPO}" in no_state.stderr and "jobSecrets" in no_state.stderr


def test_gate_fails_at_once_when_the_registry_refuses_the_credentials(
        basic_registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    digest = push_index(basic_registry.url, f"{repo}/base", "1", [Image.of("private", platform=AMD)],
                        auth=(BASIC_USER, BASIC_PASSWORD))
    repository = f"{basic_registry.host}/{repo}/base"
    remote = make_state_remote(tmp_path, [external_state(f"{repository}:1")])
    clock, lines = Clock(NOW), list[str]()
    io = GateIO(GitStateAccess(StateRemote(str(remote))), RegistryClient(), None, clock.now, clock.sleep,
                lines.append)
    outcome = run_gate(GateRequest("base-1", repository, "1", digest, WEEK), io)
    assert outcome.verdict == "misconfigured" and clock.sleeps == []  # not after a week of waiting
    assert "registry credentials missing or insufficient" in outcome.reason
    assert BASIC_PASSWORD not in outcome.reason + "".join(lines)


def test_gate_rides_out_a_registry_outage_after_the_soak(counting_proxy: FaultProxy, registry: RegistryServer,
                                                        repo: str, tmp_path: Path) -> None:
    """5xx after the soak (beyond the client's own retries) is re-checked in the pod, not a dropped digest."""
    digest = push_index(registry.url, f"{repo}/base", "1", [Image.of("outage", platform=AMD)])
    repository = f"{counting_proxy.host}/{repo}/base"
    remote = make_state_remote(tmp_path, [external_state(f"{repository}:1")])
    attempts = RetryPolicy().attempts
    # the preflight and the first check after the soak both fail through every client retry
    counting_proxy.inject(Fault("status", method="HEAD", path=digest, times=2 * attempts, status=503))
    clock, lines = Clock(NOW), list[str]()
    client = RegistryClient(sleep=lambda _: None)
    io = GateIO(GitStateAccess(StateRemote(str(remote))), client, None, clock.now, clock.sleep, lines.append)
    outcome = run_gate(GateRequest("base-1", repository, "1", digest, timedelta(0)), io)
    assert outcome.passed, outcome.reason
    assert any(line.startswith("cannot check the digest yet") for line in lines)
    assert any("checking again in 5m" in line for line in lines) and clock.sleeps == [300.0]

    counting_proxy.inject(Fault("status", method="HEAD", path=digest, times=100, status=503))
    clock = Clock(NOW)
    io = GateIO(GitStateAccess(StateRemote(str(remote))), client, None, clock.now, clock.sleep, lines.append)
    request = GateRequest("base-1", repository, "1", digest, timedelta(0), retry_for=timedelta(minutes=12))
    outcome = run_gate(request, io)
    assert outcome.verdict == "retry" and "503" in outcome.reason  # exit 1: the Job may retry the pod
    assert sum(clock.sleeps) <= timedelta(minutes=12).total_seconds()


# --- coalescing: a superseded digest is skipped, the newest one cascades --------------------------

def test_gate_skips_a_digest_superseded_by_a_newer_one_that_also_clears(fleet: Fleet, tmp_path: Path) -> None:
    v2 = fleet.push(Image.of("amd v2 coalesce", platform=AMD), fleet.arm1)
    v3 = fleet.push(Image.of("amd v3 coalesce", platform=AMD), fleet.arm1)
    deleted = "sha256:" + "e" * 64  # seen behind the tag, then deleted upstream: cannot supersede
    states = read_remote_states(fleet.remote, tmp_path / "seed-read")
    states[fleet.ref].digests.history += [
        DigestRecord(digest=v2, first_seen=NOW - timedelta(days=8), last_seen=NOW - timedelta(days=6)),
        DigestRecord(digest=v3, first_seen=NOW - timedelta(days=6), last_seen=NOW - timedelta(days=5)),
        DigestRecord(digest=deleted, first_seen=NOW - timedelta(days=5), last_seen=NOW)]
    fleet.remote = make_state_remote(tmp_path / "coalesce", list(states.values()))

    io, lines = fleet.io(Clock(NOW))
    outcome = run_gate(fleet.request(v2), io)  # soaked 8 days; v3 (6 days) also clears, and changes amd64
    assert outcome.verdict == "skipped" and not outcome.passed
    assert f"superseded by {v3}" in outcome.reason
    entry = next(r for r in fleet.states("after-skip")[fleet.ref].digests.history if r.digest == v2)
    (gate,) = entry.gates
    assert (gate.outcome, gate.delay, gate.superseded_by, entry.vetted_at) == ("skipped", "168h", v3, None)

    # v3 is gated a day later: the digest after it no longer resolves, so nothing supersedes v3; it clears
    # and is the one that cascades.
    io, lines = fleet.io(Clock(NOW + timedelta(days=1)))
    outcome = run_gate(fleet.request(v3), io)
    assert outcome.passed, outcome.reason
    assert any(line.startswith("not coalesced: no newer digest that also clears") and
               "digest no longer resolves" in line for line in lines)
    after = {r.digest: r for r in fleet.states("after-pass")[fleet.ref].digests.history}
    assert [(g.outcome, g.delay) for g in after[v3].gates] == [("vetted", "168h")]
    assert after[v2].gates[0].outcome == "skipped"  # kept


def test_gate_skip_exits_with_the_definitive_code(fleet: Fleet, tmp_path: Path) -> None:
    v2 = fleet.push(Image.of("amd v2 exit", platform=AMD), fleet.arm1)
    v3 = fleet.push(Image.of("amd v3 exit", platform=AMD), fleet.arm1)
    states = read_remote_states(fleet.remote, tmp_path / "seed-read")
    base = states[fleet.ref]
    base.digests.history += [DigestRecord(digest=v2, first_seen=NOW - timedelta(days=3), last_seen=NOW),
                             DigestRecord(digest=v3, first_seen=NOW - timedelta(days=2), last_seen=NOW)]
    remote = make_state_remote(tmp_path / "exit", list(states.values()))
    env = {k: v for k, v in os.environ.items() if k != "KUBERNETES_SERVICE_HOST"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "analyzer", "gate", "--warehouse=base-1",
                           f"--repository={fleet.repository}", "--tag=1", "--delay=1d", f"--digest={v2}",
                           f"--state-repo={remote}"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == JOB_EXIT_REFUSED, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"gate: SKIPPED: skipped {fleet.ref}@{v2}: superseded by {v3}")


# --- cosign signatures ---------------------------------------------------------------------------

def test_judge_signatures_needs_the_key_and_the_digest(tmp_path: Path) -> None:
    key, public = key_pair(tmp_path, "k")
    other, _ = key_pair(tmp_path / "other", "k")
    pub = load_public_key(public.read_bytes(), "k.pub")
    body = payload("r.example/base", "sha256:aa")

    def signed(by: Any, data: bytes) -> SignedLayer:
        return SignedLayer(data, base64.b64encode(by.sign(data, ec.ECDSA(hashes.SHA256()))).decode())

    assert judge_signatures(pub, "sha256:aa", [signed(key, body)]).ok
    assert not judge_signatures(pub, "sha256:bb", [signed(key, body)]).ok  # signs another digest
    assert not judge_signatures(pub, "sha256:aa", [signed(other, body)]).ok  # another key
    assert judge_signatures(pub, "sha256:aa", []).reason == "no signature found for sha256:aa"
    with pytest.raises(SignatureKeyError, match="not a PEM public key"):
        load_public_key(b"garbage", "bad.pub")


def test_gate_verifies_a_cosign_signature_when_a_key_is_configured(fleet: Fleet, tmp_path: Path) -> None:
    repo = fleet.repository.split("/", 1)[1]
    key, public = key_pair(tmp_path / "keys", "base-1")
    signed = fleet.push(Image.of("amd signed", platform=AMD), fleet.arm1)
    push_signature(fleet.registry.url, repo, fleet.registry.host, signed, key)
    io, lines = fleet.io(Clock(NOW))
    outcome = run_gate(dataclasses.replace(fleet.request(signed, timedelta(0)), cosign_key=public), io)
    assert outcome.passed, outcome.reason
    assert "cosign signature verified" in lines

    unsigned = fleet.push(Image.of("amd unsigned", platform=AMD), fleet.arm1)
    io, _ = fleet.io(Clock(NOW))
    outcome = run_gate(dataclasses.replace(fleet.request(unsigned, timedelta(0)), cosign_key=public), io)
    assert not outcome.passed and outcome.reason == f"no signature found for {unsigned}"

    forged = fleet.push(Image.of("amd forged", platform=AMD), fleet.arm1)
    intruder, _ = key_pair(tmp_path / "intruder", "base-1")
    push_signature(fleet.registry.url, repo, fleet.registry.host, forged, intruder)
    io, _ = fleet.io(Clock(NOW))
    outcome = run_gate(dataclasses.replace(fleet.request(forged, timedelta(0)), cosign_key=public), io)
    assert not outcome.passed and outcome.reason.startswith("no valid cosign signature")


def test_gate_without_a_key_says_signatures_were_not_checked(fleet: Fleet) -> None:
    v2 = fleet.push(Image.of("amd v9", platform=AMD), fleet.arm1)
    io, lines = fleet.io(Clock(NOW))
    assert run_gate(fleet.request(v2, timedelta(0)), io).passed
    assert "signature not checked (no cosign key configured for this upstream)" in lines


def test_an_unsigned_newer_digest_cannot_supersede_a_signed_one(fleet: Fleet, tmp_path: Path) -> None:
    repo = fleet.repository.split("/", 1)[1]
    key, public = key_pair(tmp_path / "keys", "base-1")
    signed = fleet.push(Image.of("amd signed v2", platform=AMD), fleet.arm1)
    push_signature(fleet.registry.url, repo, fleet.registry.host, signed, key)
    unsigned = fleet.push(Image.of("amd unsigned v3", platform=AMD), fleet.arm1)  # would be refused later
    states = read_remote_states(fleet.remote, tmp_path / "seed-read")
    states[fleet.ref].digests.history += [
        DigestRecord(digest=signed, first_seen=NOW - timedelta(days=8), last_seen=NOW),
        DigestRecord(digest=unsigned, first_seen=NOW - timedelta(days=6), last_seen=NOW)]
    fleet.remote = make_state_remote(tmp_path / "signed", list(states.values()))
    io, lines = fleet.io(Clock(NOW))
    outcome = run_gate(dataclasses.replace(fleet.request(signed), cosign_key=public), io)
    assert outcome.passed, outcome.reason
    assert any(line.startswith("not coalesced: no newer digest that also clears") and "no signature found" in line
               for line in lines)
