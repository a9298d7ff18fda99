"""A real Kubernetes control plane for the tests: etcd + kube-apiserver + the Argo Rollouts controller.

Why: the rendered Kargo resources and the analysis Jobs must be judged by the real code (the API server's
structural schemas and CEL rules, Rollouts' AnalysisRun → Job logic), not only by JSON schemas.

* etcd (Debian's `etcd-server`, /usr/bin/etcd) and `kube-apiserver` (k8s.io/kubernetes, built by
  tests/engines/build.sh kube) listen on 127.0.0.1 only, on free ports, with data, certificates and logs in
  one temp folder. TLS and service-account keys are made here with `cryptography`; the admin authenticates
  with a static bearer token (group system:masters); authorization is RBAC, as in a real cluster.
* The CRDs are Kargo's (../shared/schemas/kargo, or $IMAGE_FACTORY_SHARED) and Argo Rollouts' own
  (manifests/crds/ of the argo-rollouts module that the rollouts engine is built from, so CRDs and controller
  are the same version).
* `rollouts-controller` (built by tests/engines/build.sh rollouts) runs only its analysis controller, for
  one namespace, without leader election. Its metrics and healthz servers bind 0.0.0.0 (Rollouts has no flag
  for the address); the ports are free random ones.
* There is no kubelet, scheduler or controller-manager: nothing runs Pods or Jobs (see jobrunner.py),
  garbage-collects, or finalizes namespaces.

Every process is stopped at teardown; logs stay in the temp folder and their tails go into failures.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import ipaddress
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.engines import ROOT, Engine, engine, require_tool
from tests.support.kargo_schemas import SCHEMAS
from tests.support.registry import free_port

KARGO_CRDS = SCHEMAS
ROLLOUTS_MODULE = "github.com/argoproj/argo-rollouts"
ETCD = "/usr/bin/etcd"


def kargo_crd_files() -> list[Path]:
    files = sorted(KARGO_CRDS.glob("kargo.akuity.io_*.yaml"))
    assert files, f"no Kargo CRDs in {KARGO_CRDS}"
    return files


def rollouts_crd_files() -> list[Path]:
    """The CRD files in the argo-rollouts module zip the rollouts engine pins (Go module cache)."""
    go_mod = (ROOT / "tests" / "engines" / "rollouts" / "go.mod").read_text()
    version = next(line.split()[-1] for line in go_mod.splitlines()
                   if line.strip().startswith(("require " + ROLLOUTS_MODULE + " ", ROLLOUTS_MODULE + " ")))
    result = subprocess.run(["go", "mod", "download", "-json", f"{ROLLOUTS_MODULE}@{version}"],
                            cwd=ROOT / "tests" / "engines" / "rollouts", capture_output=True, text=True, check=True)
    folder = Path(json.loads(result.stdout)["Dir"]) / "manifests" / "crds"
    files = sorted(folder.glob("*-crd.yaml"))
    assert files, f"no CRDs in {folder}"
    return files


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------

def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Pki:
    """A throwaway CA, the API server's serving certificate and the service-account signing key."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    sa_key: Path
    sa_pub: Path

    @classmethod
    def create(cls, folder: Path) -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "image-factory-test-ca")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
              .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False,
                                           data_encipherment=False, key_agreement=False, encipher_only=False,
                                           decipher_only=False), critical=True)
              .sign(ca_key, hashes.SHA256()))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        names = [x509.DNSName("localhost"), x509.DNSName("kubernetes.default.svc"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        serving = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
                   .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=7))
                   .add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pki = cls(folder / "ca.crt", folder / "apiserver.crt", folder / "apiserver.key", folder / "sa.key",
                  folder / "sa.pub")
        pki.ca_cert.write_bytes(_pem_cert(ca))
        pki.serving_cert.write_bytes(_pem_cert(serving))
        pki.serving_key.write_bytes(_pem_key(key))
        pki.sa_key.write_bytes(_pem_key(sa))
        pki.sa_pub.write_bytes(sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))
        for path in (pki.serving_key, pki.sa_key):
            path.chmod(0o600)
        return pki


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------

