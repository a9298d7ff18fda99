"""Rule github-dispatch-url (issue 16): the GitHub token goes to the workflow-dispatch endpoint only."""

from __future__ import annotations

import pytest

from analyzer.commands.check import render_manifests
from analyzer.rules.dispatch import github_dispatch_url
from analyzer.rules.model import from_manifest, items, mapping
from tests.analyzer.rules.builders import rebuild, settings
from tests.support import ROOT


def step(url: str) -> list[dict[str, object]]:
    return [{"uses": "http", "config": {"method": "POST", "url": url}}]


@pytest.mark.parametrize("url", [
    "https://api.github.com/repos/example/api/actions/workflows/build.yml/dispatches",
    "https://api.github.com/repos/example/api/actions/workflows/123456/dispatches",
    "https://ci.example.com/hook",
])
def test_dispatch_urls_pass(url: str) -> None:
    assert github_dispatch_url(rebuild(steps=step(url)), settings()) == []


@pytest.mark.parametrize("url", [
    "https://api.github.com/repos/example/api/actions/workflows/../../../../user/repos?x=/dispatches",
    "https://api.github.com/repos/example/api/actions/workflows/..%2F..%2Fuser/dispatches",
    "https://api.github.com/user/repos",
    "http://api.github.com/repos/example/api/actions/workflows/build.yml/dispatches",
    "https://api.github.com/repos/example/api/actions/workflows/build.yml/dispatches#x",
])
def test_dispatch_urls_leaving_the_endpoint_are_violations(url: str) -> None:
    findings = github_dispatch_url(rebuild(steps=step(url)), settings())
    assert len(findings) == 1 and "steps[0].config.url" in findings[0].message
    assert "the GitHub token is sent with it" in findings[0].message


def test_rendered_good_fleet_passes() -> None:
    root = ROOT / "tests" / "fixtures" / "good-fleet"
    manifests, _ = render_manifests(root / "images.yaml", root / "state", None)
    resources = [from_manifest(m) for m in manifests]
    stages = [r for r in resources if any(mapping(s).get("uses") == "http" and "api.github.com" in str(s)
                                          for s in items(mapping(mapping(r.spec.get("promotionTemplate"))
                                                                 .get("spec")).get("steps")))]
    assert stages, "the fixture has a GitHub trigger"
    assert [f for r in resources for f in github_dispatch_url(r, settings())] == []
