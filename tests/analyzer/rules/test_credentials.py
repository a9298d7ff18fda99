from __future__ import annotations

from typing import Any

import pytest

from analyzer.rules.credentials import no_inline_credentials
from analyzer.rules.model import from_manifest
from tests.analyzer.rules.builders import rebuild, settings, template

FAKE_GITHUB_TOKEN = "ghp_" + "EXAMPLEexample" * 3  # shaped like a token, not one


def http(headers: list[dict[str, Any]], **config: Any) -> object:
    return rebuild(steps=[{"uses": "http", "config": {"method": "POST", "url": "https://ci.example.com",
                                                       "headers": headers, **config}}])


def msgs(findings: list) -> list[str]:
    return [f.message for f in findings]


@pytest.mark.parametrize("value", ['Bearer ${{ secret("ci-token").token }}',
                                   "${{ sharedSecret('gh').token }}",
                                   'token ${{ secret("gh").token }}'])
def test_secret_expressions_in_auth_headers_pass(value: str) -> None:
    resource = http([{"name": "Content-Type", "value": "application/json"}, {"name": "Authorization", "value": value}])
    assert no_inline_credentials(resource, settings()) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "value"), [
    ("Authorization", "Bearer abc"), ("Authorization", "Bearer ${{ vars.token }}"), ("X-Api-Key", "k3y-v4lu3"),
    ("PRIVATE-TOKEN", "glpat-shortish"),
])
def test_literal_or_non_secret_auth_headers_fail(name: str, value: str) -> None:
    [message] = msgs(no_inline_credentials(http([{"name": name, "value": value}]), settings()))  # type: ignore[arg-type]
    assert f"headers[0] (header {name}) is not read from a Secret" in message
    assert value not in message  # never echo the credential


def test_token_shaped_strings_anywhere_fail_without_echoing_them() -> None:
    resource = http([], body=f'{{"token_hint": "{FAKE_GITHUB_TOKEN}"}}')
    [message] = msgs(no_inline_credentials(resource, settings()))  # type: ignore[arg-type]
    assert "config.body contains what looks like a GitHub token" in message
    assert FAKE_GITHUB_TOKEN not in message


@pytest.mark.parametrize(("text", "shape"), [
    ("AKIAABCDEFGHIJKLMNOP", "an AWS access key"),
    ("https://bob:hunter2@git.example.com/x.git", "a URL with a password"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "a private key"), ("xoxb-1234567890-abcdef", "a Slack token"),
    ("Bearer abcdefghijklmnopqrstuvwxyz", "a literal Bearer/Basic credential"),
])
def test_token_shapes(text: str, shape: str) -> None:
    [message] = msgs(no_inline_credentials(http([], body=text), settings()))  # type: ignore[arg-type]
    assert shape in message


def test_env_with_literal_secret_fails_and_secret_ref_passes() -> None:
    literal = template(env=[{"name": "REGISTRY_PASSWORD", "value": "hunter2"}])
    assert "env[0] (REGISTRY_PASSWORD) holds a literal value" in msgs(no_inline_credentials(literal, settings()))[0]
    ref = template(env=[{"name": "REGISTRY_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "r", "key": "p"}}},
                        {"name": "TOKEN", "value": "{{args.token}}"}, {"name": "TOKEN_SECRET_NAME", "value": "gh"}])
    assert no_inline_credentials(ref, settings()) == []


def test_sensitive_keys_with_literal_values_fail() -> None:
    resource = http([], password="hunter2", tokenSecret="gh-token", apiToken="${{ secret('x').y }}")
    [message] = msgs(no_inline_credentials(resource, settings()))  # type: ignore[arg-type]
    assert "config.password holds a literal credential" in message and "hunter2" not in message


def test_one_value_gives_one_finding() -> None:
    resource = http([{"name": "Authorization", "value": f"Bearer {FAKE_GITHUB_TOKEN}"}])
    assert len(no_inline_credentials(resource, settings())) == 1  # type: ignore[arg-type]


def test_kubernetes_secrets_are_not_inspected() -> None:
    secret = from_manifest({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                            "stringData": {"password": "hunter2"}, "spec": {"password": "x"}})
    assert secret.type == "kubernetes:core/v1:Secret"
    assert no_inline_credentials(secret, settings()) == []
