"""Process-wide test setup: the shared fixture modules, the Pulumi mocks on demand, the policy pack."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support import ROOT

if TYPE_CHECKING:
    from tests.support.pulumi_mocks import EchoMocks

__all__ = ["ROOT"]

pytest_plugins = ["tests.support.registry_fixtures"]


@pytest.fixture(scope="session")
def pulumi_mocks() -> EchoMocks:
    """The global Pulumi mocks (installed when tests.support.pulumi_mocks is first imported): only the tests
    that run the Pulumi program import Pulumi at all."""
    from tests.support.pulumi_mocks import MOCKS

    return MOCKS


@pytest.fixture(scope="session")
def policy_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """policy/ of a copy of the project, its virtualenv installed the way docs/pulumi.md says (pip in policy/,
    from policy/requirements.txt alone), for the real-CLI tests' `--policy-pack`."""
    from tests.support.pulumi_cli import copy_project, install_policy_pack

    project = copy_project(tmp_path_factory.mktemp("pack") / "project")
    install_policy_pack(project / "policy")
    return project / "policy"
