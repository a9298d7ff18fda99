"""Registry authentication as an httpx auth flow: anonymous, Basic, and the Bearer token dance.

On a 401 the `WWW-Authenticate` challenge says what to do: `Basic` → send credentials; `Bearer
realm=…,service=…,scope=…` → fetch a token from the realm (with Basic credentials if we have them,
anonymously otherwise, as Docker Hub, GHCR and Quay allow) and retry. Tokens are cached per
(registry, scope) until shortly before they expire, so later requests go out authorized at once.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from analyzer.registry.credentials import Credentials, CredentialStore
from analyzer.registry.errors import BadResponse, Unauthorized
from analyzer.registry.manifest import parse_json

DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, per the Docker token spec when `expires_in` is absent
EXPIRY_MARGIN = 10.0

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_REPO_PATH_RE = re.compile(r"^/v2/(.+)/(?:manifests|blobs|tags)/")


@dataclass(frozen=True)
class Challenge:
    scheme: str
    """Lower-case: `basic` or `bearer`."""
    params: dict[str, str]


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse one `WWW-Authenticate` value (`Bearer realm="…",service="…",scope="…"`)."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).replace('\\"', '"')
              for m in _PARAM_RE.finditer(rest)}
    return Challenge(scheme.lower(), params)


def repository_of(path: str) -> str | None:
    """`/v2/library/python/manifests/3.12` → `library/python`."""
    match = _REPO_PATH_RE.match(path)
    return match.group(1) if match else None


def basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class TokenCache:
    """Authorization headers per (registry host, repository); thread-safe; expiry by `clock`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[str, float | None]] = {}

    def get(self, host: str, repository: str) -> str | None:
        with self._lock:
            entry = self._entries.get((host, repository))
            if entry is None:
                return None
            header, expires = entry
            if expires is not None and self._clock() >= expires:
                del self._entries[(host, repository)]
                return None
            return header

    def put(self, host: str, repository: str, header: str, lifetime: float | None) -> None:
        expires = None if lifetime is None else self._clock() + max(lifetime - EXPIRY_MARGIN, 0.0)
        with self._lock:
            self._entries[(host, repository)] = (header, expires)


class RegistryAuth(httpx.Auth):
    """httpx auth flow for registries; `registry_of(host)` maps an endpoint host to the credential key."""

    requires_response_body = True

    def __init__(self, credentials: CredentialStore, cache: TokenCache,
                 registry_of: Callable[[str], str]) -> None:
        self._credentials = credentials
        self._cache = cache
        self._registry_of = registry_of

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        host = request.url.netloc.decode("ascii")
        repository = repository_of(request.url.path) or ""
        cached = self._cache.get(host, repository)
        if cached:
            request.headers["Authorization"] = cached
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate"))
        if challenge is None:
            return
        credentials = self._credentials.lookup(self._registry_of(host), repository)
        if challenge.scheme == "basic":
            if credentials is None:
                return
            header = basic_header(credentials)
            self._cache.put(host, repository, header, None)
        elif challenge.scheme == "bearer":
            token_request = self._token_request(challenge, repository, credentials)
            token_response = yield token_request
            header, lifetime = _read_token(token_response, token_request)
            self._cache.put(host, repository, header, lifetime)
        else:
            return
        request.headers["Authorization"] = header
        yield request

    @staticmethod
    def _token_request(challenge: Challenge, repository: str,
                       credentials: Credentials | None) -> httpx.Request:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise Unauthorized("registry sent a Bearer challenge without a usable realm", 401)
        params = {}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        scope = challenge.params.get("scope") or (f"repository:{repository}:pull" if repository else "")
        if scope:
            params["scope"] = scope
        headers = {"Authorization": basic_header(credentials)} if credentials else {}
        return httpx.Request("GET", realm, params=params, headers=headers)


def _read_token(response: httpx.Response, request: httpx.Request) -> tuple[str, float]:
    realm = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}{request.url.path}"
    if response.status_code in (401, 403):
        raise Unauthorized(f"token service {realm} refused the credentials (HTTP {response.status_code})",
                           response.status_code)
    if response.status_code != 200:
        raise Unauthorized(f"token service {realm} answered HTTP {response.status_code}",
                           response.status_code)
    try:
        data = parse_json(response.content, f"token response from {realm}")
    except BadResponse as exc:
        raise Unauthorized(exc.message) from None
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise Unauthorized(f"token response from {realm} has no token")
    expires_in = data.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 \
        else DEFAULT_TOKEN_LIFETIME
    return f"Bearer {token}", lifetime
