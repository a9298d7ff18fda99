"""refresh_all against the real registry: request counts, moves, per-platform changes, faults,
mirrors, history cap."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analyzer.config.model import RegistriesConfig
from analyzer.registry.client import RegistryClient, RetryPolicy
from analyzer.registry.history import Observation, record_observation
from analyzer.registry.refresh import refresh_all
from analyzer.state.model import DigestHistory, ImageState, RebuildRecord
from tests.support.registry import (
    Fault,
    FaultProxy,
    Image,
    RegistryServer,
    head_digest,
    push_image,
    push_index,
    unused_url,
)
from tests.support.states import external_state, managed_state

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(sleep=lambda _: None) as c:
        yield c


def _states(*states: ImageState) -> dict[str, ImageState]:
    return {s.ref: s for s in states}


def test_unchanged_tags_cost_one_head_each_and_moves_are_detected_per_platform(
        client: RegistryClient, counting_proxy: FaultProxy, registry: RegistryServer, repo: str) -> None:
    single = push_image(registry.url, repo, "single", Image.of("s1"))
    amd, arm = Image.of("m1"), Image.of("m1", platform="linux/arm64/v8")
    push_index(registry.url, repo, "docker-list", [amd, arm])
    oci_images = [Image.of("o1", oci=True), Image.of("o1", platform="linux/arm64/v8", oci=True)]
    push_index(registry.url, repo, "oci-index", oci_images, oci=True)
    host = counting_proxy.host
    tags = ("single", "docker-list", "oci-index")
    states = _states(*(external_state(f"{host}/{repo}:{tag}") for tag in tags))

    first = refresh_all(client, states, T0, 50)
    assert [r.change for _, r in first] == ["new", "new", "new"]
    assert counting_proxy.count("HEAD") == 3
    assert counting_proxy.count("GET") == 2          # each index read once, to learn its platforms
    states = {s.ref: s for s, _ in first}
    assert states[f"{host}/{repo}:docker-list"].digests.history[0].platforms == {
        "linux/amd64": amd.digest, "linux/arm64/v8": arm.digest}

    counting_proxy.reset()
    second = refresh_all(client, states, T0 + timedelta(hours=1), 50)
    assert [r.change for _, r in second] == ["unchanged", "unchanged", "unchanged"]
    assert counting_proxy.count() == 3 and counting_proxy.count("HEAD") == 3
    states = {s.ref: s for s, _ in second}
    assert states[f"{host}/{repo}:single"].digests.history[0].last_seen == T0 + timedelta(hours=1)

    # Upstream: the single tag moves; the list changes only its arm64 image.
    moved_single = push_image(registry.url, repo, "single", Image.of("s2"))
    arm2 = Image.of("m2", platform="linux/arm64/v8")
    moved_list = push_index(registry.url, repo, "docker-list", [amd, arm2])
    counting_proxy.reset()
    third = {r.ref: (s, r) for s, r in refresh_all(client, states, T0 + timedelta(hours=2), 50)}
    assert counting_proxy.count("HEAD") == 3
    assert counting_proxy.count("GET") == 1           # only the new index is read
    state, result = third[f"{host}/{repo}:single"]
    assert (result.change, result.previous, result.digest) == ("moved", single, moved_single)
    assert [r.digest for r in state.digests.history] == [single, moved_single]
    state, result = third[f"{host}/{repo}:docker-list"]
    assert result.change == "moved" and result.digest == moved_list
    assert result.changed_platforms == ["linux/arm64/v8"]
    assert state.digests.history[-1].platforms == {"linux/amd64": amd.digest, "linux/arm64/v8": arm2.digest}
    assert third[f"{host}/{repo}:oci-index"][1].change == "unchanged"


def test_failures_are_reported_per_image_and_never_touch_history(
        client: RegistryClient, counting_proxy: FaultProxy, registry: RegistryServer, repo: str) -> None:
    push_image(registry.url, repo, "ok", Image.of("ok"))
    push_image(registry.url, repo, "flaky", Image.of("flaky"))
    known = record_observation(DigestHistory(), Observation("sha256:" + "e" * 64), T0, 50)
    host = counting_proxy.host
    down = unused_url().removeprefix("http://")
    states = _states(external_state(f"{host}/{repo}:ok"),
                     external_state(f"{host}/{repo}:missing", digests=known),
                     external_state(f"{host}/{repo}:flaky", digests=known),
                     external_state(f"{down}/{repo}:any", digests=known))
    counting_proxy.inject(Fault("status", path="/flaky$", status=500, times=100))
    with RegistryClient(sleep=lambda _: None, retry=RetryPolicy(attempts=2)) as c:
        outcomes = {r.ref: (s, r) for s, r in refresh_all(c, states, T0 + timedelta(days=1), 50)}
    assert outcomes[f"{host}/{repo}:ok"][1].change == "new"
    expected = {f"{host}/{repo}:missing": "not-found", f"{host}/{repo}:flaky": "unavailable",
                f"{down}/{repo}:any": "unavailable"}
    for ref, kind in expected.items():
        state, result = outcomes[ref]
        assert (result.change, result.error_kind) == (None, kind)
        assert state.digests == known                 # untouched: no new digest, no last_seen bump
        assert result.error and ref.split("/", 1)[1].split(":")[0] in result.error


def test_stale_mirror_is_not_mistaken_for_no_update(tmp_path: Path, registry: RegistryServer,
                                                    repo: str) -> None:
    """A mirror still holding the old tag must not hide a move: tags are checked upstream."""
    old = Image.of("old")
    new_index = [Image.of("new"), Image.of("new", platform="linux/arm64/v8")]
    with RegistryServer.plain(tmp_path / "stale") as stale_mirror:
        push_image(stale_mirror.url, repo, "t", old)              # the mirror never saw the move
        push_image(registry.url, repo, "t", old)
        config = RegistriesConfig.model_validate({"hosts": {registry.host: {"mirror": stale_mirror.url}}})
        ref = f"{registry.host}/{repo}:t"
        with RegistryClient(config, sleep=lambda _: None) as c:
            (state, first), = refresh_all(c, _states(external_state(ref)), T0, 50)
            moved = push_index(registry.url, repo, "t", new_index)
            assert head_digest(stale_mirror.url, repo, "t") == old.digest
            (state, second), = refresh_all(c, {ref: state}, T0 + timedelta(hours=1), 50)
    assert (first.change, first.digest) == ("new", old.digest)
    assert (second.change, second.digest) == ("moved", moved)
    # The new index is not on the stale mirror (404): platforms were read from the upstream instead.
    assert set(state.digests.history[-1].platforms) == {"linux/amd64", "linux/arm64/v8"}


def test_upstream_down_behind_a_pull_through_mirror_is_an_error_not_unchanged(
        tmp_path: Path, registry_binary: str) -> None:
    with RegistryServer.plain(tmp_path / "upstream") as upstream, \
            RegistryServer.proxy_of(tmp_path / "mirror", upstream.url) as mirror:
        repo = "library/python"
        push_image(upstream.url, repo, "3.12", Image.of("v1"))
        ref = f"{upstream.host}/{repo}:3.12"
        config = RegistriesConfig.model_validate({"hosts": {upstream.host: {"mirror": mirror.url}}})
        with RegistryClient(config, sleep=lambda _: None) as c:
            (state, first), = refresh_all(c, _states(external_state(ref)), T0, 50)
            assert head_digest(mirror.url, repo, "3.12") == first.digest   # mirror has cached the tag
            upstream.stop()
            assert head_digest(mirror.url, repo, "3.12") == first.digest   # ...and still serves it
            (after, second), = refresh_all(c, {ref: state}, T0 + timedelta(hours=1), 50)
    assert second.change is None and second.error_kind == "unavailable"
    assert after.digests == state.digests


def test_history_cap_keeps_current_and_deployed_digest(client: RegistryClient, registry: RegistryServer,
                                                       repo: str) -> None:
    ref = f"{registry.host}/{repo}:t"
    history = DigestHistory()
    digests = []
    for i in range(3):
        digests.append(push_image(registry.url, repo, "t", Image.of(f"cap{i}")))
        history = record_observation(history, Observation(digests[-1]), T0 + timedelta(days=i), 50)
    deployed = digests[0]
    app = managed_state("app", "registry.example.com/team/app:latest", [ref], delay="720h",
                        rebuilds=[RebuildRecord(at=T0, outcome="succeeded", base_digests={ref: deployed})])
    latest = push_image(registry.url, repo, "t", Image.of("cap-latest"))
    states = _states(external_state(ref, ["app"], history), app)
    (state, result), = refresh_all(client, states, T0 + timedelta(days=5), 2)
    assert result.change == "moved"
    assert [r.digest for r in state.digests.history] == [deployed, latest]
    assert state.digests.current == latest


def test_per_registry_concurrency_bound_and_rate_limit(counting_proxy: FaultProxy, registry: RegistryServer,
                                                       repo: str) -> None:
    for i in range(6):
        push_image(registry.url, repo, f"t{i}", Image.of(f"c{i}"))
    states = _states(*(external_state(f"{counting_proxy.host}/{repo}:t{i}") for i in range(6)))
    sleeps: list[float] = []
    config = RegistriesConfig.model_validate(
        {"hosts": {counting_proxy.host: {"maxConcurrent": 1, "requestsPerSecond": 0.01}}})
    with RegistryClient(config, sleep=sleeps.append) as c:
        outcomes = refresh_all(c, states, T0, 50, workers=6)
    assert all(r.change == "new" for _, r in outcomes)
    assert counting_proxy.count("HEAD") == 6
    assert counting_proxy.max_in_flight == 1
    # Burst of 1, then every further request had to wait for the 0.01/s bucket.
    assert len(sleeps) == 5 and all(s > 0 for s in sleeps)


def test_endpoint_serves_a_registry_under_its_own_name(registry: RegistryServer, repo: str) -> None:
    """`endpoint` routes every request for docker.io (tags included) to another host, e.g. an internal proxy:
    the reference and the state keep the registry's name."""
    pushed = push_image(registry.url, f"library/{repo}", "3.12-slim", Image.of("python via endpoint"))
    config = RegistriesConfig.model_validate({"hosts": {"docker.io": {"endpoint": registry.url}}})
    ref = f"docker.io/library/{repo}:3.12-slim"
    with RegistryClient(config, sleep=lambda _: None) as routed:
        (state, result), = refresh_all(routed, _states(external_state(ref)), T0, 50)
    assert (result.change, result.digest) == ("new", pushed)
    assert state.ref == ref and state.digests.current == pushed


def test_endpoint_must_be_a_plain_base_url() -> None:
    with pytest.raises(ValueError, match="must be an http"):
        RegistriesConfig.model_validate({"hosts": {"docker.io": {"endpoint": "https://u:p@proxy.example.com"}}})
