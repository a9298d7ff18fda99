"""The images.yaml model: the single source of truth for the enrollment format.

Managed images have a `source` (we build them); external images have none (monitored only).
Adding or removing `source` is how an image moves between the two, and state follows.
"""

from __future__ import annotations

import posixpath
import re
from datetime import date, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from analyzer.config.durations import format_duration, parse_duration
from analyzer.discovery.reference import ImageRef, InvalidReference, parse_reference
from analyzer.names import is_dns_label
from analyzer.regex import re2_error

DEFAULT_DELAY = timedelta(days=7)
SelectionStrategy = Literal["Digest", "SemVer", "Lexical", "NewestBuild"]

# Every pattern below is used with fullmatch: `$` would also match before a final "\n".
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_PLATFORM_RE = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORKFLOW_RE = re.compile(r"[A-Za-z0-9._-]+\.ya?ml|[0-9]+")
_REPO_SCHEMES = frozenset({"https", "http", "ssh", "git", "file"})


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"invalid duration {value!r}: write it as a string such as 7d or 168h")
    return parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)]


def _dns_label(value: str) -> str:
    if not isinstance(value, str) or not is_dns_label(value):
        raise ValueError(f"{value!r} is not a DNS-1123 label (lowercase letters, digits, '-', at most 63)")
    return value


def _secret_name(value: str) -> str:
    if not _DNS_SUBDOMAIN_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid Kubernetes Secret name")
    return value


def _platform(value: str) -> str:
    if not _PLATFORM_RE.fullmatch(value):
        raise ValueError(f"invalid platform {value!r}: use os/arch, e.g. linux/amd64")
    return value


def _re2_regex(value: str) -> str:
    """Kargo compiles tag regexes with Go's RE2, so they must compile under RE2, not Python's re."""
    reason = re2_error(value)
    if reason is not None:
        raise ValueError(f"regex {value!r} does not compile under RE2 (Go regexp): {reason}")
    return value


def _workflow(value: str) -> str:
    """The last path segment of GitHub's dispatch URL: a plain file name or a numeric id, never a path."""
    if not _WORKFLOW_RE.fullmatch(value):
        raise ValueError(f"workflow {value[:80]!r} must be a file name in .github/workflows (e.g. build.yml, "
                         "letters, digits, '.', '_', '-') or a numeric workflow id")
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _relative_path(value: str) -> str:
    """A path inside the source repository: relative, and never escaping it (`../../etc/passwd`)."""
    if not value or "\x00" in value:
        raise ValueError("path must be a non-empty string")
    if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value):
        raise ValueError(f"path {value!r} must be relative to the repository root")
    normalized = posixpath.normpath(value.replace("\\", "/"))
    if normalized == ".." or normalized.startswith("../"):
        raise ValueError(f"path {value!r} escapes the repository")
    return normalized


def redact_url(url: str) -> str:
    """The URL with any userinfo replaced, safe for logs and state."""
    parts = urlsplit(url)
    if parts.scheme and parts.netloc and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return parts._replace(netloc=f"***@{host}").geturl()
    return url


_CREDENTIALS = ("embeds credentials or a token (the value is not shown); use a git credential helper "
                "or the environment instead")


def _repo_url(value: str) -> str:
    """Git URL or local path; credentials must come from the environment, never from the URL.

    Parsed, not pattern-matched: a URL (`scheme://…`) must use https, http, ssh, git or file, name its host
    (`https:///u:p@host` and `https:/u:p@host` do not), and carry no password, no token as user name
    (http/https/git), no query and no fragment; an scp-like `[user@]host:path` has no password; a
    remote-helper form (`ext::…`) and anything git could read as an option (`-…`) are refused. Messages
    never echo a value that may hold a secret."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("repo must not be empty")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in value) or value != value.strip():
        raise ValueError("repo must not contain control characters or surrounding blanks")
    if value.startswith("-"):
        raise ValueError("repo must not start with '-' (git would read it as an option)")
    if "?" in value or "#" in value:
        raise ValueError(f"repo {_CREDENTIALS}: query strings and fragments are not allowed")
    head = value.split("/", 1)[0]
    if "::" in head:
        raise ValueError("git remote-helper forms (`transport::address`, e.g. ext::) are not allowed")
    if "://" in value:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in _REPO_SCHEMES:
            raise ValueError(f"repo URL scheme {scheme[:20]!r} is not allowed: use https, ssh, git, file or a path")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise ValueError("repo URL is not a valid URL (the value is not shown)") from None
        if (parts.password is not None or parts.netloc.count("@") > 1 or "@" in parts.path
                or (parts.username is not None and scheme in {"http", "https", "git"})):
            raise ValueError(f"repo URL {_CREDENTIALS}")
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError("a file:// repo URL names a local path (file:///path)")
        elif not parts.hostname or port == 0:
            raise ValueError(f"repo URL has no host (write {scheme}://host/path); the value is not shown")
        return value
    if ":" in head:  # scp-like `[user@]host:path`, as git reads it: the host ends at the first ':'
        user_host, _, path = value.partition(":")
        if "@" in path or ":" in user_host.rpartition("@")[0]:
            raise ValueError(f"repo {_CREDENTIALS}")
        if path.startswith("/") and user_host.lower() in _REPO_SCHEMES | {"ftp", "ftps"}:
            raise ValueError(f"repo looks like a {user_host[:10]!r} URL without '//' (write scheme://host/path)")
        if not user_host.rpartition("@")[2]:
            raise ValueError("repo is neither a URL, an scp-like host:path nor a path")
    return value


def _image_ref(value: str) -> str:
    try:
        ref = parse_reference(value)
    except InvalidReference as exc:
        raise ValueError(f"invalid image reference {value!r}: {exc}") from None
    if ref.digest:
        raise ValueError(f"image {value!r} must name a tag, not a digest: a digest cannot move")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
SecretName = Annotated[str, AfterValidator(_secret_name)]
Platform = Annotated[str, AfterValidator(_platform)]
TagRegex = Annotated[str, AfterValidator(_re2_regex)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
RepoUrl = Annotated[str, AfterValidator(_repo_url)]
ImageName = Annotated[str, AfterValidator(_image_ref)]


class StrictModel(BaseModel):
    """Unknown keys are errors; fields are read by their YAML (camelCase) names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Defaults(StrictModel):
    """Settings every image inherits unless it says otherwise."""

    delay: Duration = DEFAULT_DELAY
    auto_rebuild: bool = Field(True, alias="autoRebuild")
    platforms: list[Platform] = Field(default_factory=list)
    registry_credentials: list[SecretName] = Field(default_factory=list, alias="registryCredentials")
    """Names of Kubernetes Secrets (Kargo `cred-type: image`) holding registry credentials."""


