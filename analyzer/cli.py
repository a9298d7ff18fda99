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
    "plan",
    "report",
    "render",
    "check",
    "record",
    "expedite",
    "gate",
    "verify_rebuild",
]


class _Group(click.Group):
    """Imports a subcommand's module only when it runs (or for --help), keeping start-up cheap."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name.replace("_", "-") for name in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = cmd_name.replace("-", "_")
        if module not in COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"analyzer.commands.{module}").command
        return command

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


def main() -> None:
    cli(prog_name="image-factory")
