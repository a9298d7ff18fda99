"""The real Pulumi CLI (engine `pulumi`, tests/engines/pulumi) on a copy of this project, with a local file
backend, the passphrase secrets provider and no network.

What runs is the CLI's own engine, the real kubernetes provider (found on PATH), the real CrossGuard pack and
the program in Python processes of their own, started through a Python language host. That host is the one
part that is not the production binary: `pulumi-language-python` is not served by the module proxy the
machines use, so tests/support/pulumi_langhost.py stands in for it (it runs the sdk/v3 module's real
`pulumi-language-python-exec`, as the real host does). docs/pulumi.md explains the choice.

The copy's `venv` is a symlink to this checkout's virtualenv (which has requirements.txt installed), and
PYTHONPATH puts the copy's own packages first, so the program and the pack read the copy's fleet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import ROOT
from tests.support.engines import engine_bin

PASSPHRASE = "image-factory-tests-only"
"""The secrets passphrase of the throwaway test stacks (a test value, not a credential)."""
STACK = "prod"
GITOPS_STACK = "gitops"
PROJECT_FILES = ["Pulumi.yaml", "Pulumi.prod.yaml", "Pulumi.gitops.yaml", "pyproject.toml", "requirements.txt",
                 "images.yaml"]
PROJECT_DIRS = ["analyzer", "infra", "policy", "images.d", "state"]
IMAGE_FACTORY = ROOT / "venv" / "bin" / "image-factory"
LANGHOST = Path(__file__).with_name("pulumi_langhost.py")
EXEC_SCRIPT = "pulumi-language-python-exec"
_IGNORED = shutil.ignore_patterns("venv", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache")


def copy_project(dest: Path) -> Path:
    """A copy of the Pulumi project (program, pack, fleet, stack settings) without virtualenvs."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=_IGNORED)
    return dest


def use_fleet(project: Path, fleet_dir: Path) -> None:
    """Make `fleet_dir`'s images.yaml (+ images.d/) and state/ the project's fleet."""
    shutil.rmtree(project / "images.d", ignore_errors=True)
    shutil.rmtree(project / "state", ignore_errors=True)
    shutil.copy2(fleet_dir / "images.yaml", project / "images.yaml")
    if (fleet_dir / "images.d").is_dir():
        shutil.copytree(fleet_dir / "images.d", project / "images.d")
    shutil.copytree(fleet_dir / "state", project / "state")


