"""The import layers of docs/architecture.md, enforced: the pure core never reaches for IO, the analyzer
never imports the Pulumi program or the policy pack. Imports are read from the source (every `import`,
also inside functions), and followed through the analyzer's own modules."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from tests.support import ROOT

CORE = [
    "analyzer.errors", "analyzer.regex", "analyzer.names", "analyzer.graph", "analyzer.yamlio",
    "analyzer.config", "analyzer.discovery", "analyzer.state.model", "analyzer.state.derive", "analyzer.state.index",
    "analyzer.planning", "analyzer.kargo", "analyzer.rules",
]
"""The pure core: config, discovery, graph, state derivation, planning, the Kargo model, the rules."""

IO_MODULES = [
    "subprocess", "socket", "http", "urllib.request", "requests", "httpx", "git", "kubernetes", "graphviz",
    "analyzer.sources", "analyzer.registry.client", "analyzer.registry.auth", "analyzer.registry.ratelimit",
    "analyzer.registry.credentials", "analyzer.registry.refresh", "analyzer.runtime", "analyzer.analyze",
    "analyzer.commands", "analyzer.cli", "analyzer.visual", "analyzer.workers",
]
"""Processes, network, git, clusters, and the analyzer's own IO rooms: sources (git), the registry client
and its credentials, the jobs, the CLI, forked workers. (registry/eligibility, history, manifest and mirrors
are pure.)"""

OUTSIDE_ANALYZER = ["infra", "policy", "tests", "bench", "examples", "pulumi", "pulumi_policy", "pulumi_kubernetes"]


def _module_file(module: str) -> Path | None:
    base = ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _modules_under(prefix: str) -> list[str]:
    path = ROOT / Path(*prefix.split("."))
    if path.with_suffix(".py").is_file():
        return [prefix]
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in path.rglob("*.py"))


@cache
def _imports(module: str) -> frozenset[str]:
    """Modules `module` names in an import statement (relative imports resolved)."""
    file = _module_file(module)
    if file is None:
        return frozenset()
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if _module_file(f"{base}.{alias.name}"))
    return frozenset(found)


def _reach(module: str) -> dict[str, str]:
    """Every module reachable from `module` through the analyzer's imports → the module importing it."""
    seen: dict[str, str] = {}
    stack = [module]
    while stack:
        current = stack.pop()
        for imported in _imports(current):
            if imported in seen:
                continue
            seen[imported] = current
            if imported.startswith("analyzer.") and not _is(imported, IO_MODULES):
                stack.append(imported)
    return seen


def _is(module: str, names: list[str]) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in names)


@pytest.mark.parametrize("module", [m for prefix in CORE for m in _modules_under(prefix)])
def test_the_pure_core_never_imports_io(module: str) -> None:
    bad = {imported: via for imported, via in _reach(module).items() if _is(imported, IO_MODULES)}
    assert not bad, f"{module} reaches IO modules (imported → by): {bad}"


@pytest.mark.parametrize("module", _modules_under("analyzer"))
def test_the_analyzer_never_imports_infra_or_policy(module: str) -> None:
    bad = sorted(imported for imported in _imports(module) if _is(imported, OUTSIDE_ANALYZER))
    assert not bad, f"{module} imports {bad}"


def test_the_layer_lists_name_real_modules() -> None:
    for name in CORE:
        assert _modules_under(name) and all(_module_file(m) for m in _modules_under(name)), name
