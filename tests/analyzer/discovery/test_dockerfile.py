"""Discovery semantics, one case per BuildKit rule (see analyzer/discovery/dockerfile.py for the sources)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from analyzer.commands.discover import contract_json
from analyzer.discovery.dockerfile import analyze_dockerfile

DATA = Path(__file__).parent / "data"
D1 = "sha256:" + "0123456789abcdef" * 4
D2 = "sha256:" + "fedcba9876543210" * 4


def contract(text: str, build_args: dict[str, str] | None = None) -> dict[str, Any]:
    return contract_json(analyze_dockerfile(text, build_args))


def froms(text: str, build_args: dict[str, str] | None = None) -> list[str]:
    return [stage["from"] for stage in contract(text, build_args)["stages"]]


# ---------------------------------------------------------------- parser directives


@pytest.mark.parametrize(
    ("text", "syntax"),
    [
        pytest.param("# syntax=docker/dockerfile:1\nFROM alpine\n", "docker.io/docker/dockerfile:1", id="syntax"),
        pytest.param(
            "# SYNTAX = docker/dockerfile:1.7\nFROM alpine\n", "docker.io/docker/dockerfile:1.7", id="key-case"
        ),
        pytest.param(
            "#syntax=docker/dockerfile:1 extra words\nFROM alpine\n",
            "docker.io/docker/dockerfile:1",
            id="value-up-to-first-space",
        ),
        pytest.param(
            "# check=skip=all\n# syntax=docker/dockerfile:1\nFROM alpine\n",
            "docker.io/docker/dockerfile:1",
            id="after-check-directive",
        ),
        pytest.param("\n# syntax=docker/dockerfile:1\nFROM alpine\n", None, id="after-blank-line-is-comment"),
        pytest.param("# hello\n# syntax=docker/dockerfile:1\nFROM alpine\n", None, id="after-comment"),
        pytest.param(
            "# foo=bar\n# syntax=docker/dockerfile:1\nFROM alpine\n", None, id="after-unknown-directive"
        ),
        pytest.param("FROM alpine\n# syntax=docker/dockerfile:1\n", None, id="after-instruction"),
        pytest.param(
            "\ufeff# syntax=docker/dockerfile:1\nFROM alpine\n", "docker.io/docker/dockerfile:1", id="after-bom"
        ),
    ],
)
def test_syntax_directive_is_reported_not_a_base(text: str, syntax: str | None) -> None:
    result = contract(text)
    assert result["syntax"] == syntax
    assert result["bases"] == ["docker.io/library/alpine:latest"]


def test_duplicate_directive_is_a_problem() -> None:
    analysis = analyze_dockerfile("# syntax=a/b:1\n# syntax=c/d:1\nFROM alpine\n")
    assert [p.reason for p in analysis.problems] == ["only one syntax parser directive can be used"]


def test_escape_directive_backtick_changes_line_continuation() -> None:
    text = (DATA / "windows.Dockerfile").read_text()
    analysis = analyze_dockerfile(text)
    # With `\` as escape, `RUN dir c:\` would swallow the next FROM line.
    assert [s.source for s in analysis.stages] == [
        "mcr.microsoft.com/windows/servercore:ltsc2022",
        "mcr.microsoft.com/windows/nanoserver:ltsc2022",
    ]
    assert [s.line for s in analysis.stages] == [3, 6]
    assert analysis.escape == "`"
    assert analysis.copy_from == []  # --from=tools is a stage
    default_escape = analyze_dockerfile(text.replace("# escape=`", "# escape=\\"))
    assert len(default_escape.stages) == 1


def test_escape_directive_backtick_continues_from_line() -> None:
    assert froms("# escape=`\nFROM `\n  alpine:3.19 `\n  AS base\n") == ["docker.io/library/alpine:3.19"]


def test_escape_directive_with_bad_token_is_a_problem() -> None:
    analysis = analyze_dockerfile("# escape=x\nFROM alpine\n")
    assert "invalid escape token" in analysis.problems[0].reason


# ---------------------------------------------------------------- line handling


@pytest.mark.parametrize(
    ("text", "expected_from", "expected_name", "line"),
    [
        pytest.param(
            "FROM \\\n  alpine:3.19 \\\n  AS base\n",
            "docker.io/library/alpine:3.19",
            "base",
            1,
            id="continuation",
        ),
        pytest.param(
            "FROM \\\n# a comment\n    # indented comment\n  alpine AS b\n",
            "docker.io/library/alpine:latest",
            "b",
            1,
            id="comments-between-continuation-lines",
        ),
        pytest.param(
            "FROM \\\n\n   \n  alpine\n",
            "docker.io/library/alpine:latest",
            None,
            1,
            id="empty-continuation-lines",
        ),
        pytest.param(
            "ARG V=3.19\r\n\r\nFROM alpine:$V \\\r\n  AS x\r\n",
            "docker.io/library/alpine:3.19",
            "x",
            3,
            id="crlf",
        ),
        pytest.param("\ufeffFROM alpine\n", "docker.io/library/alpine:latest", None, 1, id="bom"),
        pytest.param(
            "   from   alpine   as   Base  \n",
            "docker.io/library/alpine:latest",
            "base",
            1,
            id="keyword-case-and-spacing",
        ),
        pytest.param("# c\n\nFrOm alpine aS x\n", "docker.io/library/alpine:latest", "x", 3, id="mixed-case"),
        pytest.param("FROM alpine # not a comment\n", "invalid", None, 1, id="hash-mid-line-is-an-argument"),
    ],
)
def test_line_handling(text: str, expected_from: str, expected_name: str | None, line: int) -> None:
    analysis = analyze_dockerfile(text)
    assert [(s.source, s.name, s.line) for s in analysis.stages] == [(expected_from, expected_name, line)]


def test_no_trailing_newline_and_lone_cr_inside_line() -> None:
    assert froms("FROM alpine AS a\nFROM a") == ["docker.io/library/alpine:latest", "stage:a"]


# ---------------------------------------------------------------- here-documents

HEREDOC_CASES = {
    "run": "FROM alpine\nRUN <<EOF\nFROM evil:1\nEOF\nFROM busybox\n",
    "chomp": "FROM alpine\nRUN <<-EOF\n\tFROM evil:1\n\tEOF\nFROM busybox\n",
    "double-quoted": 'FROM alpine\nRUN <<"EOF"\nFROM evil:$X\nEOF\nFROM busybox\n',
    "single-quoted": "FROM alpine\nRUN python3 <<'PY'\nFROM = 1\nPY\nFROM busybox\n",
    "multiple-on-one-line": "FROM alpine\nRUN <<A cat - <<B\nFROM evil:1\nA\nFROM evil:2\nB\nFROM busybox\n",
    "copy": "FROM alpine\nCOPY <<EOF /etc/motd\nFROM evil:1\nEOF\nFROM busybox\n",
    "copy-two-files": (
        "FROM alpine\nCOPY <<one <<two /dst/\nFROM evil:1\none\nFROM evil:2\ntwo\nFROM busybox\n"
    ),
    "with-flags-and-continuation": (
        "FROM alpine\nRUN --mount=type=cache,target=/c \\\n  <<EOF\nFROM evil:1\nEOF\nFROM busybox\n"
    ),
    "fd-prefix": "FROM alpine\nRUN cat 3<<EOF\nFROM evil:1\nEOF\nFROM busybox\n",
    "onbuild": "FROM alpine\nONBUILD RUN <<EOF\nFROM evil:1\nEOF\nFROM busybox\n",
    "crlf": "FROM alpine\r\nRUN <<EOF\r\nFROM evil:1\r\nEOF\r\nFROM busybox\r\n",
}


@pytest.mark.parametrize("text", HEREDOC_CASES.values(), ids=HEREDOC_CASES.keys())
def test_heredoc_bodies_are_not_instructions(text: str) -> None:
    analysis = analyze_dockerfile(text)
    assert [s.source for s in analysis.stages] == [
        "docker.io/library/alpine:latest",
        "docker.io/library/busybox:latest",
    ]
    assert analysis.problems == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('FROM alpine\nRUN ["sh", "-c", "cat <<EOF"]\nFROM busybox\n', id="exec-form-run"),
        pytest.param('FROM alpine\nRUN echo "<<EOF"\nFROM busybox\n', id="quoted-marker"),
        pytest.param("FROM alpine\nENV X=<<EOF\nFROM busybox\n", id="env-cannot-have-heredoc"),
    ],
)
def test_heredoc_markers_that_are_not_heredocs(text: str) -> None:
    assert froms(text) == ["docker.io/library/alpine:latest", "docker.io/library/busybox:latest"]


def test_heredoc_terminator_must_match_exactly_and_line_numbers_count_the_body() -> None:
    text = "FROM alpine\nRUN <<EOF\n EOF\nEOF \nEOF\nFROM busybox\n"
    analysis = analyze_dockerfile(text)
    assert [(s.raw, s.line) for s in analysis.stages] == [("alpine", 1), ("busybox", 6)]


def test_unterminated_heredoc_is_a_problem() -> None:
    analysis = analyze_dockerfile("FROM alpine\nRUN <<EOF\nFROM evil\n")
    assert [s.raw for s in analysis.stages] == ["alpine"]
    assert [p.reason for p in analysis.problems] == ["unterminated heredoc 'EOF'"]


# ---------------------------------------------------------------- FROM


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("FROM python:3.12-slim\n", ["docker.io/library/python:3.12-slim"], id="tag"),
        pytest.param("FROM python\n", ["docker.io/library/python:latest"], id="implicit-latest"),
        pytest.param(f"FROM python@{D1}\n", [f"docker.io/library/python@{D1}"], id="digest"),
        pytest.param(
            f"FROM python:3.12@{D1}\n", [f"docker.io/library/python:3.12@{D1}"], id="tag-and-digest"
        ),
        pytest.param(
            "FROM index.docker.io/library/python:3\n", ["docker.io/library/python:3"], id="legacy-hub"
        ),
        pytest.param("FROM localhost:5000/team/base:1\n", ["localhost:5000/team/base:1"], id="registry-port"),
        pytest.param("FROM [::1]:5000/base\n", ["[::1]:5000/base:latest"], id="ipv6-registry"),
        pytest.param("FROM scratch\n", ["scratch"], id="scratch"),
        pytest.param("FROM SCRATCH\n", ["invalid"], id="scratch-is-lower-case-only"),
        pytest.param(
            "FROM --platform=linux/arm64 alpine\n", ["docker.io/library/alpine:latest"], id="platform"
        ),
        pytest.param(
            "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\n",
            ["docker.io/library/golang:1.22"],
            id="platform-automatic-arg",
        ),
        pytest.param("FROM --foo=bar alpine\n", ["invalid"], id="unknown-flag"),
        pytest.param("FROM --platform alpine\n", ["invalid"], id="flag-eats-image"),
        pytest.param("FROM\n", ["invalid"], id="no-image"),
        pytest.param("FROM alpine base\n", ["invalid"], id="two-arguments"),
        pytest.param("FROM alpine AS 1stage\n", ["invalid"], id="bad-stage-name"),
        pytest.param("FROM Alpine\n", ["invalid"], id="uppercase-repository"),
        pytest.param("FROM alpine:\n", ["invalid"], id="empty-tag"),
        pytest.param("FROM alpine@sha256:abc\n", ["invalid"], id="bad-digest"),
        pytest.param('FROM "alpine:3.19"\n', ["docker.io/library/alpine:3.19"], id="quotes-removed"),
    ],
)
def test_from_values(text: str, expected: list[str]) -> None:
    assert froms(text) == expected


def test_invalid_from_reports_raw_value_and_reason() -> None:
    analysis = analyze_dockerfile("FROM alpine\nFROM Alpine:3\nFROM --foo=1 x\nFROM a b\n")
    assert contract_json(analysis)["invalid"] == ["Alpine:3", "x", "a b"]
    reasons = [item.reason for item in analysis.invalid]
    assert "must be lowercase" in reasons[0]
    assert reasons[1] == "unknown flag: foo"
    assert reasons[2] == "FROM requires either one or three arguments"
    assert [item.line for item in analysis.invalid] == [2, 3, 4]


def test_platform_is_kept_and_expanded_when_known() -> None:
    text = "FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=linux/arm64 alpine\n"
    assert [s.platform for s in analyze_dockerfile(text).stages] == ["$BUILDPLATFORM", "linux/arm64"]
    given = analyze_dockerfile(text, {"BUILDPLATFORM": "linux/amd64"})
    assert [s.platform for s in given.stages] == ["linux/amd64", "linux/arm64"]


def test_every_from_in_file_order_and_distinct_bases() -> None:
    text = (
        "FROM golang:1.22 AS build\nFROM alpine:3.19 AS tools\nFROM build AS test\n"
        "FROM golang:1.22\nFROM scratch\nFROM alpine:3.19\n"
    )
    result = contract(text)
    assert result["stages"] == [
        {"name": "build", "from": "docker.io/library/golang:1.22"},
        {"name": "tools", "from": "docker.io/library/alpine:3.19"},
        {"name": "test", "from": "stage:build"},
        {"name": None, "from": "docker.io/library/golang:1.22"},
        {"name": None, "from": "scratch"},
        {"name": None, "from": "docker.io/library/alpine:3.19"},
    ]
    assert result["bases"] == ["docker.io/library/golang:1.22", "docker.io/library/alpine:3.19"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "FROM golang AS Builder\nFROM builder\n",
            ["docker.io/library/golang:latest", "stage:builder"],
            id="name-lower-cased",
        ),
        pytest.param(
            "FROM golang AS builder\nFROM Builder\n",
            ["docker.io/library/golang:latest", "invalid"],
            id="reference-is-case-sensitive-like-buildkit",
        ),
        pytest.param(
            "FROM app\nFROM alpine AS app\n",
            ["docker.io/library/app:latest", "docker.io/library/alpine:latest"],
            id="later-name-is-an-image",
        ),
        pytest.param("FROM app AS app\n", ["docker.io/library/app:latest"], id="own-name-is-an-image"),
        pytest.param(
            "FROM alpine AS scratch\nFROM scratch\n",
            ["docker.io/library/alpine:latest", "stage:scratch"],
            id="stage-named-scratch-wins",
        ),
        pytest.param(
            "ARG BASE=builder\nFROM golang AS builder\nFROM $BASE\n",
            ["docker.io/library/golang:latest", "stage:builder"],
            id="stage-through-arg",
        ),
        pytest.param(
            "FROM alpine AS a\nFROM alpine AS a\nFROM a\n",
            ["docker.io/library/alpine:latest", "docker.io/library/alpine:latest", "stage:a"],
            id="duplicate-name",
        ),
    ],
)
def test_stage_references(text: str, expected: list[str]) -> None:
    assert froms(text) == expected


# ---------------------------------------------------------------- ARG and FROM


@pytest.mark.parametrize(
    ("text", "build_args", "expected"),
    [
        pytest.param("ARG V=3.19\nFROM alpine:$V\n", None, "docker.io/library/alpine:3.19", id="dollar"),
        pytest.param("ARG V=3.19\nFROM alpine:${V}\n", None, "docker.io/library/alpine:3.19", id="braces"),
        pytest.param(
            "ARG V=3.19\nFROM alpine:$V\n",
            {"V": "3.20"},
            "docker.io/library/alpine:3.20",
            id="build-arg-overrides-default",
        ),
        pytest.param(
            "ARG V\nFROM alpine:$V\n",
            {"V": "3.20"},
            "docker.io/library/alpine:3.20",
            id="build-arg-fills-declared-arg",
        ),
        pytest.param(
            "FROM alpine:${V:-3.18}\n",
            {"V": "3.20"},
            "docker.io/library/alpine:3.18",
            id="undeclared-build-arg-does-not-expand",
        ),
        pytest.param(
            "FROM alpine:${V:-3.18}\n", None, "docker.io/library/alpine:3.18", id="colon-dash-unset"
        ),
        pytest.param(
            "ARG V=\nFROM alpine:${V:-3.18}\n", None, "docker.io/library/alpine:3.18", id="colon-dash-empty"
        ),
        pytest.param(
            "ARG V=\nFROM alpine:3.18${V-x}\n", None, "docker.io/library/alpine:3.18", id="dash-empty-is-set"
        ),
        pytest.param("FROM alpine:3.18${V-}\n", None, "docker.io/library/alpine:3.18", id="dash-unset"),
        pytest.param(
            f"ARG D={D1}\nFROM alpine:3.19${{D:+@$D}}\n",
            None,
            f"docker.io/library/alpine:3.19@{D1}",
            id="colon-plus-set",
        ),
        pytest.param(
            "ARG D=\nFROM alpine:3.19${D:+@$D}\n",
            None,
            "docker.io/library/alpine:3.19",
            id="colon-plus-empty",
        ),
        pytest.param(
            "ARG D=\nFROM alpine${D+:3.19}\n", None, "docker.io/library/alpine:3.19", id="plus-empty-is-set"
        ),
        pytest.param(
            "ARG REG=ghcr.io/acme\nARG IMG=$REG/base:1\nFROM $IMG\n",
            None,
            "ghcr.io/acme/base:1",
            id="arg-default-uses-earlier-arg",
        ),
        pytest.param(
            "ARG REG=ghcr.io/acme\nARG IMG=$REG/base:1\nFROM $IMG\n",
            {"REG": "quay.io/x"},
            "quay.io/x/base:1",
            id="build-arg-flows-into-later-default",
        ),
        pytest.param(
            "ARG IMG=$REG/base:1\nARG REG=ghcr.io/acme\nFROM $IMG\n",
            None,
            "unresolved",
            id="arg-order-matters",
        ),
        pytest.param(
            'ARG IMG="python:3.12-slim"\nFROM $IMG\n',
            None,
            "docker.io/library/python:3.12-slim",
            id="quoted-default",
        ),
        pytest.param(
            "ARG A=alpine B=3.19\nFROM $A:$B\n", None, "docker.io/library/alpine:3.19", id="several-per-arg"
        ),
        pytest.param("ARG V=3.19\nFROM alpine:\\$V\n", None, "invalid", id="escaped-dollar"),
        pytest.param("ARG V=3.19\nFROM 'alpine:$V'\n", None, "invalid", id="single-quotes-do-not-expand"),
        pytest.param(
            "ARG IMG=alpine:3.19\nFROM ${IMG%:*}\n", None, "docker.io/library/alpine:latest", id="suffix-trim"
        ),
        pytest.param(
            "ARG IMG=docker.io/alpine\nFROM ${IMG#docker.io/}\n",
            None,
            "docker.io/library/alpine:latest",
            id="prefix-trim",
        ),
        pytest.param(
            "ARG IMG=alpine:3.19\nFROM ${IMG/3.19/3.20}\n",
            None,
            "docker.io/library/alpine:3.20",
            id="replace",
        ),
        pytest.param("ARG V\nFROM alpine:$V\n", None, "unresolved", id="declared-without-value"),
        pytest.param(
            "ARG V\nFROM alpine:${V:-3.18}\n",
            None,
            "docker.io/library/alpine:3.18",
            id="declared-without-value-with-fallback",
        ),
        pytest.param("FROM alpine:$V\n", {"V": "3.20"}, "unresolved", id="undeclared"),
        pytest.param("ARG A\nARG B=foo:$A\nFROM $B\n", None, "unresolved", id="unknown-flows-through-args"),
        pytest.param("FROM alpine:$TARGETARCH\n", None, "unresolved", id="automatic-platform-arg"),
        pytest.param(
            "FROM alpine:$TARGETARCH\n",
            {"TARGETARCH": "arm64"},
            "docker.io/library/alpine:arm64",
            id="automatic-platform-arg-given",
        ),
        pytest.param("ARG IMG=acme/App\nFROM $IMG\n", None, "invalid", id="expands-to-invalid"),
        pytest.param("ARG E=\nFROM $E\n", None, "invalid", id="expands-to-blank"),
        pytest.param("FROM ${IMG\n", None, "invalid", id="bad-substitution"),
        pytest.param("FROM ${IMG:?required}\n", None, "unresolved", id="required-unset"),
        pytest.param("FROM ${IMG:?must be set}\n", None, "invalid", id="whitespace-splits-from-arguments"),
    ],
)
def test_arg_expansion_in_from(text: str, build_args: dict[str, str] | None, expected: str) -> None:
    assert froms(text, build_args) == [expected]


def test_arg_inside_a_stage_does_not_affect_later_from() -> None:
    text = "ARG IMG=alpine\nFROM $IMG\nARG IMG=busybox\nARG OTHER=debian\nFROM $IMG\nFROM $OTHER\n"
    analysis = analyze_dockerfile(text, {"OTHER": "ubuntu"})
    assert [s.source for s in analysis.stages] == [
        "docker.io/library/alpine:latest",
        "docker.io/library/alpine:latest",
        "unresolved",
    ]


def test_unresolved_keeps_raw_value_line_and_says_why() -> None:
    text = "ARG TAG\nARG REGISTRY=ghcr.io/acme\nFROM ${REGISTRY}/app:${TAG} AS app\nFROM $NOPE\n"
    analysis = analyze_dockerfile(text)
    assert contract_json(analysis)["unresolved"] == ["${REGISTRY}/app:${TAG}", "$NOPE"]
    assert [(u.line, u.reason) for u in analysis.unresolved] == [
        (3, "${REGISTRY}/app:${TAG} expands to 'ghcr.io/acme/app:', not a valid image reference: "
            "ARG TAG has no default and no build arg, so it is empty"),
        (4, "$NOPE expands to blank: NOPE is not declared as an ARG before the first FROM, so it is empty"),
    ]
    assert analysis.stages[0].name == "app"
    assert contract_json(analysis)["bases"] == []


def test_expansion_to_invalid_reference_says_why() -> None:
    analysis = analyze_dockerfile("ARG IMG=acme/App\nFROM $IMG\n")
    assert [i.raw for i in analysis.invalid] == ["$IMG"]
    assert "'acme/App' (from '$IMG') is not a valid image reference" in analysis.invalid[0].reason


# ---------------------------------------------------------------- COPY --from and RUN --mount from=


@pytest.mark.parametrize(
    ("text", "copy_from", "mount_from"),
    [
        pytest.param("FROM golang AS build\nFROM alpine\nCOPY --from=build /a /b\n", [], [], id="copy-stage"),
        pytest.param(
            "FROM golang AS build\nFROM alpine\nCOPY --from=BUILD /a /b\n", [], [], id="copy-stage-any-case"
        ),
        pytest.param("FROM golang\nFROM alpine\nCOPY --from=0 /a /b\n", [], [], id="copy-stage-index"),
        pytest.param(
            "FROM alpine AS a\nCOPY --from=b /x /y\nFROM busybox AS b\n",
            [],
            [],
            id="copy-later-stage-is-a-stage",
        ),
        pytest.param(
            "FROM alpine\nCOPY --from=nginx:1.25 /etc/nginx /etc/nginx\n",
            ["docker.io/library/nginx:1.25"],
            [],
            id="copy-image",
        ),
        pytest.param(
            'FROM alpine\ncopy --chown=1:1 --from="nginx:1.25" /a /b\n',
            ["docker.io/library/nginx:1.25"],
            [],
            id="copy-quoted-lowercase-keyword",
        ),
        pytest.param(
            "FROM alpine\nCOPY --from=nginx /a /b\nCOPY --from=nginx /c /d\n",
            ["docker.io/library/nginx:latest"],
            [],
            id="copy-distinct",
        ),
        pytest.param("FROM alpine\nCOPY --from=scratch /a /b\n", [], [], id="copy-scratch"),
        pytest.param("FROM alpine\nADD --from=nginx /a /b\n", [], [], id="add-has-no-from"),
        pytest.param("FROM alpine\nONBUILD COPY --from=nginx /a /b\n", [], [], id="onbuild-is-for-children"),
        pytest.param(
            "FROM alpine\nRUN --mount=type=bind,from=ghcr.io/acme/tools:1,target=/t true\n",
            [],
            ["ghcr.io/acme/tools:1"],
            id="mount-image",
        ),
        pytest.param(
            "FROM golang AS build\nFROM alpine\nRUN --mount=from=Build,target=/t true\n",
            [],
            [],
            id="mount-stage",
        ),
        pytest.param(
            'FROM alpine\nRUN --mount=type=bind,from="busybox:1.36",target=/t true\n',
            [],
            ["docker.io/library/busybox:1.36"],
            id="mount-quoted-value",
        ),
        pytest.param(
            'FROM alpine\nRUN --mount="type=bind,FROM=busybox,target=/t" true\n',
            [],
            ["docker.io/library/busybox:latest"],
            id="mount-quoted-flag-and-key-case",
        ),
        pytest.param(
            "FROM alpine\nRUN --mount=type=cache,target=/c --mount=type=bind,from=a/b,target=/t \\\n"
            "  --mount=type=secret,id=s true\n",
            [],
            ["docker.io/a/b:latest"],
            id="mount-several",
        ),
        pytest.param("FROM alpine\nRUN --mount=type=cache,target=/c true\n", [], [], id="mount-without-from"),
    ],
)
def test_copy_and_mount_sources(text: str, copy_from: list[str], mount_from: list[str]) -> None:
    result = contract(text)
    assert (result["copy_from"], result["mount_from"]) == (copy_from, mount_from)
    assert analyze_dockerfile(text).problems == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            "ARG IMG=nginx\nFROM alpine\nARG IMG\nCOPY --from=$IMG /a /b\n",
            "variable expansion is not supported for --from",
            id="copy-variable",
        ),
        pytest.param(
            "FROM alpine\nRUN --mount=type=bind,from=${IMG},target=/t true\n",
            "'from' doesn't support variable expansion",
            id="mount-variable",
        ),
        pytest.param(
            "FROM alpine\nCOPY --from=3 /a /b\n", "invalid stage index 3", id="copy-index-out-of-range"
        ),
        pytest.param(
            "FROM alpine\nCOPY --from=Nginx /a /b\n",
            "neither a stage nor a valid image reference",
            id="copy-invalid-reference",
        ),
        pytest.param("FROM alpine\nFOO bar\n", "unknown instruction: FOO", id="unknown-instruction"),
        pytest.param(
            "RUN true\nFROM alpine\n", "no build stage in current context", id="command-before-from"
        ),
    ],
)
def test_copy_and_mount_problems(text: str, reason: str) -> None:
    analysis = analyze_dockerfile(text)
    assert analysis.copy_from == [] and analysis.mount_from == []
    assert len(analysis.problems) == 1 and reason in analysis.problems[0].reason


def test_image_uses_carry_line_and_raw() -> None:
    text = (
        "FROM alpine\nCOPY --from=nginx:1.25 /a /b\nRUN --mount=type=bind,from=busybox,target=/t \\\n  true\n"
    )
    analysis = analyze_dockerfile(text)
    assert [(u.raw, u.line, u.via) for u in analysis.copy_from + analysis.mount_from] == [
        ("nginx:1.25", 2, "copy"),
        ("busybox", 3, "mount"),
    ]


# ---------------------------------------------------------------- realistic files


def test_realistic_python_app() -> None:
    result = contract((DATA / "python-app.Dockerfile").read_text())
    digest = "sha256:2ec5a4a5c3e919570f57675471f081d6299668d909feabd8d4803c6c61af666c"
    assert result == {
        "syntax": "docker.io/docker/dockerfile:1.7",
        "bases": ["docker.io/library/python:3.12-slim", f"docker.io/library/python:3.12-slim@{digest}"],
        "stages": [
            {"name": "builder", "from": "docker.io/library/python:3.12-slim"},
            {"name": "runtime", "from": f"docker.io/library/python:3.12-slim@{digest}"},
        ],
        "unresolved": [],
        "invalid": [],
        "copy_from": ["ghcr.io/astral-sh/uv:0.4.18"],
        "mount_from": ["docker.io/library/busybox:1.36"],
    }


def test_realistic_python_app_with_build_args() -> None:
    result = contract(
        (DATA / "python-app.Dockerfile").read_text(),
        {"PYTHON_VERSION": "3.13", "BASE_IMAGE": "registry.internal:5000/base-python:3.13"},
    )
    assert result["stages"][0]["from"] == "registry.internal:5000/base-python:3.13"
    assert result["bases"][1].startswith("docker.io/library/python:3.13-slim@sha256:")


def test_realistic_go_cross_compile() -> None:
    analysis = analyze_dockerfile((DATA / "go-cross.Dockerfile").read_text())
    assert [(s.name, s.source, s.line) for s in analysis.stages] == [
        ("build", "docker.io/library/golang:1.22-alpine", 5),
        ("test", "stage:build", 13),
        (None, "gcr.io/distroless/static-debian12:nonroot", 16),
    ]
    assert analysis.stages[0].platform == "$BUILDPLATFORM"
    assert analysis.copy_from == [] and analysis.mount_from == [] and analysis.problems == []


def _dockerfile_parse_froms(text: str) -> list[tuple[int, str]]:
    parser = DockerfileParser(fileobj=io.BytesIO())
    parser.content = text
    out = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            image = next((word for word in item["value"].split() if not word.startswith("--")), "")
            out.append((item["startline"] + 1, image))
    return out


def test_from_lines_agree_with_dockerfile_parse_on_a_plain_file() -> None:
    """dockerfile-parse is right here (no escape directive, no heredoc, no comment inside a continuation)."""
    text = (DATA / "go-cross.Dockerfile").read_text()
    assert [(s.line, s.raw) for s in analyze_dockerfile(text).stages] == _dockerfile_parse_froms(text)


def test_where_dockerfile_parse_differs_buildkit_wins() -> None:
    heredoc = HEREDOC_CASES["run"]
    assert [image for _, image in _dockerfile_parse_froms(heredoc)] == ["alpine", "evil:1", "busybox"]
    assert froms(heredoc) == ["docker.io/library/alpine:latest", "docker.io/library/busybox:latest"]
    comments = "FROM \\\n# comment\n\n  alpine\n"
    assert froms(comments) == ["docker.io/library/alpine:latest"]
    assert _dockerfile_parse_froms(comments) != [(1, "alpine")]
    realistic = (DATA / "python-app.Dockerfile").read_text()
    assert len(_dockerfile_parse_froms(realistic)) == 3  # it takes `FROM = ...` in a heredoc body for a FROM
    assert len(analyze_dockerfile(realistic).stages) == 2


# ---------------------------------------------------------------- flags (BuildKit's extractBuilderFlags)


@pytest.mark.parametrize("flags", ["--link", "--chown=1000:1000 --link", "--parents --exclude=*.md",
                                   "--link --chmod=0755 --parents", "--exclude=a --exclude=b --link"])
def test_every_copy_flag_form_keeps_its_from(flags: str) -> None:
    for text in (f"FROM alpine\nCOPY {flags} --from=busybox:1.36-musl /bin/sh /sh\n",
                 f"FROM alpine\nCOPY --from=busybox:1.36-musl {flags} /bin/sh /sh\n"):
        result = analyze_dockerfile(text)
        assert [u.ref.normalized for u in result.copy_from] == ["docker.io/library/busybox:1.36-musl"], text
        assert result.problems == []


def test_a_flag_never_takes_the_next_word_as_its_value() -> None:
    """BuildKit has no `--flag value` form: the value must follow `=`."""
    copy = analyze_dockerfile("FROM alpine\nCOPY --from nginx:1.25 /a /b\n")
    assert copy.copy_from == []
    assert [p.reason for p in copy.problems] == ["missing a value on flag: from"]
    from_ = analyze_dockerfile("FROM --platform linux/arm64 alpine\n")
    assert [s.source for s in from_.stages] == ["invalid"]
    assert from_.invalid[0].reason == "FROM requires either one or three arguments"  # checked first


def test_flags_honour_the_escape_directive() -> None:
    text = "# escape=`\nFROM alpine\nCOPY --from=busybox`:1.36 /a /b\n"
    assert [u.ref.normalized for u in analyze_dockerfile(text).copy_from] == ["docker.io/library/busybox:1.36"]


# ---------------------------------------------------------------- ARGs without a value are empty (BuildKit)


@pytest.mark.parametrize(("text", "build_args"), [
    ("ARG VARIANT\nFROM busybox:stable${VARIANT}\n", None),  # declared, no value: empty (a build-check warning)
    ("FROM busybox:stable${VARIANT}\n", None),  # not declared at all: empty
    ("FROM busybox:stable${VARIANT}\n", {"VARIANT": "-musl"}),  # given but not declared: not visible
    ("ARG A\nARG B=busybox:stable$A\nFROM $B\n", None),  # through another ARG's default
])
def test_variables_without_value_expand_to_empty(text: str, build_args: dict[str, str] | None) -> None:
    analysis = analyze_dockerfile(text, build_args)
    assert [s.source for s in analysis.stages] == ["docker.io/library/busybox:stable"]
    assert analysis.unresolved == [] and analysis.invalid == []


def test_declared_build_arg_is_visible() -> None:
    analysis = analyze_dockerfile("ARG VARIANT\nFROM busybox:stable${VARIANT}\n", {"VARIANT": "-musl"})
    assert [s.source for s in analysis.stages] == ["docker.io/library/busybox:stable-musl"]


@pytest.mark.parametrize(("text", "reason"), [
    ("ARG BASE\nFROM ${BASE}\n", "${BASE} expands to blank: ARG BASE has no default and no build arg"),
    ("FROM python:${VERSION}\n", "python:${VERSION} expands to 'python:', not a valid image reference: "
                                 "VERSION is not declared"),
    ("ARG IMG=$REG/base:1\nARG REG=ghcr.io/acme\nFROM $IMG\n",
     "ARG REG is used before the line that declares it, so it is empty there"),
    ("FROM ${IMG:?required}\n", "IMG: required: IMG is not declared"),
])
def test_unresolved_only_when_the_result_cannot_be_built(text: str, reason: str) -> None:
    analysis = analyze_dockerfile(text)
    assert [s.source for s in analysis.stages] == ["unresolved"]
    assert reason in analysis.unresolved[0].reason


@pytest.mark.parametrize(("text", "build_args", "syntax"), [
    ("# syntax=docker/dockerfile:1\nFROM alpine\n", None, "docker.io/docker/dockerfile:1"),
    ("# syntax=docker/dockerfile:1.7 extra\nFROM alpine\n", None, "docker.io/docker/dockerfile:1.7"),
    ("# syntax=docker/dockerfile:1\nFROM alpine\n", {"BUILDKIT_SYNTAX": "ghcr.io/acme/frontend:2"},
     "ghcr.io/acme/frontend:2"),
    ("FROM alpine\n", {"BUILDKIT_SYNTAX": "docker/dockerfile:1.9"}, "docker.io/docker/dockerfile:1.9"),
    ("FROM alpine\n", None, None),
])
def test_syntax_frontend_is_normalized_and_build_arg_overrides_it(
        text: str, build_args: dict[str, str] | None, syntax: str | None) -> None:
    assert analyze_dockerfile(text, build_args).syntax == syntax


@pytest.mark.parametrize(("text", "build_args", "tracked", "line"), [
    ("# escape=`\n# syntax=docker/dockerfile:1\nFROM alpine\n", None, "docker.io/docker/dockerfile:1", 2),
    ("# syntax=docker/dockerfile:1\nFROM alpine\n", {"BUILDKIT_SYNTAX": "ghcr.io/acme/frontend:2"},
     "ghcr.io/acme/frontend:2", 0),   # line 0: given as a build arg, not written in the file
    ("# syntax=docker/dockerfile:1@sha256:" + "a" * 64 + "\nFROM alpine\n", None, None, 1),   # pinned
])
def test_the_frontend_is_a_dependency_like_any_base(
        text: str, build_args: dict[str, str] | None, tracked: str | None, line: int) -> None:
    frontend = analyze_dockerfile(text, build_args).frontend
    assert frontend is not None and (frontend.ref.tracked if not frontend.ref.pinned else None) == tracked
    assert (frontend.line, frontend.via) == (line, "syntax")


def test_an_invalid_frontend_is_a_problem_not_a_dependency() -> None:
    analysis = analyze_dockerfile("# syntax=Not A Ref!\nFROM alpine\n")
    assert analysis.frontend is None and analysis.syntax == "Not"
    assert "is not a valid image reference" in analysis.problems[0].reason