class Source(StrictModel):
    """Where a managed image's Dockerfile lives."""

    repo: RepoUrl
    ref: str = "main"
    dockerfile: RelativePath = "Dockerfile"
    context: RelativePath = "."
    build_args: dict[str, str] = Field(default_factory=dict, alias="buildArgs")

    @model_validator(mode="after")
    def _arg_names(self) -> Source:
        for key in self.build_args:
            if not _ENV_NAME_RE.fullmatch(key):
                raise ValueError(f"build arg name {key!r} is not a valid ARG name")
        return self


RESERVED_TRIGGER_INPUT = "base-digests"
"""The trigger input (and webhook body key) that carries the vetted base digests to the build."""


class GitHubWorkflowTrigger(StrictModel):
    """Trigger a GitHub Actions `workflow_dispatch`; the token is read from a Kubernetes Secret."""

    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    workflow: Annotated[str, AfterValidator(_workflow)]
    """A workflow file name in `.github/workflows/` (`build.yml`) or a numeric workflow id."""
    ref: str = "main"
    token_secret: SecretName = Field(alias="tokenSecret")
    inputs: dict[str, str] = Field(default_factory=dict)
    """Extra `workflow_dispatch` inputs. `image` defaults to the image's name and may be overridden here;
    `base-digests` is reserved: it carries the vetted base digests the build must use."""

    @field_validator("inputs")
    @classmethod
    def _reserved_inputs(cls, inputs: dict[str, str]) -> dict[str, str]:
        if RESERVED_TRIGGER_INPUT in inputs:
            raise ValueError(f"input '{RESERVED_TRIGGER_INPUT}' is reserved: the factory sends the vetted "
                             "base digests under this name; rename your input")
        return inputs


class WebhookTrigger(StrictModel):
    """Trigger any build system by POSTing to a URL; an optional Secret supplies the auth header."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s@]+$")]
    secret: SecretName | None = None


class Trigger(StrictModel):
    """Exactly one way of starting a build."""

    github: GitHubWorkflowTrigger | None = None
    webhook: WebhookTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.github is None) == (self.webhook is None):
            raise ValueError("set exactly one of github or webhook")
        return self


class WarehouseSettings(StrictModel):
    """How Kargo discovers new versions of an external image. `allowTags` is the friendly name of
    Kargo's `allowTagsRegexes` (the deprecated Kargo field `allowTags` breaks discovery since v1.11)."""

    image_selection_strategy: SelectionStrategy = Field("Digest", alias="imageSelectionStrategy")
    constraint: str | None = None
    allow_tags: list[TagRegex] = Field(default_factory=list, alias="allowTags")
    ignore_tags: list[TagRegex] = Field(default_factory=list, alias="ignoreTags")
    platform: Platform | None = None
    discovery_limit: Annotated[int, Field(ge=1, le=100)] | None = Field(None, alias="discoveryLimit")

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: object) -> object:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("allowTags", "allow_tags", "ignoreTags", "ignore_tags"):
                if key in data:
                    data[key] = _one_or_many(data[key])
        return data


class Expedite(StrictModel):
    """A reviewed override (e.g. a CVE) that lets rebuilds on this base skip the soak until `expires`."""

    reason: Annotated[str, Field(min_length=3)]
    expires: date


