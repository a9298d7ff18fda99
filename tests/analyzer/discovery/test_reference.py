"""Reference normalization cases from distribution/reference (normalize_test.go, reference_test.go)."""

from __future__ import annotations

import pytest

from analyzer.discovery.reference import ImageRef, InvalidReference, is_valid_reference, parse_reference

D256 = "sha256:" + "0123456789abcdef" * 4
D512 = "sha512:" + "0123456789abcdef" * 8


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "normalized"),
    [
        pytest.param(
            "python",
            "docker.io",
            "library/python",
            "latest",
            None,
            "docker.io/library/python:latest",
            id="official",
        ),
        pytest.param(
            "python:3.12-slim",
            "docker.io",
            "library/python",
            "3.12-slim",
            None,
            "docker.io/library/python:3.12-slim",
            id="official-tag",
        ),
        pytest.param(
            "acme/app", "docker.io", "acme/app", "latest", None, "docker.io/acme/app:latest", id="user-repo"
        ),
        pytest.param(
            "docker.io/python",
            "docker.io",
            "library/python",
            "latest",
            None,
            "docker.io/library/python:latest",
            id="hub-official",
        ),
        pytest.param(
            "index.docker.io/python:3",
            "docker.io",
            "library/python",
            "3",
            None,
            "docker.io/library/python:3",
            id="legacy-hub-domain",
        ),
        pytest.param(
            "index.docker.io/acme/app",
            "docker.io",
            "acme/app",
            "latest",
            None,
            "docker.io/acme/app:latest",
            id="legacy-hub-user",
        ),
        pytest.param(
            "localhost/app", "localhost", "app", "latest", None, "localhost/app:latest", id="localhost"
        ),
        pytest.param(
            "localhost:5000/team/app:1",
            "localhost:5000",
            "team/app",
            "1",
            None,
            "localhost:5000/team/app:1",
            id="localhost-port",
        ),
        pytest.param(
            "[::1]:5000/app", "[::1]:5000", "app", "latest", None, "[::1]:5000/app:latest", id="ipv6-port"
        ),
        pytest.param(
            "[2001:db8::1]/app", "[2001:db8::1]", "app", "latest", None, "[2001:db8::1]/app:latest", id="ipv6"
        ),
        pytest.param(
            "registry.example.com:8443/a/b/c:v1.2",
            "registry.example.com:8443",
            "a/b/c",
            "v1.2",
            None,
            "registry.example.com:8443/a/b/c:v1.2",
            id="registry-port-deep-path",
        ),
        pytest.param(
            "127.0.0.1:5000/app",
            "127.0.0.1:5000",
            "app",
            "latest",
            None,
            "127.0.0.1:5000/app:latest",
            id="ip-port",
        ),
        pytest.param(
            "Registry.Example.com/app",
            "Registry.Example.com",
            "app",
            "latest",
            None,
            "Registry.Example.com/app:latest",
            id="uppercase-domain-allowed",
        ),
        pytest.param(
            "Foo/bar", "Foo", "bar", "latest", None, "Foo/bar:latest", id="uppercase-first-part-is-domain"
        ),
        pytest.param(
            f"python@{D256}",
            "docker.io",
            "library/python",
            None,
            D256,
            f"docker.io/library/python@{D256}",
            id="digest-no-implicit-latest",
        ),
        pytest.param(
            f"python:3.12@{D256}",
            "docker.io",
            "library/python",
            "3.12",
            D256,
            f"docker.io/library/python:3.12@{D256}",
            id="tag-and-digest",
        ),
        pytest.param(
            f"ghcr.io/a/b:1@{D512}", "ghcr.io", "a/b", "1", D512, f"ghcr.io/a/b:1@{D512}", id="sha512"
        ),
        pytest.param(
            "a__b/c.d-e---f:T_a-g.1",
            "docker.io",
            "a__b/c.d-e---f",
            "T_a-g.1",
            None,
            "docker.io/a__b/c.d-e---f:T_a-g.1",
            id="separators",
        ),
        pytest.param(
            "localhost:5000",
            "docker.io",
            "library/localhost",
            "5000",
            None,
            "docker.io/library/localhost:5000",
            id="bare-localhost-port-is-a-tag",
        ),
    ],
)
def test_normalizes_like_distribution(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, normalized: str
) -> None:
    ref = parse_reference(text)
    assert ref == ImageRef(registry, repository, tag, digest)
    assert ref.normalized == normalized
    assert ref.as_dict() == {
        "registry": registry,
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "normalized": normalized,
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param("", "at least one component", id="empty"),
        pytest.param("Python", "must be lowercase", id="uppercase-repo"),
        pytest.param("acme/App:1", "must be lowercase", id="uppercase-path"),
        pytest.param("0123456789abcdef" * 4, "64-byte hexadecimal", id="64-hex-name"),
        pytest.param("a/" + "b" * 254, "not be more than 255 characters", id="too-long"),
        pytest.param("python:", "invalid tag", id="empty-tag"),
        pytest.param("python:" + "a" * 129, "invalid tag", id="tag-too-long"),
        pytest.param("python:.bad", "invalid tag", id="tag-leading-dot"),
        pytest.param("python:3.12é", "invalid tag", id="tag-non-ascii"),
        pytest.param("python@sha256:abc", "invalid digest", id="digest-too-short"),
        pytest.param("python@sha256:" + "0123456789ABCDEF" * 4, "lowercase hex", id="digest-uppercase-hex"),
        pytest.param("python@sha256:" + "0" * 63 + "00", "needs 64", id="digest-wrong-length"),
        pytest.param("python@md5:" + "0" * 32, "unsupported digest algorithm", id="digest-unknown-algorithm"),
        pytest.param("python@", "invalid digest", id="digest-empty"),
        pytest.param("@" + D256, "at least one component", id="digest-only"),
        pytest.param("a//b", "invalid repository name", id="empty-component"),
        pytest.param("a/b/", "invalid repository name", id="trailing-slash"),
        pytest.param("-a/b", "invalid", id="leading-separator"),
        pytest.param("a:b:c", "invalid", id="two-tags"),
        pytest.param(" python", "whitespace", id="whitespace"),
        pytest.param("exa_mple.com/a", "invalid registry host", id="bad-domain"),
        pytest.param("localhost:port/a", "invalid registry host", id="non-numeric-port"),
    ],
)
def test_rejects_invalid_references_with_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidReference, match=reason):
        parse_reference(text)
    assert not is_valid_reference(text)


def test_tracked_and_pinned() -> None:
    pinned = parse_reference(f"python:3.12@{D256}")
    assert pinned.pinned and pinned.tracked == "docker.io/library/python:3.12"
    floating = parse_reference("python")
    assert not floating.pinned and floating.tracked == "docker.io/library/python:latest"
    assert parse_reference(f"python@{D256}").tracked == "docker.io/library/python:latest"


def test_longest_allowed_name_is_valid() -> None:
    name = "a/" + "b" * (255 - len("docker.io/a/"))
    assert len(parse_reference(name).name) == 255
