"""The stack outputs: a summary for dashboards whose size does not grow with the fleet.

Counts for the whole project and for each team (each enrollment file: the root images.yaml and each
include), plus the `image-factory plan` counts (`status`). The details — every Warehouse, Stage, edge and
delay — are `image-factory render --json`'s summary, a file (the main workflow uploads it as the
`pulumi-outputs` artifact); at the benchmark fleet's scale they are megabytes, too much for stack outputs
that every `pulumi stack output` and every dashboard refresh reads (docs/pulumi.md has the sizes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from analyzer.config.model import Fleet
from analyzer.kargo.resources import KargoObject
from analyzer.kargo.settings import Settings

DETAILS = "image-factory render --json (main workflow: artifact pulumi-outputs, render-summary.json)"
TEAM_COUNTS = ("images", "managedImages", "externalImages", "rebuildStages", "unbuildable", "notAnalyzed",
               "pinnedBases")


def team_counts(fleet: Fleet, summary: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per enrollment file (the team's), how many of its images are where."""
    teams: dict[str, dict[str, int]] = {}
    team_of = {}
    for image in fleet.images:
        team = image.file or Path(fleet.root).name
        team_of[image.name] = team
        counts = teams.setdefault(team, dict.fromkeys(TEAM_COUNTS, 0))
        counts["images"] += 1
        counts["managedImages" if image.managed else "externalImages"] += 1

    def add(names: list[str], key: str) -> None:
        for name in names:
            if name in team_of:
                teams[team_of[name]][key] += 1

    add(list(summary["rebuildStages"]), "rebuildStages")
    add(summary["unbuildable"], "unbuildable")
    add(summary["notAnalyzed"], "notAnalyzed")
    add([p["image"] for p in summary["pinned"]], "pinnedBases")
    return dict(sorted(teams.items()))


def stack_outputs(fleet: Fleet, summary: Mapping[str, Any], status: Mapping[str, Any],
                  objects: Sequence[KargoObject] | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """What the program exports. `counts` and `status` are the whole project's; a stack that renders a part
    of it (settings `teams`/`shared`) adds `part`: its teams, its shard and how many objects it has."""
    counts = {**summary["counts"], "unbuildable": len(summary["unbuildable"]),
              "notAnalyzed": len(summary["notAnalyzed"]), "edges": len(summary["edges"])}
    teams = team_counts(fleet, summary)
    outputs = {"project": summary["project"], "counts": counts, "teams": teams, "status": dict(status),
               "details": DETAILS}
    if settings is not None and (settings.teams is not None or settings.shared != "all"):
        selected = sorted(teams) if settings.teams is None else sorted(settings.teams)
        outputs["part"] = {"teams": selected, "shared": settings.shared,
                           "objects": len(objects) if objects is not None else None}
    return outputs
