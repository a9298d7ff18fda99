"""The rendered AnalysisTemplates call the jobs with arguments the jobs accept, and the Stages' args
fill every template argument."""

from __future__ import annotations

import re
from pathlib import Path

import click
import yaml
from click.testing import CliRunner

from analyzer.cli import cli
from tests.support import ROOT

SAMPLES = {"warehouse": "python-3-12-slim", "repository": "docker.io/library/python", "tag": "3.12-slim",
           "digest": "sha256:" + "a" * 64, "delay": "168h", "image": "base-python",
           "ref": "registry.example.com/platform/base-python:3.12",
           "base-digests": "docker.io/library/python:3.12-slim@sha256:" + "a" * 64}


def rendered(tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(cli, ["render", "--config", str(ROOT / "images.yaml"), "--state",
                                      str(ROOT / "state"), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return [yaml.safe_load(p.read_text()) for p in sorted(tmp_path.glob("*.yaml"))]


def test_job_templates_call_the_jobs_with_accepted_arguments(tmp_path: Path) -> None:
    resources = rendered(tmp_path)
    templates = {r["metadata"]["name"]: r for r in resources if r["kind"] == "AnalysisTemplate"}
    assert set(templates) == {"gate", "verify-rebuild"}
    for template in templates.values():
        container = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["image-factory"]
        args = [re.sub(r"\{\{args\.([\w-]+)\}\}", lambda m: SAMPLES[m.group(1)], a) for a in container["args"]]
        command = cli.get_command(click.Context(cli), args[0])
        assert command is not None, f"template {template['metadata']['name']} calls unknown job {args[0]}"
        # Parsing (not running) proves every option the template passes exists and nothing required is missing.
        command.make_context(args[0], args[1:])
        declared = {a["name"] for a in template["spec"]["args"]}
        used = set(re.findall(r"\{\{args\.([\w-]+)\}\}", " ".join(container["args"])))
        assert used == declared


def test_stages_pass_every_template_argument(tmp_path: Path) -> None:
    resources = rendered(tmp_path)
    templates = {r["metadata"]["name"]: {a["name"] for a in r["spec"]["args"]}
                 for r in resources if r["kind"] == "AnalysisTemplate"}
    stages = [r for r in resources if r["kind"] == "Stage"]
    assert stages
    for stage in stages:
        verification = stage["spec"]["verification"]
        [ref] = verification["analysisTemplates"]
        assert {a["name"] for a in verification["args"]} == templates[ref["name"]], stage["metadata"]["name"]
