"""Typed models of the Kargo (kargo.akuity.io/v1alpha1) and Argo Rollouts (argoproj.io/v1alpha1) objects
Image Factory renders. Field names serialize exactly as in the CRDs; unset optional fields are omitted.

Only the fields Image Factory writes are modelled; the CRD schemas in the tests check the rest.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from analyzer.kargo.conventions import ARGO_API_VERSION, KARGO_API_VERSION


class Spec(BaseModel):
    """Base of every nested model: camelCase on the wire, unknown fields rejected, immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ObjectMeta(Spec):
    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


# --- Warehouse -------------------------------------------------------------------------------------

class ImageSubscription(Spec):
    """`spec.subscriptions[].image`; validated by Kargo's webhook against subscriptions/image.json.
    There is deliberately no `allowTags`/`ignoreTags`: since Kargo v1.11 they make discovery fail."""

    repo_url: str = Field(alias="repoURL")
    image_selection_strategy: Literal["Digest", "SemVer", "Lexical", "NewestBuild"] = "Digest"
    constraint: str | None = None
    allow_tags_regexes: list[str] | None = None
    ignore_tags_regexes: list[str] | None = None
    platform: str | None = None
    discovery_limit: int | None = None


class Subscription(Spec):
    image: ImageSubscription


class WarehouseSpec(Spec):
    interval: str
    freight_creation_policy: Literal["Automatic", "Manual"] = "Automatic"
    subscriptions: list[Subscription]


# --- Stage -----------------------------------------------------------------------------------------

class FreightOrigin(Spec):
    kind: Literal["Warehouse"] = "Warehouse"
    name: str


class FreightSources(Spec):
    direct: bool | None = None
    stages: list[str] | None = None
    availability_strategy: Literal["All", "OneOf"] | None = None


class RequestedFreight(Spec):
    origin: FreightOrigin
    sources: FreightSources


class StepRetry(Spec):
    timeout: str | None = None
    error_threshold: int | None = None


class HttpHeader(Spec):
    name: str
    value: str


class HttpStepConfig(Spec):
    """Config of Kargo's `http` step (the rebuild Stage's trigger); Kargo's step schema checks the rest."""

    method: str
    url: str
    headers: list[HttpHeader]
    body: str
    timeout: str
    success_expression: str
    failure_expression: str
    error_expression: str


class ComposeOutputConfig(Spec):
    """Config of Kargo's `compose-output` step: what the soak Stage records of the Freight it promoted."""

    warehouse: str
    repository: str
    tag: str
    digest: str


class PromotionStep(Spec):
    uses: Literal["http", "compose-output"]
    step_alias: str | None = Field(None, serialization_alias="as",
                                   validation_alias=AliasChoices("as", "step_alias"))
    config: HttpStepConfig | ComposeOutputConfig | None = None
    retry: StepRetry | None = None


class PromotionTemplateSpec(Spec):
    steps: list[PromotionStep] = Field(min_length=1)


class PromotionTemplate(Spec):
    spec: PromotionTemplateSpec


class AnalysisTemplateReference(Spec):
    name: str
    kind: Literal["AnalysisTemplate", "ClusterAnalysisTemplate"] = "AnalysisTemplate"


class AnalysisRunArgument(Spec):
    name: str
    value: str


class Verification(Spec):
    analysis_templates: list[AnalysisTemplateReference]
    args: list[AnalysisRunArgument] | None = None


class StageSpec(Spec):
    requested_freight: list[RequestedFreight] = Field(min_length=1)
    promotion_template: PromotionTemplate
    verification: Verification | None = None


# --- ProjectConfig ---------------------------------------------------------------------------------

class PromotionPolicySelector(Spec):
    match_labels: dict[str, str]


class PromotionPolicy(Spec):
    stage_selector: PromotionPolicySelector
    auto_promotion_enabled: bool


class ProjectConfigSpec(Spec):
    promotion_policies: list[PromotionPolicy]


# --- AnalysisTemplate (Argo Rollouts) --------------------------------------------------------------

class Argument(Spec):
    name: str
    value: str | None = None


class SecretEnvSource(Spec):
    name: str
    optional: bool | None = None
    """True: a missing Secret does not block the pod (CreateContainerConfigError until the deadline);
    the job then reports the missing setting itself and fails fast."""


class EnvFromSource(Spec):
    secret_ref: SecretEnvSource


class ResourceRequirements(Spec):
    requests: dict[str, str]
    limits: dict[str, str]


class Container(Spec):
    name: str
    image: str
    command: list[str]
    args: list[str]
    env_from: list[EnvFromSource] | None = None
    resources: ResourceRequirements


class PodSpec(Spec):
    restart_policy: Literal["Never", "OnFailure"] = "Never"
    service_account_name: str
    containers: list[Container]


class PodTemplate(Spec):
    metadata: dict[str, dict[str, str]] | None = None
    spec: PodSpec


class PodFailurePolicyOnExitCodes(Spec):
    container_name: str | None = None
    operator: Literal["In", "NotIn"]
    values: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_zero_in(self) -> PodFailurePolicyOnExitCodes:
        # Kubernetes rejects `In` with 0 (a success is never a failure), and duplicate values.
        if self.operator == "In" and 0 in self.values:
            raise ValueError("onExitCodes: operator In must not list exit code 0")
        if len(set(self.values)) != len(self.values):
            raise ValueError("onExitCodes: values must be unique")
        return self


