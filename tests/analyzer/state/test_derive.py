"""State planning: images.yaml wins, history survives, lifecycle transitions both ways."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.config.loader import load_fleet
from analyzer.config.model import Fleet
from analyzer.discovery.dockerfile import DockerfileAnalysis, ImageUse, StageFrom, Unusable
from analyzer.discovery.reference import parse_reference
from analyzer.graph import DependencyCycle
from analyzer.state.derive import Discovery, plan_state
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, RebuildRecord

PY = "docker.io/library/python:3.12-slim"
BASE = "registry.example.com/platform/base:1"
API = "registry.example.com/team/api:main"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
TRIGGER = "    trigger: {webhook: {url: 'https://ci.example.com/hook'}}\n"


def managed(name: str, image: str, extra: str = "") -> str:
    return (f"  - name: {name}\n    image: {image}\n    source: {{repo: repo, dockerfile: {name}/Dockerfile}}\n"
            + TRIGGER + extra)


def fleet(tmp_path: Path, body: str) -> Fleet:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "images.yaml"
    path.write_text("images:\n" + body)
    return load_fleet(path)


def from_(*refs: str) -> Discovery:
    stages = [StageFrom(name=None, source=parse_reference(r).normalized, raw=r, line=i + 1, ref=parse_reference(r))
              for i, r in enumerate(refs)]
    return Discovery(analysis=DockerfileAnalysis(syntax=None, stages=stages), commit="c0ffee")


def history() -> DigestHistory:
    return DigestHistory(current="sha256:" + "1" * 64,
                         history=[DigestRecord(digest="sha256:" + "1" * 64, first_seen=T0, last_seen=T0)])


def test_internal_chain_edges_and_dependents(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("base", BASE) + managed("api", API))
    plan = plan_state(f, {"base": from_("python:3.12-slim"), "api": from_(PY, BASE)}, {})
    base, api, py = plan.states[BASE], plan.states[API], plan.states[PY]
    assert base.managed and api.managed
    assert base.managed.children == ["api"] and api.managed.parents == ["base"]
    assert [(b.kind, b.parent, b.tracked) for b in api.managed.bases] == [
        ("external", None, PY), ("managed", "base", BASE)]
    assert py.kind == "external" and py.name is None and py.dependents == ["api", "base"]
    assert py.warehouse is not None
    assert (py.warehouse.repo_url, py.warehouse.image_selection_strategy, py.warehouse.constraint) == (
        "docker.io/library/python", "Digest", "3.12-slim")
    assert base.dependents == ["api"]
    assert BASE not in {s.ref for s in plan.external}  # no warehouse for managed images
    assert plan.graph.topological_order() == ["base", "api"]


def test_tag_aware_internal_edges(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("base", BASE) + managed("api", API))
    plan = plan_state(f, {"base": from_(PY), "api": from_("registry.example.com/platform/base:0")}, {})
    api = plan.states[API].managed
    assert api is not None and api.bases[0].kind == "external" and api.parents == []


def test_pinned_bases_are_reported_not_tracked(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("api", API))
    pinned = "golang:1.23@sha256:" + "5" * 64
    plan = plan_state(f, {"api": from_(pinned)}, {})
    api = plan.states[API].managed
    assert api is not None and api.bases[0].kind == "pinned" and api.bases[0].tracked is None
    assert set(plan.states) == {API}


def test_copy_and_mount_images_are_dependencies(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("api", API))
    busybox = parse_reference("busybox:1.36")
    analysis = DockerfileAnalysis(syntax="docker/dockerfile:1",
                                  copy_from=[ImageUse(busybox, "busybox:1.36", 3, "copy")],
                                  unresolved=[Unusable("${X}", 1, "variable X has no value")])
    plan = plan_state(f, {"api": Discovery(analysis=analysis, commit="c")}, {})
    api = plan.states[API].managed
    assert api is not None and [(b.via, b.tracked) for b in api.bases] == [("copy", busybox.tracked)]
    assert api.unresolved[0].value == "${X}" and api.syntax == "docker/dockerfile:1"
    assert plan.states[busybox.tracked].dependents == ["api"]


def test_config_wins_and_runtime_history_is_kept(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("api", API, "    delay: 36h\n"))
    rebuild = RebuildRecord(at=T0, outcome="succeeded", base_digests={PY: "sha256:" + "1" * 64})
    previous = plan_state(fleet(tmp_path / "old", managed("api", API)), {"api": from_(PY)}, {}).states
    previous[API].rebuilds = [rebuild]
    previous[PY].digests = history()
    plan = plan_state(f, {"api": from_(PY)}, previous)
    assert plan.states[API].managed is not None and plan.states[API].managed.delay == "36h"
    assert plan.states[API].rebuilds == [rebuild]
    assert plan.states[PY].digests == history()


def test_enrolled_external_settings_win(tmp_path: Path) -> None:
    body = managed("api", API) + ("  - name: python\n    image: python:3.12-slim\n    warehouse:\n"
                                  "      platform: linux/arm64\n      ignoreTags: ['^rc']\n")
    plan = plan_state(fleet(tmp_path, body), {"api": from_(PY)}, {})
    py = plan.states[PY]
    assert py.name == "python" and py.warehouse is not None
    assert py.warehouse.platform == "linux/arm64" and py.warehouse.ignore_tags_regexes == ["^rc"]
    assert py.enrolled_in == "images.yaml:6"


def test_demotion_keeps_history_and_gets_a_warehouse(tmp_path: Path) -> None:
    before = plan_state(fleet(tmp_path, managed("base", BASE) + managed("api", API)),
                        {"base": from_(PY), "api": from_(BASE)}, {}).states
    before[BASE].rebuilds = [RebuildRecord(at=T0, outcome="failed", reason="timeout")]
    before[BASE].digests = history()
    after = plan_state(fleet(tmp_path / "x", "  - name: base\n    image: " + BASE + "\n" + managed("api", API)),
                       {"api": from_(BASE)}, before).states
    base = after[BASE]
    assert base.kind == "external" and base.managed is None and base.warehouse is not None
    assert base.warehouse.constraint == "1"
    assert base.rebuilds == before[BASE].rebuilds and base.digests == history()
    assert after[API].managed is not None and after[API].managed.bases[0].kind == "external"


def test_promotion_keeps_history_and_drops_warehouse(tmp_path: Path) -> None:
    before = plan_state(fleet(tmp_path, managed("api", API)), {"api": from_(BASE)}, {}).states
    before[BASE].digests = history()
    after = plan_state(fleet(tmp_path / "x", managed("base", BASE) + managed("api", API)),
                       {"base": from_(PY), "api": from_(BASE)}, before).states
    assert after[BASE].kind == "managed" and after[BASE].warehouse is None
    assert after[BASE].digests == history()
    assert after[API].managed is not None and after[API].managed.parents == ["base"]


def test_failed_source_keeps_previous_state_untouched(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("api", API))
    before = plan_state(f, {"api": from_(PY)}, {}).states
    plan = plan_state(f, {"api": Discovery(error="cannot fetch repo")}, before)
    assert plan.failed == {"api": "cannot fetch repo"}
    assert plan.states[API] == before[API]
    assert PY in plan.states  # its base is still tracked


def test_orphans_are_reported(tmp_path: Path) -> None:
    before = plan_state(fleet(tmp_path, managed("api", API)), {"api": from_(PY)}, {}).states
    plan = plan_state(fleet(tmp_path / "x", managed("api", API)), {"api": from_("node:20")}, before)
    assert plan.orphans == [PY]


def test_cycle_is_an_error(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("base", BASE) + managed("api", API))
    with pytest.raises(DependencyCycle):
        plan_state(f, {"base": from_(API), "api": from_(BASE)}, {})


def test_state_never_holds_repo_credentials(tmp_path: Path) -> None:
    f = fleet(tmp_path, managed("api", API))
    state = plan_state(f, {"api": from_(PY)}, {}).states[API]
    assert isinstance(state, ImageState) and state.managed is not None
    assert state.managed.source.repo == "repo"
