"""Benchmark suite: each scenario runs in a fresh process several times; prints median/min/max wall time
and peak RSS (from the child's rusage) as a table, or JSON with --json.

    python bench/run.py                   # default sizes (10,000 Dockerfiles in 500 repos)
    python bench/run.py --small           # what CI runs, so the benchmark cannot rot
    python bench/run.py --peer renovate   # also Renovate's extraction of the same Dockerfiles (bench/peer.py),
                                          # interleaved with the cold runs; ratios and what each found
    python bench/run.py --suite pulumi    # the real Pulumi CLI: preview, up, no-op preview (bench/pulumi_cli.py)

The `pulumi` suite is part of `all` when the engine is already built (tests/engines/build.sh --find pulumi);
`--suite pulumi` builds it if needed, as the tests do. It runs --pulumi-runs times (default 1: a run of the
benchmark fleet takes minutes), each on a fresh GitOps stack with the policy pack; its peak RSS is that of
the largest process in the CLI's session (CLI, program, pack, provider), sampled every half second.

The machine's load average is printed with the results: timings on a busy machine are not comparable.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fleet import change_one, write_fleet  # noqa: E402
from bench.kargo_fleet import write_render_fleet  # noqa: E402
from bench.pulumi_teams import split_into_teams  # noqa: E402

TEAMS, SHARDS = 20, 8
"""The per-team stack layout the render suite measures (docs/pulumi.md)."""


@dataclass
class Result:
    scenario: str
    runs: int
    median_s: float
    min_s: float
    max_s: float
    peak_rss_mib: float
    exit_code: int
    ratio_vs_peer: float | None = None
    """median / the peer's median in the same run (cold analyze and discovery, with --peer)."""


