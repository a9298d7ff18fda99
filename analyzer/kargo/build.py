"""The Kargo resource graph as a pure function of (config, state, settings).

- one Warehouse per tracked external tag (never for a managed image),
- one soak Stage per (Warehouse, delay) actually used, verified by the gate job,
- one rebuild Stage per managed image, requesting every origin Warehouse in its transitive external
  closure through the soak Stage (direct use) and the rebuild Stages of its managed parents,
- the gate and verify-rebuild AnalysisTemplates, the Project and its ProjectConfig.

The Pulumi program and `image-factory render` both turn the result into manifests.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import quote

from analyzer.config.durations import format_duration, parse_duration
from analyzer.config.model import EnrolledImage, Fleet, Trigger
from analyzer.discovery.reference import parse_reference
from analyzer.graph import DependencyGraph, GraphError
from analyzer.kargo import conventions as cv
from analyzer.kargo.name_record import NameRecord
from analyzer.kargo.resources import (
    KIND_ORDER,
    AnalysisRunArgument,
    AnalysisTemplate,
    AnalysisTemplateReference,
    AnalysisTemplateSpec,
    Argument,
    ComposeOutputConfig,
    Container,
    EnvFromSource,
    FreightOrigin,
    FreightSources,
    HttpHeader,
    HttpStepConfig,
    ImageSubscription,
    JobMetric,
    JobSpec,
    KargoObject,
    Metric,
    MetricProvider,
    ObjectMeta,
    PodFailurePolicy,
    PodFailurePolicyOnExitCodes,
    PodFailurePolicyOnPodCondition,
    PodFailurePolicyRule,
    PodSpec,
    PodTemplate,
    PolicyRule,
    Project,
    ProjectConfig,
    ProjectConfigSpec,
    PromotionPolicy,
    PromotionPolicySelector,
    PromotionStep,
    PromotionTemplate,
    PromotionTemplateSpec,
    RequestedFreight,
    ResourceRequirements,
    Role,
    RoleBinding,
    RoleRef,
    SecretEnvSource,
    ServiceAccount,
    Stage,
    StageSpec,
    StepRetry,
    Subject,
    Subscription,
    Verification,
    Warehouse,
    WarehouseSpec,
)
from analyzer.kargo.settings import Settings
from analyzer.names import dns_label, ref_slug, unique_names
from analyzer.state.model import ImageState, WarehouseState, state_filename
from analyzer.state.store import STATE_SUBDIR

GATE_TEMPLATE = "gate"
VERIFY_TEMPLATE = "verify-rebuild"
GATE_ARGS = (cv.GATE_ARG_WAREHOUSE, cv.GATE_ARG_REPOSITORY, cv.GATE_ARG_TAG, cv.GATE_ARG_DIGEST,
             cv.GATE_ARG_DELAY)
VERIFY_ARGS = (cv.VERIFY_ARG_IMAGE, cv.VERIFY_ARG_REF, cv.VERIFY_ARG_BASE_DIGESTS)
GITHUB_API = "https://api.github.com"


class PinnedBase(TypedDict):
    """A digest-pinned FROM: nothing to follow, reported."""

    image: str
    base: str
    dockerfile: str
    line: int


class SoakStageSummary(TypedDict):
    warehouse: str
    delay: str


SummaryEdge = TypedDict("SummaryEdge", {"from": str, "to": str, "kind": str})


class SummaryCounts(TypedDict):
    warehouses: int
    soakStages: int
    rebuildStages: int
    analysisTemplates: int
    managedImages: int
    pinnedBases: int
    objects: int


class ProjectSummary(TypedDict):
    """What `render --json` prints and the Pulumi stack exports (camelCase: it is JSON)."""

    project: str
    warehouses: dict[str, str]
    soakStages: dict[str, SoakStageSummary]
    rebuildStages: dict[str, str]
    edges: list[SummaryEdge]
    delays: dict[str, str]
    effectiveDelays: dict[str, dict[str, str]]
    pinned: list[PinnedBase]
    notAnalyzed: list[str]
    unbuildable: list[str]
    counts: SummaryCounts


@dataclass(frozen=True)
class KargoProject:
    """The typed objects to create, in a stable order, and the JSON-friendly summary for stack outputs."""

    objects: list[KargoObject]
    summary: ProjectSummary
    names: NameRecord = field(default_factory=NameRecord)
    """The names of the rendered Warehouses and rebuild Stages (what `render --record-names` records)."""

    def by_kind(self, kind: str) -> list[KargoObject]:
        return [obj for obj in self.objects if obj.kind == kind]

    def get(self, kind: str, name: str) -> KargoObject:
        for obj in self.objects:
            if obj.kind == kind and obj.name == name:
                return obj
        raise KeyError(f"{kind}/{name}")


@dataclass(frozen=True)
class _Origin:
    """A Warehouse and what it follows."""

    ref: str
    name: str
    subscription: ImageSubscription
    source: str


@dataclass
class _Managed:
    name: str
    state: ImageState
    enrolled: EnrolledImage
    trigger: Trigger
    delay: timedelta
    auto_rebuild: bool
    direct: set[str] = field(default_factory=set)
    parents: list[str] = field(default_factory=list)


# --- Expressions -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 16)
def _lit(text: str) -> str:
    """A string literal for Kargo's expr-lang (JSON string syntax is valid expr syntax).

    Kargo ends a `${{ … }}` expression at the first `}}` in its text, even inside a string literal, so
    every `}` is written as the escape `\\u007d`: a value from images.yaml cannot end the expression.
    """
    return json.dumps(text).replace("}", "\\u007d")


def _template(expression: str) -> str:
    """A whole config value computed by one expression, kept a string.

    Kargo re-types a value that is one expression: a tag like `1.36` or `7` would become a number and
    `true` a bool, and verification args must be strings. `quote()` makes Kargo keep the text as it is.
    """
    return f"${{{{ quote({expression}) }}}}"


def _image_from(origin: _Origin) -> str:
    # warehouse() disambiguates two Warehouses that follow the same repository (python 3.12 and 3.13).
    return f"imageFrom({_lit(origin.subscription.repo_url)}, warehouse({_lit(origin.name)}))"


def _vetted_refs_expr(origins: list[_Origin]) -> str:
    """Comma-separated `repo:tag@digest` of every origin present in the Stage's freight (bare expression)."""
    parts = [f"({_image_from(o)} == nil ? \"\" : {_lit(o.subscription.repo_url + ':')} + "
             f"{_image_from(o)}.Tag + \"@\" + {_image_from(o)}.Digest)" for o in origins]
    return f"join(filter([{', '.join(parts)}], # != \"\"), \",\")"


