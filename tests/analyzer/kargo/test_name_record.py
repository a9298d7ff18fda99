"""state/kargo-names.yaml: the names in use, so that a new image never renames an existing object."""

from __future__ import annotations

import shutil
from pathlib import Path

from analyzer.config.loader import load_fleet
from analyzer.config.model import Fleet
from analyzer.kargo.build import build_project
from analyzer.kargo.name_record import NameRecord, load_name_record, names_path, write_name_record
from analyzer.kargo.settings import Settings
from tests.support import ROOT
from tests.support.kargo_fleet import example_fleet, example_states

PYTHON = "docker.io/library/python:3.12-slim"
LOOKALIKE = "docker.io/library/python:3-12-slim"  # another tag, the same readable name


def _with_lookalike(tmp_path: Path) -> Fleet:
    """The example fleet plus an external image whose readable Warehouse name is python:3.12-slim's."""
    shutil.copytree(ROOT / "images.d", tmp_path / "images.d")
    text = (ROOT / "images.yaml").read_text()
    (tmp_path / "images.yaml").write_text(text + f"\n  - name: python-lookalike\n    image: {LOOKALIKE}\n")
    return load_fleet(tmp_path / "images.yaml")


def test_round_trip_and_missing_file(tmp_path: Path) -> None:
    assert load_name_record(tmp_path) == NameRecord()
    record = NameRecord(warehouses={PYTHON: "python-3-12-slim"}, rebuild_stages={"api": "rebuild-api"})
    assert write_name_record(tmp_path, record) is True
    assert load_name_record(tmp_path) == record
    assert write_name_record(tmp_path, record) is False  # unchanged: not rewritten
    assert names_path(tmp_path).read_text().startswith("# Kargo object names in use")


def test_a_new_lookalike_image_leaves_the_existing_warehouse_and_its_stages_named_as_they_were(
        tmp_path: Path) -> None:
    before = build_project(example_fleet(), example_states(), Settings())
    assert before.names.warehouses[PYTHON] == "python-3-12-slim"
    fleet = _with_lookalike(tmp_path)
    after = build_project(fleet, example_states(), Settings(), before.names)
    old = {(o.kind, o.name) for o in before.objects}
    new = {(o.kind, o.name) for o in after.objects}
    assert old <= new  # nothing renamed
    added = new - old
    assert len(added) == 1 and next(iter(added))[0] == "Warehouse"
    assert after.names.warehouses[LOOKALIKE].startswith("python-3-12-slim-")
    # Without the record, the old rule hashes both: the existing Warehouse and its soak Stages get new names.
    unrecorded = {(o.kind, o.name) for o in build_project(fleet, example_states(), Settings()).objects}
    assert ("Warehouse", "python-3-12-slim") not in unrecorded
