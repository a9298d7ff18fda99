"""BuildKit-exact base-image discovery from a Dockerfile (pure: text in, analysis out).

CONTRACT ONLY — implementation in progress (see issue 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from analyzer.discovery.reference import ImageRef


@dataclass(frozen=True)
class StageFrom:
    """One FROM instruction."""

    name: str | None
    """Stage name (`AS x`), lower-cased, or None."""
    source: str
    """Normalized image | `stage:<name>` | `scratch` | `unresolved` | `invalid`."""
    raw: str
    """The FROM value as written in the file."""
    line: int
    platform: str | None = None
    ref: ImageRef | None = None


@dataclass(frozen=True)
class ImageUse:
    """An image named by `COPY --from=` or `RUN --mount=…,from=` (not a stage)."""

    ref: ImageRef
    raw: str
    line: int
    via: Literal["copy", "mount"]


@dataclass(frozen=True)
class Unusable:
    """A value that is not an image: unresolved variables, or an invalid reference."""

    raw: str
    line: int
    reason: str


@dataclass(frozen=True)
class DockerfileAnalysis:
    syntax: str | None
    stages: list[StageFrom] = field(default_factory=list)
    copy_from: list[ImageUse] = field(default_factory=list)
    mount_from: list[ImageUse] = field(default_factory=list)
    unresolved: list[Unusable] = field(default_factory=list)
    invalid: list[Unusable] = field(default_factory=list)

    @property
    def bases(self) -> list[ImageRef]:
        """Distinct external images from FROM lines, in order of first appearance."""
        out: list[ImageRef] = []
        for stage in self.stages:
            if stage.ref is not None and stage.ref not in out:
                out.append(stage.ref)
        return out


def analyze_dockerfile(text: str, build_args: Mapping[str, str] | None = None) -> DockerfileAnalysis:
    raise NotImplementedError
