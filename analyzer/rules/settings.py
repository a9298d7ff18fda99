"""Thresholds and enforcement levels of every rule, in one typed model with defaults.

Property names are the camelCase keys of CrossGuard policy config (`--policy-pack-config`). Numbers may
arrive as floats (protobuf Struct), so integer fields accept `10.0` and cast it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from analyzer.rules.model import Level


def utc_today() -> date:
    return datetime.now(UTC).date()


class PolicySettings(BaseModel):
    """Everything a rule may read besides the resources. `levels` overrides each rule's default level."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    minimum_delay_days: float = Field(7, alias="minimumDelayDays", ge=0,
                                      description="Shortest soak delay a base-image digest must wait.")
    maximum_delay_days: float = Field(30, alias="maximumDelayDays", gt=0,
                                      description="Longest soak delay: a base left unpatched for months is a risk.")
    maximum_expedite_days: float = Field(30, alias="maximumExpediteDays", ge=0,
                                         description="How far ahead an expedite override may expire.")
    allow_latest: bool = Field(False, alias="allowLatest",
                               description="Whether a Warehouse may admit or follow the `latest` tag.")
    minimum_interval_minutes: float = Field(5, alias="minimumIntervalMinutes", ge=0,
                                            description="Floor of a Warehouse's discovery interval.")
    minimum_discovery_limit: int = Field(1, alias="minimumDiscoveryLimit", ge=1, le=100,
                                         description="Smallest allowed `discoveryLimit`.")
    maximum_discovery_limit: int = Field(100, alias="maximumDiscoveryLimit", ge=1, le=100,
                                         description="Largest allowed `discoveryLimit`.")
    managed_images: list[str] | None = Field(None, alias="managedImages",
                                             description="Names of all managed images; each needs exactly "
                                                         "one rebuild Stage. Unset: only duplicates are checked.")
    other_stacks: bool = Field(False, alias="otherStacks",
                               description="This stack is one part of the project (one stack per team): "
                                           "Warehouses and Stages it names but does not have are in the "
                                           "project's other stacks, and are checked there.")
    levels: dict[str, Level] = Field(default_factory=dict, exclude=True)
    today: date = Field(default_factory=utc_today, exclude=True)
    """The evaluation date (expedite expiry); an input, so that rules stay pure."""

    @model_validator(mode="after")
    def _ordered(self) -> PolicySettings:
        if self.minimum_delay_days > self.maximum_delay_days:
            raise ValueError("minimumDelayDays must not exceed maximumDelayDays")
        if self.minimum_discovery_limit > self.maximum_discovery_limit:
            raise ValueError("minimumDiscoveryLimit must not exceed maximumDiscoveryLimit")
        return self

    @property
    def minimum_delay(self) -> timedelta:
        return timedelta(days=self.minimum_delay_days)

    @property
    def maximum_delay(self) -> timedelta:
        return timedelta(days=self.maximum_delay_days)

    @property
    def minimum_interval(self) -> timedelta:
        return timedelta(minutes=self.minimum_interval_minutes)


def property_schema(alias: str) -> dict[str, object]:
    """JSON schema of one config property, with its default, for a policy's `config_schema`."""
    schema = PolicySettings.model_json_schema(by_alias=True)["properties"][alias]
    out = {key: value for key, value in schema.items() if key != "title"}
    if "anyOf" in out:  # `list[str] | None`: CrossGuard config has no null; leave it unset instead
        out = {**next(s for s in out.pop("anyOf") if s.get("type") != "null"), **out}
        out.pop("default", None)
    return out
