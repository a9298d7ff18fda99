"""`image-factory` / `python -m analyzer`: one entry point for every command.

Exit codes: 0 ok, 1 partial (some sources or registries failed), 2 invalid input.
"""

from __future__ import annotations

import importlib
import sys

import click

from analyzer.errors import InputError

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_INVALID = 2

# Subcommand modules under analyzer.commands, in --help order.
COMMANDS = [
    "analyze",
    "discover",
    "ref",
    "graph",
    "refresh",
    "status",
    "record",
    "expedite",
    "gate",
    "verify_rebuild",
]


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except InputError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(EXIT_INVALID)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=None, version=__import__("analyzer").__version__)
def cli() -> None:
    """Image Factory: rebuild internal images on vetted base-image digests, orchestrated by Kargo."""


for _name in COMMANDS:
    cli.add_command(importlib.import_module(f"analyzer.commands.{_name}").command)


def main() -> None:
    cli(prog_name="image-factory")
