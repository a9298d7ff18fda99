"""Verification end to end: AnalysisRuns built as Kargo builds them from the RENDERED `gate` and
`verify-rebuild` templates (read back from the real API server), run by the real Argo Rollouts controller,
whose Jobs the job runner runs as `image-factory gate|verify-rebuild` against the real registry (Basic auth,
credentials from the Secret the template names) and a real git state remote."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from analyzer.state.model import DigestHistory, DigestRecord, RebuildRecord
from tests.e2e.conftest import NAMESPACE, Applied
from tests.support.controlplane import ControlPlane
from tests.support.jobrunner import JobRun, JobRunner
from tests.support.kargo_eval import Freight, evaluate
from tests.support.kargo_verification import KARGO, ROLLOUTS, analysis_run, create_freight
from tests.support.registry import Image, RegistryServer, push_image, push_index
from tests.support.registry_fixtures import BASIC_PASSWORD, BASIC_USER
from tests.support.staterepo import make_state_remote, read_remote_states
from tests.support.states import external_state, managed_state

AMD, ARM = "linux/amd64", "linux/arm64"
SOAK_STAGE = "soak-python-3-12-slim-168h"
REBUILD_STAGE = "rebuild-payments-api"
FINAL = {"Successful", "Failed", "Error", "Inconclusive"}


def _secret(core: k8s.CoreV1Api, name: str, data: dict[str, str]) -> None:
    body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
    try:
        core.replace_namespaced_secret(name, NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespaced_secret(NAMESPACE, body)


@pytest.fixture
def job_secrets(kube: k8s.ApiClient, basic_registry: RegistryServer) -> Iterator[None]:
    """The two Secrets the templates' `envFrom` names (registry credentials here; the state repo per test)."""
    core = k8s.CoreV1Api(kube)
    auth = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    _secret(core, "image-factory-registry",
            {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {basic_registry.host: {"auth": auth}}})})
    yield
    for name in ("image-factory-registry", "image-factory-state-repo"):
        try:
            core.delete_namespaced_secret(name, NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise


def _state_repo(kube: k8s.ApiClient, remote: Path) -> None:
    _secret(k8s.CoreV1Api(kube), "image-factory-state-repo", {"IMAGE_FACTORY_STATE_REPO": str(remote)})


def _stage(kube: k8s.ApiClient, name: str) -> dict[str, Any]:
    stage: dict[str, Any] = k8s.CustomObjectsApi(kube).get_namespaced_custom_object(*KARGO, NAMESPACE, "stages",
                                                                                     name)
    return stage


def _run_analysis(plane: ControlPlane, kube: k8s.ApiClient, runner: JobRunner, run: dict[str, Any],
                  timeout: float = 120) -> tuple[dict[str, Any], dict[str, Any], JobRun]:
    """Create the AnalysisRun; wait for the Rollouts controller to finish it. Returns (run, its Job, job run)."""
    created = k8s.CustomObjectsApi(kube).create_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns", run)
    return _run_analysis_named(plane, kube, runner, created, timeout)


def _run_analysis_named(plane: ControlPlane, kube: k8s.ApiClient, runner: JobRunner, created: dict[str, Any],
                        timeout: float = 120) -> tuple[dict[str, Any], dict[str, Any], JobRun]:
    """Wait for the Rollouts controller to finish the created AnalysisRun."""
    objects = k8s.CustomObjectsApi(kube)
    name = created["metadata"]["name"]
    deadline = time.monotonic() + timeout
    current = created
    while (current.get("status") or {}).get("phase") not in FINAL:
        plane.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"AnalysisRun {name} not finished in {timeout}s: {current.get('status')}\n"
                        f"runner: {runner.errors}\n{plane.log_tails()}")
        time.sleep(0.2)
        current = objects.get_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns", name)
    jobs = k8s.BatchV1Api(kube).list_namespaced_job(NAMESPACE, label_selector=f"analysisrun.argoproj.io/uid="
                                                    f"{created['metadata']['uid']}")
    assert len(jobs.items) == 1, [j.metadata.name for j in jobs.items]
    job = kube.sanitize_for_serialization(jobs.items[0])
    return current, job, runner.wait_for(job["metadata"]["name"], 30)


def _args(run: dict[str, Any]) -> dict[str, str]:
    return {a["name"]: a["value"] for a in run["spec"]["args"]}


