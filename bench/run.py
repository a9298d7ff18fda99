"""Benchmark suite: each scenario runs in a fresh process several times; prints median/min/max wall time
and peak RSS (from the child's rusage) as a table, or JSON with --json.

    python bench/run.py            # default sizes (10,000 Dockerfiles in 500 repos)
    python bench/run.py --small    # what CI runs, so the benchmark cannot rot
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fleet import change_one, write_fleet  # noqa: E402
from bench.kargo_fleet import write_render_fleet  # noqa: E402


@dataclass
class Result:
    scenario: str
    runs: int
    median_s: float
    min_s: float
    max_s: float
    peak_rss_mib: float
    exit_code: int


def measure(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.read().decode() if proc.stderr else "")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def scenario(name: str, argv: list[str], cwd: Path, runs: int,
             before_each: Callable[[], None] | None = None) -> Result:
    samples = []
    for _ in range(runs):
        if before_each:
            before_each()
        samples.append(measure(argv, cwd))
    walls = [s[0] for s in samples]
    return Result(name, runs, statistics.median(walls), min(walls), max(walls),
                  max(s[1] for s in samples), max(s[2] for s in samples))


def run_render_suite(workdir: Path, bases: int, managed: int, runs: int) -> list[Result]:
    config = write_render_fleet(workdir / "render-fleet", bases, managed)
    fleet = config.parent
    label = f"{bases} base tags, {managed} managed"
    render = [sys.executable, "-m", "analyzer", "render", "--config", str(config), "--state", "state",
              "--out", "rendered"]
    program = [sys.executable, str(ROOT / "bench" / "pulumi_program.py"), str(config), "state"]
    return [
        scenario(f"render ({label})", render, fleet, runs, lambda: shutil.rmtree(fleet / "rendered", True)),
        scenario(f"Pulumi program under mocks ({label})", program, fleet, runs),
    ]


def run_suite(workdir: Path, repos: int, dockerfiles: int, runs: int) -> list[Result]:
    config = write_fleet(workdir / "fleet", repos, dockerfiles)
    fleet = config.parent
    analyze = [sys.executable, "-m", "analyzer", "analyze", "--config", str(config), "--state", "state",
               "--cache", "cache", "--json"]

    def cold() -> None:
        shutil.rmtree(fleet / "state", ignore_errors=True)
        shutil.rmtree(fleet / "cache", ignore_errors=True)

    counter = iter(range(10_000))
    results = [
        scenario(f"cold analyze ({dockerfiles} Dockerfiles, {repos} repos)", analyze, fleet, runs, cold),
        scenario("warm analyze, nothing changed", analyze, fleet, runs),
        scenario("warm analyze, one Dockerfile changed", analyze, fleet, runs,
                 lambda: change_one(fleet, next(counter) * repos)),
    ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="small sizes (CI)")
    parser.add_argument("--repos", type=int)
    parser.add_argument("--dockerfiles", type=int)
    parser.add_argument("--bases", type=int, help="base tags for the render scenarios")
    parser.add_argument("--managed", type=int, help="managed images for the render scenarios")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--suite", choices=["all", "analyze", "render"], default="all")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    repos = args.repos or (20 if args.small else 500)
    dockerfiles = args.dockerfiles or (200 if args.small else 10_000)
    runs = args.runs or (1 if args.small else 3)
    with tempfile.TemporaryDirectory(prefix="image-factory-bench-") as tmp:
        results = run_suite(Path(tmp), repos, dockerfiles, runs) if args.suite in ("all", "analyze") else []
        if args.suite in ("all", "render"):
            results += run_render_suite(Path(tmp), args.bases or (100 if args.small else 2000),
                                        args.managed or (250 if args.small else 5000), runs)
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "results": [asdict(r) for r in results]}, indent=2))
        return
    print(f"cores: {os.cpu_count()}")
    print(f"| {'scenario':<60} | runs | median s | min s | max s | peak RSS MiB |")
    print(f"|{'-' * 62}|------|----------|-------|-------|--------------|")
    for r in results:
        print(f"| {r.scenario:<60} | {r.runs:>4} | {r.median_s:>8.2f} | {r.min_s:>5.2f} | {r.max_s:>5.2f} "
              f"| {r.peak_rss_mib:>12.0f} |")
    if any(r.exit_code not in (0, 1) for r in results):
        sys.exit("a scenario failed")


if __name__ == "__main__":
    main()
