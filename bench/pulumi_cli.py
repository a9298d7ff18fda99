"""The real Pulumi CLI (engine `pulumi`) on a generated fleet, GitOps mode (no cluster), with the policy pack:
wall time of `preview`, and with --up of `up` and a no-op `preview` after it, and the peak RSS of the largest
process (CLI, program, pack or provider) so far.

    python bench/pulumi_cli.py --bases 2000 --managed 5000 [--up]
    python bench/pulumi_cli.py --bases 2000 --managed 5000 --teams 20 --part team   # one team's stack
    python bench/pulumi_cli.py --bases 2000 --managed 5000 --teams 20 --part 0/8    # one shard of the shared objects

The CLI, the program's language host and the pack run as in tests/infra/test_cli.py (docs/pulumi.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kargo_fleet import write_render_fleet  # noqa: E402
from bench.pulumi_teams import split_into_teams  # noqa: E402
from tests.support.pulumi_cli import GITOPS_STACK, Pulumi, copy_project, install_policy_pack, use_fleet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", type=int, default=2000)
    parser.add_argument("--managed", type=int, default=5000)
    parser.add_argument("--up", action="store_true", help="also `up`, then a no-op preview")
    parser.add_argument("--teams", type=int, default=0, help="split the fleet into this many include files")
    parser.add_argument("--part", default="", help="with --teams: `team` (the first team's stack) or `K/N` "
                                                   "(a shard of the shared objects); default: the whole project")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-factory-bench-pulumi-") as tmp:
        work = Path(tmp)
        config = write_render_fleet(work / "fleet", args.bases, args.managed)
        if args.teams:
            split_into_teams(config, args.teams)
        project = copy_project(work / "project")
        use_fleet(project, config.parent)
        install_policy_pack(project / "policy")
        cli = Pulumi(project, work / "home", work / "backend")
        cli.new_stack(GITOPS_STACK)
        if args.part == "team":
            cli.run("config", "set", "--path", "image-factory:teams[0]", "images.d/team-000.yaml")
            cli.run("config", "set", "image-factory:shared", "none")
        elif args.part:
            cli.run("config", "set", "--path", "image-factory:teams", "[]")
            cli.run("config", "set", "image-factory:shared", args.part)
        config_file = "policy/config.team.json" if args.part else "policy/config.json"
        pack = ["--policy-pack", "policy", "--policy-pack-config", config_file]
        commands = [["preview", *pack]] + ([["up", "--yes", *pack], ["preview", *pack]] if args.up else [])
        print(f"{args.bases} base tags, {args.managed} managed images"
              + (f", {args.teams} teams, stack part {args.part or 'all'}" if args.teams else ""))
        for command in commands:
            result = cli.program(*command, check=False, timeout=7200)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"pulumi {command[0]:<8} exit {result.returncode}  {result.seconds:8.1f} s  "
                  f"{len(result.steps()):>6} resources  peak RSS so far {peak:6.0f} MiB", flush=True)
            if result.returncode != 0:
                sys.exit(result.describe())


if __name__ == "__main__":
    main()