def _expr_map(items: Mapping[str, str]) -> str:
    """An expr-lang map literal whose values are already expressions.

    Written `{ … }` with inner spaces: nested maps then close as `} }`, never `}}`, which would end the
    surrounding `${{ … }}` early (Kargo's template scanner does not parse the expression).
    """
    return "{ " + ", ".join(f"{_lit(k)}: {v}" for k, v in items.items()) + " }"


# --- Helpers ---------------------------------------------------------------------------------------

def _relative_source(fleet: Fleet, image: EnrolledImage) -> str:
    """`images.d/x.yaml:12`: the loader records files relative to the root file's folder."""
    where = image.file or Path(fleet.root).name
    return f"{where}:{image.line}" if image.line else where


def _state_source(ref: str) -> str:
    return f"state/{STATE_SUBDIR}/{state_filename(ref)}"


def _platform(value: str | None) -> str | None:
    """Kargo accepts only `os/arch`; a variant (`linux/arm/v7`) cannot be expressed, so it is dropped."""
    if not value:
        return None
    return "/".join(value.split("/")[:2])


def _subscription(ref: str, state: WarehouseState | None,
                  enrolled: EnrolledImage | None) -> ImageSubscription:
    parsed = parse_reference(ref)
    tag = parsed.tag or "latest"
    values: dict[str, Any] = {"repo_url": parsed.name, "image_selection_strategy": "Digest"}
    if state is not None:
        values.update(repo_url=state.repo_url, image_selection_strategy=state.image_selection_strategy,
                      constraint=state.constraint, allow_tags_regexes=state.allow_tags_regexes or None,
                      ignore_tags_regexes=state.ignore_tags_regexes or None,
                      platform=_platform(state.platform), discovery_limit=state.discovery_limit)
    settings = enrolled.entry.warehouse if enrolled is not None else None
    if settings is not None:  # images.yaml wins over state
        values.update(image_selection_strategy=settings.image_selection_strategy,
                      constraint=settings.constraint, allow_tags_regexes=settings.allow_tags or None,
                      ignore_tags_regexes=settings.ignore_tags or None,
                      platform=_platform(settings.platform), discovery_limit=settings.discovery_limit)
    if values["image_selection_strategy"] == "Digest" and not values.get("constraint"):
        values["constraint"] = tag  # Digest follows one mutable tag; Kargo requires it
    return ImageSubscription(**values)


