"""Pulumi mocks for the tests that run the Pulumi program in-process (tests/infra, tests/policy).

Mocks are global and module imports are cached, so they are set once, when this module is first imported
(the `pulumi_mocks` fixture in tests/conftest.py imports it; test modules import EchoMocks from here),
before any test runs the program (pulumi-python-facts §2, pitfalls 1–3): not in preview mode, and the
mock echoes the inputs back as outputs, which is what the real engine returns for the program's resources
(apiVersion, kind, metadata, spec; tests/infra/test_cli.py checks it on a real `pulumi up`). Tests that do
not use Pulumi never import it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import yaml

from tests.support import ROOT

STACK_CONFIG = ROOT / "Pulumi.prod.yaml"


class EchoMocks(pulumi.runtime.Mocks):
    """Every registration is recorded; outputs are the inputs (nothing added: the real engine adds nothing
    the program reads)."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        self.created.append(args)
        state = dict(args.inputs)
        metadata = state.get("metadata") or {}
        return f"{metadata.get('namespace', '')}/{metadata.get('name', args.name)}", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


def stack_config() -> dict[str, str]:
    """Pulumi.prod.yaml's config as the engine passes it: strings, structured values JSON-encoded."""
    config = yaml.safe_load(STACK_CONFIG.read_text())["config"]
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in config.items()}


MOCKS = EchoMocks()
pulumi.runtime.set_all_config(stack_config())
pulumi.runtime.set_mocks(MOCKS, project="image-factory", stack="prod", preview=False)
