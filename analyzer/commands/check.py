"""`image-factory check`: render the Kargo project and evaluate the policy rules offline (same rules as the
CrossGuard pack), printing violations as text, JSON or SARIF. Exit 1 on any mandatory violation."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from analyzer import __version__
from analyzer.cli import EXIT_PARTIAL
from analyzer.commands.options import STACK_CONFIG_OPTION, config_option, load_project, state_option
from analyzer.errors import InputError
from analyzer.rules.catalog import evaluate
from analyzer.rules.model import Level, from_manifest
from analyzer.rules.policy_config import load_policy_config
from analyzer.rules.report import as_json, as_sarif, as_text, relocate_soak_sources
from analyzer.rules.settings import PolicySettings
from analyzer.yamlio import check_depth, read_regular_text

EXIT_MANDATORY = EXIT_PARTIAL
"""A mandatory violation: exit 1, like a partial run (the command did its work; the result is bad)."""


def render_manifests(config: Path, state_dir: Path, stack_config: Path | None,
                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests `image-factory render` writes (same pure builder), and the managed images that need a
    rebuild Stage (all enrolled managed images except those with no external base to follow)."""
    loaded = load_project(config, state_dir, stack_config)
    project = loaded.project
    unbuildable = set(project.summary.get("unbuildable", []))
    managed = [image.name for image in loaded.fleet.managed() if image.name not in unbuildable]
    return [obj.to_manifest() for obj in project.objects], managed


def read_manifests(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Manifests from YAML files (multi-document allowed) or directories of them, in name order."""
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")) if path.is_dir() else [path]
    manifests = []
    for file in files:
        text = read_regular_text(file)
        try:
            check_depth(text)
            documents = list(yaml.safe_load_all(text))
        except (yaml.YAMLError, RecursionError, ValueError) as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError.single(file, f"invalid YAML: {exc}", mark.line + 1 if mark else None) from None
        for number, document in enumerate(documents, 1):
            if document is None:
                continue
            if not isinstance(document, dict) or "kind" not in document or "apiVersion" not in document:
                raise InputError.single(file, f"document {number} is not a Kubernetes manifest "
                                              "(needs apiVersion and kind)")
            manifests.append(document)
    return manifests


def _source_prefix(config: Path) -> str:
    """Sources are relative to images.yaml's directory; SARIF URIs are relative to the current directory."""
    folder = os.path.relpath(config.parent.resolve(), Path.cwd())
    return "" if folder == "." else f"{Path(folder).as_posix()}/"


@click.command("check")
@config_option()
@state_option()
@STACK_CONFIG_OPTION
@click.option("--manifests", "manifest_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Check these rendered manifests (files or directories) instead of rendering.")
@click.option("--policy-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The same JSON file as `pulumi preview --policy-pack-config`.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of stdout.")
def command(config: Path, state_dir: Path, stack_config: Path | None, manifest_paths: tuple[Path, ...],
            policy_config: Path | None, output_format: str, output: Path | None) -> None:
    """Evaluate the policy rules on the rendered Kargo project; exit 1 on any mandatory violation."""
    settings = load_policy_config(policy_config) if policy_config else PolicySettings()
    if manifest_paths:
        manifests = read_manifests(manifest_paths)
    else:
        manifests, managed = render_manifests(config, state_dir, stack_config)
        if settings.managed_images is None:  # the policy config may pin the list; else images.yaml says
            settings = settings.model_copy(update={"managed_images": managed})
    resources = [from_manifest(m) for m in manifests]
    violations = relocate_soak_sources(evaluate(resources, settings), resources)
    if output_format == "text":
        report = as_text(violations)
    elif output_format == "json":
        report = json.dumps(as_json(violations), indent=2)
    else:
        report = json.dumps(as_sarif(violations, __version__, config.as_posix(), _source_prefix(config)),
                            indent=2)
    if output is not None:
        output.write_text(report + "\n", encoding="utf-8")
    else:
        click.echo(report)
    if any(v.level is Level.MANDATORY for v in violations):
        sys.exit(EXIT_MANDATORY)