def _pinned(images: Mapping[str, _Managed]) -> list[PinnedBase]:
    """Digest-only FROMs cannot move: nothing to render, but reported."""
    pinned = []
    for image in images.values():
        assert image.state.managed is not None
        for base in image.state.managed.bases:
            if base.kind == "pinned":
                pinned.append(PinnedBase(image=image.name, base=base.image, dockerfile=base.dockerfile,
                                         line=base.line))
    return sorted(pinned, key=lambda p: (p["image"], p["dockerfile"], p["line"], p["base"]))


# --- Builders --------------------------------------------------------------------------------------

def _meta(settings: Settings, name: str, labels: dict[str, str],
          annotations: dict[str, str] | None = None) -> ObjectMeta:
    return ObjectMeta(name=name, namespace=settings.project, labels=labels, annotations=annotations or None)


def _pod_failure_policy(container: str) -> PodFailurePolicy:
    """Evictions, preemptions and node drains (`DisruptionTarget`) do not count against backoffLimit — a
    week-long soak would otherwise lose its digest to three routine node drains; a definitive verdict
    (or a missing setting) fails the Job at once; any other failure is retried up to backoffLimit."""
    return PodFailurePolicy(rules=[
        PodFailurePolicyRule(action="Ignore", on_pod_conditions=[
            PodFailurePolicyOnPodCondition(type="DisruptionTarget", status="True")]),
        PodFailurePolicyRule(action="FailJob", on_exit_codes=PodFailurePolicyOnExitCodes(
            container_name=container, operator="In", values=list(cv.JOB_FAIL_AT_ONCE))),
    ])


def _job_template(settings: Settings, name: str, role: str, command: str, args: tuple[str, ...],
                  deadline: timedelta, backoff_limit: int, options: tuple[str, ...] = ()) -> AnalysisTemplate:
    container = Container(
        name=command, image=settings.analyzer_image, command=["image-factory"],
        args=[command, *[f"--{arg}={{{{args.{arg}}}}}" for arg in args], *options],
        env_from=[EnvFromSource(secret_ref=SecretEnvSource(name=s, optional=True))
                  for s in settings.job_secrets] or None,
        resources=ResourceRequirements(requests=dict(settings.job_resources.requests),
                                       limits=dict(settings.job_resources.limits)),
    )
    job = JobSpec(
        backoff_limit=backoff_limit,
        active_deadline_seconds=int(deadline.total_seconds()),
        pod_failure_policy=_pod_failure_policy(command),
        template=PodTemplate(metadata={"labels": {cv.LABEL_ROLE: role}},
                             spec=PodSpec(restart_policy="Never", service_account_name=settings.service_account,
                                          containers=[container])),
    )
    return AnalysisTemplate(
        metadata=_meta(settings, name, {cv.LABEL_ROLE: role}),
        spec=AnalysisTemplateSpec(
            args=[Argument(name=a) for a in args],
            metrics=[Metric(name=command, provider=MetricProvider(job=JobMetric(spec=job)))]),
    )


def _warehouse(settings: Settings, origin: _Origin) -> Warehouse:
    return Warehouse(
        metadata=_meta(settings, origin.name,
                       {cv.LABEL_ROLE: cv.ROLE_WAREHOUSE, cv.LABEL_WAREHOUSE: origin.name},
                       {cv.ANNOTATION_REF: origin.ref, cv.ANNOTATION_SOURCE: origin.source}),
        spec=WarehouseSpec(interval=settings.warehouse_interval,
                           subscriptions=[Subscription(image=origin.subscription)]),
    )


