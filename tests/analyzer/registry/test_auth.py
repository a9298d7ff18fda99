import httpx

from analyzer.registry.auth import TokenCache, parse_challenge, repository_of


def test_parse_bearer_challenge() -> None:
    challenge = parse_challenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                'scope="repository:library/python:pull"')
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                                "scope": "repository:library/python:pull"}


def test_parse_basic_challenge_and_absent_header() -> None:
    challenge = parse_challenge('Basic realm="basic-realm"')
    assert challenge is not None and challenge.scheme == "basic"
    assert parse_challenge(None) is None


def test_repository_of_request_paths() -> None:
    assert repository_of(httpx.URL("http://r/v2/library/python/manifests/3.12").path) == "library/python"
    assert repository_of("/v2/a/b/c/blobs/sha256:x") == "a/b/c"
    assert repository_of("/v2/") is None


def test_token_cache_expires_with_margin() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    cache.put("r:5000", "library/python", "Bearer t", lifetime=60)
    assert cache.get("r:5000", "library/python") == "Bearer t"
    assert cache.get("r:5000", "library/other") is None
    now[0] += 49
    assert cache.get("r:5000", "library/python") == "Bearer t"
    now[0] += 2
    assert cache.get("r:5000", "library/python") is None
