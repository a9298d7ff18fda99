"""Rebuild verification: the managed image's tag must move to a digest built on the vetted bases.

"Built on" is decided per platform (pure `judge_build`): the OCI annotation / label
`org.opencontainers.image.base.digest` names the base digest (index or platform manifest), or the
base's layers are the first layers of the rebuilt image. The final image carries only its final
stage's ancestry, so a build is accepted when one of the vetted bases is found in it on every checked
platform; vetted bases used only by build stages cannot be seen in the layers and are reported as such.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from analyzer.discovery.reference import ImageRef, parse_reference
from analyzer.registry.client import RegistryClient
from analyzer.registry.errors import RegistryError, Unauthorized
from analyzer.registry.manifest import image_manifest, index_platforms, pick_platform
from analyzer.registry.refresh import last_successful_rebuild
from analyzer.runtime.records import RebuildAppend, state_ref_for
from analyzer.runtime.stateaccess import StateAccess
from analyzer.state.model import RebuildRecord

BASE_DIGEST_KEY = "org.opencontainers.image.base.digest"
BASE_NAME_KEY = "org.opencontainers.image.base.name"
DEFAULT_PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class VerifyRequest:
    image: str
    ref: str
    bases: Mapping[str, str]
    """Tracked base ref → vetted digest."""
    timeout: timedelta
    interval: timedelta


@dataclass(frozen=True)
class BaseView:
    """A vetted base as the registry shows it: per platform, its manifest digest and layers."""

    ref: str
    digest: str
    platforms: Mapping[str, str]
    layers: Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class ImageView:
    """The rebuilt image for one platform: layers and the base annotations/labels it carries."""

    digest: str
    platform: str
    layers: Sequence[str]
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


class VerifySetupError(Exception):
    """The job cannot verify anything as configured (the registry refuses its credentials): no rebuild
    record is written — it says nothing about the build — and the job fails at once (exit 2)."""


def parse_base_digests(value: str) -> dict[str, str]:
    """`reg/repo:tag@sha256:…,…` (the rebuild Stage's vetted list) → {tracked ref: digest}."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        ref = parse_reference(item)
        if ref.digest is None:
            raise ValueError(f"{item!r} carries no digest")
        out[ref.tracked] = ref.digest
    if not out:
        raise ValueError("no base digests given")
    return out


def is_layer_prefix(base: Sequence[str], image: Sequence[str]) -> bool:
    return bool(base) and list(image[:len(base)]) == list(base)


def built_on(view: ImageView, base: BaseView) -> str | None:
    """How `view` is built on `base` ("annotation" / "layers"), or None (pure)."""
    annotated = view.annotations.get(BASE_DIGEST_KEY)
    platform_digest = pick_platform(dict(base.platforms), view.platform) if base.platforms else base.digest
    if annotated and annotated in {base.digest, platform_digest}:
        return "annotation"
    layers = base.layers.get(view.platform)
    if layers is not None and is_layer_prefix(layers, view.layers):
        return "layers"
    return None


def judge_build(views: Sequence[ImageView], bases: Sequence[BaseView]) -> Verdict:
    """Accept when, on every checked platform, the image is built on one of the vetted bases (pure)."""
    if not views:
        return Verdict(False, "no platform of the image could be checked")
    found: dict[str, set[str]] = {}
    for view in views:
        hits = [(base.ref, how) for base in bases if (how := built_on(view, base))]
        if not hits:
            named = view.annotations.get(BASE_NAME_KEY) or view.annotations.get(BASE_DIGEST_KEY)
            hint = f" (it names base {named})" if named else ""
            wanted = ", ".join(f"{b.ref}@{b.digest[:19]}" for b in bases)
            return Verdict(False, f"{view.digest[:19]} on {view.platform} is not built on {wanted}{hint}")
        for ref, how in hits:
            found.setdefault(ref, set()).add(how)
    seen = ", ".join(f"{ref} by {'/'.join(sorted(how))}" for ref, how in sorted(found.items()))
    unseen = sorted({b.ref for b in bases} - set(found))
    note = f"; not in the final image (build-stage bases): {', '.join(unseen)}" if unseen else ""
    return Verdict(True, f"built on {seen}{note}")


def already_verified(last: RebuildRecord | None, bases: Mapping[str, str]) -> bool:
    """A re-run of the verification for a build already recorded on exactly these base digests (pure)."""
    return last is not None and all(last.base_digests.get(ref) == digest for ref, digest in bases.items())


# --- IO -------------------------------------------------------------------------------------------

def _with_digest(ref: str, digest: str) -> ImageRef:
    parsed = parse_reference(ref)
    return ImageRef(parsed.registry, parsed.repository, parsed.tag, digest)


def read_base(client: RegistryClient, ref: str, digest: str, platforms: Sequence[str]) -> BaseView:
    pinned = _with_digest(ref, digest)
    manifest = client.manifest(pinned, digest)
    by_platform = index_platforms(manifest.data) if manifest.is_index else {}
    layers: dict[str, list[str]] = {}
    for platform in platforms:
        if by_platform and pick_platform(by_platform, platform) is None:
            continue
        layers[platform] = client.layers(pinned, platform)
    return BaseView(ref, digest, by_platform, layers)


def read_image(client: RegistryClient, ref: str, digest: str, platforms: Sequence[str]) -> list[ImageView]:
    pinned = _with_digest(ref, digest)
    top = client.manifest(pinned, digest)
    top_annotations = dict(top.data.get("annotations") or {})
    views = []
    for platform in platforms:
        single = client.image_manifest_for(pinned, platform)
        labels = client.image_config(pinned, platform).labels
        annotations = {**labels, **top_annotations, **dict(single.data.get("annotations") or {})}
        views.append(ImageView(digest, platform, [d.digest for d in image_manifest(single.data).layers],
                               annotations))
    return views


Log = Callable[[str], None]


@dataclass
class VerifyIO:
    state: StateAccess
    registry: RegistryClient
    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    log: Log


def _check_once(request: VerifyRequest, previous: str | None, platforms: Sequence[str], io: VerifyIO
                ) -> tuple[Verdict | None, str | None]:
    """(verdict, digest) when the tag points to a new digest; (None, reason) while still waiting."""
    tag = io.registry.head_tag(parse_reference(request.ref))
    if tag.digest == previous:
        return None, f"{request.ref} still points to the previous build {tag.digest[:19]}"
    bases = [read_base(io.registry, ref, digest, platforms) for ref, digest in sorted(request.bases.items())]
    verdict = judge_build(read_image(io.registry, request.ref, tag.digest, platforms), bases)
    return verdict, tag.digest


def run_verify(request: VerifyRequest, io: VerifyIO) -> Verdict:
    """Poll (bounded) until the tag moves to a build on the vetted bases; record the outcome either way."""
    states = io.state.load()
    state = states.get(request.ref)
    last = last_successful_rebuild(state) if state else None
    previous = last.result_digest if last else None
    bases = {state_ref_for(states, ref): digest for ref, digest in request.bases.items()}
    if already_verified(last, bases):
        try:
            current = io.registry.head_tag(parse_reference(request.ref)).digest
        except RegistryError:
            current = None
        if current == previous:
            return Verdict(True, f"already verified: {request.ref} is {previous} built on these base digests")
    platforms = list(state.managed.platforms) if state and state.managed and state.managed.platforms \
        else [DEFAULT_PLATFORM]
    deadline = io.now() + request.timeout
    reason = "no check ran"
    result: str | None = None
    verdict: Verdict | None = None
    while True:
        try:
            verdict, detail = _check_once(request, previous, platforms, io)
        except Unauthorized as exc:
            raise VerifySetupError(f"{exc.message} (registry credentials missing or insufficient: check the "
                                   "registry Secret in jobSecrets)") from None
        except RegistryError as exc:
            verdict, detail = None, exc.message
        if verdict is not None and verdict.ok:
            result = detail
            break
        reason = verdict.reason if verdict is not None else (detail or reason)
        if io.now() + request.interval > deadline:
            verdict = Verdict(False, f"timed out after {request.timeout}: {reason}")
            break
        io.log(f"waiting: {reason}")
        io.sleep(request.interval.total_seconds())
    record = RebuildRecord(at=io.now(), outcome="succeeded" if verdict.ok else "failed",
                           base_digests=bases,
                           result_digest=result,
                           reason=None if verdict.ok else verdict.reason)
    where = io.state.record([RebuildAppend(ref=request.ref, rebuild=record)])
    return Verdict(verdict.ok, f"{verdict.reason}; {where}")