def _soak_stage(settings: Settings, name: str, origin: _Origin, delay: str) -> Stage:
    image = _image_from(origin)
    record = PromotionStep(uses="compose-output", step_alias="record", config=ComposeOutputConfig(
        warehouse=origin.name,
        repository=origin.subscription.repo_url,
        tag=_template(f"{image}.Tag"),
        digest=_template(f"{image}.Digest"),
    ))
    args = {
        cv.GATE_ARG_WAREHOUSE: origin.name,
        cv.GATE_ARG_REPOSITORY: origin.subscription.repo_url,
        cv.GATE_ARG_TAG: _template(f"{image}.Tag"),
        cv.GATE_ARG_DIGEST: _template(f"{image}.Digest"),
        cv.GATE_ARG_DELAY: delay,
    }
    return Stage(
        metadata=_meta(settings, name, {cv.LABEL_ROLE: cv.ROLE_SOAK, cv.LABEL_WAREHOUSE: origin.name,
                                        cv.LABEL_DELAY: delay, cv.LABEL_AUTO_PROMOTE: "true"},
                       {cv.ANNOTATION_REF: origin.ref, cv.ANNOTATION_SOURCE: origin.source}),
        spec=StageSpec(
            requested_freight=[RequestedFreight(origin=FreightOrigin(name=origin.name),
                                                sources=FreightSources(direct=True))],
            promotion_template=PromotionTemplate(spec=PromotionTemplateSpec(steps=[record])),
            verification=Verification(
                analysis_templates=[AnalysisTemplateReference(name=GATE_TEMPLATE)],
                args=[AnalysisRunArgument(name=k, value=v) for k, v in args.items()]),
        ),
    )


def _auth_header(secret_name: str, settings: Settings) -> HttpHeader:
    """The token is read by Kargo from the Secret at promotion time; it never appears in a manifest."""
    token = f"secret({_lit(secret_name)}).{settings.trigger_token_key}"
    return HttpHeader(name="Authorization", value=f"Bearer ${{{{ {token} }}}}")


def _trigger_step(settings: Settings, image: _Managed, origins: list[_Origin]) -> PromotionStep:
    vetted = _vetted_refs_expr(origins)
    trigger = image.trigger
    headers = [HttpHeader(name="Content-Type", value="application/json")]
    if trigger.github is not None:
        gh = trigger.github
        url = (f"{GITHUB_API}/repos/{quote(gh.repository, safe='/')}/actions/workflows/"
               f"{quote(gh.workflow, safe='')}/dispatches")
        # The image name is a default the team may override (`inputs.image`); base-digests is reserved
        # (the config model refuses it), so the vetted digests always reach the build.
        inputs = {cv.TRIGGER_INPUT_IMAGE: _lit(image.name)}
        inputs |= {k: _lit(v) for k, v in gh.inputs.items()}
        inputs[cv.TRIGGER_INPUT_BASE_DIGESTS] = vetted
        inputs = dict(sorted(inputs.items()))
        body = _expr_map({"ref": _lit(gh.ref), "inputs": _expr_map(inputs)})
        headers = [HttpHeader(name="Accept", value="application/vnd.github+json"),
                   _auth_header(gh.token_secret, settings),
                   HttpHeader(name="X-GitHub-Api-Version", value="2022-11-28"), *headers]
        success = "response.status == 204 || response.status == 200"
    else:
        assert trigger.webhook is not None
        hook = trigger.webhook
        url = hook.url
        body = _expr_map({cv.TRIGGER_INPUT_IMAGE: _lit(image.name), "ref": _lit(image.state.ref),
                          cv.TRIGGER_INPUT_BASE_DIGESTS: vetted})
        if hook.secret is not None:
            headers.append(_auth_header(hook.secret, settings))
        success = "response.status >= 200 && response.status < 300"
    return PromotionStep(
        uses="http", step_alias="trigger",
        # Kargo ends the Promotion at the first transport error by default (errorThreshold 1) and never
        # retries that Freight: tolerate transient DNS/TLS/timeout errors, bounded by the timeout.
        retry=StepRetry(timeout=settings.trigger_timeout, error_threshold=settings.trigger_error_threshold),
        config=HttpStepConfig(
            method="POST", url=url, headers=headers, body=_template(body),
            timeout="30s",
            success_expression=success,
            # 4xx (bad token, unknown workflow, bad inputs) will not heal by retrying; 429 and 5xx may.
            failure_expression="response.status >= 400 && response.status < 500 && response.status != 429",
            error_expression="response.body?.message ?? \"\"",
        ),
    )