class PodFailurePolicyOnPodCondition(Spec):
    type: str
    status: Literal["True", "False", "Unknown"] = "True"


class PodFailurePolicyRule(Spec):
    """batch/v1 `podFailurePolicy.rules[]`: exactly one of onExitCodes / onPodConditions."""

    action: Literal["FailJob", "Ignore", "Count", "FailIndex"]
    on_exit_codes: PodFailurePolicyOnExitCodes | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodCondition] | None = None

    @model_validator(mode="after")
    def _one_requirement(self) -> PodFailurePolicyRule:
        if (self.on_exit_codes is None) == (self.on_pod_conditions is None):
            raise ValueError("a podFailurePolicy rule needs exactly one of onExitCodes, onPodConditions")
        return self


class PodFailurePolicy(Spec):
    rules: list[PodFailurePolicyRule] = Field(min_length=1)


class JobSpec(Spec):
    backoff_limit: int
    active_deadline_seconds: int
    pod_failure_policy: PodFailurePolicy | None = None
    template: PodTemplate

    @model_validator(mode="after")
    def _never_restart_with_policy(self) -> JobSpec:
        # The API server rejects a podFailurePolicy unless the pod template's restartPolicy is Never.
        if self.pod_failure_policy is not None and self.template.spec.restart_policy != "Never":
            raise ValueError("podFailurePolicy requires template.spec.restartPolicy: Never")
        return self


class JobMetric(Spec):
    spec: JobSpec


class MetricProvider(Spec):
    job: JobMetric


class Metric(Spec):
    name: str
    provider: MetricProvider


class AnalysisTemplateSpec(Spec):
    args: list[Argument]
    metrics: list[Metric]


# --- Top-level objects -----------------------------------------------------------------------------

class KubeObject(BaseModel):
    """One Kubernetes object: `to_manifest()` gives apiVersion, kind, metadata, spec in that order."""

    model_config = ConfigDict(frozen=True)

    api_version: ClassVar[str]
    kind: ClassVar[str]
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        return self.metadata.name

    def spec_dict(self) -> dict[str, Any] | None:
        spec = getattr(self, "spec", None)
        return spec.to_dict() if isinstance(spec, Spec) else None

    def to_manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = {"apiVersion": self.api_version, "kind": self.kind,
                                    "metadata": self.metadata.to_dict()}
        spec = self.spec_dict()
        if spec is not None:
            manifest["spec"] = spec
        return manifest


class Project(KubeObject):
    """Cluster-scoped; creates the namespace of the same name. Has no spec in v1.11."""

    api_version: ClassVar[str] = KARGO_API_VERSION
    kind: ClassVar[str] = "Project"


class ProjectConfig(KubeObject):
    api_version: ClassVar[str] = KARGO_API_VERSION
    kind: ClassVar[str] = "ProjectConfig"
    spec: ProjectConfigSpec


class Warehouse(KubeObject):
    api_version: ClassVar[str] = KARGO_API_VERSION
    kind: ClassVar[str] = "Warehouse"
    spec: WarehouseSpec


class Stage(KubeObject):
    api_version: ClassVar[str] = KARGO_API_VERSION
    kind: ClassVar[str] = "Stage"
    spec: StageSpec


class AnalysisTemplate(KubeObject):
    api_version: ClassVar[str] = ARGO_API_VERSION
    kind: ClassVar[str] = "AnalysisTemplate"
    spec: AnalysisTemplateSpec


# --- RBAC for the Jobs (least privilege: read the project's Freight, nothing else) ---------------------

class PolicyRule(Spec):
    api_groups: list[str]
    resources: list[str]
    verbs: list[str]


class RoleRef(Spec):
    api_group: str = "rbac.authorization.k8s.io"
    kind: Literal["Role"] = "Role"
    name: str


class Subject(Spec):
    kind: Literal["ServiceAccount"] = "ServiceAccount"
    name: str
    namespace: str


class ServiceAccount(KubeObject):
    """The identity the gate and verify-rebuild Jobs run as."""

    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "ServiceAccount"


class Role(KubeObject):
    """Lets the gate read Freight creation times (first seen) in the project namespace."""

    api_version: ClassVar[str] = "rbac.authorization.k8s.io/v1"
    kind: ClassVar[str] = "Role"
    rules: list[PolicyRule]

    def to_manifest(self) -> dict[str, Any]:
        return {**super().to_manifest(), "rules": [rule.to_dict() for rule in self.rules]}


class RoleBinding(KubeObject):
    api_version: ClassVar[str] = "rbac.authorization.k8s.io/v1"
    kind: ClassVar[str] = "RoleBinding"
    role_ref: RoleRef
    subjects: list[Subject]

    def to_manifest(self) -> dict[str, Any]:
        return {**super().to_manifest(), "roleRef": self.role_ref.to_dict(),
                "subjects": [subject.to_dict() for subject in self.subjects]}


KargoObject = Project | ProjectConfig | Warehouse | Stage | AnalysisTemplate | ServiceAccount | Role | RoleBinding

KIND_ORDER = {"Project": 0, "ProjectConfig": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1,
              "AnalysisTemplate": 2, "Warehouse": 3, "Stage": 4}
"""Apply order: the Project (namespace) first, Stages (which reference the rest) last."""
