"""What the real engines cost: cold build time per engine (recorded by build.sh), cache size, and the
control plane's warm start (engines cached). Printed for the record; asserted only loosely."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.controlplane import ControlPlane
from tests.support.engines import engine


def test_engine_costs_are_recorded(control_plane: ControlPlane, capsys: pytest.CaptureFixture[str]) -> None:
    engines = [engine("kube"), engine("rollouts")]
    cache = engines[0].folder.parent
    size = subprocess.run(["du", "-sh", *(str(e.folder) for e in engines)], capture_output=True, text=True,
                          check=True).stdout.split()
    timings = control_plane.timings
    with capsys.disabled():
        print(f"\nengines cache: {os.environ.get('IMAGE_FACTORY_ENGINES_CACHE') or cache}")
        for e in engines:
            print(f"  {e.name}: cold build {e.build_seconds} s ({e.folder.name})")
        print(f"  sizes: {' '.join(size)}")
        print("control plane warm start: " + ", ".join(f"{k}={v:.1f}s" for k, v in sorted(timings.items())))
    assert all(e.build_seconds is not None and e.build_seconds > 0 for e in engines)
    assert timings["ready_s"] < 120
