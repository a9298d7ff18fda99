"""The one stand-in of the e2e tests: runs batch/v1 Jobs as local processes and writes their status.

Why it exists: no kubelet or container runtime can run here, so nothing would ever run the Jobs that the
real Argo Rollouts controller creates for AnalysisRuns. `JobRunner` takes their place, and nothing else's.

What it stands in for:
  * kubelet + container runtime: each Job's single container is run as a LOCAL PROCESS. `command[0]` is
    mapped to a local executable (`image-factory` → this checkout's venv/bin/image-factory); the image is
    NOT pulled or used. Args are taken from the pod spec exactly as the API server holds it (i.e. after
    Rollouts substituted `{{args.x}}`), with Kubernetes' `$(VAR)` expansion. Env: `envFrom` (Secrets,
    ConfigMaps, with `prefix`) then `env` (`value`, `secretKeyRef`, `configMapKeyRef`, `fieldRef` to
    metadata.name/namespace), read from the real API server. A missing non-optional Secret/ConfigMap or
    key means the container cannot be created (kubelet's CreateContainerConfigError): nothing runs, the
    Job stays active (as it would, until activeDeadlineSeconds) and the problem is reported in `runs`.
  * the Job controller's status bookkeeping for one pod at a time (completions = parallelism = 1):
    startTime and active on start; on exit 0 `SuccessCriteriaMet` + `Complete` (reason CompletionsReached),
    succeeded, completionTime; on a non-zero exit `failed` += 1 and a new attempt until failed >
    backoffLimit, then `FailureTarget` + `Failed` (reason BackoffLimitExceeded); past activeDeadlineSeconds
    (counted from startTime) the process is killed (SIGTERM, then SIGKILL after the grace period) and the
    Job gets `FailureTarget` + `Failed` (reason DeadlineExceeded). The real API server validates these
    status writes (its Job status rules reject e.g. Failed without FailureTarget), so they must be right.
  * the pod's API access: unless `automountServiceAccountToken: false`, a token for the pod's
    serviceAccountName (TokenRequest API; a missing ServiceAccount means no pod, reported like a missing
    Secret), the CA and the namespace are mounted at /var/run/secrets/kubernetes.io/serviceaccount in a
    PRIVATE mount namespace of the process (`unshare --mount`, tmpfs over /run: the host is untouched), and
    KUBERNETES_SERVICE_HOST/PORT point at the test API server. So in-cluster clients authenticate as the
    Job's ServiceAccount and the real RBAC authorizer judges the rendered Role.
  * a deleted Job (Rollouts deletes the Job of a terminated run, propagation Foreground) has its process
    killed as soon as the Job has a deletionTimestamp, as the garbage collector + kubelet would do.

What it does NOT model: Pods (no Pod objects, `ready` counts, pod names or restarts in place), the image
(its filesystem, user, entrypoint or env), resource requests/limits, volumes other than the token,
the pod conditions of podFailurePolicy's onPodConditions rules other than DisruptionTarget on an
eviction the test asks for with `evict()` (its onExitCodes rules are honoured), successPolicy, indexed/parallel
Jobs, suspend, ttlSecondsAfterFinished, the exponential
pod-failure backoff (retries start after `retry_delay`, default 0), node scheduling, garbage collection, and
the ServiceAccount controller (a namespace's `default` ServiceAccount exists only if a test creates it); the
garbage collector does not run, so a foreground-deleted Job stays with its finalizer.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from tests.support.controlplane import ControlPlane, die_with_parent
from tests.support.engines import unavailable

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
# Runs "$@" with the token folder ($0) bound at SA_MOUNT, in a private mount namespace (see the docstring).
_MOUNT_SCRIPT = ('mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && '
                 'mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount && exec "$@"')


def mount_namespaces_work() -> bool:
    """Whether this process may make private mount namespaces (root, CAP_SYS_ADMIN)."""
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               "mount -t tmpfs tmpfs /run"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class CannotStart(Exception):
    """The container could not be created (missing Secret/ConfigMap/key, unknown command)."""


@dataclass
class Attempt:
    argv: list[str]
    env_names: list[str]
    log: Path
    returncode: int | None = None
    killed_for: str | None = None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class JobRun:
    """What the runner did with one Job."""

    name: str
    uid: str
    labels: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    problem: str | None = None
    """Why nothing could run (CreateContainerConfigError, unsupported spec)."""
    outcome: str | None = None
    """Complete, Failed: BackoffLimitExceeded / DeadlineExceeded, or None while running."""
    done: threading.Event = field(default_factory=threading.Event)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, reason: str, message: str) -> dict[str, str]:
    now = _now()
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now}


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion of command/args/env values: unknown references stay, `$$` → `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR_RE.sub(one, value)


def _pod_failure_action(policy: Mapping[str, Any] | None, container: str, code: int,
                        conditions: frozenset[str] = frozenset()) -> tuple[str, int]:
    """The first `podFailurePolicy` rule matching a failed pod (its container's exit code, or one of the
    pod `conditions` it got, e.g. DisruptionTarget on eviction): (action, index); Count if none."""
    for index, rule in enumerate((policy or {}).get("rules") or []):
        on_conditions = rule.get("onPodConditions") or []
        if any(c.get("type") in conditions and c.get("status", "True") == "True" for c in on_conditions):
            return rule["action"], index
        codes = rule.get("onExitCodes")
        if not codes or codes.get("containerName") not in (None, container):
            continue
        matched = code in codes["values"]
        if matched == (codes["operator"] == "In") and code != 0:
            return rule["action"], index
    return "Count", -1


class JobRunner:
    """Watches Jobs in `namespace` and runs each (see the module docstring for what is modelled)."""

    def __init__(self, plane: ControlPlane, namespace: str, commands: Mapping[str, Path], workdir: Path,
                 *, retry_delay: float = 0.0, grace_seconds: float = 5.0) -> None:
        self.plane = plane
        self.namespace = namespace
        self.commands = dict(commands)
        self.workdir = workdir
        self.retry_delay = retry_delay
        self.grace_seconds = grace_seconds
        self.runs: dict[str, JobRun] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._evict: set[str] = set()
        self._deleted: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._watcher = threading.Thread(target=self._watch, name="jobrunner-watch", daemon=True)
        self._ready = threading.Event()
        self.errors: list[str] = []

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> JobRunner:
        if not mount_namespaces_work():
            unavailable("the job runner needs `unshare --mount` (root) to mount service-account tokens")
        self._watcher.start()
        if not self._ready.wait(30):
            raise RuntimeError(f"job runner could not watch Jobs: {self.errors}")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._watcher.join(timeout=15)
        for thread in list(self._threads):
            thread.join(timeout=self.grace_seconds + 10)

    def __enter__(self) -> JobRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, name: str, timeout: float) -> JobRun:
        """The run of Job `name` once it ended (or could not start)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                run = self.runs.get(name)
            if run is not None:
                run.done.wait(max(0.0, deadline - time.monotonic()))
                return run
            time.sleep(0.05)
        raise TimeoutError(f"job runner never saw Job {name}")

    # -- watching -------------------------------------------------------------------------------

    def _watch(self) -> None:
        api = self.plane.api_client()
        batch = k8s.BatchV1Api(api)
        version: str | None = None
        try:
            while not self._stop.is_set():
                try:
                    if version is None:
                        listing = batch.list_namespaced_job(self.namespace)
                        version = listing.metadata.resource_version
                        for job in listing.items:
                            self._seen(api.sanitize_for_serialization(job))
                        self._ready.set()
                    stream = watch.Watch().stream(batch.list_namespaced_job, self.namespace,
                                                  resource_version=version, timeout_seconds=2,
                                                  _preload_content=False)
                    for event in stream:
                        obj = event["raw_object"]
                        version = obj["metadata"]["resourceVersion"]
                        if event["type"] == "ADDED":
                            self._seen(obj)
                        # Gone, or being deleted (Rollouts deletes with propagation Foreground: without a
                        # garbage collector here the Job keeps its deletionTimestamp and finalizer).
                        if event["type"] == "DELETED" or obj["metadata"].get("deletionTimestamp"):
                            with self._lock:
                                self._deleted.add(obj["metadata"]["uid"])
                        if self._stop.is_set():
                            break
                except ApiException as exc:
                    if exc.status == 410:  # resourceVersion too old: list again
                        version = None
                        continue
                    self.errors.append(f"watch: HTTP {exc.status} {exc.reason}")
                    time.sleep(0.2)
                except Exception as exc:  # the API server went away at teardown
                    if self._stop.is_set():
                        return
                    self.errors.append(f"watch: {exc!r}")
                    time.sleep(0.2)
        finally:
            api.close()

    def _seen(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        conditions = (job.get("status") or {}).get("conditions") or []
        if any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions):
            return
        with self._lock:
            if meta["name"] in self.runs and self.runs[meta["name"]].uid == meta["uid"]:
                return
            run = JobRun(meta["name"], meta["uid"], dict(meta.get("labels") or {}))
            self.runs[meta["name"]] = run
        thread = threading.Thread(target=self._run_job, args=(job, run), name=f"job-{meta['name']}", daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- running one Job ------------------------------------------------------------------------

    def _run_job(self, job: dict[str, Any], run: JobRun) -> None:
        api = self.plane.api_client()
        try:
            self._run(api, job, run)
        except Exception as exc:
            run.problem = run.problem or f"job runner error: {exc!r}"
            self.errors.append(f"{run.name}: {exc!r}")
        finally:
            api.close()
            run.done.set()

    def _run(self, api: k8s.ApiClient, job: dict[str, Any], run: JobRun) -> None:
        spec = job["spec"]
        name, uid = job["metadata"]["name"], job["metadata"]["uid"]
        pod = spec["template"]["spec"]
        if (spec.get("completions") or 1) != 1 or (spec.get("parallelism") or 1) != 1 or spec.get("suspend"):
            run.problem = "unsupported Job: only completions=parallelism=1, not suspended"
            return
        if len(pod.get("containers") or []) != 1 or pod.get("initContainers"):
            run.problem = "unsupported Job: exactly one container, no init containers"
            return
        container = pod["containers"][0]
        backoff_limit = spec.get("backoffLimit", 6)
        deadline_s = spec.get("activeDeadlineSeconds")
        grace = min(float(pod.get("terminationGracePeriodSeconds", 30)), self.grace_seconds)

        start_time = _now()
        started = time.monotonic()
        self._status(api, name, {"startTime": start_time, "active": 1, "ready": 0})

        def over_deadline() -> float | None:
            """Seconds left before activeDeadlineSeconds (None: no deadline)."""
            return None if deadline_s is None else deadline_s - (time.monotonic() - started)

        try:
            argv, env, launcher = self._container(api, job, container)
        except CannotStart as exc:
            run.problem = f"CreateContainerConfigError: {exc}"
            self._status(api, name, {"active": 1, "ready": 0})
            left = over_deadline()
            while not self._stop.is_set() and not self._is_deleted(uid) and (left is None or left > 0):
                self._stop.wait(min(left, 0.5) if left is not None else 0.5)
                left = over_deadline()
            if left is not None and left <= 0:
                self._finish_failed(api, name, run, 0, "DeadlineExceeded", "Job was active longer than "
                                    "specified deadline")
            return

        failed = 0
        for attempt_no in itertools.count():
            log = self.workdir / name / f"attempt-{attempt_no}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            attempt = Attempt(argv, sorted(env), log)
            run.attempts.append(attempt)
            home = self.workdir / name / f"home-{attempt_no}"
            home.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as out:
                process = subprocess.Popen([*launcher, *argv], env={**env, "HOME": str(home)},
                                           cwd=container.get("workingDir") or home, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True, preexec_fn=die_with_parent)
                self._status(api, name, {"active": 1, "ready": 1, "failed": failed or None})
                reason = self._wait(process, uid, over_deadline, grace)
            attempt.returncode = process.returncode
            attempt.killed_for = reason
            if reason == "deleted" or reason == "stopped":
                run.outcome = reason
                return
            if reason == "DeadlineExceeded":
                self._finish_failed(api, name, run, failed + 1, reason,
                                    "Job was active longer than specified deadline")
                return
            if process.returncode == 0:
                self._status(api, name, {
                    "active": 0, "ready": 0, "succeeded": 1, "failed": failed or None, "completionTime": _now(),
                    "conditions": [
                        _condition("SuccessCriteriaMet", "CompletionsReached",
                                   "Reached expected number of succeeded pods"),
                        _condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ]})
                run.outcome = "Complete"
                return
            disrupted = frozenset({"DisruptionTarget"}) if reason == "Evicted" else frozenset()
            action, rule = _pod_failure_action(spec.get("podFailurePolicy"), container["name"], process.returncode,
                                               disrupted)
            if action == "FailJob":
                self._finish_failed(api, name, run, failed + 1, "PodFailurePolicy",
                                    f"Container {container['name']} for pod {self.namespace}/{name}-{attempt_no} "
                                    f"failed with exit code {process.returncode} matching FailJob rule at index {rule}")
                return
            if action != "Ignore":  # Ignore: not counted, the pod is replaced
                failed += 1
                if failed > backoff_limit:
                    break
            self._status(api, name, {"active": 0, "ready": 0, "failed": failed or None})
            if self._stop.wait(self.retry_delay):
                return
        self._finish_failed(api, name, run, failed, "BackoffLimitExceeded", "Job has reached the specified "
                            "backoff limit")

    def _finish_failed(self, api: k8s.ApiClient, name: str, run: JobRun, failed: int, reason: str,
                       message: str) -> None:
        self._status(api, name, {"active": 0, "ready": 0, "failed": failed or None, "conditions": [
            _condition("FailureTarget", reason, message), _condition("Failed", reason, message)]})
        run.outcome = f"Failed: {reason}"

    def _wait(self, process: subprocess.Popen[bytes], uid: str, left: Any, grace: float) -> str | None:
        """Wait for the process; kill it on the deadline, Job deletion or runner stop. Returns why killed."""
        while True:
            try:
                process.wait(timeout=0.2)
                return None
            except subprocess.TimeoutExpired:
                pass
            remaining = left()
            reason = ("DeadlineExceeded" if remaining is not None and remaining <= 0 else
                      "deleted" if self._is_deleted(uid) else "stopped" if self._stop.is_set() else
                      "Evicted" if self._take_eviction(uid) else None)
            if reason is not None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                return reason

    def evict(self, name: str) -> None:
        """Evict the running pod of Job `name` (a node drain or preemption): the process is killed and the
        pod gets the DisruptionTarget condition, which podFailurePolicy may ignore."""
        with self._lock:
            self._evict.add(self.runs[name].uid)

    def _take_eviction(self, uid: str) -> bool:
        with self._lock:
            evicted = uid in self._evict
            self._evict.discard(uid)
            return evicted

    def _is_deleted(self, uid: str) -> bool:
        with self._lock:
            return uid in self._deleted

    def _status(self, api: k8s.ApiClient, name: str, status: dict[str, Any]) -> None:
        body = {"status": {k: v for k, v in status.items() if v is not None}}
        try:
            k8s.BatchV1Api(api).patch_namespaced_job_status(name, self.namespace, body)
        except ApiException as exc:
            if exc.status == 404:
                return  # deleted meanwhile
            raise

    # -- the container --------------------------------------------------------------------------

    def _container(self, api: k8s.ApiClient, job: dict[str, Any], container: dict[str, Any]
                   ) -> tuple[list[str], dict[str, str], list[str]]:
        """The process: argv (command[0] mapped), its env, and the launcher that mounts the token."""
        core = k8s.CoreV1Api(api)
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "secretRef" in source:
                data = self._secret(core, source["secretRef"]["name"], source["secretRef"].get("optional"))
            elif "configMapRef" in source:
                data = self._config_map(core, source["configMapRef"]["name"], source["configMapRef"].get("optional"))
            else:
                raise CannotStart(f"unsupported envFrom {source}")
            env.update({prefix + key: value for key, value in data.items()})
        for var in container.get("env") or []:
            value = self._env_value(core, job, var)
            if value is not None:
                env[var["name"]] = expand(value, env)
        command = list(container.get("command") or [])
        if not command:
            raise CannotStart("no command: the image's entrypoint cannot be run here")
        executable = self.commands.get(command[0])
        if executable is None:
            raise CannotStart(f"command {command[0]!r} has no local stand-in")
        argv = [str(executable), *(expand(a, env) for a in command[1:]),
                *(expand(a, env) for a in container.get("args") or [])]
        launcher: list[str] = []
        pod = job["spec"]["template"]["spec"]
        if pod.get("automountServiceAccountToken") is not False:
            folder = self._token_folder(core, job["metadata"]["name"], pod.get("serviceAccountName") or "default")
            launcher = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_SCRIPT, str(folder)]
            env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(self.plane.api_port),
                   "KUBERNETES_SERVICE_PORT_HTTPS": str(self.plane.api_port), **env}
        return argv, {"PATH": f"{executable.parent}:{BASE_PATH}", **env}, launcher

    def _token_folder(self, core: k8s.CoreV1Api, job_name: str, account: str) -> Path:
        """token, ca.crt and namespace as the kubelet projects them, for the pod's ServiceAccount."""
        try:
            request = core.create_namespaced_service_account_token(
                account, self.namespace, k8s.AuthenticationV1TokenRequest(
                    spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)))
        except ApiException as exc:
            if exc.status == 404:
                raise CannotStart(f'serviceaccount "{account}" not found') from None
            raise
        folder = self.workdir / job_name / "serviceaccount"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "token").write_text(request.status.token)
        (folder / "ca.crt").write_bytes(self.plane.pki.ca_cert.read_bytes())
        (folder / "namespace").write_text(self.namespace)
        return folder

    def _env_value(self, core: k8s.CoreV1Api, job: dict[str, Any], var: dict[str, Any]) -> str | None:
        if "value" in var or "valueFrom" not in var:
            return str(var.get("value", ""))
        source = var["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = self._secret(core, ref["name"], ref.get("optional"))
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = self._config_map(core, ref["name"], ref.get("optional"))
        elif "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            fields = {"metadata.namespace": self.namespace, "metadata.name": job["metadata"]["name"]}
            if path not in fields:
                raise CannotStart(f"unsupported fieldRef {path}")
            return str(fields[path])
        else:
            raise CannotStart(f"unsupported valueFrom {source}")
        if ref["key"] not in data:
            if ref.get("optional"):
                return None
            raise CannotStart(f"couldn't find key {ref['key']} in {ref['name']}")
        return str(data[ref["key"]])

    def _secret(self, core: k8s.CoreV1Api, name: str, optional: bool | None) -> dict[str, str]:
        try:
            secret = core.read_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                if optional:
                    return {}
                raise CannotStart(f'secret "{name}" not found') from None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def _config_map(self, core: k8s.CoreV1Api, name: str, optional: bool | None) -> dict[str, str]:
        try:
            config_map = core.read_namespaced_config_map(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                if optional:
                    return {}
                raise CannotStart(f'configmap "{name}" not found') from None
            raise
        return dict(config_map.data or {})