def _rebuild_stage(settings: Settings, name: str, image: _Managed, requested: list[RequestedFreight],
                   origins: list[_Origin], source: str, expedite: tuple[str, str] | None) -> Stage:
    hold = image.enrolled.entry.hold
    auto = image.auto_rebuild and not hold
    annotations = {cv.ANNOTATION_REF: image.state.ref, cv.ANNOTATION_SOURCE: source}
    if hold:
        annotations[cv.ANNOTATION_HOLD] = "true"
    if expedite is not None:
        annotations[cv.ANNOTATION_EXPEDITE_REASON] = expedite[0]
        annotations[cv.ANNOTATION_EXPEDITE_EXPIRES] = expedite[1]
    vetted = _template(_vetted_refs_expr(origins))
    return Stage(
        metadata=_meta(settings, name, {cv.LABEL_ROLE: cv.ROLE_REBUILD, cv.LABEL_IMAGE: image.name,
                                        cv.LABEL_DELAY: format_duration(image.delay),
                                        cv.LABEL_AUTO_PROMOTE: "true" if auto else "false"}, annotations),
        spec=StageSpec(
            requested_freight=requested,
            promotion_template=PromotionTemplate(spec=PromotionTemplateSpec(
                steps=[_trigger_step(settings, image, origins)])),
            verification=Verification(
                analysis_templates=[AnalysisTemplateReference(name=VERIFY_TEMPLATE)],
                args=[AnalysisRunArgument(name=cv.VERIFY_ARG_IMAGE, value=image.name),
                      AnalysisRunArgument(name=cv.VERIFY_ARG_REF, value=image.state.ref),
                      AnalysisRunArgument(name=cv.VERIFY_ARG_BASE_DIGESTS, value=vetted)]),
        ),
    )


def _soak_name(origin: _Origin, delay: str) -> str:
    return dns_label("soak", origin.name, delay, key=f"{origin.ref}@{delay}")


def _expedite(enrolled: EnrolledImage | None) -> tuple[str, str] | None:
    if enrolled is None or enrolled.entry.expedite is None:
        return None
    return enrolled.entry.expedite.reason, enrolled.entry.expedite.expires.isoformat()


def _managed_images(fleet: Fleet, states: Mapping[str, ImageState]) -> dict[str, _Managed]:
    enrolled = {image.ref.tracked: image for image in fleet.images}
    images: dict[str, _Managed] = {}
    for ref, state in sorted(states.items()):
        if state.kind != "managed" or state.managed is None:
            continue
        entry = enrolled.get(ref)
        if entry is None or not entry.managed:
            continue  # images.yaml wins: a state left behind by a removed or demoted image renders nothing
        name = entry.name
        trigger = entry.entry.trigger or state.managed.trigger
        images[name] = _Managed(
            name=name, state=state, enrolled=entry, trigger=trigger,
            delay=entry.delay, auto_rebuild=entry.auto_rebuild,
            direct={b.tracked for b in state.managed.bases if b.kind == "external" and b.tracked},
            parents=sorted(set(state.managed.parents)
                           | {b.parent for b in state.managed.bases if b.kind == "managed" and b.parent}),
        )
    for image in images.values():
        missing = [p for p in image.parents if p not in images]
        if missing:
            raise GraphError(f"managed image {image.name!r} has parent(s) {missing} with no managed state; "
                             "run `image-factory analyze` first")
    return images


def _graph(images: Mapping[str, _Managed]) -> DependencyGraph:
    """The managed images' dependency graph (the one the plan uses too); a cycle is a DependencyCycle."""
    graph = DependencyGraph(parents={n: tuple(i.parents) for n, i in images.items()},
                            externals={n: tuple(sorted(i.direct)) for n, i in images.items()})
    graph.topological_order()
    return graph


@dataclass(frozen=True)
class _RebuildPlan:
    image: _Managed
    requested: list[RequestedFreight]
    origins: list[_Origin]
    soaks: set[tuple[str, str]]
    """(ref, delay) soak Stages this image reads from."""
    expedite: tuple[str, str] | None


