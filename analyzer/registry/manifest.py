"""Media types and pure parsing of manifests, indexes and image configs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from analyzer.registry.errors import BadResponse

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

# Without these a registry converts Docker v2 to schema 1 (another digest) or 404s OCI content.
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])

# Default variants, as containerd normalizes them, so `linux/arm64` matches `linux/arm64/v8`.
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7"}


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def normalize_platform(platform: str) -> str:
    """`linux/arm64` → `linux/arm64/v8`; others unchanged. Used for matching, not for storing."""
    parts = platform.split("/")
    if len(parts) == 2 and parts[1] in _DEFAULT_VARIANTS:
        parts.append(_DEFAULT_VARIANTS[parts[1]])
    return "/".join(parts)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class ImageManifest:
    config: Descriptor
    layers: list[Descriptor]


@dataclass(frozen=True)
class ImageConfig:
    os: str | None
    architecture: str | None
    variant: str | None
    labels: dict[str, str] = field(default_factory=dict)


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or BadResponse naming what was being read (truncated bodies land here too)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadResponse(f"{what} is not valid JSON ({len(body)} bytes): {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise BadResponse(f"{what} is not a JSON object")
    return data


def _descriptor(raw: object, what: str) -> Descriptor:
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise BadResponse(f"{what}: descriptor without a digest")
    size = raw.get("size", 0)
    return Descriptor(str(raw.get("mediaType", "")), raw["digest"], size if isinstance(size, int) else 0)


def media_type_of(data: dict[str, Any], header_type: str | None) -> str:
    """The manifest's own mediaType wins; the Content-Type header is the fallback (OCI makes it optional)."""
    media_type = data.get("mediaType")
    if isinstance(media_type, str) and media_type:
        return media_type
    if header_type:
        return header_type.split(";")[0].strip()
    return OCI_INDEX if "manifests" in data else OCI_MANIFEST


def index_platforms(data: dict[str, Any]) -> dict[str, str]:
    """`os/arch[/variant]` → child manifest digest; attestations (`unknown/unknown`) are left out."""
    manifests = data.get("manifests")
    if not isinstance(manifests, list):
        raise BadResponse("index has no manifests list")
    platforms: dict[str, str] = {}
    for entry in manifests:
        descriptor = _descriptor(entry, "index entry")
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(platform, dict):
            continue
        os_name, arch = platform.get("os"), platform.get("architecture")
        if not isinstance(os_name, str) or not isinstance(arch, str) or "unknown" in (os_name, arch):
            continue
        key = f"{os_name}/{arch}" + (f"/{platform['variant']}" if platform.get("variant") else "")
        platforms.setdefault(key, descriptor.digest)
    return platforms


def image_manifest(data: dict[str, Any]) -> ImageManifest:
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise BadResponse("image manifest has no layers list")
    return ImageManifest(_descriptor(data.get("config"), "config"),
                         [_descriptor(layer, "layer") for layer in layers])


def image_config(data: dict[str, Any]) -> ImageConfig:
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    labels = config.get("Labels") if isinstance(config, dict) else None
    return ImageConfig(
        os=data.get("os") if isinstance(data.get("os"), str) else None,
        architecture=data.get("architecture") if isinstance(data.get("architecture"), str) else None,
        variant=data.get("variant") if isinstance(data.get("variant"), str) else None,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


def pick_platform(platforms: dict[str, str], wanted: str) -> str | None:
    """The child digest for `wanted` (`linux/arm64` matches `linux/arm64/v8`), or None."""
    target = normalize_platform(wanted)
    for key, digest in platforms.items():
        if normalize_platform(key) == target:
            return digest
    return None
