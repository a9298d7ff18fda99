"""Split a generated bench fleet (bench/kargo_fleet.write_render_fleet) into per-team include files, the way
teams enroll in images.d/*.yaml: image `svc-N` of generated team `team-T` goes to images.d/team-{T % teams}.yaml.
The images, and so the rendered objects, stay the same; only the enrollment files change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def split_into_teams(config: Path, teams: int) -> list[Path]:
    data: dict[str, Any] = yaml.safe_load(config.read_text())
    by_team: dict[int, list[dict[str, Any]]] = {}
    for image in data.pop("images"):
        team = int(image["source"]["repo"].rsplit("-", 1)[1]) % teams
        image["source"]["repo"] = f"../{image['source']['repo']}"  # relative to the include file's folder
        by_team.setdefault(team, []).append(image)
    folder = config.parent / "images.d"
    folder.mkdir(exist_ok=True)
    files = []
    for team, images in sorted(by_team.items()):
        path = folder / f"team-{team:03d}.yaml"
        path.write_text(yaml.safe_dump({"images": images}, sort_keys=False))
        files.append(path)
    config.write_text(yaml.safe_dump({**data, "include": ["images.d/*.yaml"], "images": []}, sort_keys=False))
    return files