def _plan_rebuild(image: _Managed, closures: Mapping[str, set[str]], origins: Mapping[str, _Origin],
                  rebuild_names: Mapping[str, str], enrolled: Mapping[str, EnrolledImage],
                  graph: DependencyGraph, delays: Mapping[str, timedelta],
                  effective: Mapping[tuple[str, str], timedelta]) -> _RebuildPlan | None:
    """One requestedFreight per origin in the image's closure: through the soak Stage at the image's delay
    when it uses the base directly, or when its delay is longer than its parents' for that origin (then
    the digest must also have soaked that long: availability All); `direct` when expedited and no parent
    brings it; plus the rebuild Stages of the parents that depend on the same origin."""
    delay = format_duration(image.delay)
    ordered = sorted(closures[image.name], key=lambda r: origins[r].name)
    requested: list[RequestedFreight] = []
    soaks: set[tuple[str, str]] = set()
    used_expedite: tuple[str, str] | None = None
    for ref in ordered:
        origin = origins[ref]
        parents = [p for p in image.parents if ref in closures[p]]
        via_parents = sorted(rebuild_names[p] for p in parents)
        stages: list[str] = []
        direct = False
        if graph.gates_own_delay(image.name, ref, delays, effective):
            expedite = _expedite(image.enrolled) or _expedite(enrolled.get(ref))
            if expedite is None:
                soaks.add((ref, delay))
                stages.append(_soak_name(origin, delay))
            elif not via_parents:
                direct, used_expedite = True, expedite  # expedited: skip the soak
        stages += via_parents
        sources = FreightSources(direct=True) if direct else FreightSources(
            stages=stages, availability_strategy="All" if len(stages) > 1 else None)
        requested.append(RequestedFreight(origin=FreightOrigin(name=origin.name), sources=sources))
    if not requested:
        return None
    return _RebuildPlan(image, requested, [origins[r] for r in ordered], soaks, used_expedite)


def _job_identity(settings: Settings) -> list[KargoObject]:
    """The Jobs' ServiceAccount, allowed only to read Freight (the gate's first-seen time) in the project."""
    meta = ObjectMeta(name=settings.service_account, namespace=settings.project,
                      labels={cv.LABEL_ROLE: cv.ROLE_JOBS})
    return [
        ServiceAccount(metadata=meta),
        Role(metadata=meta, rules=[PolicyRule(api_groups=[cv.KARGO_GROUP], resources=["freights"],
                                              verbs=["get", "list", "watch"])]),
        RoleBinding(metadata=meta, role_ref=RoleRef(name=settings.service_account),
                    subjects=[Subject(name=settings.service_account, namespace=settings.project)]),
    ]


