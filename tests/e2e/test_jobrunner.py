"""The job runner itself, against the real API server (which validates every Job status it writes): success,
retries up to backoffLimit, the deadline kill, env from Secrets with `$(VAR)` expansion, and a missing Secret."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.support.controlplane import ControlPlane
from tests.support.jobrunner import JobRun, JobRunner, expand

NS = "jobrunner"


@pytest.fixture(scope="module")
def runner(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobRunner]:
    control_plane.ensure_namespace(NS)
    with control_plane.api_client() as api:  # what the ServiceAccount controller would do
        k8s.CoreV1Api(api).create_namespaced_service_account(NS, k8s.V1ServiceAccount(
            metadata=k8s.V1ObjectMeta(name="default")))
    commands = {"sh": Path(shutil.which("sh") or "/bin/sh"), "sleep": Path(shutil.which("sleep") or "/bin/sleep")}
    with JobRunner(control_plane, NS, commands, tmp_path_factory.mktemp("jobrunner")) as job_runner:
        yield job_runner


def _job(name: str, command: list[str], *, backoff: int = 0, deadline: int | None = None,
         env_from: list[dict[str, Any]] | None = None, env: list[dict[str, Any]] | None = None,
         pod: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "example.invalid/unused:1", "command": command}
    if env_from:
        container["envFrom"] = env_from
    if env:
        container["env"] = env
    spec: dict[str, Any] = {"backoffLimit": backoff, "template": {"spec": {
        "restartPolicy": "Never", "containers": [container], **(pod or {})}}}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def _run(kube: k8s.ApiClient, runner: JobRunner, job: dict[str, Any]) -> tuple[JobRun, dict[str, Any]]:
    k8s.BatchV1Api(kube).create_namespaced_job(NS, job)
    run = runner.wait_for(job["metadata"]["name"], 60)
    assert run.done.wait(60), f"{run.name} still running"
    stored = kube.sanitize_for_serialization(k8s.BatchV1Api(kube).read_namespaced_job(run.name, NS))
    return run, stored


def _conditions(job: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["reason"] for c in job["status"].get("conditions") or [] if c["status"] == "True"}


def test_expand_follows_kubernetes() -> None:
    assert expand("a=$(A) b=$(B) $$(A) $(", {"A": "1"}) == "a=1 b=$(B) $(A) $("


def test_success_writes_the_job_controllers_status(kube: k8s.ApiClient, runner: JobRunner) -> None:
    run, job = _run(kube, runner, _job("ok", ["sh", "-c", "echo hello"]))
    assert run.outcome == "Complete" and run.attempts[0].output == "hello\n"
    assert _conditions(job) == {"SuccessCriteriaMet": "CompletionsReached", "Complete": "CompletionsReached"}
    assert job["status"]["succeeded"] == 1 and job["status"].get("active", 0) == 0
    assert job["status"]["startTime"] <= job["status"]["completionTime"]


def test_failures_are_retried_up_to_the_backoff_limit(kube: k8s.ApiClient, runner: JobRunner) -> None:
    run, job = _run(kube, runner, _job("fails", ["sh", "-c", "echo try; exit 3"], backoff=1))
    assert [a.returncode for a in run.attempts] == [3, 3]
    assert _conditions(job) == {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"}
    assert job["status"]["failed"] == 2 and "completionTime" not in job["status"]


def test_pod_failure_policy_exit_code_rules(kube: k8s.ApiClient, runner: JobRunner) -> None:
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [42]}},
                        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                                               "values": [1, 2]}}]}
    # First run exits 42 (ignored: not counted), the second 2 (fails the Job at once despite backoffLimit 5).
    script = "if [ -e $HOME/../seen ]; then exit 2; fi; touch $HOME/../seen; exit 42"
    job = _job("policy", ["sh", "-c", script], backoff=5)
    job["spec"]["podFailurePolicy"] = policy
    run, stored = _run(kube, runner, job)
    assert [a.returncode for a in run.attempts] == [42, 2]
    assert _conditions(stored) == {"FailureTarget": "PodFailurePolicy", "Failed": "PodFailurePolicy"}
    assert stored["status"]["failed"] == 1


def test_the_deadline_kills_the_process(kube: k8s.ApiClient, runner: JobRunner) -> None:
    started = time.monotonic()
    run, job = _run(kube, runner, _job("slow", ["sleep", "60"], backoff=3, deadline=1))
    assert time.monotonic() - started < 30
    assert run.attempts[0].killed_for == "DeadlineExceeded" and len(run.attempts) == 1
    assert _conditions(job) == {"FailureTarget": "DeadlineExceeded", "Failed": "DeadlineExceeded"}


def test_env_from_secrets_with_prefix_and_expansion(kube: k8s.ApiClient, runner: JobRunner) -> None:
    k8s.CoreV1Api(kube).create_namespaced_secret(NS, k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="creds"), string_data={"USER": "alice", "TOKEN": "t0k"}))
    job = _job("env", ["sh", "-c", "echo $X_USER $TOKEN $NS $(LITERAL) '$$(X_USER)'"],
               env_from=[{"secretRef": {"name": "creds"}, "prefix": "X_"}],
               env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "LITERAL", "value": "lit"}])
    run, _ = _run(kube, runner, job)
    assert run.outcome == "Complete", run.attempts[0].output
    assert run.attempts[0].output == "alice t0k jobrunner lit $(X_USER)\n"


def test_a_missing_secret_means_the_container_never_starts(kube: k8s.ApiClient, runner: JobRunner) -> None:
    job = _job("no-secret", ["sh", "-c", "echo should not run"], deadline=2,
               env_from=[{"secretRef": {"name": "absent"}}, {"secretRef": {"name": "absent-ok", "optional": True}}])
    run, stored = _run(kube, runner, job)
    assert run.attempts == [] and run.problem == 'CreateContainerConfigError: secret "absent" not found'
    assert _conditions(stored) == {"FailureTarget": "DeadlineExceeded", "Failed": "DeadlineExceeded"}


def test_the_service_account_token_is_mounted_privately(kube: k8s.ApiClient, runner: JobRunner) -> None:
    mount = "/var/run/secrets/kubernetes.io/serviceaccount"
    run, _ = _run(kube, runner, _job("sa", ["sh", "-c", f"cat {mount}/namespace; echo; test -s {mount}/token "
                                            "&& echo token; echo $KUBERNETES_SERVICE_HOST"]))
    assert run.outcome == "Complete", run.attempts[0].output
    assert run.attempts[0].output == "jobrunner\ntoken\n127.0.0.1\n"
    assert not Path(mount).exists()  # the host's /run is untouched


def test_a_missing_service_account_means_no_pod(kube: k8s.ApiClient, runner: JobRunner) -> None:
    run, _ = _run(kube, runner, _job("no-sa", ["sh", "-c", "true"], deadline=1,
                                     pod={"serviceAccountName": "absent"}))
    assert run.attempts == [] and run.problem == 'CreateContainerConfigError: serviceaccount "absent" not found'


def test_without_automount_there_is_no_api_access(kube: k8s.ApiClient, runner: JobRunner) -> None:
    run, _ = _run(kube, runner, _job("no-token", ["sh", "-c", "echo ${KUBERNETES_SERVICE_HOST:-none}"],
                                     pod={"automountServiceAccountToken": False}))
    assert run.attempts[0].output == "none\n"
