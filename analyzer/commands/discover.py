"""`image-factory discover DOCKERFILE`: the base images of one Dockerfile, with BuildKit's semantics."""

from __future__ import annotations

import json
from pathlib import Path

import click

from analyzer.commands.options import json_option
from analyzer.discovery.dockerfile import DockerfileAnalysis, analyze_dockerfile
from analyzer.yamlio import read_regular_text


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def contract_json(analysis: DockerfileAnalysis) -> dict[str, object]:
    """The stable JSON contract of `discover --json` (see README)."""
    return {
        "syntax": analysis.syntax,
        "bases": [ref.normalized for ref in analysis.bases],
        "stages": [{"name": stage.name, "from": stage.source} for stage in analysis.stages],
        "unresolved": [item.raw for item in analysis.unresolved],
        "invalid": [item.raw for item in analysis.invalid],
        "copy_from": _distinct([use.ref.normalized for use in analysis.copy_from]),
        "mount_from": _distinct([use.ref.normalized for use in analysis.mount_from]),
    }


def parse_build_args(values: tuple[str, ...]) -> dict[str, str]:
    args = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--build-arg")
        args[key] = val
    return args


@click.command("discover")
@click.argument("dockerfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--build-arg", "build_args", multiple=True, metavar="KEY=VALUE",
              help="Override an ARG's default, like `docker build --build-arg`.")
@json_option("Print the JSON contract.")
def command(dockerfile: Path, build_args: tuple[str, ...], as_json: bool) -> None:
    """List the base images DOCKERFILE is built from (every FROM, COPY --from, RUN --mount from=)."""
    text = read_regular_text(dockerfile)  # a FIFO or /dev/zero is an InputError, never read until memory runs out
    result = contract_json(analyze_dockerfile(text, parse_build_args(build_args)))
    if as_json:
        click.echo(json.dumps(result))
        return
    for stage in result["stages"]:  # type: ignore[attr-defined]
        click.echo(f"FROM {stage['from']}" + (f" AS {stage['name']}" if stage["name"] else ""))
    for key in ("copy_from", "mount_from", "unresolved", "invalid"):
        for value in result[key]:  # type: ignore[attr-defined]
            click.echo(f"{key}: {value}")
