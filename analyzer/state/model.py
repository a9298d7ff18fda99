"""The state model: one YAML file per image (managed or external), the same model infra/ reads.

Configuration-derived fields are recomputed from images.yaml on every run (images.yaml wins);
runtime fields (`digests`, `rebuilds`) are only ever appended to, and survive config changes and
lifecycle transitions (external ⇄ managed), because the file is keyed by the image, not its kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from analyzer.config.model import SelectionStrategy, Trigger
from analyzer.discovery.reference import parse_reference

STATE_SCHEMA_VERSION = 1


class StateModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BaseUse(StateModel):
    """One base image a managed image's Dockerfile uses, and where."""

    image: str
    """Normalized reference as written (may carry a digest)."""
    tracked: str | None = None
    """`registry/repository:tag` followed for updates; None when pinned by digest."""
    kind: Literal["external", "managed", "pinned"]
    parent: str | None = None
    """Enrolled name of the managed image this resolves to, for internal edges."""
    via: Literal["from", "copy", "mount", "syntax"] = "from"
    """`syntax`: the BuildKit frontend (`# syntax=` or the `BUILDKIT_SYNTAX` build arg; line 0 for the latter)."""
    dockerfile: str
    line: int
    stage: str | None = None
    platform: str | None = None


class Unresolvable(StateModel):
    """A FROM/COPY/mount value that could not be turned into an image, reported, never guessed."""

    value: str
    dockerfile: str
    line: int
    reason: str


class SourceState(StateModel):
    repo: str
    """Repository URL with any credentials redacted."""
    ref: str
    dockerfile: str
    context: str = "."
    commit: str | None = None
    """Commit the Dockerfile was last read at."""


class ManagedState(StateModel):
    """What discovery learned about a managed image."""

    source: SourceState
    trigger: Trigger
    delay: str
    auto_rebuild: bool = Field(alias="autoRebuild")
    platforms: list[str] = Field(default_factory=list)
    syntax: str | None = None
    bases: list[BaseUse] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    children: list[str] = Field(default_factory=list)
    unresolved: list[Unresolvable] = Field(default_factory=list)
    invalid: list[Unresolvable] = Field(default_factory=list)
    error: str | None = None
    """Set when the source could not be read on the last run; the discovery above is the previous one."""


class WarehouseState(StateModel):
    """Kargo Warehouse image-subscription settings, in Kargo's own field names (never `allowTags`)."""

    repo_url: str = Field(alias="repoURL")
    image_selection_strategy: SelectionStrategy = Field("Digest", alias="imageSelectionStrategy")
    constraint: str | None = None
    allow_tags_regexes: list[str] = Field(default_factory=list, alias="allowTagsRegexes")
    ignore_tags_regexes: list[str] = Field(default_factory=list, alias="ignoreTagsRegexes")
    platform: str | None = None
    discovery_limit: int | None = Field(None, alias="discoveryLimit")


class GateRecord(StateModel):
    """One verdict of the soak gate of one delay (`168h`) on a digest; appended by the gate job.

    `vetted`: the digest cleared (the Stage's freight goes on to rebuild). `skipped`: the digest cleared
    its soak but a newer digest of the same tag, which also clears, `superseded_by` it, so only the newer
    one cascades (coalescing, see `analyzer.registry.eligibility.coalesce`)."""

    delay: str
    at: datetime
    outcome: Literal["vetted", "skipped"]
    superseded_by: str | None = None
    reason: str | None = None


class DigestRecord(StateModel):
    """A digest we saw behind a tracked tag; `first_seen` starts the soak clock."""

    digest: str
    first_seen: datetime
    last_seen: datetime
    platforms: dict[str, str] = Field(default_factory=dict)
    """`os/arch[/variant]` → platform manifest digest, for multi-arch tags."""
    vetted_at: datetime | None = None
    """First time any soak gate vetted this digest (kept for readers of schema 1 files)."""
    gates: list[GateRecord] = Field(default_factory=list)
    """Per-delay gate verdicts (vetted, skipped); absent in files written before coalescing."""


class DigestHistory(StateModel):
    current: str | None = None
    history: list[DigestRecord] = Field(default_factory=list)


class RebuildRecord(StateModel):
    """One rebuild attempt of a managed image, appended by the verify job."""

    at: datetime
    outcome: Literal["succeeded", "failed"]
    base_digests: dict[str, str] = Field(default_factory=dict)
    """Tracked base reference → vetted digest that triggered the rebuild."""
    result_digest: str | None = None
    reason: str | None = None


class ImageState(StateModel):
    """Everything known about one image; file name derived from `ref`."""

    schema_version: int = STATE_SCHEMA_VERSION
    ref: str
    """`registry/repository:tag`: the key of this file."""
    kind: Literal["managed", "external"]
    name: str | None = None
    """Enrolled name; None for bases discovered in Dockerfiles but not enrolled."""
    enrolled_in: str | None = None
    managed: ManagedState | None = None
    warehouse: WarehouseState | None = None
    dependents: list[str] = Field(default_factory=list)
    """Managed images that use this image directly (FROM, COPY --from or mount)."""
    digests: DigestHistory = Field(default_factory=DigestHistory)
    rebuilds: list[RebuildRecord] = Field(default_factory=list)

    @property
    def repository(self) -> str:
        return parse_reference(self.ref).name

    @property
    def tag(self) -> str:
        return parse_reference(self.ref).tag or "latest"


def dependency_targets(bases: list[BaseUse]) -> list[tuple[str, bool]]:
    """(target, is_internal) for the dependency graph: managed parents by name, external bases by their
    tracked ref; pinned bases cannot move and are left out."""
    return [(b.parent or b.tracked or "", b.kind == "managed") for b in bases if b.kind != "pinned"]


def state_filename(ref: str) -> str:
    """Flat, unique, readable file name for a tracked ref: `docker.io~library~python@3.12-slim.yaml`.

    `~` and `@` cannot occur in registry hosts, repository names or tags, so the mapping is one-to-one.
    """
    parsed = parse_reference(ref)
    return f"{parsed.registry}~{parsed.repository.replace('/', '~')}@{parsed.tag or 'latest'}.yaml"
