"""pytest fixtures around `tests.support.registry`; import them into a conftest with
`from tests.support.registry_fixtures import *  # noqa: F403`.

Session-scoped servers are shared; tests keep apart by using the `repo` fixture (a unique repository).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.support.registry import FaultProxy, RegistryServer, TokenServer, require_registry_binary

BASIC_USER = "alice"
BASIC_PASSWORD = "s3cret-Pa55-never-printed"
TOKEN_USER = "bob"
TOKEN_PASSWORD = "t0ken-Pa55-never-printed"

__all__ = ["BASIC_PASSWORD", "BASIC_USER", "TOKEN_PASSWORD", "TOKEN_USER", "basic_registry",
           "counting_proxy", "registry", "registry_binary", "repo", "token_registry", "token_server"]


@pytest.fixture(scope="session")
def registry_binary() -> str:
    return require_registry_binary()


@pytest.fixture(scope="session")
def registry(registry_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Anonymous read/write registry shared by the session."""
    with RegistryServer.plain(tmp_path_factory.mktemp("registry")) as server:
        yield server


@pytest.fixture(scope="session")
def basic_registry(registry_binary: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """htpasswd (Basic) registry with user BASIC_USER / BASIC_PASSWORD."""
    with RegistryServer.htpasswd(tmp_path_factory.mktemp("basic"), {BASIC_USER: BASIC_PASSWORD}) as server:
        yield server


@pytest.fixture(scope="session")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenServer]:
    """Token service requiring TOKEN_USER / TOKEN_PASSWORD (Basic) for every token."""
    with TokenServer(tmp_path_factory.mktemp("tokens"), users={TOKEN_USER: TOKEN_PASSWORD}) as server:
        yield server


@pytest.fixture(scope="session")
def token_registry(registry_binary: str, token_server: TokenServer,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Registry with Bearer token auth against `token_server`."""
    with RegistryServer.token(tmp_path_factory.mktemp("token-registry"), token_server) as server:
        yield server


@pytest.fixture
def counting_proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    """A fresh counting / fault-injecting proxy in front of the shared plain registry."""
    with FaultProxy(registry.url) as proxy:
        yield proxy


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test (`test/<test-name>-<random>`)."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-") or "t"
    return f"test/{name}-{uuid.uuid4().hex[:6]}"
