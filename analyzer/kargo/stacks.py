"""One stack per team: the part of the Kargo project a stack renders (settings `teams` and `shared`).

A single stack for a fleet of thousands of images is too slow for a PR check with the real CLI
(docs/pulumi.md). The project is therefore split without changing any object: every stack builds the whole
project (the same graph, names and soak delays as one stack would) and keeps only its part:

- a team stack (`teams: [images.d/payments.yaml]`, `shared: none`) the rebuild Stages of the managed images
  enrolled in its files;
- the platform stack(s) (`teams: []`, `shared: all` or the shards `K/N`) the shared objects: the Project and
  its config, the jobs' RBAC, the AnalysisTemplates, and the Warehouses with their soak Stages (a Warehouse
  and its soak Stages are in the same shard; the rest is in shard 0).

The parts of all the stacks are disjoint and together are exactly the one-stack project (a test checks it).
A team's rebuild Stage names the Warehouses, soak Stages and other teams' rebuild Stages it requests freight
from by name, as Kargo does: the edges across stacks are the same objects and names as in one stack; only
the creation order across stacks is not Pulumi's (deploy the platform stack first).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from analyzer.config.model import Fleet
from analyzer.errors import InputError
from analyzer.kargo.build import KargoProject
from analyzer.kargo.resources import KargoObject, Stage
from analyzer.kargo.settings import Settings


def team_files(fleet: Fleet) -> dict[str, str]:
    """Managed or external image name → the enrollment file it is in (as the fleet records it)."""
    root = Path(fleet.root).name
    return {image.name: image.file or root for image in fleet.images}


def shard_of(warehouse: str, shards: int) -> int:
    return int(hashlib.sha256(warehouse.encode()).hexdigest()[:8], 16) % shards


def _shared_part(value: str) -> tuple[int, int] | None:
    """(K, N) of `K/N`, (0, 1) for `all`, None for `none`."""
    if value == "none":
        return None
    if value == "all":
        return 0, 1
    k, n = (int(x) for x in value.split("/"))
    if k >= n:
        raise InputError.single("stack config", f"shard {value}: K must be below N", field_name="shared")
    return k, n


def select(project: KargoProject, fleet: Fleet, settings: Settings) -> list[KargoObject]:
    """The objects of this stack's part, in the project's order; all of them with the default settings."""
    if settings.teams is None and settings.shared == "all":
        return list(project.objects)
    files = team_files(fleet)
    known = set(files.values())
    unknown = sorted(set(settings.teams or []) - known)
    if unknown:
        raise InputError.single("stack config", f"teams {unknown}: no such enrollment file in the fleet "
                                f"(known: {sorted(known)}); a removed team's stack is destroyed, not emptied",
                                field_name="teams")
    stage_image = {stage: image for image, stage in project.summary["rebuildStages"].items()}
    soak_warehouse = {name: soak["warehouse"] for name, soak in project.summary["soakStages"].items()}
    teams = set(settings.teams) if settings.teams is not None else known
    part = _shared_part(settings.shared)
    return [obj for obj in project.objects if _keep(obj, stage_image, soak_warehouse, files, teams, part)]


def _keep(obj: KargoObject, stage_image: dict[str, str], soak_warehouse: dict[str, str], files: dict[str, str],
          teams: set[str], part: tuple[int, int] | None) -> bool:
    if isinstance(obj, Stage) and obj.name in stage_image:
        return files[stage_image[obj.name]] in teams
    if part is None:
        return False
    k, n = part
    if obj.kind == "Warehouse":
        return shard_of(obj.name, n) == k
    if isinstance(obj, Stage):
        return shard_of(soak_warehouse[obj.name], n) == k
    return k == 0


def partition(project: KargoProject, fleet: Fleet, parts: Iterable[Settings]) -> list[list[KargoObject]]:
    """Each part's objects (for checks: disjoint, and together the whole project)."""
    return [select(project, fleet, settings) for settings in parts]
