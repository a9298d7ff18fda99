"""Where to send requests for a registry: its API endpoint, and an optional pull-through mirror.

Tag lookups always go to the upstream endpoint: a mirror may serve a stale tag (distribution serves
its last cached digest when the upstream is unreachable), and "no update" must never come from a
cache. Reads by digest are content-addressed, so a mirror can serve them safely; they fall back to
the upstream when the mirror fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.config.model import RegistriesConfig

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_PLAIN_HTTP_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


@dataclass(frozen=True)
class Endpoints:
    registry: str
    """Registry as written in normalized references (`docker.io`)."""
    upstream: str
    """Base URL of the registry API (`https://registry-1.docker.io`)."""
    mirror: str | None = None

    def for_digest_reads(self) -> list[str]:
        return [self.mirror, self.upstream] if self.mirror else [self.upstream]


def _host_without_port(registry: str) -> str:
    if registry.startswith("["):
        return registry.split("]", 1)[0] + "]"
    return registry.rsplit(":", 1)[0] if ":" in registry else registry


def upstream_url(registry: str, insecure: bool = False) -> str:
    host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
    plain = insecure or _host_without_port(registry) in _PLAIN_HTTP_HOSTS
    return f"{'http' if plain else 'https'}://{host}"


def endpoints_for(registry: str, config: RegistriesConfig) -> Endpoints:
    settings = config.settings_for(registry)
    return Endpoints(registry, settings.endpoint or upstream_url(registry, settings.insecure), settings.mirror)


def registry_of_host(netloc: str) -> str:
    """Credential key for a request host: the API host of Docker Hub maps back to `docker.io`."""
    return DOCKER_HUB if netloc == DOCKER_HUB_API else netloc


def limits_for_host(config: RegistriesConfig, netloc: str) -> tuple[float, int]:
    """(requests/s, concurrency) for an endpoint host; a mirror shares its registry's settings."""
    registry = registry_of_host(netloc)
    if registry in config.hosts:
        settings = config.hosts[registry]
    else:
        settings = next((s for s in config.hosts.values()
                         if any(url and url.split("://", 1)[1].split("/", 1)[0] == netloc
                                for url in (s.mirror, s.endpoint))),
                        config.settings_for(registry))
    return settings.requests_per_second, settings.max_concurrent
