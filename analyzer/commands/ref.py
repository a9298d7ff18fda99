"""`image-factory ref REFERENCE`: parse and normalize an image reference."""

from __future__ import annotations

import json
import sys

import click

from analyzer.discovery.reference import InvalidReference, parse_reference


@click.command("ref")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def command(reference: str, as_json: bool) -> None:
    """Normalize REFERENCE like Docker/BuildKit do (python → docker.io/library/python:latest)."""
    try:
        ref = parse_reference(reference)
    except InvalidReference as exc:
        click.echo(f"error: invalid reference {reference!r}: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(ref.as_dict()))
    else:
        click.echo(ref.normalized)
