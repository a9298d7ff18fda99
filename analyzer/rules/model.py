"""What rules see (a resource: Pulumi type token + props) and what they return (violations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from analyzer.kargo.conventions import ANNOTATION_SOURCE, ARGO_API_VERSION, KARGO_API_VERSION, LABEL_ROLE

WAREHOUSE = f"kubernetes:{KARGO_API_VERSION}:Warehouse"
STAGE = f"kubernetes:{KARGO_API_VERSION}:Stage"
ANALYSIS_TEMPLATE = f"kubernetes:{ARGO_API_VERSION}:AnalysisTemplate"


class Level(StrEnum):
    """Enforcement levels, as CrossGuard names them."""

    ADVISORY = "advisory"
    MANDATORY = "mandatory"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Violation:
    """One broken rule on one resource; `message` says what is wrong, where, and how to fix it."""

    rule: str
    level: Level
    resource_type: str
    resource_name: str
    message: str
    source: str | None = None
    """`file:line` in images.yaml the resource was rendered from (ANNOTATION_SOURCE), if known."""

    @property
    def resource(self) -> str:
        """`Kind/name`, how people refer to the resource."""
        return f"{self.resource_type.rsplit(':', 1)[-1]}/{self.resource_name}"

    def as_dict(self) -> dict[str, str | None]:
        return {"rule": self.rule, "level": self.level.value, "resource": self.resource,
                "type": self.resource_type, "name": self.resource_name, "source": self.source,
                "message": self.message}


@dataclass(frozen=True)
class Finding:
    """What a rule function returns: the message, and the resource it is about (None: the whole stack).

    The catalog turns findings into Violations with the rule's name and configured level."""

    resource: Resource | None
    message: str


@dataclass(frozen=True)
class Resource:
    """A resource as a policy sees it: the Pulumi type token and its props (apiVersion, kind, metadata, spec)."""

    type: str
    props: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(mapping(self.props.get("metadata")).get("name", ""))

    @property
    def labels(self) -> Mapping[str, Any]:
        return mapping(mapping(self.props.get("metadata")).get("labels"))

    @property
    def annotations(self) -> Mapping[str, Any]:
        return mapping(mapping(self.props.get("metadata")).get("annotations"))

    @property
    def role(self) -> str | None:
        role = self.labels.get(LABEL_ROLE)
        return str(role) if role is not None else None

    @property
    def spec(self) -> Mapping[str, Any]:
        return mapping(self.props.get("spec"))

    @property
    def source(self) -> str | None:
        value = self.annotations.get(ANNOTATION_SOURCE)
        return str(value) if value else None

    @property
    def display(self) -> str:
        """`Stage rebuild-api`, how messages name the resource."""
        return f"{self.type.rsplit(':', 1)[-1]} {self.name}"

    def finding(self, message: str) -> Finding:
        return Finding(self, message)


def type_token(manifest: Mapping[str, Any]) -> str:
    """The Pulumi type token `pulumi_kubernetes` registers a manifest under (`kubernetes:group/version:Kind`)."""
    api_version = str(manifest.get("apiVersion", ""))
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{manifest.get('kind', '')}"


def from_manifest(manifest: Mapping[str, Any]) -> Resource:
    return Resource(type_token(manifest), manifest)


def mapping(value: object) -> Mapping[str, Any]:
    """`value` if it is a mapping (dicts and CrossGuard's proxies), else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Any]:
    """`value` as a list if it is a sequence (lists and CrossGuard's proxies), not a string; else []."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def text(value: object) -> str | None:
    return value if isinstance(value, str) else None
