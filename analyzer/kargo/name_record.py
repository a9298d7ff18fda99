"""The Kargo object names in use, recorded in `state/kargo-names.yaml`, so that they never change.

A Warehouse's name comes from its image reference and a rebuild Stage's from its image name, made unique
when two of them read the same (analyzer/names.py). Without a record, a newly enrolled image whose
name collides with an existing one would rename both (each gets a hash): for Kubernetes and Pulumi that is a
new object and a deleted one, Freight history included. With the record, the existing object keeps its
name and only the newcomer is hashed. Soak Stage names derive from their Warehouse's, so they follow.

`image-factory render --record-names` writes the file; the PR check fails when it is not current, so the
names every deployed object has are in the record before the next image is added (docs/pulumi.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NAMES_FILE = "kargo-names.yaml"
HEADER = ("# Kargo object names in use (image-factory render --record-names); an existing object keeps its name\n"
          "# when a new image's name would collide with it. Reviewed in PRs, never edited by hand.\n")


@dataclass(frozen=True)
class NameRecord:
    warehouses: dict[str, str] = field(default_factory=dict)
    """Tracked reference → Warehouse name."""
    rebuild_stages: dict[str, str] = field(default_factory=dict)
    """Managed image name → rebuild Stage name."""

    def to_yaml(self) -> str:
        data = {"warehouses": dict(sorted(self.warehouses.items())),
                "rebuildStages": dict(sorted(self.rebuild_stages.items()))}
        return HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def names_path(state_dir: Path) -> Path:
    return Path(state_dir) / NAMES_FILE


def load_name_record(state_dir: Path) -> NameRecord:
    """The record under `state_dir`, or an empty one when there is none."""
    path = names_path(state_dir)
    if not path.is_file():
        return NameRecord()
    data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return NameRecord(warehouses={str(k): str(v) for k, v in (data.get("warehouses") or {}).items()},
                      rebuild_stages={str(k): str(v) for k, v in (data.get("rebuildStages") or {}).items()})


def write_name_record(state_dir: Path, record: NameRecord) -> bool:
    """Write the record; True when the file changed."""
    path = names_path(state_dir)
    text = record.to_yaml()
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True
