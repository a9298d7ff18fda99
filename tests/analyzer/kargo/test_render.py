"""`image-factory render`: one stable YAML file per resource, stale files removed, same objects as build."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.kargo.build import build_project
from analyzer.kargo.render import GENERATED_HEADER, render_files, write_files
from analyzer.kargo.settings import Settings
from tests.support import ROOT
from tests.support.kargo_fleet import copy_config, example_fleet, example_states, write_state_dir
from tests.support.kargo_schemas import all_problems


def _render(tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["render", "--config", str(tmp_path / "images.yaml"), "--state", str(tmp_path / "state"), *extra]
    )
    return result.exit_code, result.output


def _setup(tmp_path: Path) -> None:
    copy_config(tmp_path)
    write_state_dir(tmp_path / "state", example_states())


def test_render_writes_one_valid_file_per_resource(tmp_path: Path) -> None:
    _setup(tmp_path)
    code, output = _render(tmp_path, "--out", str(tmp_path / "out"))
    assert code == 0, output
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files[:7] == [
        "00-project-image-factory.yaml",
        "01-projectconfig-image-factory.yaml",
        "01-role-image-factory-jobs.yaml",
        "01-rolebinding-image-factory-jobs.yaml",
        "01-serviceaccount-image-factory-jobs.yaml",
        "02-analysistemplate-gate.yaml",
        "02-analysistemplate-verify-rebuild.yaml",
    ]
    assert "03-warehouse-python-3-12-slim.yaml" in files and "04-stage-rebuild-payments-api.yaml" in files
    manifests = [yaml.safe_load((tmp_path / "out" / f).read_text()) for f in files]
    assert len(manifests) == 27
    assert all(list(m)[:3] == ["apiVersion", "kind", "metadata"] for m in manifests)
    assert all_problems(manifests) == []
    assert "27 resources (6 warehouses, 7 soak stages, 7 rebuild stages); 27 written" in output
    assert "pinned (not monitored): edge-proxy: docker.io/library/golang:1.23@sha256:" in output


def test_rerender_is_byte_identical_and_removes_only_stale_generated_files(tmp_path: Path) -> None:
    _setup(tmp_path)
    out = tmp_path / "out"
    assert _render(tmp_path, "--out", str(out))[0] == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "04-stage-rebuild-gone.yaml").write_text(GENERATED_HEADER + "kind: Stage\n")
    (out / "kustomization.yaml").write_text("resources: []\n")  # not ours: kept
    code, output = _render(tmp_path, "--out", str(out))
    assert code == 0 and "0 written, 27 unchanged, 1 removed" in output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "kustomization.yaml"} == first
    assert (out / "kustomization.yaml").exists()


def test_render_matches_build_and_reads_stack_config(tmp_path: Path) -> None:
    _setup(tmp_path)
    stack = tmp_path / "Pulumi.test.yaml"
    stack.write_text(
        "config:\n  image-factory:project: factory\n  image-factory:analyzerImage: reg/if:2\n"
        "  kubernetes:context: ignored\n"
    )
    code, output = _render(tmp_path, "--out", str(tmp_path / "out"), "--stack-config", str(stack), "--json")
    assert code == 0, output
    summary = json.loads(output)
    settings = Settings(project="factory", analyzerImage="reg/if:2")
    project = build_project(example_fleet(), example_states(), settings)
    assert summary == json.loads(json.dumps(project.summary))
    expected = render_files(project.objects)
    assert {p.name: p.read_text() for p in (tmp_path / "out").iterdir()} == expected
    assert "image: reg/if:2" in expected["02-analysistemplate-gate.yaml"]


def test_invalid_state_exits_2_naming_the_file(tmp_path: Path) -> None:
    _setup(tmp_path)
    bad = next((tmp_path / "state" / "images").glob("docker.io~library~python@3.12-slim.yaml"))
    bad.write_text(bad.read_text().replace("kind: external", "kind: bogus"))
    code, output = _render(tmp_path, "--out", str(tmp_path / "out"))
    assert code == 2
    assert "docker.io~library~python@3.12-slim.yaml" in output and "kind" in output
    assert not (tmp_path / "out").exists()


def test_invalid_stack_config_exits_2(tmp_path: Path) -> None:
    _setup(tmp_path)
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text("config:\n  image-factory:warehouseInterval: 5 minutes\n")
    code, output = _render(tmp_path, "--out", str(tmp_path / "out"), "--stack-config", str(stack))
    assert code == 2 and "image-factory:warehouseInterval" in output


def test_write_files_leaves_foreign_files(tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("# mine\n")
    result = write_files(tmp_path, {"a.yaml": GENERATED_HEADER + "a: 1\n"})
    assert result.written == ["a.yaml"] and result.removed == []
    assert (tmp_path / "notes.yaml").read_text() == "# mine\n"


def test_write_files_into_a_new_directory_renames_it_into_place(tmp_path: Path) -> None:
    out = tmp_path / "a" / "out"
    files = {"a.yaml": GENERATED_HEADER + "a: 1\n", "b.yaml": GENERATED_HEADER + "b: 2\n"}
    assert write_files(out, files).written == ["a.yaml", "b.yaml"]
    assert {p.name: p.read_text() for p in out.iterdir()} == files
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o600}  # as the file-by-file path writes them
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no staging directory left behind
    again = write_files(out, files)
    assert again.written == [] and again.unchanged == ["a.yaml", "b.yaml"]


def test_python_dash_m_analyzer_render_entry_point(tmp_path: Path) -> None:
    _setup(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer",
            "render",
            "--config",
            str(tmp_path / "images.yaml"),
            "--state",
            str(tmp_path / "state"),
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "out").glob("*.yaml"))) == 27


def test_render_before_analyze_says_what_is_missing(tmp_path: Path) -> None:
    copy_config(tmp_path)
    code, output = _render(tmp_path, "--out", str(tmp_path / "out"))
    assert code == 0, output
    assert "9 resources (2 warehouses, 0 soak stages, 0 rebuild stages)" in output
    assert "not analyzed yet (run `image-factory analyze`): base-node, base-python," in output