def build_project(fleet: Fleet, states: Mapping[str, ImageState] | Iterable[ImageState],
                  settings: Settings, names: NameRecord | None = None) -> KargoProject:
    """Every Kargo object for this fleet, deterministic for the same inputs; `names` (the recorded names in
    use) keep existing Warehouses and rebuild Stages named as they are when a new name collides."""
    record = names or NameRecord()
    if not isinstance(states, Mapping):
        states = {state.ref: state for state in states}
    enrolled = {image.ref.tracked: image for image in fleet.images}
    images = _managed_images(fleet, states)
    managed_refs = {image.state.ref for image in images.values()} | {i.ref.tracked for i in fleet.managed()}
    graph = _graph(images)
    closures = {name: graph.external_closure(name) for name in images}

    # Followed: every enrolled external image (demoted ones included) and every base in a closure.
    external = {image.ref.tracked for image in fleet.external()} - managed_refs
    for image in images.values():
        external |= closures[image.name]
    warehouse_names = unique_names({ref: dns_label(ref_slug(ref), key=ref) for ref in external},
                                   recorded=record.warehouses)
    origins: dict[str, _Origin] = {}
    for ref in sorted(external):
        state = states.get(ref)
        entry = enrolled.get(ref)
        source = _relative_source(fleet, entry) if entry is not None else _state_source(ref)
        origins[ref] = _Origin(ref=ref, name=warehouse_names[ref], source=source,
                               subscription=_subscription(ref, state.warehouse if state else None, entry))

    image_delays = {name: image.delay for name, image in images.items()}
    effective = graph.effective_delays(image_delays)
    rebuild_names = unique_names({name: dns_label("rebuild", name, key=name) for name in images},
                                 recorded=record.rebuild_stages)
    soak_pairs: set[tuple[str, str]] = set()
    plans: list[_RebuildPlan] = []
    edges: list[SummaryEdge] = []
    for name in sorted(images):
        image = images[name]
        plan = _plan_rebuild(image, closures, origins, rebuild_names, enrolled, graph, image_delays, effective)
        if plan is None:
            continue  # no external base at all (e.g. only pinned or unresolved): nothing can trigger it
        plans.append(plan)
        soak_pairs |= plan.soaks
        edges += [{"from": origins[r].name, "to": name, "kind": "base"} for r in sorted(image.direct)]
        edges += [{"from": p, "to": name, "kind": "parent"} for p in image.parents]

    delays = [parse_duration(d) for _, d in soak_pairs] or [fleet.defaults.delay]
    objects: list[KargoObject] = [
        Project(metadata=ObjectMeta(name=settings.project)),
        ProjectConfig(metadata=ObjectMeta(name=settings.project, namespace=settings.project),
                      spec=ProjectConfigSpec(promotion_policies=[PromotionPolicy(
                          stage_selector=PromotionPolicySelector(
                              match_labels={cv.LABEL_AUTO_PROMOTE: "true"}),
                          auto_promotion_enabled=True)])),
        *_job_identity(settings),
        _job_template(settings, GATE_TEMPLATE, cv.ROLE_GATE, "gate", GATE_ARGS,
                      max(delays) + settings.gate_deadline_margin, settings.job_backoff_limit,
                      (f"--retry-for={format_duration(settings.gate_deadline_margin / 2)}",)),
        _job_template(settings, VERIFY_TEMPLATE, cv.ROLE_VERIFY, "verify-rebuild", VERIFY_ARGS,
                      settings.verify_deadline, settings.verify_backoff_limit,
                      (f"--timeout={format_duration(settings.verify_timeout)}",)),
    ]
    objects += [_warehouse(settings, origins[ref]) for ref in sorted(origins)]
    soak_stages = {_soak_name(origins[ref], delay): (origins[ref], delay)
                   for ref, delay in soak_pairs}
    objects += [_soak_stage(settings, n, o, d) for n, (o, d) in sorted(soak_stages.items())]
    objects += [_rebuild_stage(settings, rebuild_names[p.image.name], p.image, p.requested, p.origins,
                               _relative_source(fleet, p.image.enrolled), p.expedite) for p in plans]
    # Apply order, and Stages parents-first: soak Stages (they read Warehouses only), then rebuild Stages in
    # the graph's order, so every Stage follows the Stages it requests Freight from (Pulumi creates them so).
    rank = {rebuild_names[name]: i for i, name in enumerate(graph.topological_order())}
    objects.sort(key=lambda o: (KIND_ORDER[o.kind], rank.get(o.name, -1) if isinstance(o, Stage) else -1, o.name))

    summary: ProjectSummary = {
        "project": settings.project,
        "warehouses": {o.name: o.ref for o in sorted(origins.values(), key=lambda o: o.name)},
        "soakStages": {n: {"warehouse": o.name, "delay": d} for n, (o, d) in sorted(soak_stages.items())},
        "rebuildStages": {p.image.name: rebuild_names[p.image.name] for p in plans},
        "edges": edges,
        "delays": {name: format_duration(images[name].delay) for name in sorted(images)},
        "effectiveDelays": {name: {origins[ref].name: format_duration(effective[(name, ref)])
                                   for ref in sorted(closures[name], key=lambda r: origins[r].name)}
                            for name in sorted(images)},
        "pinned": _pinned(images),
        "notAnalyzed": sorted(i.name for i in fleet.managed() if i.name not in images),
        "unbuildable": sorted(set(images) - {p.image.name for p in plans}),
        "counts": {
            "warehouses": len(origins), "soakStages": len(soak_stages), "rebuildStages": len(plans),
            "analysisTemplates": 2, "managedImages": len(images),
            "pinnedBases": len(_pinned(images)), "objects": len(objects),
        },
    }
    in_use = NameRecord(warehouses={ref: origin.name for ref, origin in origins.items()},
                        rebuild_stages={p.image.name: rebuild_names[p.image.name] for p in plans})
    return KargoProject(objects=objects, summary=summary, names=in_use)
