from __future__ import annotations

import pytest

from analyzer.rules.hygiene import (
    discovery_limit_bounds,
    no_managed_image_warehouse,
    one_rebuild_stage_per_image,
    rebuild_graph_acyclic,
    warehouse_interval_floor,
)
from tests.analyzer.rules.builders import rebuild, request, settings, soak, warehouse


def msgs(findings: list) -> list[str]:
    return [f.message for f in findings]


# --- interval ----------------------------------------------------------------------------------

@pytest.mark.parametrize("interval", ["5m0s", "5m", "300s", "1h", "0.1h"])
def test_interval_at_or_above_floor_passes(interval: str) -> None:
    assert warehouse_interval_floor(warehouse(interval=interval), settings()) == []


@pytest.mark.parametrize(("interval", "expected"), [
    ("1m", "polls every 1m (spec.interval), below the floor of 5m"), ("4m59s", "below the floor"),
    (None, "has no spec.interval"), ("5 minutes", "not a Go duration"), ("5d", "not a Go duration"),
])
def test_interval_problems(interval: str | None, expected: str) -> None:
    [message] = msgs(warehouse_interval_floor(warehouse(interval=interval), settings()))
    assert expected in message


def test_interval_floor_is_configurable() -> None:
    assert warehouse_interval_floor(warehouse(interval="1m"), settings(minimumIntervalMinutes=1.0)) == []
    assert warehouse_interval_floor(warehouse(interval="10m"), settings(minimumIntervalMinutes=15.0)) != []
    assert warehouse_interval_floor(rebuild(), settings()) == []


# --- discoveryLimit ----------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 20, 100, 20.0, None])
def test_discovery_limit_within_bounds_passes(limit: object) -> None:
    assert discovery_limit_bounds(warehouse(discoveryLimit=limit), settings()) == []


@pytest.mark.parametrize("limit", [0, 101, 500, 2.5, "20", True])
def test_discovery_limit_out_of_bounds_fails(limit: object) -> None:
    [message] = msgs(discovery_limit_bounds(warehouse(discoveryLimit=limit), settings()))
    assert "discoveryLimit" in message and "outside 1..100" in message


def test_discovery_limit_bounds_from_float_config() -> None:
    custom = settings(minimumDiscoveryLimit=5.0, maximumDiscoveryLimit=50.0)
    assert custom.maximum_discovery_limit == 50 and isinstance(custom.maximum_discovery_limit, int)
    assert discovery_limit_bounds(warehouse(discoveryLimit=60), custom) != []
    assert discovery_limit_bounds(warehouse(discoveryLimit=50), custom) == []


# --- managed image Warehouse -------------------------------------------------------------------

def test_warehouse_for_a_base_image_passes() -> None:
    resources = [warehouse(), rebuild(ref="registry.example.com/apps/app:1")]
    assert no_managed_image_warehouse(resources, settings()) == []


def test_digest_warehouse_following_managed_image_fails() -> None:
    resources = [warehouse("app-watch", repoURL="registry.example.com/apps/app", constraint="1"),
                 rebuild(ref="registry.example.com/apps/app:1")]
    [finding] = no_managed_image_warehouse(resources, settings())
    assert finding.resource is not None and finding.resource.name == "app-watch"
    assert "registry.example.com/apps/app:1, a managed image built by rebuild Stage rebuild-app" in finding.message


def test_other_tag_by_digest_passes_but_tag_selection_on_managed_repo_fails() -> None:
    other_tag = warehouse("app-2", repoURL="registry.example.com/apps/app", constraint="2")
    assert no_managed_image_warehouse([other_tag, rebuild()], settings()) == []
    semver = warehouse("app-any", repoURL="registry.example.com/apps/app", imageSelectionStrategy="SemVer",
                       constraint=None)
    assert "repository registry.example.com/apps/app" in msgs(no_managed_image_warehouse([semver, rebuild()],
                                                                                        settings()))[0]


def test_docker_hub_names_are_normalized() -> None:
    resources = [warehouse("py", repoURL="python", constraint="3.12-slim"),
                 rebuild(ref="docker.io/library/python:3.12-slim")]
    assert len(no_managed_image_warehouse(resources, settings())) == 1


# --- acyclic -----------------------------------------------------------------------------------

def test_dag_passes() -> None:
    resources = [soak(), rebuild("rebuild-a"), rebuild("rebuild-b", requests=[request(stages=["rebuild-a"])])]
    assert rebuild_graph_acyclic(resources, settings()) == []


def test_cycle_is_reported_once_in_flow_order() -> None:
    resources = [rebuild("rebuild-a", requests=[request(stages=["rebuild-c"])]),
                 rebuild("rebuild-b", requests=[request(stages=["rebuild-a"])]),
                 rebuild("rebuild-c", requests=[request(stages=["rebuild-b"])])]
    [finding] = rebuild_graph_acyclic(resources, settings())
    assert finding.resource is not None and finding.resource.name == "rebuild-a"
    assert "rebuild-a → rebuild-b → rebuild-c → rebuild-a" in finding.message


def test_two_cycles_and_a_self_loop() -> None:
    resources = [rebuild("a", requests=[request(stages=["b"])]), rebuild("b", requests=[request(stages=["a"])]),
                 rebuild("c", requests=[request(stages=["d"])]), rebuild("d", requests=[request(stages=["c"])]),
                 rebuild("e", requests=[request(stages=["e"])])]
    names = sorted(f.resource.name for f in rebuild_graph_acyclic(resources, settings()) if f.resource)
    assert names == ["a", "c", "e"]


# --- one rebuild Stage per image ---------------------------------------------------------------

def test_one_stage_per_image_passes() -> None:
    resources = [rebuild("rebuild-a", image="a"), rebuild("rebuild-b", image="b")]
    assert one_rebuild_stage_per_image(resources, settings(managedImages=["a", "b"])) == []
    assert one_rebuild_stage_per_image(resources, settings()) == []


def test_duplicate_stages_are_each_reported() -> None:
    resources = [rebuild("rebuild-a", image="a"), rebuild("rebuild-a2", image="a")]
    found = one_rebuild_stage_per_image(resources, settings())
    assert [f.resource.name for f in found if f.resource] == ["rebuild-a", "rebuild-a2"]
    assert "has 2 rebuild Stages (rebuild-a, rebuild-a2)" in found[0].message


def test_missing_unlabelled_and_unknown_images() -> None:
    resources = [rebuild("rebuild-a", image="a"), rebuild("rebuild-x", image=None), rebuild("rebuild-z", image="z")]
    found = msgs(one_rebuild_stage_per_image(resources, settings(managedImages=["a", "b"])))
    assert any("rebuild-x has no label image-factory.dev/image" in m for m in found)
    assert any("managed image b has no rebuild Stage" in m for m in found)
    assert any("rebuild-z rebuilds z, which is not a managed image" in m for m in found)
    assert len(found) == 3
