"""The good and bad fixture fleets, rendered by the real Kargo builder, and their expected violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from analyzer.config.loader import load_fleet
from analyzer.kargo.build import build_project
from analyzer.kargo.settings import Settings
from analyzer.state.store import load_states

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOOD_FLEET = FIXTURES / "good-fleet"
BAD_FLEET = FIXTURES / "bad-fleet"


def render(fleet_dir: Path) -> list[dict[str, Any]]:
    project = build_project(load_fleet(fleet_dir / "images.yaml"), load_states(fleet_dir / "state"), Settings())
    return [obj.to_manifest() for obj in project.objects]


def bad_manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((BAD_FLEET / "manifests.yaml").read_text()) if d]


def expected(part: str) -> list[tuple[str, str, str]]:
    """Sorted (rule, level, Kind/name) the bad fleet must produce; part is `fleet` or `manifests`."""
    data = yaml.safe_load((BAD_FLEET / "expected.yaml").read_text())
    return sorted(tuple(item) for item in data[part])  # type: ignore[misc]
