"""Deterministic generator of a large, realistic fleet: N git repositories holding M Dockerfiles.

The mix follows what real fleets look like: most images FROM a shared pool of upstream tags, a share
built FROM other managed images (internal chains), multi-stage builds, ARG-parameterized FROMs,
digest-pinned stages, COPY --from images, and a few unresolvable FROMs.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

UPSTREAM = [f"python:3.{minor}-{variant}" for minor in (10, 11, 12, 13) for variant in ("slim", "alpine", "bookworm")]
UPSTREAM += [f"node:{major}-{variant}" for major in (18, 20, 22) for variant in ("alpine", "slim")]
UPSTREAM += ["golang:1.22", "golang:1.23", "eclipse-temurin:21-jre", "eclipse-temurin:17-jre", "nginx:1.27-alpine",
             "debian:bookworm-slim", "ubuntu:24.04", "alpine:3.20", "gcr.io/distroless/static-debian12:nonroot",
             "gcr.io/distroless/base-debian12", "ruby:3.3-slim", "php:8.3-fpm", "rust:1.82-slim",
             "mcr.microsoft.com/dotnet/aspnet:8.0", "quay.io/prometheus/busybox:latest", "redis:7", "postgres:16"]
DIGEST = "sha256:" + "0123456789abcdef" * 4
GIT_ENV = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid", "GIT_COMMITTER_NAME": "bench",
           "GIT_COMMITTER_EMAIL": "bench@example.invalid", "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
           "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


@dataclass(frozen=True)
class Image:
    name: str
    repo: int
    path: str
    ref: str
    dockerfile: str


def _dockerfile(rng: random.Random, parents: list[str]) -> str:
    base = rng.choice(UPSTREAM)
    kind = rng.random()
    internal = parents and rng.random() < 0.3
    runtime = rng.choice(parents) if internal else base
    if kind < 0.35:
        return f"FROM {runtime}\nRUN echo build\nCOPY . /app\n"
    if kind < 0.6:
        return (f"# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM {rng.choice(UPSTREAM)} AS Build\n"
                "WORKDIR /src\nCOPY . .\nRUN --mount=type=cache,target=/root/.cache \\\n    make build\n\n"
                f"FROM {runtime}\nCOPY --from=build /src/out /app\n")
    if kind < 0.75:
        name, _, tag = base.rpartition(":")
        return f"ARG BASE_TAG={tag}\nFROM {name}:${{BASE_TAG}}\nRUN echo parameterized\n"
    if kind < 0.85:
        return (f"FROM {rng.choice(UPSTREAM).split(':')[0]}@{DIGEST} AS tools\nFROM {runtime}\n"
                "COPY --from=tools /usr/bin/tool /usr/bin/tool\n")
    if kind < 0.95:
        return (f"FROM {runtime}\nCOPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/\n"
                "RUN <<EOF\necho heredoc\nFROM not-an-instruction\nEOF\n")
    return "ARG CUSTOM_BASE\nFROM ${CUSTOM_BASE}\n"


def plan_fleet(repos: int, dockerfiles: int, seed: int = 42) -> list[Image]:
    rng = random.Random(seed)
    images: list[Image] = []
    for index in range(dockerfiles):
        repo = index % repos
        name = f"img-{index:05d}"
        parents = [i.ref for i in images[-200:]] if images else []
        images.append(Image(name=name, repo=repo, path=f"services/{name}/Dockerfile",
                            ref=f"registry.example.com/team-{repo:03d}/{name}:main",
                            dockerfile=_dockerfile(rng, parents)))
    return images


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def write_fleet(out: Path, repos: int, dockerfiles: int, seed: int = 42) -> Path:
    """Create the repositories and an images.yaml under `out`; return the images.yaml path."""
    images = plan_fleet(repos, dockerfiles, seed)
    by_repo: dict[int, list[Image]] = {}
    for image in images:
        by_repo.setdefault(image.repo, []).append(image)
    for repo, members in by_repo.items():
        root = out / "repos" / f"repo-{repo:03d}"
        for image in members:
            (root / image.path).parent.mkdir(parents=True, exist_ok=True)
            (root / image.path).write_text(image.dockerfile)
        _git(root, "init", "-q", "-b", "main")
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "--no-gpg-sign", "-m", "fleet")
    lines = ["defaults:", "  delay: 7d", "images:"]
    for image in images:
        lines += [f"  - name: {image.name}", f"    image: {image.ref}", "    source:",
                  f"      repo: repos/repo-{image.repo:03d}", f"      dockerfile: {image.path}",
                  "    trigger:", f"      webhook: {{url: 'https://ci.example.com/hooks/{image.name}'}}"]
    config = out / "images.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def change_one(out: Path, index: int = 0) -> None:
    """Commit a change to one Dockerfile (the 'one Dockerfile changed' scenario)."""
    root = out / "repos" / "repo-000"
    path = root / "services" / f"img-{index:05d}" / "Dockerfile"
    path.write_text(path.read_text() + "RUN echo changed\n")
    _git(root, "commit", "-q", "-a", "--no-gpg-sign", "-m", "change")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repos", type=int, default=500)
    parser.add_argument("--dockerfiles", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    print(write_fleet(args.out, args.repos, args.dockerfiles, args.seed))


if __name__ == "__main__":
    main()
