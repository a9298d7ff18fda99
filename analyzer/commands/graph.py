"""Placeholder while the command is written."""

import click


@click.command("graph")
def command() -> None:
    """Not written yet."""
    raise click.ClickException("not implemented yet")