def install_policy_pack(pack: Path) -> None:
    """What docs/pulumi.md tells a user to run in policy/ (the CLI does not install a local pack's
    dependencies): a virtualenv `venv` (PulumiPolicy.yaml's option) and `pip install -r requirements.txt`."""
    subprocess.run([sys.executable, "-m", "venv", "venv"], cwd=pack, check=True, capture_output=True)
    result = subprocess.run(["venv/bin/pip", "install", "-q", "--disable-pip-version-check", "-r",
                             "requirements.txt"], cwd=pack, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"pip install in {pack} failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    events: list[dict[str, Any]] = field(default_factory=list)

    def policy_violations(self) -> list[tuple[str, str, str, str]]:
        """(policy, enforcement level, Kind/name, message) of each policy violation in the event log."""
        found = []
        for event in self.events:
            policy = event.get("policyEvent")
            if policy is None:
                continue
            urn = policy.get("resourceUrn", "")
            found.append((policy["policyName"], policy["enforcementLevel"], object_key(urn) if urn else "stack",
                          policy["message"]))
        return sorted(found)

    def steps(self) -> dict[str, str]:
        """URN → operation (create, same, update, delete, replace, ...) of each resource step."""
        ops: dict[str, str] = {}
        for event in self.events:
            pre = event.get("resourcePreEvent")
            if pre is not None:
                ops[pre["metadata"]["urn"]] = pre["metadata"]["op"]
        for event in self.events:
            out = event.get("resOutputsEvent")
            if out is not None:
                ops[out["metadata"]["urn"]] = out["metadata"]["op"]
        return ops

    def describe(self) -> str:
        return (f"$ pulumi {' '.join(self.args)}  (exit {self.returncode}, {self.seconds:.1f} s)\n"
                f"--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-4000:]}")


class Pulumi:
    """The CLI on one project copy, one backend directory, one stack."""

    def __init__(self, project: Path, home: Path, backend: Path, extra_env: dict[str, str] | None = None) -> None:
        self.project = project
        self.bin = engine_bin("pulumi")
        backend.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        host_bin = home / "bin"
        host_bin.mkdir(exist_ok=True)
        host = host_bin / "pulumi-language-python"
        host.write_text(f"#!/bin/sh\nexec {sys.executable} {LANGHOST} --exec {self.bin / EXEC_SCRIPT} \"$@\"\n")
        host.chmod(0o755)
        if not (project / "venv").exists():
            (project / "venv").symlink_to(ROOT / "venv")
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")}
        self.env = {
            **keep,
            "HOME": str(home),
            "PATH": f"{self.bin}:{host_bin}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(project),
            "PULUMI_HOME": str(home / ".pulumi"),
            "PULUMI_BACKEND_URL": f"file://{backend}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_DEBUG_COMMANDS": "true",  # enables --event-log (the Automation API sets it too)
            "NO_COLOR": "1",
            **(extra_env or {}),
        }

    def run(self, *args: str, check: bool = True, timeout: float = 600, events: bool = False) -> Result:
        """`pulumi ARGS` in the project; with `events`, the engine's event log is read into the result."""
        argv = list(args)
        event_log = None
        if events:
            event_log = self.project / f".events-{time.monotonic_ns()}.jsonl"
            argv += [f"--event-log={event_log}"]
        start = time.monotonic()
        # On a timeout the CLI is interrupted as a user would (Ctrl-C twice: cancel, then stop its plugins),
        # and only then killed with its process group.
        proc = subprocess.Popen([str(self.bin / "pulumi"), *argv, "--non-interactive", "--color=never"],
                                cwd=self.project, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGINT, 15), (signal.SIGINT, 5), (signal.SIGKILL, None)):
                os.killpg(proc.pid, sig)
                try:
                    stdout, stderr = proc.communicate(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            raise AssertionError(f"pulumi {' '.join(argv)} timed out after {timeout} s\n{stdout[-4000:]}\n"
                                 f"{stderr[-4000:]}") from None
        result = Result(argv, proc.returncode, stdout, stderr, time.monotonic() - start)
        if event_log is not None and event_log.exists():
            result.events = [json.loads(line) for line in event_log.read_text().splitlines() if line.strip()]
            event_log.unlink()
        if check and proc.returncode != 0:
            raise AssertionError(result.describe())
        return result

    def program(self, *args: str, check: bool = True, timeout: float = 600) -> Result:
        """A command that runs the program (preview, up, ...), with its event log."""
        return self.run(*args, check=check, timeout=timeout, events=True)

    def new_stack(self, stack: str = STACK) -> None:
        """`pulumi stack init` (which selects it); its settings are the project's Pulumi.<stack>.yaml."""
        self.run("stack", "init", stack, "--secrets-provider=passphrase")


def documents(folder: Path) -> dict[str, dict[str, Any]]:
    """`Kind/name` → manifest, of every YAML document under folder."""
    docs = [doc for path in sorted(folder.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs}


def render(project: Path, out: Path, stack: str = STACK) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """`image-factory render` of the project with a stack's settings: its manifests and its summary (`--json`)."""
    proc = subprocess.run([str(IMAGE_FACTORY), "render", "--stack-config", f"Pulumi.{stack}.yaml", "--out",
                           str(out), "--json"], cwd=project, check=True, capture_output=True, text=True)
    summary = json.loads(proc.stdout[:proc.stdout.rindex("}") + 1])
    return documents(out), summary


def changed_objects(steps: dict[str, str]) -> dict[str, str]:
    """`Kind/name` → operation of every Kubernetes object a Pulumi update did not leave as it was."""
    return {object_key(urn): op for urn, op in steps.items() if op != "same" and "::kubernetes:" in urn}


def object_key(urn: str) -> str:
    """`Kind/name` of the object a resource URN stands for (the program names resources `<kind>-<name>`)."""
    kind = urn.split("::")[-2].rsplit(":", 1)[-1]
    return f"{kind}/{urn.split('::')[-1].removeprefix(kind.lower() + '-')}"



def expected_outputs(project: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The stack outputs the program should export for the project, computed from render's summary (counts per
    project and team, the plan's counts, the pointer to the details)."""
    from analyzer.config.loader import load_fleet
    from analyzer.planning.timeline import status_summary
    from analyzer.state.store import load_states
    from infra.outputs import stack_outputs

    return stack_outputs(load_fleet(project / "images.yaml"), summary, status_summary(load_states(project / "state")))
