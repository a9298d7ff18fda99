"""Image reference parsing and normalization, following distribution/reference (what Docker and BuildKit use).

`python` → `docker.io/library/python:latest`; `index.docker.io/x/y` → `docker.io/x/y:latest`;
`localhost:5000/a`, `[::1]:5000/a`, `name:tag@sha256:…` all parse. Invalid references raise
`InvalidReference` with the reason.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

# The grammar of distribution/reference (regexp.go); every class is ASCII-only, as in Go.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[_.]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_ANCHORED_DOMAIN_RE = re.compile(rf"^{_DOMAIN}\Z")
_ANCHORED_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
_ANCHORED_TAG_RE = re.compile(rf"^{_TAG}\Z")
_ANCHORED_DIGEST_RE = re.compile(rf"^{_DIGEST}\Z")
_HEX64_RE = re.compile(r"^[a-f0-9]{64}\Z")
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""Algorithms go-digest validates (others are "unsupported digest algorithm"), with their hex lengths."""


class InvalidReference(ValueError):
    """The string is not a valid image reference; the message says why."""


@dataclass(frozen=True, order=True)
class ImageRef:
    """A normalized image reference."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """`registry/repository`, the thing a Warehouse `repoURL` names."""
        return f"{self.registry}/{self.repository}"

    @property
    def normalized(self) -> str:
        """Canonical string; the implicit `latest` is added only when there is no digest."""
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def pinned(self) -> bool:
        """A digest reference cannot move, whatever its tag says (BuildKit pulls by digest)."""
        return self.digest is not None

    @property
    def tracked(self) -> str:
        """`registry/repository:tag`, the mutable thing a Warehouse follows (tag kept, digest dropped)."""
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    def as_dict(self) -> dict[str, str | None]:
        return {"registry": self.registry, "repository": self.repository, "tag": self.tag,
                "digest": self.digest, "normalized": self.normalized}


def _split_domain(name: str) -> tuple[str, str]:
    """distribution's splitDockerDomain: decide whether the first path component is a registry host."""
    first, sep, rest = name.partition("/")
    if not sep:
        domain, remainder = DEFAULT_DOMAIN, name
    elif first == "localhost" or any(c in first for c in ".:") or first.lower() != first:
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


@functools.lru_cache(maxsize=65536)
def parse_reference(text: str) -> ImageRef:
    """Parse and normalize `text` like distribution's ParseNormalizedNamed + TagNameOnly.

    Pure and called for the same strings over and over on a large fleet, so results are memoized
    (ImageRef is immutable; invalid references raise every time).
    """
    if not text:
        raise InvalidReference("repository name must have at least one component")
    if text != text.strip():
        raise InvalidReference("invalid reference format: surrounding whitespace")
    if _HEX64_RE.match(text):
        raise InvalidReference("invalid repository name, cannot specify 64-byte hexadecimal strings")
    name_part, at, digest = text.partition("@")
    tag: str | None = None
    # A ':' after the last '/' separates the tag (a ':' before it belongs to a registry port).
    colon = name_part.rfind(":")
    if colon > name_part.rfind("/"):
        name_part, tag = name_part[:colon], name_part[colon + 1 :]
    if not name_part:
        raise InvalidReference("repository name must have at least one component")
    domain, remainder = _split_domain(name_part)
    if remainder.lower() != remainder:
        raise InvalidReference(f"invalid reference format: repository name ({remainder}) must be lowercase")
    if not _ANCHORED_DOMAIN_RE.match(domain):
        raise InvalidReference(f"invalid reference format: invalid registry host {domain!r}")
    if not _ANCHORED_PATH_RE.match(remainder):
        raise InvalidReference(f"invalid reference format: invalid repository name {remainder!r}")
    full = f"{domain}/{remainder}"
    if len(full) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if tag is not None and not _ANCHORED_TAG_RE.match(tag):
        raise InvalidReference(f"invalid reference format: invalid tag {tag!r}")
    if at:
        _check_digest(digest)
    if tag is None and not at:
        tag = DEFAULT_TAG
    return ImageRef(domain, remainder, tag, digest or None)


def _check_digest(digest: str) -> None:
    """go-digest's Parse/Validate: a known algorithm and exactly its number of lowercase hex digits."""
    if not _ANCHORED_DIGEST_RE.match(digest):
        raise InvalidReference(f"invalid reference format: invalid digest {digest!r}")
    algorithm, _, encoded = digest.partition(":")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidReference(f"unsupported digest algorithm {algorithm!r}")
    if len(encoded) != length or encoded.lower() != encoded:
        raise InvalidReference(
            f"invalid checksum digest format: {algorithm} needs {length} lowercase hex digits")


def is_valid_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except InvalidReference:
        return False
    return True
