"""The incremental plan is the full plan: on random fleets and random chains of Dockerfile changes, the
states `plan_incremental` re-plans render exactly as `plan_state`'s, every state it leaves alone renders
as before, and its index (hence the summary) is the full plan's."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analyzer.config.loader import load_fleet
from analyzer.config.model import Fleet
from analyzer.discovery.dockerfile import DockerfileAnalysis, ImageUse, StageFrom, Unusable
from analyzer.discovery.reference import parse_reference
from analyzer.graph import DependencyCycle
from analyzer.state.derive import Discovery, NotIncremental, incremental_refs, plan_incremental, plan_state
from analyzer.state.index import PlanIndex, index_of, index_summary, summary_of
from analyzer.state.model import DigestHistory, DigestRecord, ImageState, RebuildRecord
from analyzer.state.store import render_state

T0 = datetime(2026, 11, 1, tzinfo=UTC)
UPSTREAM = ["python:3.12-slim", "python:3.13-slim", "node:20-alpine", "alpine:3.20", "debian:bookworm-slim",
            "docker.io/library/busybox:1.36", "gcr.io/distroless/static-debian12:nonroot"]
ENROLLED_EXTERNAL = ["python:3.12-slim", "redis:7"]


def image_ref(i: int) -> str:
    return f"registry.example.com/team/img-{i:02d}:main"


def write_fleet(folder: Path, count: int) -> Fleet:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["images:"]
    for i in range(count):
        lines += [f"  - name: img-{i:02d}", f"    image: {image_ref(i)}",
                  f"    source: {{repo: repo-{i % 3}, dockerfile: img-{i:02d}/Dockerfile}}",
                  f"    trigger: {{webhook: {{url: 'https://ci.example.com/{i}'}}}}"]
    for j, ref in enumerate(ENROLLED_EXTERNAL):
        lines += [f"  - name: ext-{j}", f"    image: {ref}"]
    (folder / "images.yaml").write_text("\n".join(lines) + "\n")
    return load_fleet(folder / "images.yaml")


def random_discovery(rng: random.Random, i: int, count: int, commit: str, acyclic: bool = False) -> Discovery:
    """A Dockerfile using a few bases: upstream tags, a new tag now and then, managed images (earlier ones
    mostly, so cycles are rare but possible; never with `acyclic`), pinned digests, COPY --from,
    unresolvable values."""
    stages: list[StageFrom] = []
    copies: list[ImageUse] = []
    unresolved: list[Unusable] = []
    for line in range(1, rng.randint(1, 4) + 1):
        roll = rng.random()
        if roll < 0.45:
            raw = rng.choice(UPSTREAM)
        elif roll < 0.55:
            raw = f"new.example.com/base-{rng.randint(0, 3)}:1"
        elif roll < 0.85 and count > 1:
            if acyclic and not i:
                continue
            raw = image_ref(rng.randrange(0, i) if i and (acyclic or rng.random() < 0.9) else rng.randrange(count))
        elif roll < 0.93:
            raw = "alpine@sha256:" + "0123456789abcdef" * 4
        else:
            unresolved.append(Unusable(raw="${BASE}", line=line, reason="no value"))
            continue
        ref = parse_reference(raw)
        if rng.random() < 0.2:
            copies.append(ImageUse(ref=ref, raw=raw, line=line, via="copy"))
        else:
            stages.append(StageFrom(name=None, source=ref.normalized, raw=raw, line=line, ref=ref))
    return Discovery(analysis=DockerfileAnalysis(syntax=None, stages=stages, copy_from=copies, unresolved=unresolved),
                     commit=commit)


def with_history(state: ImageState) -> ImageState:
    """What refresh and the record job add: a digest history and a rebuild."""
    return state.model_copy(update={
        "digests": DigestHistory(current="sha256:" + "1" * 64, history=[
            DigestRecord(digest="sha256:" + "1" * 64, first_seen=T0, last_seen=T0)]),
        "rebuilds": [RebuildRecord(at=T0, outcome="succeeded")] if state.kind == "managed" else []})


def sources_of(fleet: Fleet) -> dict[str, tuple[str, str]]:
    return {image.name: (image.entry.source.repo, "main") for image in fleet.managed() if image.entry.source}


@pytest.mark.parametrize("seed", range(40))
def test_incremental_plan_equals_the_full_plan(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randint(4, 24)
    fleet = write_fleet(tmp_path, count)
    by_name = fleet.by_name()
    discoveries = {f"img-{i:02d}": random_discovery(rng, i, count, "c0", acyclic=True) for i in range(count)}
    first = plan_state(fleet, discoveries, {})
    on_disk = {ref: with_history(s) if rng.random() < 0.5 else s for ref, s in first.states.items()}
    index = index_of(on_disk.values(), first.orphans, first.graph.topological_order(), sources_of(fleet))
    replanned_some = False
    for step in range(6):
        changed = rng.sample(sorted(discoveries), rng.randint(1, min(3, count)))
        commit = f"c{step + 1}"
        for name in changed:
            i = int(name.split("-")[1])
            discoveries[name] = random_discovery(rng, i, count, commit)
        images = {name: by_name[name] for name in changed}
        try:
            full = plan_state(fleet, discoveries, on_disk)
        except DependencyCycle:
            with pytest.raises((DependencyCycle, NotIncremental)):
                plan_incremental(index, images, {n: discoveries[n] for n in changed}, on_disk)
            for name in changed:  # undo: the user fixes the cycle
                discoveries[name] = Discovery(analysis=DockerfileAnalysis(syntax=None, stages=[]), commit=commit)
            full = plan_state(fleet, discoveries, on_disk)
        needed = incremental_refs(index, images, {n: discoveries[n] for n in changed})
        plan = plan_incremental(index, images, {n: discoveries[n] for n in changed},
                                {ref: on_disk[ref] for ref in needed if ref in on_disk})
        replanned_some = replanned_some or bool(plan.states)
        # every re-planned state is the full plan's; every other state on disk renders as before
        for ref, state in full.states.items():
            expected = render_state(state)
            if ref in plan.states:
                assert render_state(plan.states[ref]) == expected, ref
            else:
                assert ref in on_disk and render_state(on_disk[ref]) == expected, ref
        assert not set(plan.states) - set(full.states)
        on_disk = on_disk | plan.states
        assert sorted(ref for ref in on_disk if ref not in full.states) == full.orphans
        expected_index = index_of(full.states.values(), full.orphans, full.graph.topological_order(),
                                  sources_of(fleet))
        assert plan.index == expected_index
        assert index_summary(plan.index) == summary_of(
            [i for i in expected_index.images.values()], len(full.external), {}, full.orphans,
            full.graph.topological_order())
        index = plan.index
    assert replanned_some


def test_only_the_touched_states_are_replanned(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, 6)
    discoveries = {f"img-{i:02d}": random_discovery(random.Random(i), 0, 1, "c0") for i in range(6)}
    discoveries["img-01"] = Discovery(analysis=DockerfileAnalysis(syntax=None, stages=[
        StageFrom(name=None, source=image_ref(0), raw=image_ref(0), line=1, ref=parse_reference(image_ref(0)))]),
        commit="c0")
    first = plan_state(fleet, discoveries, {})
    index = index_of(first.states.values(), [], first.graph.topological_order(), sources_of(fleet))
    # img-01 moves from img-00 to a brand-new base: img-01, img-00 (children, dependents) and the new base
    new = Discovery(analysis=DockerfileAnalysis(syntax=None, stages=[StageFrom(
        name=None, source="new.example.com/x:1", raw="new.example.com/x:1", line=1,
        ref=parse_reference("new.example.com/x:1"))]), commit="c1")
    images = {"img-01": fleet.by_name()["img-01"]}
    needed = incremental_refs(index, images, {"img-01": new})
    assert needed == {image_ref(0), image_ref(1), "new.example.com/x:1"}
    plan = plan_incremental(index, images, {"img-01": new}, {r: first.states[r] for r in needed if r in first.states})
    assert sorted(plan.states) == ["new.example.com/x:1", image_ref(0), image_ref(1)]
    assert plan.states[image_ref(0)].managed and plan.states[image_ref(0)].managed.children == []
    assert plan.states["new.example.com/x:1"].dependents == ["img-01"]


def test_a_missing_state_file_is_not_guessed(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, 3)
    discoveries = {f"img-{i:02d}": random_discovery(random.Random(i), 0, 1, "c0") for i in range(3)}
    first = plan_state(fleet, discoveries, {})
    index = index_of(first.states.values(), [], first.graph.topological_order(), sources_of(fleet))
    images = {"img-02": fleet.by_name()["img-02"]}
    with pytest.raises(NotIncremental):
        plan_incremental(index, images, {"img-02": discoveries["img-02"]}, {})
    with pytest.raises(NotIncremental):
        plan_incremental(index, images, {"img-02": Discovery(error="cannot read")}, first.states)
    stale = PlanIndex(images={}, external=index.external, orphans=[], order=[])
    with pytest.raises(NotIncremental):
        plan_incremental(stale, images, {"img-02": discoveries["img-02"]}, first.states)


def test_a_change_that_makes_a_cycle_is_refused(tmp_path: Path) -> None:
    fleet = write_fleet(tmp_path, 3)

    def from_(ref: str, commit: str) -> Discovery:
        return Discovery(analysis=DockerfileAnalysis(syntax=None, stages=[
            StageFrom(name=None, source=ref, raw=ref, line=1, ref=parse_reference(ref))]), commit=commit)

    discoveries = {"img-00": from_("alpine:3.20", "c0"), "img-01": from_(image_ref(0), "c0"),
                   "img-02": from_(image_ref(1), "c0")}
    first = plan_state(fleet, discoveries, {})
    index = index_of(first.states.values(), [], first.graph.topological_order(), sources_of(fleet))
    images = {"img-00": fleet.by_name()["img-00"]}
    for looping in (image_ref(2), image_ref(0)):  # through the chain, and onto itself
        with pytest.raises(DependencyCycle):
            plan_state(fleet, discoveries | {"img-00": from_(looping, "c1")}, first.states)
        with pytest.raises(DependencyCycle):
            plan_incremental(index, images, {"img-00": from_(looping, "c1")}, first.states)
