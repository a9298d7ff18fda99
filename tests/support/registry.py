"""A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on 127.0.0.1.

Everything here is test infrastructure shared by several test packages:

* `RegistryServer` starts/stops `docker-registry serve CONFIG.yml` in a temp dir on a free port and
  waits until `GET /v2/` answers. Variants: `RegistryServer.plain`, `.htpasswd`, `.token`, `.proxy`.
* `TokenServer` is a tiny Docker-style token service (RS256 JWT with an `x5c` header, signed with the
  `cryptography` package) that the registry's `auth.token` config accepts; it counts token requests.
* `FaultProxy` is an HTTP proxy in front of a registry that counts requests and injects faults
  (429 + Retry-After, 5xx, truncated or non-JSON bodies) for the next N matching requests.
* `Image`, `layer`, `push_image`, `push_index` build deterministic images (tiny gzip layers, config,
  Docker v2 or OCI manifests, Docker manifest lists / OCI indexes) and push them over the registry API.
  `Image.built_on(base)` makes an image from a base's layers plus one extra layer.

`require_registry_binary()` skips when the binary is missing locally but fails under `CI=true`.
Only 127.0.0.1 is ever used.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import bcrypt
import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

REGISTRY_BINARY = "docker-registry"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ACCEPT_ALL = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])


# --------------------------------------------------------------------------------------------
# Binary and ports
# --------------------------------------------------------------------------------------------

def require_registry_binary() -> str:
    """Path of `docker-registry`; skip the test when missing, but fail when `CI=true`."""
    path = shutil.which(REGISTRY_BINARY)
    if path:
        return path
    message = "docker-registry binary not found (apt-get install -y docker-registry)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + " — required in CI")
    pytest.skip(message)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unused_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: a registry that is down."""
    return f"http://127.0.0.1:{free_port()}"


def wait_for_http(url: str, timeout: float = 15.0, process: subprocess.Popen[bytes] | None = None,
                  log: Path | None = None) -> None:
    """Poll `url` until any HTTP response arrives (200 or 401 both mean ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"registry exited with {process.returncode} before answering:\n{tail}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


# --------------------------------------------------------------------------------------------
# Registry server
# --------------------------------------------------------------------------------------------

def htpasswd_line(username: str, password: str) -> str:
    """One htpasswd line with a bcrypt hash (the only scheme distribution accepts)."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{username}:{hashed}"


