"""Deployment settings of the rendered Kargo project: the Pulumi stack config (`image-factory:<key>`)
and `image-factory render --stack-config` read the same keys, so both render the same objects."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from analyzer.config.durations import GO_DURATION_PATTERN
from analyzer.config.model import DnsLabel, Duration, SecretName
from analyzer.errors import InputError, validation_problems
from analyzer.yamlio import load_located

CONFIG_NAMESPACE = "image-factory"


class JobResources(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "50m", "memory": "128Mi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"cpu": "500m", "memory": "512Mi"})


class Settings(BaseModel):
    """Everything about the Kargo project that is not in images.yaml or state/."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    project: DnsLabel = "image-factory"
    """Kargo Project name; also its namespace."""
    analyzer_image: Annotated[str, Field(min_length=1)] = Field(
        default="ghcr.io/image-factory/image-factory:0.1.0", alias="analyzerImage")
    warehouse_interval: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] = Field(
        default="5m0s", alias="warehouseInterval")
    service_account: DnsLabel = Field(default="image-factory-jobs", alias="serviceAccount")
    job_secrets: list[SecretName] = Field(
        default_factory=lambda: ["image-factory-registry", "image-factory-state-repo"], alias="jobSecrets")
    """Secrets whose keys become the analysis jobs' environment (registry and state-repo credentials).
    Rendered `optional: true`: a missing Secret must not leave the pod in CreateContainerConfigError until
    the deadline (two weeks for a soak); the jobs check the settings they need at start and fail at once,
    naming the missing variable (no state repository), or run anonymously (no registry credentials)."""
    trigger_token_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        default="token", alias="triggerTokenKey")
    """Key, inside each trigger Secret, of the token sent as `Authorization: Bearer …`."""
    trigger_timeout: Annotated[str, Field(pattern=GO_DURATION_PATTERN)] = Field(
        default="30m", alias="triggerTimeout")
    trigger_error_threshold: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=20, alias="triggerErrorThreshold")
    """Consecutive transport errors (DNS, TLS, timeouts) the trigger step tolerates before Kargo fails the
    Promotion; Kargo's default of 1 would drop the rebuild of that digest at the first network blip."""
    job_backoff_limit: Annotated[int, Field(ge=0, le=10)] = Field(default=2, alias="jobBackoffLimit")
    """backoffLimit of the gate Job. Evictions and preemptions (`DisruptionTarget`) do not count against it,
    and a definitive refusal fails the Job at once; it only bounds retries of crashes and outages."""
    verify_timeout: Duration = Field(default=timedelta(minutes=90), alias="verifyTimeout")
    """How long one verify-rebuild attempt waits for the rebuilt tag (the command's `--timeout`)."""
    verify_attempt_margin: Duration = Field(default=timedelta(minutes=10), alias="verifyAttemptMargin")
    """Per-attempt allowance on top of verifyTimeout: pod scheduling, image pull, state clone and push."""
    verify_backoff_limit: Annotated[int, Field(ge=0, le=5)] = Field(default=1, alias="verifyBackoffLimit")
    """Retries of a crashed verify-rebuild pod; the deadline leaves every retry its full time."""
    gate_deadline_margin: Duration = Field(default=timedelta(hours=1), alias="gateDeadlineMargin")
    """Added to the longest delay for the gate Job's deadline; half of it is the gate's `--retry-for`
    (re-checking through a registry outage after the soak), so those retries end before the deadline."""
    job_resources: JobResources = Field(default_factory=JobResources, alias="jobResources")
    render_yaml_to_directory: str | None = Field(default=None, alias="renderYamlToDirectory")
    """Pulumi only: render manifests for Argo CD instead of applying them (GitOps mode); relative to infra/,
    the program's working directory. Empty means apply to the cluster."""

    teams: list[Annotated[str, Field(min_length=1)]] | None = None
    """The enrollment files (`images.yaml`, `images.d/payments.yaml`, as the fleet names them) whose rebuild
    Stages this stack renders; unset: every file's. One stack per team (analyzer/kargo/stacks.py)."""
    shared: Annotated[str, Field(pattern=r"^(all|none|[0-9]+/[1-9][0-9]*)$")] = "all"
    """Whether this stack renders the shared objects (Project, job RBAC, AnalysisTemplates, Warehouses and
    their soak Stages): `all`, `none`, or `K/N`, the K-th of N shards (by Warehouse)."""

    removed_verify_deadline: Any = Field(default=None, alias="verifyDeadline", exclude=True)
    """Removed key, kept only to say so clearly (the deadline is now derived, see `verify_deadline`)."""

    @field_validator("removed_verify_deadline")
    @classmethod
    def _removed_key(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("no longer a setting: the verify-rebuild Job's deadline is derived as "
                             "(verifyBackoffLimit + 1) × (verifyTimeout + verifyAttemptMargin); "
                             "set verifyTimeout instead")
        return None

    @property
    def verify_deadline(self) -> timedelta:
        """activeDeadlineSeconds of the verify-rebuild Job: every attempt (first and retries) gets its full
        timeout plus margin, so no retry is cut by the deadline half-way."""
        return (self.verify_backoff_limit + 1) * (self.verify_timeout + self.verify_attempt_margin)

    @field_validator("render_yaml_to_directory")
    @classmethod
    def _empty_is_off(cls, value: str | None) -> str | None:
        return value or None


def settings_from_config(values: dict[str, Any], source: str = "stack config") -> Settings:
    """Settings from `image-factory:<key>` values (strings as Pulumi passes them, or YAML values)."""
    data: dict[str, Any] = {}
    for key, value in values.items():
        name = key.split(":", 1)[1] if key.startswith(f"{CONFIG_NAMESPACE}:") else key
        if ":" in name:
            continue  # another package's config (e.g. kubernetes:context)
        if isinstance(value, str) and value.startswith(("[", "{")):
            try:
                value = json.loads(value)  # structured config arrives from Pulumi as a JSON string
            except json.JSONDecodeError as exc:
                raise InputError.single(source, f"not valid JSON: {exc.msg}",
                                        field_name=f"{CONFIG_NAMESPACE}:{name}") from None
        data[name] = value
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(source, exc.errors(), field_prefix=f"{CONFIG_NAMESPACE}:")) from None


def load_stack_settings(path: Path) -> Settings:
    """Settings from a `Pulumi.<stack>.yaml` file's `config:` map."""
    doc = load_located(path)
    config = (doc.data or {}).get("config") or {}
    if not isinstance(config, dict):
        raise InputError.single(path, "config must be a mapping", doc.line_of(("config",)), "config")
    return settings_from_config(config, str(path))