class ImageEntry(StrictModel):
    """One enrolled image. With `source` it is managed (we build it); without, external (monitored)."""

    name: DnsLabel
    image: ImageName
    """`registry/repository:tag` of the image (produced, for managed; followed, for external)."""
    owner: str | None = None
    source: Source | None = None
    trigger: Trigger | None = None
    delay: Duration | None = None
    auto_rebuild: bool | None = Field(None, alias="autoRebuild")
    platforms: list[Platform] | None = None
    warehouse: WarehouseSettings | None = None
    expedite: Expedite | None = None
    hold: bool = False
    """Pin: render the rebuild Stage without auto-promotion until the hold is lifted."""

    @model_validator(mode="after")
    def _kind_rules(self) -> ImageEntry:
        if self.source is not None and self.trigger is None:
            raise ValueError("a managed image (with source) needs a trigger (github or webhook)")
        if self.source is None and self.trigger is not None:
            raise ValueError("trigger is only for managed images: add source, or remove trigger")
        if self.source is not None and self.warehouse is not None:
            raise ValueError("warehouse settings are only for external images (those without source)")
        return self

    @property
    def ref(self) -> ImageRef:
        return parse_reference(self.image)

    @property
    def managed(self) -> bool:
        return self.source is not None


def _registry_host(value: str) -> str:
    try:
        ref = parse_reference(f"{value}/probe")
    except InvalidReference:
        ref = None
    if ref is None or ref.registry != value or "/" in value:
        raise ValueError(f"{value!r} is not a registry host as it appears in normalized references "
                         "(e.g. docker.io, ghcr.io, registry.example.com:5000)")
    return value


def _mirror_url(value: str) -> str:
    if not re.fullmatch(r"https?://[^\s@/]+/?", value):
        raise ValueError(f"{redact_url(value)!r} must be an http(s) base URL (scheme and host[:port], "
                         "no path) without credentials")
    return value.rstrip("/")


RegistryHost = Annotated[str, AfterValidator(_registry_host)]
MirrorUrl = Annotated[str, AfterValidator(_mirror_url)]


class RegistrySettings(StrictModel):
    """How the analyzer talks to one registry (Kargo's own Warehouse polling is configured in Kargo)."""

    mirror: MirrorUrl | None = None
    """Pull-through cache used for reads by digest; tag freshness is always checked upstream."""
    endpoint: MirrorUrl | None = None
    """The API endpoint that serves this registry's repositories under the same paths, used instead of the
    registry's own host for everything (tags included): an internal proxy or a private copy of it. Kargo's
    Warehouses still name the registry; configure the same routing for Kargo if it needs it."""
    insecure: bool = False
    """Plain HTTP (localhost and 127.0.0.1 always use it)."""
    requests_per_second: Annotated[float, Field(gt=0, le=1000)] = Field(20.0, alias="requestsPerSecond")
    max_concurrent: Annotated[int, Field(ge=1, le=64)] = Field(4, alias="maxConcurrent")


class RegistriesConfig(StrictModel):
    """Optional root-file section: registry mirrors, client-side rate limits and the history cap."""

    history_limit: Annotated[int, Field(ge=2, le=10000)] = Field(50, alias="historyLimit")
    """Digest-history entries kept per tag; current, deployed and eligible digests are never dropped."""
    hosts: dict[RegistryHost, RegistrySettings] = Field(default_factory=dict)

    def settings_for(self, registry: str) -> RegistrySettings:
        return self.hosts.get(registry) or RegistrySettings.model_validate({})


class ImagesFile(StrictModel):
    """One enrollment file. Only the root file may have `defaults`, `include` and `registries`."""

    defaults: Defaults = Field(default_factory=Defaults)
    registries: RegistriesConfig = Field(default_factory=lambda: RegistriesConfig.model_validate({}))
    include: list[str] = Field(default_factory=list)
    images: list[ImageEntry] = Field(default_factory=list)


class EnrolledImage(BaseModel):
    """An image entry with defaults applied and the file/line it came from."""

    model_config = ConfigDict(frozen=True)

    entry: ImageEntry
    file: str
    line: int | None
    delay: timedelta
    auto_rebuild: bool
    platforms: list[str]

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def ref(self) -> ImageRef:
        return self.entry.ref

    @property
    def managed(self) -> bool:
        return self.entry.managed


class Fleet(BaseModel):
    """All enrolled images across the root file and its includes, defaults applied."""

    model_config = ConfigDict(frozen=True)

    root: str
    files: list[str]
    """Every enrollment file read (root first), for fingerprinting."""
    include: list[str] = Field(default_factory=list)
    defaults: Defaults
    images: list[EnrolledImage]
    registries: RegistriesConfig = Field(default_factory=lambda: RegistriesConfig.model_validate({}))

    def by_name(self) -> dict[str, EnrolledImage]:
        return {image.name: image for image in self.images}

    def managed(self) -> list[EnrolledImage]:
        return [image for image in self.images if image.managed]

    def external(self) -> list[EnrolledImage]:
        return [image for image in self.images if not image.managed]