class RegistryServer:
    """One `docker-registry serve` process with its own config, storage and log under `workdir`."""

    def __init__(self, workdir: Path, *, auth: dict[str, Any] | None = None,
                 proxy: dict[str, Any] | None = None, name: str = "registry") -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.auth = auth
        self.proxy = proxy
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None

    # -- variants -----------------------------------------------------------------------------

    @classmethod
    def plain(cls, workdir: Path) -> RegistryServer:
        """Anonymous read/write registry."""
        return cls(workdir, name="plain")

    @classmethod
    def htpasswd(cls, workdir: Path, users: dict[str, str]) -> RegistryServer:
        """Basic auth from an htpasswd file with `users` (name → password)."""
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "htpasswd"
        path.write_text("".join(htpasswd_line(u, p) + "\n" for u, p in users.items()))
        return cls(workdir, auth={"htpasswd": {"realm": "basic-realm", "path": str(path)}}, name="htpasswd")

    @classmethod
    def token(cls, workdir: Path, tokens: TokenServer) -> RegistryServer:
        """Bearer token auth against `tokens` (Docker Hub style)."""
        return cls(workdir, auth={"token": {"realm": tokens.realm, "service": tokens.service,
                                            "issuer": tokens.issuer,
                                            "rootcertbundle": str(tokens.cert_path)}}, name="token")

    @classmethod
    def proxy_of(cls, workdir: Path, remote_url: str, username: str | None = None,
                 password: str | None = None) -> RegistryServer:
        """Pull-through cache of `remote_url` (`proxy.remoteurl`); read-only."""
        proxy: dict[str, Any] = {"remoteurl": remote_url}
        if username is not None:
            proxy.update(username=username, password=password or "")
        return cls(workdir, proxy=proxy, name="proxy")

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`: the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "fields": {"service": self.name}},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")},
                        "delete": {"enabled": True}, "cache": {"blobdescriptor": "inmemory"}},
            "http": {"addr": self.host, "secret": "test-not-secret"},
        }
        if self.auth:
            config["auth"] = self.auth
        if self.proxy:
            config["proxy"] = self.proxy
        return config

    def start(self) -> RegistryServer:
        binary = require_registry_binary()
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = self.log_path.open("ab")
        self._process = subprocess.Popen([binary, "serve", str(self.config_path)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        try:
            wait_for_http(f"{self.url}/v2/", process=self._process, log=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Token server (Bearer auth)
# --------------------------------------------------------------------------------------------

def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenRequest:
    """What the token server saw: query parameters and the Basic-auth user (None = anonymous)."""

    service: str | None
    scopes: list[str]
    username: str | None


class TokenServer:
    """Docker-style token service on 127.0.0.1: `GET /token?service=…&scope=…` → `{"token": JWT}`.

    Anonymous requests get every requested scope unless `users` is set; then Basic credentials are
    required (401 otherwise). Every request is recorded in `requests`.
    """

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, service: str = "test-registry",
                 issuer: str = "test-issuer", expires_in: int = 300) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.service = service
        self.issuer = issuer
        self.users = users
        self.expires_in = expires_in
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-token-issuer")])
        self._cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                      .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                      .not_valid_before(now - dt.timedelta(days=1))
                      .not_valid_after(now + dt.timedelta(days=30))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self.cert_path = workdir / "token.crt"
        self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def issue(self, scopes: list[str], subject: str = "anonymous") -> str:
        """A signed JWT granting `scopes` (`repository:NAME:pull,push`)."""
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(signature)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                username = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    username, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users is not None and server.users.get(username) != password:
                        username = "!bad"
                with server._lock:
                    service = query["service"][0] if query.get("service") else None
                    server.requests.append(TokenRequest(service, query.get("scope", []), username))
                if server.users is not None and (username is None or username == "!bad"):
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                    return
                token = server.issue(query.get("scope", []), username or "anonymous")
                self._send(200, {"token": token, "access_token": token, "expires_in": server.expires_in,
                                 "issued_at": dt.datetime.now(dt.UTC).isoformat()})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BearerAuth(httpx.Auth):
    """Static `Authorization: Bearer` for pushing to a token-auth registry from tests."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


# --------------------------------------------------------------------------------------------
# Counting, fault-injecting proxy
# --------------------------------------------------------------------------------------------

@dataclass
class Fault:
    """Answer the next `times` requests matching `method`/`path` (regex, searched) with a fault.

    `kind`: "status" (send `status`, `headers`, `body`), "truncate" (forward, but cut the body and
    close the connection), "garbage" (200 with a non-JSON body, the upstream's other headers kept),
    "drop-headers" (forward without the response headers named in `headers`' keys, e.g. a registry
    that sends no `Docker-Content-Digest`).
    """

    kind: str
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None
                                                                   or re.search(self.path, path) is not None)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    status: int


_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
                "proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade"}


class FaultProxy:
    """HTTP proxy on 127.0.0.1 in front of `upstream`; counts requests and injects faults.

    Point a client at `url` instead of the registry. `requests` lists every request with the status
    the client got; `count(method, path_regex)` counts them. Add faults with `inject(Fault(...))`.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[SeenRequest] = []
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.max_in_flight = 0
        """Most requests ever handled at the same time (to check client concurrency bounds)."""
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30.0, follow_redirects=False)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if (method is None or r.method == method)
                       and (path is None or re.search(path, r.path)))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.max_in_flight = 0

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append(SeenRequest(method, path, status))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy._enter()
                try:
                    self._forward()
                finally:
                    proxy._leave()

            def _forward(self) -> None:
                method, path = self.command, self.path
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take_fault(method, path)
                if fault is not None and fault.kind == "status":
                    proxy._record(method, path, fault.status)
                    self._reply(fault.status, fault.headers, fault.body, method)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "connection"}}
                upstream = proxy._client.request(method, proxy.upstream + path, headers=headers, content=body)
                out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS}
                if "location" in upstream.headers:
                    out_headers["Location"] = upstream.headers["location"].replace(proxy.upstream, proxy.url)
                content = upstream.content
                if fault is not None and fault.kind == "drop-headers":
                    dropped = {name.lower() for name in fault.headers}
                    out_headers = {k: v for k, v in out_headers.items() if k.lower() not in dropped}
                if fault is not None and fault.kind == "garbage":
                    proxy._record(method, path, 200)
                    self._reply(200, out_headers, b"<html>gateway says hi</html>", method)
                    return
                if fault is not None and fault.kind == "truncate":
                    proxy._record(method, path, upstream.status_code)
                    self.send_response(upstream.status_code)
                    for key, value in out_headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(content) + 100))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                proxy._record(method, path, upstream.status_code)
                length_header = upstream.headers.get("content-length") if method == "HEAD" else None
                self._reply(upstream.status_code, out_headers, content, method, length_header)

            def _reply(self, status: int, headers: dict[str, str], body: bytes, method: str,
                       length: str | None = None) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        return Handler

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Deterministic images and pushing
# --------------------------------------------------------------------------------------------

def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "size": len(self.data), "digest": self.digest}


@dataclass(frozen=True)
class Layer:
    """A gzip'd tar layer; `diff_id` is the digest of the uncompressed tar (for the config)."""

    compressed: bytes
    diff_id: str

    @property
    def digest(self) -> str:
        return sha256(self.compressed)


def layer(files: dict[str, bytes | str]) -> Layer:
    """A deterministic layer (mtime 0, fixed owner and mode, sorted names) holding `files`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            content = files[name]
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
            tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    compressed = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    return Layer(compressed, sha256(tar_bytes))


@dataclass(frozen=True)
class Image:
    """A single-platform image: layers (bottom first), platform, labels, Docker or OCI media types."""

    layers: tuple[Layer, ...]
    platform: str = "linux/amd64"
    labels: tuple[tuple[str, str], ...] = ()
    oci: bool = False

    @classmethod
    def of(cls, content: str, *, platform: str = "linux/amd64", oci: bool = False,
           labels: dict[str, str] | None = None) -> Image:
        """A one-layer image whose layer holds `content` (different content → different digest)."""
        return cls((layer({"content.txt": content, "platform.txt": platform}),), platform,
                   tuple(sorted((labels or {}).items())), oci)

    def built_on(self, base: Image | None = None, *, files: dict[str, bytes | str] | None = None,
                 labels: dict[str, str] | None = None) -> Image:
        """An image FROM `base` (default: self): the base's layers plus one extra layer."""
        base = base or self
        extra = layer(files or {"app.txt": "app"})
        return Image((*base.layers, extra), base.platform, tuple(sorted((labels or {}).items())), base.oci)

    @property
    def layer_digests(self) -> list[str]:
        return [lay.digest for lay in self.layers]

    def config_blob(self) -> Blob:
        os_name, arch, *variant = self.platform.split("/")
        config: dict[str, Any] = {
            "architecture": arch, "os": os_name, "created": "1970-01-01T00:00:00Z",
            "config": {"Labels": dict(self.labels)} if self.labels else {},
            "rootfs": {"type": "layers", "diff_ids": [lay.diff_id for lay in self.layers]},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "test"} for _ in self.layers],
        }
        if variant:
            config["variant"] = variant[0]
        data = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        return Blob(OCI_CONFIG if self.oci else DOCKER_CONFIG, data)

    def layer_blobs(self) -> list[Blob]:
        return [Blob(OCI_LAYER if self.oci else DOCKER_LAYER, lay.compressed) for lay in self.layers]

    def manifest(self) -> Blob:
        media_type = OCI_MANIFEST if self.oci else DOCKER_MANIFEST
        manifest = {"schemaVersion": 2, "mediaType": media_type, "config": self.config_blob().descriptor(),
                    "layers": [blob.descriptor() for blob in self.layer_blobs()]}
        return Blob(media_type, json.dumps(manifest, sort_keys=True, indent=3).encode())

    @property
    def digest(self) -> str:
        return self.manifest().digest

    def platform_dict(self) -> dict[str, str]:
        os_name, arch, *variant = self.platform.split("/")
        out = {"architecture": arch, "os": os_name}
        if variant:
            out["variant"] = variant[0]
        return out


def index_manifest(images: list[Image], oci: bool = False) -> Blob:
    """A Docker manifest list (or OCI index) over `images`, in the given order."""
    media_type = OCI_INDEX if oci else DOCKER_LIST
    entries = [{**image.manifest().descriptor(), "platform": image.platform_dict()} for image in images]
    return Blob(media_type, json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries},
                                       sort_keys=True, indent=3).encode())


Auth = httpx.Auth | tuple[str, str] | None


def _client(auth: Auth) -> httpx.Client:
    return httpx.Client(auth=auth, timeout=30.0)


def push_blob(registry_url: str, repository: str, blob: Blob | bytes, auth: Auth = None) -> str:
    """Upload a blob (monolithic POST + PUT) unless present; return its digest."""
    data = blob.data if isinstance(blob, Blob) else blob
    digest = sha256(data)
    with _client(auth) as client:
        if client.head(f"{registry_url}/v2/{repository}/blobs/{digest}").status_code == 200:
            return digest
        started = client.post(f"{registry_url}/v2/{repository}/blobs/uploads/")
        if started.status_code != 202:
            raise RuntimeError(f"blob upload start failed: HTTP {started.status_code} {started.text}")
        location = str(started.headers["Location"])
        if location.startswith("/"):
            location = registry_url + location
        # The Location carries upload state in its query; add the digest without dropping it.
        done = client.put(httpx.URL(location).copy_merge_params({"digest": digest}), content=data,
                          headers={"Content-Type": "application/octet-stream"})
        if done.status_code != 201:
            raise RuntimeError(f"blob upload failed: HTTP {done.status_code} {done.text}")
    return digest


def push_manifest(registry_url: str, repository: str, reference: str, manifest: Blob,
                  auth: Auth = None) -> str:
    """PUT a manifest under a tag or digest; return the registry's digest for it."""
    with _client(auth) as client:
        response = client.put(f"{registry_url}/v2/{repository}/manifests/{reference}", content=manifest.data,
                              headers={"Content-Type": manifest.media_type})
    if response.status_code != 201:
        raise RuntimeError(f"manifest PUT failed: HTTP {response.status_code} {response.text}")
    digest = str(response.headers.get("Docker-Content-Digest", manifest.digest))
    assert digest == manifest.digest, (digest, manifest.digest)
    return digest


def push_image(registry_url: str, repository: str, tag: str | None, image: Image, auth: Auth = None) -> str:
    """Push layers, config and manifest; tag it when `tag` is given. Returns the manifest digest."""
    for blob in (*image.layer_blobs(), image.config_blob()):
        push_blob(registry_url, repository, blob, auth)
    return push_manifest(registry_url, repository, tag or image.digest, image.manifest(), auth)


def push_index(registry_url: str, repository: str, tag: str, images: list[Image], oci: bool = False,
               auth: Auth = None) -> str:
    """Push every platform image by digest, then the list/index under `tag`; return the index digest."""
    for image in images:
        push_image(registry_url, repository, None, image, auth)
    return push_manifest(registry_url, repository, tag, index_manifest(images, oci), auth)


def head_digest(registry_url: str, repository: str, reference: str, auth: Auth = None) -> str | None:
    """The registry's `Docker-Content-Digest` for a reference (None on 404), with full Accept types."""
    with _client(auth) as client:
        response = client.head(f"{registry_url}/v2/{repository}/manifests/{reference}",
                               headers={"Accept": ACCEPT_ALL})
    return response.headers.get("Docker-Content-Digest") if response.status_code == 200 else None
