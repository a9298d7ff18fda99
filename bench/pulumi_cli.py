"""The real Pulumi CLI (engine `pulumi`) on a generated fleet, GitOps mode (no cluster), with the policy pack:
wall time of `preview`, and with --up of `up` and a no-op `preview` after it, and the peak RSS of the largest
process (CLI, program, pack or provider) during each command.

    python bench/pulumi_cli.py --bases 2000 --managed 5000 [--up]
    python bench/pulumi_cli.py --bases 2000 --managed 5000 --teams 20 --part team   # one team's stack
    python bench/pulumi_cli.py --bases 2000 --managed 5000 --teams 20 --part 0/8    # one shard of the shared objects
    python bench/pulumi_cli.py --bases 400 --managed 1000 --checkpoints             # the engine's default checkpoints

The CLI, the program's language host and the pack run as in tests/infra/test_cli.py (docs/pulumi.md), with
PULUMI_SKIP_CHECKPOINTS=true as the workflows set it (docs/pulumi.md, "At fleet scale"), unless --checkpoints.
The pack's virtualenv is a link to this checkout's `venv` (the same packages policy/requirements.txt
installs), so that no pip install is timed or waited for. bench/run.py's `pulumi` suite uses `measure`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kargo_fleet import write_render_fleet  # noqa: E402
from bench.pulumi_teams import split_into_teams  # noqa: E402
from tests.support.pulumi_cli import GITOPS_STACK, Pulumi, copy_project, use_fleet  # noqa: E402

SKIP_CHECKPOINTS = {"PULUMI_SKIP_CHECKPOINTS": "true"}
"""What the workflows set for preview and the GitOps `up` (.github/workflows): the engine then writes the
stack's state once at the end instead of serializing the whole snapshot after every step."""


@dataclass
class Measured:
    command: str
    """`preview`, `up` or `preview (no-op)`."""
    exit_code: int
    seconds: float
    resources: int
    """Resource steps in the engine's event log (the stack resource included)."""
    changed: int
    """Steps other than `same`."""
    peak_rss_mib: float
    largest: str
    """Which process had that peak: cli, program, pack, provider or langhost."""
    output: str = ""


def _kind(cmdline: str) -> str:
    if "pulumi_langhost" in cmdline:
        return "langhost"
    if "pulumi-language-python-exec" in cmdline:
        return "program"
    if "pulumi.policy" in cmdline:
        return "pack"
    if "pulumi-resource-kubernetes" in cmdline:
        return "provider"
    return "cli"


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Peak RSS (MiB) by kind of process, of every process in the session of the `pulumi` CLI this process
    started (Pulumi.run starts it in a new session; its plugins stay in it), sampled every half second."""
    peaks: dict[str, float] = {}
    stop = threading.Event()
    me = str(os.getpid())

    def sample() -> None:
        session = None
        while not stop.wait(0.5):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    if session is None:
                        if stat[1] == me and Path(f"/proc/{pid}/comm").read_text().strip() == "pulumi":
                            session = stat[3]
                        continue
                    if stat[3] != session:
                        continue
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    status = Path(f"/proc/{pid}/status").read_text()
                except (OSError, IndexError):
                    continue
                rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS")), 0)
                kind = _kind(cmdline)
                peaks[kind] = max(peaks.get(kind, 0.0), rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peaks
    finally:
        stop.set()
        thread.join()


@dataclass
class Stack:
    cli: Pulumi
    pack: list[str]
    label: str


def prepare(work: Path, bases: int, managed: int, teams: int = 0, part: str = "",
            checkpoints: bool = False) -> Stack:
    """A generated fleet in a project copy with a fresh GitOps stack on a file backend, ready to preview."""
    config = write_render_fleet(work / "fleet", bases, managed)
    if teams:
        split_into_teams(config, teams)
    project = copy_project(work / "project")
    use_fleet(project, config.parent)
    (project / "policy" / "venv").symlink_to(ROOT / "venv")
    cli = Pulumi(project, work / "home", work / "backend", None if checkpoints else SKIP_CHECKPOINTS)
    cli.new_stack(GITOPS_STACK)
    if part == "team":
        cli.run("config", "set", "--path", "image-factory:teams[0]", "images.d/team-000.yaml")
        cli.run("config", "set", "image-factory:shared", "none")
    elif part:
        cli.run("config", "set", "--path", "image-factory:teams", "[]")
        cli.run("config", "set", "image-factory:shared", part)
    config_file = "policy/config.team.json" if part else "policy/config.json"
    label = (f"{bases} base tags, {managed} managed" + (f", {teams} teams, stack part {part or 'all'}" if teams else "")
             + (", engine checkpoints" if checkpoints else ""))
    return Stack(cli, ["--policy-pack", "policy", "--policy-pack-config", config_file], label)


def measure(stack: Stack, up: bool, timeout: float = 7200) -> Iterator[Measured]:
    """`preview`; with `up`, then `up --yes` and a no-op `preview`. Stops after a command that fails."""
    commands = [("preview", ["preview"])]
    if up:
        commands += [("up", ["up", "--yes"]), ("preview (no-op)", ["preview"])]
    for name, argv in commands:
        with peak_rss() as peaks:
            result = stack.cli.program(*argv, *stack.pack, check=False, timeout=timeout)
        steps = result.steps()
        largest = max(peaks, key=lambda kind: peaks[kind], default="")
        yield Measured(name, result.returncode, result.seconds, len(steps),
                       sum(op != "same" for op in steps.values()), peaks.get(largest, 0.0), largest,
                       result.describe() if result.returncode else "")
        if result.returncode != 0:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bases", type=int, default=2000)
    parser.add_argument("--managed", type=int, default=5000)
    parser.add_argument("--up", action="store_true", help="also `up`, then a no-op preview")
    parser.add_argument("--teams", type=int, default=0, help="split the fleet into this many include files")
    parser.add_argument("--part", default="", help="with --teams: `team` (the first team's stack) or `K/N` "
                                                   "(a shard of the shared objects); default: the whole project")
    parser.add_argument("--checkpoints", action="store_true",
                        help="leave the engine's checkpoint after every step on (no PULUMI_SKIP_CHECKPOINTS)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-factory-bench-pulumi-") as tmp:
        stack = prepare(Path(tmp), args.bases, args.managed, args.teams, args.part, args.checkpoints)
        print(f"{stack.label}; load average {os.getloadavg()[0]:.2f}", flush=True)
        for m in measure(stack, args.up):
            print(f"pulumi {m.command:<16} exit {m.exit_code}  {m.seconds:8.1f} s  {m.resources:>6} resources "
                  f"({m.changed} changed)  peak RSS {m.peak_rss_mib:6.0f} MiB ({m.largest})  "
                  f"load average {os.getloadavg()[0]:.2f}", flush=True)
            if m.exit_code != 0:
                sys.exit(m.output)


if __name__ == "__main__":
    main()
