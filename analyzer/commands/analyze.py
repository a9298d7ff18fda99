"""Placeholder while the command is written."""

import click


@click.command("analyze")
def command() -> None:
    """Not written yet."""
    raise click.ClickException("not implemented yet")
