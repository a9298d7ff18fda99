"""RegistryClient against the real local docker-registry (plain, Basic, Bearer) and a fault proxy."""

from collections.abc import Iterator

import pytest

from analyzer.config.model import RegistriesConfig
from analyzer.discovery.reference import parse_reference
from analyzer.registry.client import RegistryClient, RetryPolicy
from analyzer.registry.credentials import Credentials, CredentialStore
from analyzer.registry.errors import BadResponse, NotFound, RateLimited, Unauthorized, Unavailable
from analyzer.registry.manifest import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tests.support.registry import (
    BearerAuth,
    Fault,
    FaultProxy,
    Image,
    RegistryServer,
    TokenServer,
    push_image,
    push_index,
    unused_url,
)
from tests.support.registry_fixtures import BASIC_PASSWORD, BASIC_USER, TOKEN_PASSWORD, TOKEN_USER


class Sleeps(list[float]):
    """Records requested sleeps instead of sleeping (retries are asserted, never timed)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps: Sleeps) -> Iterator[RegistryClient]:
    with RegistryClient(sleep=sleeps, jitter=lambda: 1.0) as c:
        yield c


def test_head_reads_digest_with_one_request_and_detects_a_moved_tag(
        client: RegistryClient, counting_proxy: FaultProxy, registry: RegistryServer, repo: str) -> None:
    first = push_image(registry.url, repo, "1.0", Image.of("v1"))
    ref = parse_reference(f"{counting_proxy.host}/{repo}:1.0")
    assert client.head_tag(ref).digest == first
    assert counting_proxy.count() == 1 and counting_proxy.count("HEAD") == 1
    second = push_image(registry.url, repo, "1.0", Image.of("v2"))
    tag = client.head_tag(ref)
    assert tag.digest == second != first
    assert tag.media_type == DOCKER_MANIFEST
    assert counting_proxy.count() == 2


@pytest.mark.parametrize("oci", [False, True])
def test_multi_arch_index_digest_and_platform_digests(client: RegistryClient, registry: RegistryServer,
                                                      repo: str, oci: bool) -> None:
    amd, arm = Image.of("m1", oci=oci), Image.of("m1", platform="linux/arm64/v8", oci=oci)
    index = push_index(registry.url, repo, "3", [amd, arm], oci=oci)
    ref = parse_reference(f"{registry.host}/{repo}:3")
    tag = client.head_tag(ref)
    assert tag.digest == index
    assert tag.media_type == (OCI_INDEX if oci else DOCKER_LIST)
    assert client.platforms(ref, tag) == {"linux/amd64": amd.digest, "linux/arm64/v8": arm.digest}


def test_oci_single_manifest_is_found(client: RegistryClient, registry: RegistryServer, repo: str) -> None:
    image = Image.of("oci", oci=True)
    push_image(registry.url, repo, "x", image)
    tag = client.head_tag(parse_reference(f"{registry.host}/{repo}:x"))
    assert (tag.digest, tag.media_type) == (image.digest, OCI_MANIFEST)


def test_layers_and_config_labels_for_a_platform(client: RegistryClient, registry: RegistryServer,
                                                 repo: str) -> None:
    base_amd, base_arm = Image.of("base"), Image.of("base", platform="linux/arm64/v8")
    app_arm = base_arm.built_on(labels={"org.opencontainers.image.base.digest": "sha256:" + "b" * 64})
    push_index(registry.url, repo, "app", [base_amd.built_on(), app_arm])
    ref = parse_reference(f"{registry.host}/{repo}:app")
    layers = client.layers(ref, "linux/arm64")
    assert layers == app_arm.layer_digests
    assert layers[:1] == base_arm.layer_digests
    config = client.image_config(ref, "linux/arm64")
    assert (config.os, config.architecture, config.variant) == ("linux", "arm64", "v8")
    assert config.labels == {"org.opencontainers.image.base.digest": "sha256:" + "b" * 64}
    with pytest.raises(NotFound, match="no manifest for platform linux/s390x"):
        client.layers(ref, "linux/s390x")


def test_missing_tag_is_not_found_without_retries(client: RegistryClient, counting_proxy: FaultProxy,
                                                  sleeps: Sleeps, repo: str) -> None:
    with pytest.raises(NotFound, match=rf"{repo}:nope: not found \(HTTP 404\)"):
        client.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:nope"))
    assert counting_proxy.count() == 1
    assert sleeps == []


def test_no_digest_header_falls_back_to_get_and_sha256(client: RegistryClient, counting_proxy: FaultProxy,
                                                       registry: RegistryServer, repo: str) -> None:
    digest = push_image(registry.url, repo, "t", Image.of("nodigest"))
    counting_proxy.inject(Fault("drop-headers", method="HEAD", headers={"Docker-Content-Digest": ""}))
    counting_proxy.inject(Fault("drop-headers", method="GET", headers={"Docker-Content-Digest": ""}))
    tag = client.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:t"))
    assert tag.digest == digest
    assert [r.method for r in counting_proxy.requests] == ["HEAD", "GET"]


def test_429_honours_retry_after_then_succeeds(client: RegistryClient, counting_proxy: FaultProxy,
                                               registry: RegistryServer, sleeps: Sleeps, repo: str) -> None:
    digest = push_image(registry.url, repo, "t", Image.of("rl"))
    counting_proxy.inject(Fault("status", status=429, headers={"Retry-After": "3"}, times=2))
    assert client.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:t")).digest == digest
    assert sleeps == [3.0, 3.0]
    assert [r.status for r in counting_proxy.requests] == [429, 429, 200]


def test_429_with_too_long_retry_after_is_reported(client: RegistryClient, counting_proxy: FaultProxy,
                                                   sleeps: Sleeps, repo: str) -> None:
    counting_proxy.inject(Fault("status", status=429, headers={"Retry-After": "3600"}, times=5))
    with pytest.raises(RateLimited, match="Retry-After 3600s"):
        client.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:t"))
    assert sleeps == []
    assert counting_proxy.count() == 1


def test_5xx_is_retried_with_exponential_backoff(client: RegistryClient, counting_proxy: FaultProxy,
                                                 registry: RegistryServer, sleeps: Sleeps, repo: str) -> None:
    digest = push_image(registry.url, repo, "t", Image.of("5xx"))
    counting_proxy.inject(Fault("status", status=503, times=2))
    assert client.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:t")).digest == digest
    assert sleeps == [0.5, 1.0]   # jitter pinned to 1.0: backoff 0.5·2ⁿ⁻¹
    assert [r.status for r in counting_proxy.requests] == [503, 503, 200]


def test_persistent_5xx_gives_up_after_the_retry_budget(counting_proxy: FaultProxy, sleeps: Sleeps,
                                                        repo: str) -> None:
    counting_proxy.inject(Fault("status", status=502, times=10))
    with RegistryClient(sleep=sleeps, retry=RetryPolicy(attempts=3)) as c, \
            pytest.raises(Unavailable, match="HTTP 502"):
        c.head_tag(parse_reference(f"{counting_proxy.host}/{repo}:t"))
    assert counting_proxy.count() == 3
    assert len(sleeps) == 2


def test_registry_down_is_unavailable(client: RegistryClient, sleeps: Sleeps) -> None:
    host = unused_url().removeprefix("http://")
    with pytest.raises(Unavailable, match="cannot connect"):
        client.head_tag(parse_reference(f"{host}/library/python:3.12"))
    assert len(sleeps) == 3


def test_truncated_body_is_an_error_not_a_crash(client: RegistryClient, counting_proxy: FaultProxy,
                                                registry: RegistryServer, repo: str) -> None:
    index = push_index(registry.url, repo, "t", [Image.of("tr"), Image.of("tr", platform="linux/arm64/v8")])
    counting_proxy.inject(Fault("truncate", method="GET", times=10))
    ref = parse_reference(f"{counting_proxy.host}/{repo}:t")
    with pytest.raises(BadResponse, match="truncated"):
        client.manifest(ref, index)
    counting_proxy.reset()
    counting_proxy.inject(Fault("truncate", method="GET", times=1))
    assert client.manifest(ref, index).is_index   # a single truncated answer is retried


def test_non_json_body_is_an_error(client: RegistryClient, counting_proxy: FaultProxy,
                                   registry: RegistryServer, repo: str) -> None:
    index = push_index(registry.url, repo, "t", [Image.of("nj"), Image.of("nj", platform="linux/arm64/v8")])
    ref = parse_reference(f"{counting_proxy.host}/{repo}:t")
    counting_proxy.inject(Fault("garbage", method="GET"))
    with pytest.raises(BadResponse, match="does not match its digest"):
        client.manifest(ref, index)
    # A registry without digest headers that answers the GET with HTML: not JSON, reported.
    counting_proxy.inject(Fault("drop-headers", method="HEAD", headers={"Docker-Content-Digest": ""}))
    counting_proxy.inject(Fault("garbage", method="GET"))
    with pytest.raises(BadResponse, match="not valid JSON"):
        client.head_tag(ref)


def test_basic_auth_with_credentials(basic_registry: RegistryServer, sleeps: Sleeps, repo: str) -> None:
    digest = push_image(basic_registry.url, repo, "t", Image.of("basic"), auth=(BASIC_USER, BASIC_PASSWORD))
    ref = parse_reference(f"{basic_registry.host}/{repo}:t")
    store = CredentialStore(docker={basic_registry.host: Credentials(BASIC_USER, BASIC_PASSWORD)})
    with RegistryClient(credentials=store, sleep=sleeps) as c:
        assert c.head_tag(ref).digest == digest
    with RegistryClient(sleep=sleeps) as anonymous, pytest.raises(Unauthorized) as caught:
        anonymous.head_tag(ref)
    wrong = CredentialStore(docker={basic_registry.host: Credentials(BASIC_USER, "wrong-password-xyz")})
    with RegistryClient(credentials=wrong, sleep=sleeps) as c, pytest.raises(Unauthorized) as caught_wrong:
        c.head_tag(ref)
    for exc in (caught.value, caught_wrong.value):
        assert "HTTP 401" in str(exc)
        assert BASIC_PASSWORD not in str(exc) and "wrong-password-xyz" not in str(exc)
    assert sleeps == []


def test_basic_auth_goes_out_preemptively_after_the_first_challenge(basic_registry: RegistryServer,
                                                                    repo: str) -> None:
    push_image(basic_registry.url, repo, "t", Image.of("pre"), auth=(BASIC_USER, BASIC_PASSWORD))
    with FaultProxy(basic_registry.url) as proxy:
        store = CredentialStore(docker={proxy.host: Credentials(BASIC_USER, BASIC_PASSWORD)})
        with RegistryClient(credentials=store) as c:
            ref = parse_reference(f"{proxy.host}/{repo}:t")
            c.head_tag(ref)
            assert [r.status for r in proxy.requests] == [401, 200]
            c.head_tag(ref)
            assert [r.status for r in proxy.requests] == [401, 200, 200]


def test_bearer_token_flow_caches_the_token(token_registry: RegistryServer, token_server: TokenServer,
                                            repo: str) -> None:
    push_token = token_server.issue([f"repository:{repo}:pull,push"])
    digest = push_image(token_registry.url, repo, "t", Image.of("bearer"), auth=BearerAuth(push_token))
    with FaultProxy(token_registry.url) as proxy:
        store = CredentialStore(docker={proxy.host: Credentials(TOKEN_USER, TOKEN_PASSWORD)})
        before = len(token_server.requests)
        with RegistryClient(credentials=store) as c:
            ref = parse_reference(f"{proxy.host}/{repo}:t")
            for _ in range(3):
                assert c.head_tag(ref).digest == digest
        new_requests = token_server.requests[before:]
        assert len(new_requests) == 1
        assert new_requests[0].scopes == [f"repository:{repo}:pull"]
        assert new_requests[0].service == "test-registry"
        assert new_requests[0].username == TOKEN_USER
        assert [r.status for r in proxy.requests] == [401, 200, 200, 200]


def test_bearer_token_refused_is_unauthorized_without_secrets(token_registry: RegistryServer,
                                                              repo: str) -> None:
    store = CredentialStore(docker={token_registry.host: Credentials(TOKEN_USER, "not-the-password-123")})
    with RegistryClient(credentials=store) as c, pytest.raises(Unauthorized) as caught:
        c.head_tag(parse_reference(f"{token_registry.host}/{repo}:t"))
    assert "token service" in str(caught.value) and "refused" in str(caught.value)
    assert "not-the-password-123" not in str(caught.value)


def test_mirror_serves_digest_reads_while_tags_are_checked_upstream(
        tmp_path_factory: pytest.TempPathFactory, registry: RegistryServer, counting_proxy: FaultProxy,
        repo: str) -> None:
    index = push_index(registry.url, repo, "t", [Image.of("mi"), Image.of("mi", platform="linux/arm64/v8")])
    with RegistryServer.proxy_of(tmp_path_factory.mktemp("mirror"), counting_proxy.url) as mirror, \
            FaultProxy(mirror.url) as mirror_counter:
        config = RegistriesConfig.model_validate(
            {"hosts": {counting_proxy.host: {"mirror": mirror_counter.url}}})
        with RegistryClient(config) as c:
            ref = parse_reference(f"{counting_proxy.host}/{repo}:t")
            tag = c.head_tag(ref)
            assert tag.digest == index
            assert mirror_counter.count() == 0
            upstream_heads = counting_proxy.count("HEAD", "/manifests/t$")
            assert upstream_heads == 1
            assert set(c.platforms(ref, tag)) == {"linux/amd64", "linux/arm64/v8"}
            assert mirror_counter.count("GET", f"/manifests/{index}") == 1
