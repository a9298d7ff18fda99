"""Read-only views of Kargo Stage and Warehouse props that several rules need."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from analyzer.kargo.conventions import ROLE_REBUILD, ROLE_SOAK
from analyzer.rules.model import ANALYSIS_TEMPLATE, STAGE, WAREHOUSE, Resource, items, mapping, text


def requests(stage: Resource) -> list[Mapping[str, Any]]:
    """`spec.requestedFreight` entries."""
    return [mapping(entry) for entry in items(stage.spec.get("requestedFreight"))]


def origin_of(request: Mapping[str, Any]) -> str:
    return str(mapping(request.get("origin")).get("name", ""))


def sources_of(request: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(request.get("sources"))


def upstream_names(request: Mapping[str, Any]) -> list[str]:
    return [str(name) for name in items(sources_of(request).get("stages"))]


def by_name(resources: Sequence[Resource], resource_type: str) -> dict[str, Resource]:
    return {r.name: r for r in resources if r.type == resource_type}


def stages(resources: Sequence[Resource]) -> dict[str, Resource]:
    return by_name(resources, STAGE)


def warehouses(resources: Sequence[Resource]) -> dict[str, Resource]:
    return by_name(resources, WAREHOUSE)


def templates(resources: Sequence[Resource]) -> dict[str, Resource]:
    return by_name(resources, ANALYSIS_TEMPLATE)


def is_soak(resource: Resource) -> bool:
    return resource.type == STAGE and resource.role == ROLE_SOAK


def is_rebuild(resource: Resource) -> bool:
    return resource.type == STAGE and resource.role == ROLE_REBUILD


def image_subscriptions(warehouse: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`spec.subscriptions[i].image` path, the image subscription) for every image subscription."""
    for index, subscription in enumerate(items(warehouse.spec.get("subscriptions"))):
        image = mapping(subscription).get("image")
        if isinstance(image, Mapping):
            yield f"spec.subscriptions[{index}].image", image


def strategy_of(image: Mapping[str, Any]) -> str:
    return text(image.get("imageSelectionStrategy")) or "SemVer"
