"""One stack per team (analyzer/kargo/stacks.py): the parts are disjoint and together the whole project."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.config.loader import load_fleet
from analyzer.config.model import Fleet
from analyzer.errors import InputError
from analyzer.kargo.build import KargoProject, build_project
from analyzer.kargo.resources import KargoObject
from analyzer.kargo.settings import Settings
from analyzer.kargo.stacks import partition, select
from analyzer.state.store import load_states
from bench.kargo_fleet import write_render_fleet
from bench.pulumi_teams import split_into_teams
from tests.support.kargo_fleet import example_fleet, example_states


def _keys(objects: list[KargoObject]) -> list[tuple[str, str]]:
    return [(o.kind, o.name) for o in objects]


def _check_partition(project: KargoProject, fleet: Fleet, parts: list[Settings]) -> list[list[KargoObject]]:
    got = partition(project, fleet, parts)
    flat = [key for part in got for key in _keys(part)]
    assert len(flat) == len(set(flat))  # disjoint
    assert sorted(flat) == sorted(_keys(project.objects))  # together: the whole project
    return got


def test_default_is_the_whole_project() -> None:
    project = build_project(example_fleet(), example_states(), Settings())
    assert select(project, example_fleet(), Settings()) == project.objects


def test_platform_and_team_stacks_partition_the_example_project() -> None:
    fleet = example_fleet()
    project = build_project(fleet, example_states(), Settings())
    files = ["images.yaml", "images.d/payments.yaml", "images.d/web.yaml"]
    parts = [Settings(teams=[], shared="all")] + [Settings(teams=[f], shared="none") for f in files]
    platform, root, payments, web = _check_partition(project, fleet, parts)
    assert {k for k, _ in _keys(platform)} == {"Project", "ProjectConfig", "ServiceAccount", "Role", "RoleBinding",
                                               "AnalysisTemplate", "Warehouse", "Stage"}
    assert all(name.startswith("soak-") for kind, name in _keys(platform) if kind == "Stage")
    assert _keys(payments) == [("Stage", "rebuild-payments-api"), ("Stage", "rebuild-payments-worker")]
    assert _keys(root) == [("Stage", "rebuild-base-node"), ("Stage", "rebuild-base-python"),
                           ("Stage", "rebuild-ml-runtime")]
    # Objects are unchanged by the split: the same model objects as the one-stack project.
    assert all(obj in project.objects for obj in payments + web)


def test_shards_of_the_shared_objects_keep_a_warehouse_with_its_soak_stages(tmp_path: Path) -> None:
    config = write_render_fleet(tmp_path / "fleet", 60, 150)
    split_into_teams(config, 6)
    fleet = load_fleet(config)
    project = build_project(fleet, load_states(tmp_path / "fleet" / "state"), Settings())
    teams = sorted({image.file for image in fleet.images})
    assert len(teams) == 6
    shards = [Settings(teams=[], shared=f"{k}/4") for k in range(4)]
    got = _check_partition(project, fleet, shards + [Settings(teams=[t], shared="none") for t in teams])
    soaks = project.summary["soakStages"]
    for part in got[:4]:
        warehouses = {name for kind, name in _keys(part) if kind == "Warehouse"}
        assert warehouses
        assert all(soaks[name]["warehouse"] in warehouses for kind, name in _keys(part) if kind == "Stage")
    assert all(len(part) > 0 for part in got[4:])


def test_an_unknown_team_file_is_an_error() -> None:
    project = build_project(example_fleet(), example_states(), Settings())
    with pytest.raises(InputError, match="no such enrollment file"):
        select(project, example_fleet(), Settings(teams=["images.d/payment.yaml"], shared="none"))
    with pytest.raises(InputError, match="K must be below N"):
        select(project, example_fleet(), Settings(teams=[], shared="4/4"))
