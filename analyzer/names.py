"""Kubernetes object names for rendered Kargo resources: DNS-1123 labels, deterministic and unique.

A name is readable when it fits (`python-3-12-slim`, `rebuild-api`); when it must be shortened, or
when two different keys would read the same, a short hash of the *full key* is appended, so the
same inputs always give the same names and different keys never collide.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from analyzer.discovery.reference import DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX, parse_reference

MAX_LENGTH = 63
HASH_LENGTH = 6
DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
"""A DNS-1123 label (use with fullmatch): Kubernetes object names, image names in images.yaml and state."""
_INVALID_RUN = re.compile(r"[^a-z0-9]+")


def is_dns_label(name: str) -> bool:
    return bool(DNS_LABEL_RE.fullmatch(name))


def short_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def sanitize(text: str) -> str:
    """Lowercase; every run of characters outside [a-z0-9] becomes one '-'; no leading/trailing '-'."""
    return _INVALID_RUN.sub("-", text.lower()).strip("-")


def with_hash(readable: str, key: str, max_length: int = MAX_LENGTH) -> str:
    """`readable` cut to fit, plus `-<hash of key>`."""
    suffix = short_hash(key)
    head = readable[: max_length - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}" if head else f"h{suffix}"


def dns_label(*parts: str, key: str | None = None, max_length: int = MAX_LENGTH) -> str:
    """A DNS-1123 label from `parts`; hashed on `key` (default: the parts) when it had to be shortened."""
    readable = sanitize("-".join(p for p in parts if p))
    full_key = key if key is not None else "\x00".join(parts)
    if not readable:
        return with_hash("x", full_key, max_length)
    if len(readable) <= max_length:
        return readable
    return with_hash(readable, full_key, max_length)


def ref_slug(ref: str) -> str:
    """Readable slug of a tracked reference: Docker Hub official images drop the registry and `library/`
    (`docker.io/library/python:3.12-slim` → `python-3-12-slim`); others keep host and path."""
    parsed = parse_reference(ref)
    if parsed.registry == DEFAULT_DOMAIN:
        repository = parsed.repository.removeprefix(OFFICIAL_REPO_PREFIX)
        return sanitize(f"{repository}-{parsed.tag or 'latest'}")
    return sanitize(f"{parsed.registry}-{parsed.repository}-{parsed.tag or 'latest'}")


def unique_names(candidates: Mapping[str, str], max_length: int = MAX_LENGTH,
                 recorded: Mapping[str, str] | None = None) -> dict[str, str]:
    """Key → name where every name is unique: keys whose candidate is shared get a hash of the key.

    `recorded` (key → the name it already has, see analyzer/kargo/name_record.py) wins: a key that still
    exists keeps its recorded name, and a new key whose candidate is that name gets a hash instead, so a
    new collision never renames an existing object. Deterministic: the result depends only on the
    mappings' content, not on their order.
    """
    recorded = {key: name for key, name in (recorded or {}).items()
                if key in candidates and is_dns_label(name) and len(name) <= max_length}
    claims: dict[str, int] = {}
    for name in recorded.values():
        claims[name] = claims.get(name, 0) + 1
    kept = {key: name for key, name in recorded.items() if claims[name] == 1}  # a hand-edited clash: neither
    counts = dict.fromkeys(kept.values(), 1)
    fresh = {key: name for key, name in candidates.items() if key not in kept}
    for name in fresh.values():
        counts[name] = counts.get(name, 0) + 1
    result = dict(kept)
    result |= {key: (with_hash(name, key, max_length) if counts[name] > 1 else name) for key, name in fresh.items()}
    taken: dict[str, str] = {name: key for key, name in kept.items()}
    for key in sorted(fresh):
        name = result[key]
        if name in taken:  # a hashed name equal to another's readable name: hash again, deterministically
            name = with_hash(name, f"{key}\x00{name}", max_length)
            result[key] = name
        taken[name] = key
    return result
