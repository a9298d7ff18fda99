"""Deterministic fuzz cases per input surface (issue 16), shared by the CI fuzz tests and the longer
release run (`FUZZ_CASES=50000 venv/bin/python -m pytest tests/analyzer/test_fuzz.py`).

Every generator is a pure function of its seed, so a failing case is reproduced from the seed alone."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.support import ROOT

DOCKERFILE_SEEDS = [p.read_text() for p in sorted((ROOT / "tests/analyzer/discovery/data").glob("*"))] + [
    "# syntax=docker/dockerfile:1\nARG BASE=python\nARG TAG=3.12\nFROM ${BASE}:${TAG} AS build\n"
    "RUN --mount=type=cache,from=alpine:3,target=/c make\nCOPY --from=build /a /b\nFROM scratch\n",
    "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo `\n  hi\n",
    "ARG V=1\nFROM alpine:${V#*.} AS a\nFROM alpine:${V%%.*}\nCOPY --link --from=a / /\n"
    "RUN <<EOF\nFROM evil\nEOF\nONBUILD COPY --from=0 / /\n",
    "FROM --platform=$BUILDPLATFORM golang:1.22 AS b\nARG X\nFROM ${X:-debian}:${X:+12}\n",
]

DOCKERFILE_TOKENS = [
    "FROM ", "from ", "AS ", " as ", "ARG ", "COPY ", "RUN ", "ONBUILD ", "--from=", "--mount=", "--platform=",
    "type=bind,from=", "${", "}", "$", ":-", ":+", ":?", "#", "##", "%", "%%", "/", "//", "*", "?", "\\", "`",
    "'", '"', "[", "]", "<<", "<<-", "EOF", "\n", "\r\n", " ", "\t", "alpine", "python:3.12", "@sha256:",
    "a" * 64, "X", "=", ",", "scratch", "0", "99999999999999999999", "# syntax=", "# escape=", "\ufeff",
    "\x00", "é", "..", "-", "_", "{", "(", ")",
]

REFERENCE_TOKENS = ["docker.io", "localhost", ":5000", "/", "library", "python", ":", "3.12", "@", "sha256",
                    "a" * 64, "A", ".", "-", "_", "__", "..", "[::1]", "]", "0", "\n", " ", "é", "\x00"]

CONFIG_SEED = """\
defaults:
  delay: 7d
  platforms: [linux/amd64]
registries:
  historyLimit: 50
  hosts:
    registry.example.com: {mirror: "https://mirror.example.com", requestsPerSecond: 5}
images:
  - name: api
    image: registry.example.com/team/api:1
    owner: team
    delay: 36h
    source:
      repo: https://github.com/example/api.git
      ref: main
      dockerfile: docker/Dockerfile
      buildArgs: {TAG: "1"}
    trigger:
      github: {repository: example/api, workflow: build.yml, tokenSecret: gh-token, inputs: {x: y}}
    expedite: {reason: CVE-2024-1, expires: 2030-01-01}
  - name: web
    image: registry.example.com/team/web:2
    source: {repo: "git@github.com:example/web.git"}
    trigger: {webhook: {url: "https://ci.example.com/web", secret: hook}}
  - name: python
    image: python:3.12-slim
    warehouse: {imageSelectionStrategy: SemVer, constraint: ^3.12, allowTags: ['^3\\.12'], discoveryLimit: 5}
