"""OCI distribution (Registry HTTP API v2) client: tag → digest with one HEAD, manifests, configs.

Every failure becomes a `RegistryError` subclass whose message names the image and what went wrong,
never credentials. 5xx, connection errors and truncated bodies are retried with exponential backoff
and full jitter; a 429 waits for `Retry-After` (capped); 401/403/404 are not retried.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

from analyzer.config.model import RegistriesConfig
from analyzer.discovery.reference import ImageRef
from analyzer.registry.auth import RegistryAuth, TokenCache
from analyzer.registry.credentials import CredentialStore
from analyzer.registry.errors import (
    BadResponse,
    NotFound,
    RateLimited,
    RegistryError,
    Unauthorized,
    Unavailable,
)
from analyzer.registry.manifest import (
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    ImageConfig,
    image_config,
    image_manifest,
    index_platforms,
    media_type_of,
    parse_json,
    pick_platform,
    sha256_digest,
)
from analyzer.registry.mirrors import Endpoints, endpoints_for, limits_for_host, registry_of_host
from analyzer.registry.ratelimit import HostLimits, LimitedTransport

_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff: float = 0.5
    """Base delay in seconds; attempt n waits a random time up to backoff·2ⁿ⁻¹ (full jitter)."""
    max_backoff: float = 10.0
    max_retry_after: float = 60.0
    """A 429 asking to wait longer than this is reported instead of waited for."""


@dataclass(frozen=True)
class TagDigest:
    digest: str
    media_type: str


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    data: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _describe_transport_error(exc: httpx.TransportError) -> RegistryError:
    if isinstance(exc, httpx.RemoteProtocolError):
        return BadResponse("the registry closed the connection before sending the full response (truncated)")
    if isinstance(exc, httpx.TimeoutException):
        return Unavailable(f"timed out ({exc.__class__.__name__})")
    if isinstance(exc, httpx.ConnectError):
        return Unavailable("cannot connect (registry down or unreachable)")
    return Unavailable(f"network error ({exc.__class__.__name__})")


class RegistryClient:
    """One client per run; thread-safe, so tags can be resolved concurrently."""

    def __init__(self, config: RegistriesConfig | None = None, credentials: CredentialStore | None = None, *,
                 timeout: float = 15.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random,
                 transport: httpx.BaseTransport | None = None,
                 user_agent: str = "image-factory") -> None:
        self.config = config or RegistriesConfig.model_validate({})
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._jitter = jitter
        limits = HostLimits(lambda host: limits_for_host(self.config, host), sleep=sleep)
        self._http = httpx.Client(
            transport=LimitedTransport(transport or httpx.HTTPTransport(), limits),
            auth=RegistryAuth(credentials or CredentialStore(), TokenCache(), registry_of_host),
            timeout=httpx.Timeout(timeout), follow_redirects=True,
            headers={"User-Agent": user_agent},
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def endpoints(self, ref: ImageRef) -> Endpoints:
        return endpoints_for(ref.registry, self.config)

    # -- HTTP with retries -------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.backoff * 2 ** (attempt - 1), self.retry.max_backoff)
        return float(ceiling * self._jitter())

    def _send(self, method: str, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        last: RegistryError = Unavailable("no attempt made")
        for attempt in range(1, self.retry.attempts + 1):
            final = attempt == self.retry.attempts
            try:
                response = self._http.request(method, url, headers=headers)
            except httpx.TransportError as exc:
                last = _describe_transport_error(exc)
                if not final:
                    self._sleep(self._backoff(attempt))
                continue
            if response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"), datetime.now(UTC))
                last = RateLimited("rate limited (HTTP 429"
                                   + (f", Retry-After {wait:g}s)" if wait is not None else ")"), 429)
                if wait is not None and wait > self.retry.max_retry_after:
                    raise last
                if not final:
                    self._sleep(wait if wait is not None else self._backoff(attempt))
                continue
            if response.status_code >= 500:
                last = Unavailable(f"registry error HTTP {response.status_code}", response.status_code)
                if not final:
                    self._sleep(self._backoff(attempt))
                continue
            return response
        raise last

    def _checked(self, method: str, url: str, what: str, headers: dict[str, str] | None = None
                 ) -> httpx.Response:
        """Send with retries; map the final status to a RegistryError that names `what`."""
        try:
            response = self._send(method, url, headers)
        except RegistryError as exc:
            raise type(exc)(f"{what}: {exc.message}", exc.status) from None
        status = response.status_code
        if status == 404:
            raise NotFound(f"{what}: not found (HTTP 404)", 404)
        if status in (401, 403):
            raise Unauthorized(f"{what}: access denied (HTTP {status}); check the registry credentials",
                               status)
        if status != 200:
            raise BadResponse(f"{what}: unexpected HTTP {status}", status)
        return response

    # -- Manifests ---------------------------------------------------------------------------

    def head_tag(self, ref: ImageRef) -> TagDigest:
        """The digest a tag points to now, asked of the upstream (never a mirror): one HEAD."""
        tag = ref.tag or "latest"
        url = f"{self.endpoints(ref).upstream}/v2/{ref.repository}/manifests/{tag}"
        what = f"{ref.name}:{tag}"
        response = self._checked("HEAD", url, what, {"Accept": MANIFEST_ACCEPT})
        digest = response.headers.get("Docker-Content-Digest", "").strip()
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if digest:
            if not _DIGEST_RE.fullmatch(digest):
                raise BadResponse(f"{what}: malformed Docker-Content-Digest header")
            return TagDigest(digest, media_type)
        # No digest header (some registries): fall back to GET and hash the exact bytes.
        response = self._checked("GET", url, what, {"Accept": MANIFEST_ACCEPT})
        body = response.content
        data = parse_json(body, f"{what} manifest")
        return TagDigest(sha256_digest(body), media_type_of(data, response.headers.get("Content-Type")))

    def manifest(self, ref: ImageRef, digest: str) -> Manifest:
        """A manifest by digest, from the mirror when one is configured, verified against the digest."""
        what = f"{ref.name}@{digest}"
        errors: list[RegistryError] = []
        for base in self.endpoints(ref).for_digest_reads():
            try:
                response = self._checked("GET", f"{base}/v2/{ref.repository}/manifests/{digest}", what,
                                         {"Accept": MANIFEST_ACCEPT})
                body = response.content
                if digest.startswith("sha256:") and sha256_digest(body) != digest:
                    raise BadResponse(f"{what}: manifest body does not match its digest")
                data = parse_json(body, f"{what} manifest")
                return Manifest(digest, media_type_of(data, response.headers.get("Content-Type")), data)
            except RegistryError as exc:
                errors.append(exc)
        raise errors[-1]

    def blob(self, ref: ImageRef, digest: str) -> bytes:
        what = f"{ref.name} blob {digest}"
        errors: list[RegistryError] = []
        for base in self.endpoints(ref).for_digest_reads():
            try:
                body = self._checked("GET", f"{base}/v2/{ref.repository}/blobs/{digest}", what).content
                if digest.startswith("sha256:") and sha256_digest(body) != digest:
                    raise BadResponse(f"{what}: blob does not match its digest")
                return body
            except RegistryError as exc:
                errors.append(exc)
        raise errors[-1]

    def platforms(self, ref: ImageRef, tag: TagDigest) -> dict[str, str]:
        """Per-platform manifest digests of a multi-arch tag; {} for a single-platform image."""
        if tag.media_type and tag.media_type not in INDEX_TYPES:
            return {}
        manifest = self.manifest(ref, tag.digest)
        return index_platforms(manifest.data) if manifest.is_index else {}

    def image_manifest_for(self, ref: ImageRef, platform: str | None = None) -> Manifest:
        """The single-platform manifest of a tag (or digest reference) for `platform`."""
        digest = ref.digest or self.head_tag(ref).digest
        manifest = self.manifest(ref, digest)
        if not manifest.is_index:
            return manifest
        platforms = index_platforms(manifest.data)
        wanted = platform or "linux/amd64"
        child = pick_platform(platforms, wanted)
        if child is None:
            raise NotFound(f"{ref.name}@{digest}: no manifest for platform {wanted} "
                           f"(has {', '.join(sorted(platforms)) or 'none'})")
        return self.manifest(ref, child)

    def layers(self, ref: ImageRef, platform: str | None = None) -> list[str]:
        """Layer digests of the image for `platform`, bottom first."""
        return [layer.digest for layer in image_manifest(self.image_manifest_for(ref, platform).data).layers]

    def image_config(self, ref: ImageRef, platform: str | None = None) -> ImageConfig:
        """The image config (os/arch and labels such as `org.opencontainers.image.base.digest`)."""
        manifest = image_manifest(self.image_manifest_for(ref, platform).data)
        body = self.blob(ref, manifest.config.digest)
        return image_config(parse_json(body, f"{ref.name} config {manifest.config.digest}"))