class ProcessFailed(RuntimeError):
    pass


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when the test process dies, even by SIGKILL (no leaked servers)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    """One child process with its log file; stopped with SIGTERM, then SIGKILL."""

    name: str
    args: list[str]
    log: Path
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=dict(self.env) if self.env else None,
                                            start_new_session=True, preexec_fn=die_with_parent)
        return self

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ProcessFailed(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, *procs: Proc,
               interval: float = 0.1) -> None:
    """Poll `condition` until true; fail early (with logs) if one of `procs` died."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.check_alive()
        if condition():
            return
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail()}" for p in procs)
            raise TimeoutError(f"{what}: not within {timeout:.0f}s\n{tails}")
        time.sleep(interval)


def _http_ok(url: str, **kwargs: Any) -> bool:
    try:
        return httpx.get(url, timeout=2.0, **kwargs).status_code == 200
    except httpx.HTTPError:
        return False


# --------------------------------------------------------------------------------------------
# The control plane
# --------------------------------------------------------------------------------------------

@dataclass
class ControlPlane:
    """etcd + kube-apiserver (+ CRDs, + the Rollouts analysis controller for `namespace`) in `workdir`."""

    workdir: Path
    namespace: str
    kube: Engine
    rollouts: Engine
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    procs: list[Proc] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    api_port: int = 0
    _pki: Pki | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def pki(self) -> Pki:
        assert self._pki is not None, "start() first"
        return self._pki

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> ControlPlane:
        begin = time.monotonic()
        try:
            self._pki = Pki.create(self.workdir / "pki")
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url)
            self.timings["apiserver_ready_s"] = time.monotonic() - begin
            self._write_kubeconfig()
            self.ensure_namespace(self.namespace)
            self.install_crds([*kargo_crd_files(), *rollouts_crd_files()])
            self.timings["crds_ready_s"] = time.monotonic() - begin
            self._start_rollouts()
            self.timings["ready_s"] = time.monotonic() - begin
        except BaseException:
            self.stop()
            raise
        return self

    def _start_etcd(self) -> str:
        require_tool("etcd", "apt-get install etcd-server")
        client, peer = free_port(), free_port()
        data = self.workdir / "etcd"
        proc = Proc("etcd", [
            ETCD, "--name=test", f"--data-dir={data}",
            f"--listen-client-urls=http://127.0.0.1:{client}", f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}", "--initial-cluster-state=new",
            "--logger=zap", "--log-level=warn", "--quota-backend-bytes=1073741824",
        ], self.workdir / "etcd.log").start()
        self.procs.append(proc)
        url = f"http://127.0.0.1:{client}"
        wait_until(lambda: _http_ok(f"{url}/health"), 30, "etcd /health", proc)
        return url

    def _start_apiserver(self, etcd_url: str) -> None:
        pki = self.pki
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin-uid,"system:masters"\n')
        tokens.chmod(0o600)
        self.api_port = free_port()
        proc = Proc("kube-apiserver", [
            str(self.kube.binary("kube-apiserver")),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.api_port}",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
            "--service-cluster-ip-range=10.96.0.0/24",
            # Nothing else runs here: no endpoints to reconcile, no flow-control tuning needed.
            "--endpoint-reconciler-type=none", "--enable-priority-and-fairness=false", "--profiling=false",
            "--v=1",
        ], self.workdir / "kube-apiserver.log").start()
        self.procs.append(proc)
        wait_until(lambda: _http_ok(f"{self.url}/readyz", verify=ssl.create_default_context(cafile=pki.ca_cert),
                                    headers={"Authorization": f"Bearer {self.token}"}),
                   120, "kube-apiserver /readyz", proc, *self.procs)

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": self.url,
                                                      "certificate-authority": str(self.pki.ca_cert)}}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin",
                                                      "namespace": self.namespace}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def _start_rollouts(self) -> None:
        healthz = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "POD_NAMESPACE": self.namespace}
        proc = Proc("rollouts-controller", [
            str(self.rollouts.binary("rollouts-controller")),
            f"--kubeconfig={self.kubeconfig}", "--namespaced", "--controllers=analysis", "--leader-elect=false",
            f"--metricsPort={free_port()}", f"--healthzPort={healthz}", "--loglevel=debug",
        ], self.workdir / "rollouts-controller.log", env).start()
        self.procs.append(proc)
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{healthz}/healthz"), 60, "rollouts-controller /healthz",
                   *self.procs)

    # -- clients --------------------------------------------------------------------------------

    def api_client(self) -> k8s.ApiClient:
        """A new admin client (each thread should have its own)."""
        configuration = k8s.Configuration()
        configuration.host = self.url
        configuration.ssl_ca_cert = str(self.pki.ca_cert)
        configuration.api_key = {"authorization": f"Bearer {self.token}"}
        return k8s.ApiClient(configuration)

    def ensure_namespace(self, name: str) -> None:
        with self.api_client() as api:
            try:
                k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
            except ApiException as exc:
                if exc.status != 409:
                    raise

    def install_crds(self, files: list[Path]) -> None:
        """Create every CRD and wait until each is Established (its schema is then being served)."""
        names = []
        with self.api_client() as api:
            ext = k8s.ApiextensionsV1Api(api)
            for file in files:
                for doc in yaml.safe_load_all(file.read_text()):
                    if not doc or doc.get("kind") != "CustomResourceDefinition":
                        continue
                    doc.get("metadata", {}).pop("creationTimestamp", None)
                    doc.pop("status", None)
                    ext.create_custom_resource_definition(doc)
                    names.append(doc["metadata"]["name"])

            def established() -> bool:
                for name in names:
                    status = ext.read_custom_resource_definition(name).status
                    if not any(c.type == "Established" and c.status == "True" for c in status.conditions or []):
                        return False
                return True

            wait_until(established, 60, "CRDs Established", *self.procs)

    # -- stop -----------------------------------------------------------------------------------

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log}) ---\n{p.tail()}" for p in self.procs)

    def check_alive(self) -> None:
        for proc in self.procs:
            proc.check_alive()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def start_control_plane(workdir: Path, namespace: str) -> ControlPlane:
    kube, rollouts = engine("kube"), engine("rollouts")
    return ControlPlane(workdir, namespace, kube, rollouts).start()


def control_plane(workdir: Path, namespace: str) -> Iterator[ControlPlane]:
    """Generator for a fixture: start, yield, always stop."""
    plane = start_control_plane(workdir, namespace)
    try:
        yield plane
    finally:
        plane.stop()
