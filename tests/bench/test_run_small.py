"""The benchmark suite itself must not rot: CI runs its --small mode (timings are reported, not asserted), with
the real Pulumi CLI's rows when that engine is built (tests/run.sh builds it before the suite)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT
from tests.support.engines import built_engine_bin


def test_small_benchmark_runs_every_scenario() -> None:
    done = subprocess.run([sys.executable, "bench/run.py", "--small", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["cores"] >= 1 and len(report["load_average"]["before"]) == 3
    names = [r["scenario"] for r in report["results"]]
    assert names == [
        "cold analyze (200 Dockerfiles, 20 repos)",
        "discovery phase alone (config, refs, read + parse every Dockerfile)",
        "warm analyze, nothing changed",
        "warm analyze, one Dockerfile changed",
        "render (100 base tags, 250 managed)",
        "Pulumi program under mocks (100 base tags, 250 managed), one stack",
        "Pulumi program under mocks, one team's stack (20 teams)",
        "Pulumi program under mocks, shared objects' shard 0/8",
    ] + ([f"real Pulumi CLI {command} (10 base tags, 25 managed: 60 resources, GitOps stack, policy pack)"
          for command in ("preview", "up", "preview (no-op)")] if built_engine_bin("pulumi") else [])
    assert all(r["exit_code"] == 0 and r["runs"] == 1 and r["min_s"] > 0 and r["peak_rss_mib"] > 0
               for r in report["results"])
