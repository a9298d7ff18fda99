"""The `discover` and `ref` CLI contracts, run as a user would (subprocess from the repository root)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.cli import run

DATA = Path(__file__).parent / "data"
D256 = "sha256:" + "0123456789abcdef" * 4


def discover(path: Path, *build_args: str) -> dict[str, object]:
    argv = ["discover", str(path), "--json"]
    for arg in build_args:
        argv += ["--build-arg", arg]
    result = run(ROOT, *argv)
    assert result.returncode == 0, result.stderr
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_discover_contract_on_realistic_file() -> None:
    out = discover(DATA / "go-cross.Dockerfile")
    assert out == {
        "syntax": "docker.io/docker/dockerfile:1",
        "bases": ["docker.io/library/golang:1.22-alpine", "gcr.io/distroless/static-debian12:nonroot"],
        "stages": [
            {"name": "build", "from": "docker.io/library/golang:1.22-alpine"},
            {"name": "test", "from": "stage:build"},
            {"name": None, "from": "gcr.io/distroless/static-debian12:nonroot"},
        ],
        "unresolved": [],
        "invalid": [],
        "copy_from": [],
        "mount_from": [],
    }


def test_discover_build_args(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "ARG TAG\nARG REG=ghcr.io/acme\nFROM $REG/base:$TAG AS b\nFROM alpine:$UNDECLARED\n"
    )
    without = discover(dockerfile)
    assert without["stages"] == [{"name": "b", "from": "unresolved"}, {"name": None, "from": "unresolved"}]
    assert without["unresolved"] == ["$REG/base:$TAG", "alpine:$UNDECLARED"]
    given = discover(dockerfile, "TAG=1.2", "REG=quay.io/x", "UNDECLARED=3.19")
    assert given["bases"] == ["quay.io/x/base:1.2"]
    assert given["unresolved"] == ["alpine:$UNDECLARED"]


def test_discover_every_output_key(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(
        b"\xef\xbb\xbf# syntax=docker/dockerfile:1\r\n"
        b"FROM python:3.12 AS Build\r\n"
        b"RUN <<EOF\r\nFROM evil\r\nEOF\r\n"
        b"FROM build AS test\r\n"
        b"FROM Python:3\r\n"
        b"FROM scratch\r\n"
        b"COPY --from=nginx:1.25 /a /b\r\n"
        b"COPY --from=nginx:1.25 /c /d\r\n"
        b"RUN --mount=type=bind,from=busybox,target=/b true\r\n"
        b"FROM $NOPE\r\n" + f"FROM python:3.12@{D256}\r\n".encode()
    )
    assert discover(dockerfile) == {
        "syntax": "docker.io/docker/dockerfile:1",
        "bases": ["docker.io/library/python:3.12", f"docker.io/library/python:3.12@{D256}"],
        "stages": [
            {"name": "build", "from": "docker.io/library/python:3.12"},
            {"name": "test", "from": "stage:build"},
            {"name": None, "from": "invalid"},
            {"name": None, "from": "scratch"},
            {"name": None, "from": "unresolved"},
            {"name": None, "from": f"docker.io/library/python:3.12@{D256}"},
        ],
        "unresolved": ["$NOPE"],
        "invalid": ["Python:3"],
        "copy_from": ["docker.io/library/nginx:1.25"],
        "mount_from": ["docker.io/library/busybox:latest"],
    }


def test_discover_text_output() -> None:
    result = run(ROOT, "discover", str(DATA / "windows.Dockerfile"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS tools",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
    ]


def test_discover_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = run(ROOT, "discover", str(tmp_path / "nope" / "Dockerfile"), "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "nope" in result.stderr


def test_discover_bad_build_arg_is_invalid_input() -> None:
    result = run(ROOT, "discover", str(DATA / "go-cross.Dockerfile"), "--build-arg", "NOEQUALS", "--json")
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "python",
            {
                "registry": "docker.io",
                "repository": "library/python",
                "tag": "latest",
                "digest": None,
                "normalized": "docker.io/library/python:latest",
            },
        ),
        (
            f"localhost:5000/a:1@{D256}",
            {
                "registry": "localhost:5000",
                "repository": "a",
                "tag": "1",
                "digest": D256,
                "normalized": f"localhost:5000/a:1@{D256}",
            },
        ),
        (
            f"index.docker.io/acme/app@{D256}",
            {
                "registry": "docker.io",
                "repository": "acme/app",
                "tag": None,
                "digest": D256,
                "normalized": f"docker.io/acme/app@{D256}",
            },
        ),
    ],
)
def test_ref_json(reference: str, expected: dict[str, object]) -> None:
    result = run(ROOT, "ref", reference, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("Python", "must be lowercase"),
        ("0123456789abcdef" * 4, "64-byte hexadecimal"),
        ("python@sha256:abc", "invalid digest"),
    ],
)
def test_ref_invalid_exits_2_with_reason(reference: str, reason: str) -> None:
    result = run(ROOT, "ref", reference, "--json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert reason in result.stderr
