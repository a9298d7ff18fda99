"""The peer comparison (bench/peer.py) on a hand-made Renovate report: what each found, per file."""

from __future__ import annotations

import json
from pathlib import Path

from bench.peer import compare, renovate_bases


def test_renovate_report_is_normalized_like_analyze(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"repositories": {"local": {"packageFiles": {"dockerfile": [
        {"packageFile": "repo-000/a/Dockerfile", "deps": [
            {"depName": "python", "currentValue": "3.12-slim"},
            {"depName": "gcr.io/distroless/static", "currentDigest": "sha256:" + "0" * 64},
            {"depName": "x", "skipReason": "contains-variable"},
            {"depName": ":bad"}]}]}}}}))
    assert renovate_bases(report) == {"repo-000/a/Dockerfile": sorted([
        "docker.io/library/python:3.12-slim", "gcr.io/distroless/static@sha256:" + "0" * 64,
        "skip:contains-variable", "invalid"])}


def test_differences_are_grouped_with_examples() -> None:
    ours = {"r/a": ["docker.io/library/python:3.12"], "r/b": ["unresolved"], "r/c": ["docker.io/library/node:20"],
            "r/d": ["docker.io/library/node:20"]}
    theirs = {"r/a": ["docker.io/library/python:3.12"], "r/b": ["skip:contains-variable"],
              "r/c": ["docker.io/docker/dockerfile:1", "docker.io/library/node:20"],
              "r/d": ["docker.io/docker/dockerfile:1.7", "docker.io/library/node:20"], "r/e": []}
    result = compare(ours, theirs)
    assert result["files"] == {"analyze": 4, "renovate": 5, "both": 4}
    assert result["files_identical"] == 1
    kinds = {d["kind"]: d["files"] for d in result["differences"]}
    assert kinds == {"analyze only: -; Renovate only: docker.io/docker/dockerfile": 2,
                     "analyze only: unresolved; Renovate only: skip:contains-variable": 1}
    assert result["differences"][0]["examples"][0] == {"file": "r/c", "only_analyze": [],
                                                        "only_renovate": ["docker.io/docker/dockerfile:1"]}