"""

YAML_TOKENS = ["\n", "  ", "- ", ": ", "[", "]", "{", "}", ",", "'", '"', "&a ", "*a", "<<: ", "!!python/object ",
               "? ", "|", ">", "#", "null", "~", "true", "1e999", "-1", "0x1", "2024-01-01T00:00:00",
               "1000000000d", "9" * 400, "\t", "\x00", "%YAML 1.1\n", "---\n", "...\n", "!!binary ", "é"]


def _mutate_text(rnd: random.Random, text: str, tokens: list[str], edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        op = rnd.random()
        pos = rnd.randint(0, len(chars))
        if op < 0.4:
            chars[pos:pos] = list(rnd.choice(tokens))
        elif op < 0.6 and chars:
            del chars[pos:pos + rnd.randint(1, 8)]
        elif op < 0.75 and chars:
            start = rnd.randint(0, len(chars) - 1)
            chars[pos:pos] = chars[start:start + rnd.randint(1, 40)]
        elif op < 0.85:
            chars[pos:pos] = list(rnd.choice(tokens) * rnd.randint(2, 300))
        elif chars:
            chars[min(pos, len(chars) - 1)] = chr(rnd.randint(0, 0x7f))
    return "".join(chars)


def dockerfiles(seed: int, count: int) -> Iterator[tuple[int, str]]:
    for index in range(count):
        rnd = random.Random(seed * 1_000_003 + index)
        if rnd.random() < 0.5:
            text = _mutate_text(rnd, rnd.choice(DOCKERFILE_SEEDS), DOCKERFILE_TOKENS, rnd.randint(1, 12))
        else:
            text = "".join(rnd.choice(DOCKERFILE_TOKENS) for _ in range(rnd.randint(1, 80)))
        yield index, text


def build_args(seed: int, index: int) -> dict[str, str]:
    rnd = random.Random(seed * 7 + index)
    return {rnd.choice(["X", "V", "BASE", "TAG", "BUILDKIT_SYNTAX", "TARGETARCH"]): rnd.choice(
        ["", "1", "alpine", "a/b:c", "${X}", "*", "\n"]) for _ in range(rnd.randint(0, 3))}


def references(seed: int, count: int) -> Iterator[tuple[int, str]]:
    for index in range(count):
        rnd = random.Random(seed * 1_000_033 + index)
        yield index, "".join(rnd.choice(REFERENCE_TOKENS) for _ in range(rnd.randint(0, 14)))


def configs(seed: int, count: int) -> Iterator[tuple[int, str]]:
    for index in range(count):
        rnd = random.Random(seed * 1_000_037 + index)
        yield index, _mutate_text(rnd, CONFIG_SEED, YAML_TOKENS, rnd.randint(1, 6))


def state_texts(seed: int, count: int, seeds: list[str]) -> Iterator[tuple[int, str]]:
    for index in range(count):
        rnd = random.Random(seed * 1_000_039 + index)
        yield index, _mutate_text(rnd, rnd.choice(seeds), YAML_TOKENS, rnd.randint(1, 5))


VALUES: list[object] = [None, "", "x", "api", "web", "base-python", "Bad Ref", "docker.io/library/python:3.12-slim",
                        "registry.example.com/payments/api:1", "sha256:" + "a" * 64, 0, -1, 10**30, 1.5, True,
                        [], {}, ["api"], {"a": 1}, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "7d", "0s",
                        "1000000000d", "managed", "external", "from", "copy", "pinned", "linux/amd64", "\n"]


def _paths(data: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def mutate_data(rnd: random.Random, data: object, edits: int) -> object:
    """Structural mutations of a parsed document: values replaced, keys dropped, items duplicated."""
    import copy
    data = copy.deepcopy(data)
    for _ in range(edits):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = rnd.choice(paths)
        parent: object = data
        for part in path[:-1]:
            parent = parent[part]  # type: ignore[index]
        key = path[-1]
        op = rnd.random()
        if op < 0.5:
            parent[key] = copy.deepcopy(rnd.choice(VALUES))  # type: ignore[index]
        elif op < 0.7 and isinstance(parent, dict):
            del parent[key]
        elif op < 0.85 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))  # type: ignore[index]
        elif isinstance(parent, dict):
            parent[rnd.choice(["extra", "name", "ref", "kind", "managed", "parent", "tracked"])] = copy.deepcopy(
                parent[key])
    return data