def measure(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one child process."""
    env = env or {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr.read().decode() if proc.stderr else "")
    return wall, usage.ru_maxrss / 1024, proc.returncode


def summarize(name: str, samples: list[tuple[float, float, int]]) -> Result:
    walls = [s[0] for s in samples]
    return Result(name, len(samples), statistics.median(walls), min(walls), max(walls),
                  max(s[1] for s in samples), max(s[2] for s in samples))


def scenario(name: str, argv: list[str], cwd: Path, runs: int,
             before_each: Callable[[], None] | None = None) -> Result:
    samples = []
    for _ in range(runs):
        if before_each:
            before_each()
        samples.append(measure(argv, cwd))
    return summarize(name, samples)


def run_render_suite(workdir: Path, bases: int, managed: int, runs: int) -> list[Result]:
    config = write_render_fleet(workdir / "render-fleet", bases, managed)
    fleet = config.parent
    label = f"{bases} base tags, {managed} managed"
    render = [sys.executable, "-m", "analyzer", "render", "--config", str(config), "--state", "state",
              "--out", "rendered"]
    program = [sys.executable, str(ROOT / "bench" / "pulumi_program.py"), str(config), "state"]
    # The same fleet enrolled by 20 teams (images.d/team-*.yaml) and deployed as one stack per team plus 8
    # shards of the shared objects (analyzer/kargo/stacks.py): each stack's program builds the whole project
    # and registers its part. The first team's stack and the first shard (which also holds the Project, the
    # RBAC and the AnalysisTemplates) are measured.
    teams = workdir / "team-fleet"
    shutil.copytree(fleet, teams)
    split_into_teams(teams / config.name, TEAMS)
    team_program = [sys.executable, str(ROOT / "bench" / "pulumi_program.py"), str(teams / config.name), "state"]
    team_stack = [*team_program, "--teams", "images.d/team-000.yaml", "--shared", "none"]
    shard_stack = [*team_program, "--teams", "--shared", f"0/{SHARDS}"]
    return [
        scenario(f"render ({label})", render, fleet, runs, lambda: shutil.rmtree(fleet / "rendered", True)),
        scenario(f"Pulumi program under mocks ({label}), one stack", program, fleet, runs),
        scenario(f"Pulumi program under mocks, one team's stack ({TEAMS} teams)", team_stack, teams, runs),
        scenario(f"Pulumi program under mocks, shared objects' shard 0/{SHARDS}", shard_stack, teams, runs),
    ]


def run_pulumi_suite(workdir: Path, bases: int, managed: int, runs: int) -> list[Result]:
    """The real CLI on the rendering fleet: `preview` of a fresh GitOps stack with the pack, `up`, and a
    no-op `preview` after it (bench/pulumi_cli.py); a failed command is shown and fails the benchmark."""
    from bench import pulumi_cli

    samples: dict[str, list[tuple[float, float, int]]] = {}
    resources = 0
    for run in range(runs):
        stack = pulumi_cli.prepare(workdir / f"pulumi-{run}", bases, managed)
        for measured in pulumi_cli.measure(stack, up=True):
            if measured.exit_code != 0:
                sys.stderr.write(measured.output + "\n")
            samples.setdefault(measured.command, []).append(
                (measured.seconds, measured.peak_rss_mib, 0 if measured.exit_code == 0 else max(measured.exit_code, 2)))
            resources = max(resources, measured.resources)
    label = f"{bases} base tags, {managed} managed: {resources} resources, GitOps stack, policy pack"
    return [summarize(f"real Pulumi CLI {command} ({label})", found) for command, found in samples.items()]


def pulumi_engine_built() -> bool:
    from tests.support.engines import built_engine_bin

    return built_engine_bin("pulumi") is not None


def run_suite(workdir: Path, repos: int, dockerfiles: int, runs: int,
              peer: str | None = None) -> tuple[list[Result], dict[str, Any]]:
    config = write_fleet(workdir / "fleet", repos, dockerfiles)
    fleet = config.parent
    analyze = [sys.executable, "-m", "analyzer", "analyze", "--config", str(config), "--state", "state",
               "--cache", "cache", "--json"]
    discovery = [sys.executable, str(ROOT / "bench" / "discovery.py"), str(config), "discovery-cache"]

    def cold() -> None:
        shutil.rmtree(fleet / "state", ignore_errors=True)
        shutil.rmtree(fleet / "cache", ignore_errors=True)

    # Cold analyze, the discovery phase alone and (with --peer) Renovate, interleaved round by round so that
    # a change in the machine's load hits all of them alike.
    report: dict[str, Any] = {}
    renovate = tree = None
    if peer == "renovate":
        from bench import peer as renovate_peer
        renovate = renovate_peer.install()
        tree = workdir / "peer-tree"
        report["peer"] = {"name": "renovate", **renovate.versions,
                          "dockerfiles": renovate_peer.write_tree(fleet, tree)}
        (workdir / "renovate-config.json").write_text("{}\n")
    samples: dict[str, list[tuple[float, float, int]]] = {"cold": [], "discovery": [], "peer": []}
    for _ in range(runs):
        cold()
        samples["cold"].append(measure(analyze, fleet))
        shutil.rmtree(fleet / "discovery-cache", ignore_errors=True)
        samples["discovery"].append(measure(discovery, fleet))
        if renovate and tree:
            samples["peer"].append(measure(renovate.argv(workdir / "renovate-report.json"), tree,
                                           renovate.env(workdir / "renovate-config.json")))
    results = [summarize(f"cold analyze ({dockerfiles} Dockerfiles, {repos} repos)", samples["cold"]),
               summarize("discovery phase alone (config, refs, read + parse every Dockerfile)",
                         samples["discovery"])]
    if renovate:
        peer_result = summarize(f"Renovate {renovate.versions['renovate']} --dry-run=extract (same Dockerfiles)",
                                samples["peer"])
        for result in results:
            result.ratio_vs_peer = result.median_s / peer_result.median_s
        results.append(peer_result)
        from bench import peer as renovate_peer
        report["peer"]["comparison"] = renovate_peer.compare(
            renovate_peer.our_bases(config, fleet / "state"),
            renovate_peer.renovate_bases(workdir / "renovate-report.json"))

    counter = iter(range(10_000))
    results += [
        scenario("warm analyze, nothing changed", analyze, fleet, runs),
        scenario("warm analyze, one Dockerfile changed", analyze, fleet, runs,
                 lambda: change_one(fleet, next(counter) * repos)),
    ]
    return results, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="small sizes (CI)")
    parser.add_argument("--repos", type=int)
    parser.add_argument("--dockerfiles", type=int)
    parser.add_argument("--bases", type=int, help="base tags for the render scenarios")
    parser.add_argument("--managed", type=int, help="managed images for the render scenarios")
    parser.add_argument("--runs", type=int)
    parser.add_argument("--suite", choices=["all", "analyze", "render", "pulumi"], default="all")
    parser.add_argument("--pulumi-runs", type=int, default=1, help="runs of the pulumi suite (default 1)")
    parser.add_argument("--peer", choices=["renovate"], help="also run this peer on the same Dockerfiles")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    repos = args.repos or (20 if args.small else 500)
    dockerfiles = args.dockerfiles or (200 if args.small else 10_000)
    runs = args.runs or (1 if args.small else 3)
    load_before = os.getloadavg()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="image-factory-bench-") as tmp:
        results: list[Result] = []
        if args.suite in ("all", "analyze"):
            results, report = run_suite(Path(tmp), repos, dockerfiles, runs, args.peer)
        if args.suite in ("all", "render"):
            results += run_render_suite(Path(tmp), args.bases or (100 if args.small else 2000),
                                        args.managed or (250 if args.small else 5000), runs)
        if args.suite == "pulumi" or (args.suite == "all" and pulumi_engine_built()):
            results += run_pulumi_suite(Path(tmp), args.bases or (10 if args.small else 2000),
                                        args.managed or (25 if args.small else 5000), args.pulumi_runs)
        elif args.suite == "all":
            report["pulumi"] = "skipped: the pulumi engine is not built (tests/engines/build.sh pulumi)"
            print(report["pulumi"], file=sys.stderr)
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    if args.json:
        print(json.dumps({"cores": os.cpu_count(), "load_average": load, **report,
                          "results": [asdict(r) for r in results]}, indent=2))
    else:
        print(f"cores: {os.cpu_count()}; load average (1, 5, 15 min) before: {load['before']}, "
              f"after: {load['after']}")
        for line in table(results):
            print(line)
        if "peer" in report:
            print_comparison(report["peer"])
    if any(r.exit_code not in (0, 1) for r in results):
        sys.exit("a scenario failed")


def table(results: list[Result]) -> list[str]:
    """The Markdown table docs/performance.md shows (also made from --json output by `python bench/table.py`)."""
    lines = ["| scenario | runs | median s | min s | max s | peak RSS MiB | ratio vs Renovate |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        ratio = f"{r.ratio_vs_peer:.2f}" if r.ratio_vs_peer is not None else ""
        lines.append(f"| {r.scenario} | {r.runs} | {r.median_s:.2f} | {r.min_s:.2f} | {r.max_s:.2f} "
                     f"| {r.peak_rss_mib:.0f} | {ratio} |")
    return lines


def print_comparison(peer: dict[str, Any]) -> None:
    comparison = peer["comparison"]
    print(f"\nRenovate {peer['renovate']} on Node {peer['node']} (re2 {peer['re2']}), "
          f"{peer['dockerfiles']} Dockerfiles in one tree")
    print(f"files: {comparison['files']}; base entries: {comparison['bases']}; "
          f"files with the same bases: {comparison['files_identical']}")
    for difference in comparison["differences"]:
        example = difference["examples"][0]["file"]
        print(f"  {difference['files']:>6} files  {difference['kind']}  (e.g. {example})")


if __name__ == "__main__":
    main()