def _substituted(applied: Applied, template: str, args: dict[str, str]) -> list[str]:
    """The rendered template's container args with `{{args.NAME}}` replaced: what Rollouts must produce."""
    rendered = next(m for m in applied.manifests if m["kind"] == "AnalysisTemplate"
                    and m["metadata"]["name"] == template)
    container = rendered["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    out = []
    for arg in container["args"]:
        for name, value in args.items():
            arg = arg.replace("{{args." + name + "}}", value)
        assert "{{" not in arg, arg
        out.append(arg)
    return out


def _explain(job_run: JobRun) -> str:
    return "\n".join(f"--- attempt {i} rc={a.returncode} {a.argv}\n{a.output[-2000:]}"
                     for i, a in enumerate(job_run.attempts)) + f"\nproblem: {job_run.problem}"


class Base:
    """A two-platform base in the registry (v1), an app built on v1 (amd64 only), state in a git remote."""

    def __init__(self, registry: RegistryServer, repo: str, tmp: Path) -> None:
        self.registry, self.tmp = registry, tmp
        self.repository = f"{registry.host}/{repo}/python"
        self.ref = f"{self.repository}:3.12-slim"
        self.amd1, self.arm1 = Image.of("amd v1", platform=AMD), Image.of("arm v1", platform=ARM)
        self.v1 = self.push(self.amd1, self.arm1)
        now = datetime.now(UTC)
        history = DigestHistory(current=self.v1, history=[DigestRecord(
            digest=self.v1, first_seen=now - timedelta(days=30), last_seen=now,
            platforms={AMD: self.amd1.digest, ARM: self.arm1.digest})])
        app = managed_state("app", f"{registry.host}/{repo}/app:1", [self.ref], platforms=[AMD],
                            rebuilds=[RebuildRecord(at=now - timedelta(days=20), outcome="succeeded",
                                                    base_digests={self.ref: self.v1})])
        self.remote = make_state_remote(tmp, [external_state(self.ref, ["app"], history), app])

    def push(self, *images: Image) -> str:
        auth = (BASIC_USER, BASIC_PASSWORD)
        return push_index(self.registry.url, self.repository.split("/", 1)[1], "3.12-slim", list(images),
                          auth=auth)

    def gate_args(self, stage: dict[str, Any], warehouse: dict[str, Any], digest: str) -> dict[str, str]:
        """The Stage's verification args evaluated by Kargo's own template engine (kargo-eval) for a Freight
        of this digest."""
        upstream = warehouse["spec"]["subscriptions"][0]["image"]["repoURL"]
        freight = [Freight(warehouse["metadata"]["name"], {upstream: ("3.12-slim", digest)})]
        evaluated = evaluate([stage, warehouse], freight)[stage["metadata"]["name"]]
        assert evaluated.verification_error == "", evaluated.verification_error
        args = evaluated.verification_args
        assert args == {"warehouse": "python-3-12-slim", "repository": upstream, "tag": "3.12-slim",
                        "digest": digest, "delay": "168h"}
        # The Warehouse watches docker.io; the test base lives in the local registry.
        return {**args, "repository": self.repository}


@pytest.fixture
def base(basic_registry: RegistryServer, repo: str, tmp_path: Path) -> Base:
    return Base(basic_registry, repo, tmp_path)


def _gate_run(kube: k8s.ApiClient, base: Base, digest: str, left: timedelta) -> dict[str, Any]:
    """The gate's AnalysisRun for a Freight discovered so long ago that `left` of the 168h soak remains."""
    stage = _stage(kube, SOAK_STAGE)
    discovered = datetime.now(UTC) - timedelta(hours=168) + left
    freight = create_freight(kube, NAMESPACE, "python-3-12-slim",
                             [{"repoURL": base.repository, "tag": "3.12-slim", "digest": digest}], discovered)
    warehouse = k8s.CustomObjectsApi(kube).get_namespaced_custom_object(*KARGO, NAMESPACE, "warehouses",
                                                                        "python-3-12-slim")
    return analysis_run(kube, stage, freight, base.gate_args(stage, warehouse, digest))


def _new_amd_digest(kube: k8s.ApiClient, base: Base, label: str) -> str:
    """The state repository wired for the gate, and a new digest of the base whose amd64 image changed."""
    _state_repo(kube, base.remote)
    return base.push(Image.of(label, platform=AMD), base.arm1)


def test_gate_passes_a_new_relevant_digest_after_the_soak(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    v2 = _new_amd_digest(kube, base, "amd v2")
    started = time.monotonic()
    run, job, job_run = _run_analysis(control_plane, kube, job_runner, _gate_run(kube, base, v2, timedelta(seconds=5)))
    assert run["status"]["phase"] == "Successful", (run["status"], _explain(job_run))
    assert time.monotonic() - started >= 3  # the rest of the soak was waited out
    # In-cluster, as the rendered ServiceAccount: the rendered Role lets it list Freight (real RBAC).
    output = job_run.attempts[0].output
    assert "(Freight discovery time); delay 168h" in output, output
    # The Job is the rendered template with Rollouts' substitutions; the runner ran exactly its container.
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == _substituted(applied_fleet, "gate", _args(run))
    assert container["args"][:6] == ["gate", "--warehouse=python-3-12-slim", f"--repository={base.repository}",
                                     "--tag=3.12-slim", f"--digest={v2}", "--delay=168h"]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "image-factory-jobs"
    assert job["spec"]["template"]["metadata"]["labels"]["image-factory.dev/role"] == "gate"
    assert len(job_run.attempts) == 1 and job_run.attempts[0].argv[1:] == container["args"]
    assert {"DOCKER_AUTH_CONFIG", "IMAGE_FACTORY_STATE_REPO"} <= set(job_run.attempts[0].env_names)
    assert "gate: PASSED: vetted" in job_run.attempts[0].output
    conditions = {c["type"]: c for c in job["status"]["conditions"]}
    assert conditions["Complete"]["status"] == "True" and job["status"]["succeeded"] == 1
    assert run["status"]["metricResults"][0]["measurements"][0]["phase"] == "Successful"
    # The gate recorded the vetting on the state branch.
    record = next(r for r in read_remote_states(base.remote, base.tmp / "after")[base.ref].digests.history
                  if r.digest == v2)
    assert record.vetted_at is not None


def test_gate_fails_a_digest_the_registry_does_not_have(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    _state_repo(kube, base.remote)
    missing = "sha256:" + "0" * 64
    run, job, job_run = _run_analysis(control_plane, kube, job_runner, _gate_run(kube, base, missing, timedelta(0)))
    assert run["status"]["phase"] == "Failed", (run["status"], _explain(job_run))
    # A verdict is final: the template's podFailurePolicy fails the Job on the gate's verdict exit code
    # (without one, backoffLimit 2 would re-run the same verdict twice: 3 runs for one verdict).
    policy = job["spec"].get("podFailurePolicy")
    runs = 1 if policy else job["spec"]["backoffLimit"] + 1
    assert len(job_run.attempts) == runs, _explain(job_run)
    assert all("gate: FAILED: digest no longer resolves" in a.output for a in job_run.attempts)
    conditions = {c["type"]: c for c in job["status"]["conditions"]}
    assert conditions["Failed"]["reason"] == ("PodFailurePolicy" if policy else "BackoffLimitExceeded")
    assert job["status"]["failed"] == runs
    assert all(r.digest != missing for r in read_remote_states(base.remote, base.tmp / "after")[base.ref]
               .digests.history)


def test_a_gate_pod_evicted_mid_wait_resumes_the_soak(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    """A week-long soak survives evictions: the template's podFailurePolicy ignores DisruptionTarget (the
    eviction does not count against backoffLimit) and the new pod waits only what is left of the soak."""
    v2 = _new_amd_digest(kube, base, "amd v2 evicted")
    objects = k8s.CustomObjectsApi(kube)
    created = objects.create_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns",
                                                      _gate_run(kube, base, v2, timedelta(seconds=12)))
    uid = created["metadata"]["uid"]
    deadline = time.monotonic() + 60
    while True:  # the first pod is in its wait
        control_plane.check_alive()
        assert time.monotonic() < deadline, runner_state(job_runner)
        jobs = k8s.BatchV1Api(kube).list_namespaced_job(NAMESPACE, label_selector=f"analysisrun.argoproj.io/uid={uid}")
        job_name = jobs.items[0].metadata.name if jobs.items else None
        job_run = job_runner.runs.get(job_name) if job_name else None
        if job_run and job_run.attempts and "waiting" in job_run.attempts[0].output:
            break
        time.sleep(0.2)
    time.sleep(2)  # into the wait: the second pod must have less left (waits are printed in whole seconds)
    job_runner.evict(job_name)
    run, job, job_run = _run_analysis_named(control_plane, kube, job_runner, created)
    assert run["status"]["phase"] == "Successful", (run["status"], _explain(job_run))
    assert len(job_run.attempts) == 2 and job_run.attempts[0].killed_for == "Evicted"
    assert job["status"].get("failed") is None and job["status"]["succeeded"] == 1  # not counted
    first, second = (_waited(a.output) for a in job_run.attempts)
    assert 0 < second < first <= 12, (first, second)  # resumed: waited only what was left
    assert "gate: PASSED: vetted" in job_run.attempts[1].output


def test_a_digest_superseded_within_its_soak_is_skipped_so_only_the_newest_cascades(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    """The tag moved again while v2 soaked (v3, seen an hour ago): v2's gate ends SKIPPED (a final verdict,
    recorded with the digest that supersedes it), so the rebuild cascade runs once, for v3."""
    v2 = base.push(Image.of("amd v2 superseded", platform=AMD), base.arm1)
    amd3 = Image.of("amd v3", platform=AMD)
    v3 = base.push(amd3, base.arm1)
    now = datetime.now(UTC)
    states = read_remote_states(base.remote, base.tmp / "before")
    python, app = states[base.ref], next(s for r, s in states.items() if r != base.ref)
    history = DigestHistory(current=v3, history=[
        *python.digests.history,
        DigestRecord(digest=v2, first_seen=now - timedelta(hours=168), last_seen=now - timedelta(hours=1),
                     platforms={AMD: Image.of("amd v2 superseded", platform=AMD).digest, ARM: base.arm1.digest}),
        DigestRecord(digest=v3, first_seen=now - timedelta(hours=1), last_seen=now,
                     platforms={AMD: amd3.digest, ARM: base.arm1.digest})])
    remote = make_state_remote(base.tmp / "coalesce", [python.model_copy(update={"digests": history}), app])
    _state_repo(kube, remote)
    run, job, job_run = _run_analysis(control_plane, kube, job_runner, _gate_run(kube, base, v2, timedelta(0)))
    assert run["status"]["phase"] == "Failed", (run["status"], _explain(job_run))
    assert [a.returncode for a in job_run.attempts] == [3]  # a verdict: FailJob, no retry
    assert {c["type"]: c["reason"] for c in job["status"]["conditions"]}["Failed"] == "PodFailurePolicy"
    assert f"superseded by {v3}" in job_run.attempts[0].output
    record = next(r for r in read_remote_states(remote, base.tmp / "after")[base.ref].digests.history
                  if r.digest == v2)
    assert [(g.outcome, g.superseded_by) for g in record.gates] == [("skipped", v3)]
    assert record.vetted_at is None


def runner_state(runner: JobRunner) -> str:
    return "; ".join(f"{n}: {len(r.attempts)} attempt(s), {r.problem or r.outcome}" for n, r in runner.runs.items())


def _waited(output: str) -> int:
    """Seconds of the gate's `waiting …` line (`waiting 7s …`)."""
    match = re.search(r"waiting (\d+)s\b", output)
    assert match, output
    return int(match.group(1))


def test_a_missing_state_secret_fails_the_gate_at_once(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    """The templates mark their Secrets optional, so without `image-factory-state-repo` the pod still starts,
    the gate says what is missing (exit 2) and the podFailurePolicy ends the verification at once — instead
    of a pod that cannot start (CreateContainerConfigError) until the 14-day deadline."""
    template = next(m for m in applied_fleet.manifests if m["kind"] == "AnalysisTemplate"
                    and m["metadata"]["name"] == "gate")
    container = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    assert all(source["secretRef"].get("optional") for source in container["envFrom"])
    v2 = base.push(Image.of("amd v2 no state", platform=AMD), base.arm1)
    run, job, job_run = _run_analysis(control_plane, kube, job_runner, _gate_run(kube, base, v2, timedelta(0)))
    assert run["status"]["phase"] == "Failed", (run["status"], _explain(job_run))
    assert [a.returncode for a in job_run.attempts] == [2]
    assert "IMAGE_FACTORY_STATE_REPO" in job_run.attempts[0].output
    assert {c["type"]: c["reason"] for c in job["status"]["conditions"]}["Failed"] == "PodFailurePolicy"


def test_an_aborted_verification_kills_the_waiting_gate(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, base: Base) -> None:
    """Kargo aborts a verification by setting `spec.terminate` on the AnalysisRun; Rollouts then deletes
    the Job, and the gate, still in its 168h soak, must be killed rather than left running."""
    v2 = _new_amd_digest(kube, base, "amd v2 aborted")
    objects = k8s.CustomObjectsApi(kube)
    run = objects.create_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns",
                                                  _gate_run(kube, base, v2, timedelta(hours=100)))
    name = run["metadata"]["name"]
    job_name = f"{run['metadata']['uid']}.gate.1"
    deadline = time.monotonic() + 60
    while not any("gate: waiting 99h" in a.output for a in
                  (job_runner.runs[job_name].attempts if job_name in job_runner.runs else [])):
        assert time.monotonic() < deadline, f"gate never started waiting: {job_runner.errors}"
        time.sleep(0.1)
    objects.patch_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns", name, {"spec": {"terminate": True}})
    job_run = job_runner.wait_for(job_name, 60)
    assert job_run.done.wait(60) and job_run.outcome == "deleted", _explain(job_run)
    assert job_run.attempts[0].returncode is not None and job_run.attempts[0].returncode != 0
    while (status := objects.get_namespaced_custom_object(*ROLLOUTS, NAMESPACE, "analysisruns", name)
           .get("status") or {}).get("phase") not in FINAL:
        assert time.monotonic() < deadline + 60, status
        time.sleep(0.1)
    # Rollouts reports a terminated run as Successful ("Run Terminated"); Kargo records it as aborted itself.
    assert (status["phase"], status.get("message")) == ("Successful", "Run Terminated")
    history = read_remote_states(base.remote, base.tmp / "after")[base.ref].digests.history
    assert all(r.digest != v2 for r in history)


def test_verify_rebuild_passes_an_image_rebuilt_on_the_vetted_base(
        applied_fleet: Applied, control_plane: ControlPlane, kube: k8s.ApiClient, job_runner: JobRunner,
        job_secrets: None, basic_registry: RegistryServer, repo: str, tmp_path: Path) -> None:
    auth = (BASIC_USER, BASIC_PASSWORD)
    base_ref, app_ref = f"{basic_registry.host}/{repo}/base:1", f"{basic_registry.host}/{repo}/app:1"
    base1, base2 = Image.of("base v1"), Image.of("base v2")
    v1 = push_image(basic_registry.url, f"{repo}/base", None, base1, auth)
    v2 = push_image(basic_registry.url, f"{repo}/base", "1", base2, auth)
    app1 = push_image(basic_registry.url, f"{repo}/app", "1", base1.built_on(files={"app": "build 1"}), auth)
    app = managed_state("app", app_ref, [base_ref], platforms=[AMD], rebuilds=[
        RebuildRecord(at=datetime.now(UTC) - timedelta(days=9), outcome="succeeded", base_digests={base_ref: v1},
                      result_digest=app1)])
    remote = make_state_remote(tmp_path, [external_state(base_ref, ["app"]), app])
    _state_repo(kube, remote)
    rebuilt = push_image(basic_registry.url, f"{repo}/app", "1", base2.built_on(files={"app": "build 2"}), auth)

    stage = _stage(kube, REBUILD_STAGE)
    assert [a["name"] for a in stage["spec"]["verification"]["args"]] == ["image", "ref", "base-digests"]
    freight = create_freight(kube, NAMESPACE, "python-3-12-slim",
                             [{"repoURL": base_ref.rsplit(":", 1)[0], "tag": "1", "digest": v2}])
    ar = analysis_run(kube, stage, freight, {"image": "app", "ref": app_ref, "base-digests": f"{base_ref}@{v2}"})
    run, job, job_run = _run_analysis(control_plane, kube, job_runner, ar)
    assert run["status"]["phase"] == "Successful", (run["status"], _explain(job_run))
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == _substituted(applied_fleet, "verify-rebuild", _args(run))
    assert args[:4] == ["verify-rebuild", "--image=app", f"--ref={app_ref}", f"--base-digests={base_ref}@{v2}"]
    assert "verify-rebuild: PASSED: built on" in job_run.attempts[0].output
    last = read_remote_states(remote, tmp_path / "after")[app_ref].rebuilds[-1]
    assert (last.outcome, last.result_digest) == ("succeeded", rebuilt)
