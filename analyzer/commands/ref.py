"""`image-factory ref REFERENCE`: parse and normalize an image reference."""

from __future__ import annotations

import json

import click

from analyzer.commands.options import json_option
from analyzer.discovery.reference import InvalidReference, parse_reference
from analyzer.errors import InputError


@click.command("ref")
@click.argument("reference")
@json_option("Print a JSON object.")
def command(reference: str, as_json: bool) -> None:
    """Normalize REFERENCE like Docker/BuildKit do (python → docker.io/library/python:latest)."""
    try:
        ref = parse_reference(reference)
    except InvalidReference as exc:
        raise InputError.single(f"invalid reference {reference!r}", str(exc)) from None
    if as_json:
        click.echo(json.dumps(ref.as_dict()))
    else:
        click.echo(ref.normalized)
