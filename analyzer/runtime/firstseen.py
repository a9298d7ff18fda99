"""When a digest was first seen: its Kargo Freight's discovery time, else the state history.

The Freight is read through the Kubernetes API (the gate job's service account may `list` Freight
in the project namespace and nothing else); outside a cluster, or when the API cannot be asked, the
first-seen time that `refresh` recorded in the base image's state history is used instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.kargo.conventions import KARGO_GROUP, KARGO_VERSION
from analyzer.state.model import ImageState

FREIGHT_PLURAL = "freights"
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
ENV_NAMESPACE = "IMAGE_FACTORY_NAMESPACE"


class FirstSeenError(Exception):
    """The source could not be asked (API down, forbidden); the caller falls back."""


class FirstSeenSource(Protocol):
    def first_seen(self, warehouse: str, repository: str, digest: str) -> datetime | None: ...


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _same_repository(a: str, b: str) -> bool:
    try:
        return parse_reference(a).name == parse_reference(b).name
    except InvalidReference:
        return a == b


def freight_first_seen(items: Iterable[Mapping[str, Any]], warehouse: str, repository: str,
                       digest: str) -> datetime | None:
    """Earliest discovery time of the Warehouse's Freight that carries `repository@digest` (pure)."""
    times: list[datetime] = []
    for item in items:
        origin = item.get("origin") or {}
        if origin.get("kind", "Warehouse") != "Warehouse" or origin.get("name") != warehouse:
            continue
        images = item.get("images") or []
        if not any(i.get("digest") == digest and _same_repository(i.get("repoURL", ""), repository)
                   for i in images):
            continue
        when = _parse_time(item.get("discoveredAt")) or _parse_time((item.get("metadata") or {})
                                                                     .get("creationTimestamp"))
        if when is not None:
            times.append(when)
    return min(times) if times else None


def history_first_seen(states: Mapping[str, ImageState], ref: str, digest: str) -> datetime | None:
    state = states.get(ref)
    if state is None:
        return None
    return next((r.first_seen for r in state.digests.history if r.digest == digest), None)


@dataclass
class KubernetesFreightSource:
    """Lists Freight with the official `kubernetes` client (in-cluster config by default)."""

    namespace: str
    api_client: Any = None
    """A configured `kubernetes.client.ApiClient`; None loads the in-cluster service-account config."""

    @classmethod
    def in_cluster(cls) -> KubernetesFreightSource | None:
        """The source when running in a pod (the service-account namespace is the Kargo project), else None."""
        if not os.environ.get("KUBERNETES_SERVICE_HOST"):
            return None
        namespace = os.environ.get(ENV_NAMESPACE)
        if not namespace and NAMESPACE_FILE.exists():
            namespace = NAMESPACE_FILE.read_text().strip()
        return cls(namespace) if namespace else None

    def _api(self) -> Any:
        from kubernetes import client, config

        if self.api_client is None:
            config.load_incluster_config()
            self.api_client = client.ApiClient()
        return client.CustomObjectsApi(self.api_client)

    def first_seen(self, warehouse: str, repository: str, digest: str) -> datetime | None:
        from kubernetes.client.exceptions import ApiException, OpenApiException
        from urllib3.exceptions import HTTPError

        try:
            listing = self._api().list_namespaced_custom_object(
                KARGO_GROUP, KARGO_VERSION, self.namespace, FREIGHT_PLURAL, _request_timeout=30)
        except ApiException as exc:
            raise FirstSeenError(f"cannot list Freight in {self.namespace}: HTTP {exc.status} {exc.reason}") \
                from None
        except (OpenApiException, HTTPError, OSError) as exc:
            raise FirstSeenError(f"cannot list Freight in {self.namespace}: {exc.__class__.__name__}") from None
        return freight_first_seen(listing.get("items") or [], warehouse, repository, digest)
