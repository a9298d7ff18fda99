"""The analyzer image's Dockerfile: discoverable by the analyzer itself, pinned, non-root, complete."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib

from tests.support import ROOT
from tests.support.cli import run

DOCKERFILE = ROOT / "Dockerfile"
# Import name → distribution, for every third-party module the analyzer package imports.
DISTRIBUTIONS = {"pydantic": "pydantic", "yaml": "PyYAML", "git": "GitPython", "click": "click", "rich": "rich",
                 "httpx": "httpx", "re2": "google-re2", "kubernetes": "kubernetes", "ruamel": "ruamel.yaml",
                 "urllib3": "kubernetes", "cryptography": "cryptography", "jinja2": "Jinja2",
                 "markupsafe": "MarkupSafe", "graphviz": "graphviz"}


def test_dockerfile_is_discoverable_and_pinned_by_digest() -> None:
    result = run(ROOT, "discover", str(DOCKERFILE), "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert len(found["bases"]) == 1 and not found["unresolved"] and not found["invalid"]
    assert re.fullmatch(r"docker\.io/library/python:3\.11-slim@sha256:[0-9a-f]{64}", found["bases"][0])
    assert [stage["from"] for stage in found["stages"]] == found["bases"] * 2


def test_final_stage_runs_as_a_non_root_user() -> None:
    final = DOCKERFILE.read_text().split("\nFROM ")[-1]
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for file in (ROOT / "analyzer").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"analyzer", "__future__"}}


def test_image_installs_the_package_with_its_runtime_dependencies_at_their_pinned_versions() -> None:
    assert re.search(r"pip install -c requirements\.txt \.$", DOCKERFILE.read_text(), re.M)
    declared = {re.split(r"[<>=!~\[ ]", spec)[0] for spec in
                tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    pinned = {line.split("==")[0] for line in (ROOT / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    assert declared <= pinned  # every package the image installs has a pin
    imports = _third_party_imports()
    assert imports <= set(DISTRIBUTIONS), f"map these imports to a distribution: {imports - set(DISTRIBUTIONS)}"
    assert {DISTRIBUTIONS[name] for name in imports} <= declared
