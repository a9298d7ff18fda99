"""`image-factory expedite BASE --reason …`: let rebuilds on BASE skip the soak until an expiry date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from analyzer.commands.options import config_option, state_option
from analyzer.config.expedite import find_target, write_expedite
from analyzer.config.loader import load_fleet
from analyzer.errors import InputError
from analyzer.state.store import load_states

DEFAULT_VALIDITY = timedelta(days=14)


@click.command("expedite")
@click.argument("base")
@click.option("--reason", required=True, help="Why the soak is skipped, e.g. the CVE id and summary.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day the override holds (default: 14 days from today).")
@config_option()
@state_option("State directory (to find bases that were discovered but not enrolled).")
def command(base: str, reason: str, expires: datetime | None, config: Path, state_dir: Path) -> None:
    """Record an expedite override for BASE (enrolled name or image reference) in images.yaml.

    The rendered rebuild Stages on BASE then take new freight directly from its Warehouse, with
    annotations the policy pack accepts until the expiry. Commit the change and open a pull request.
    """
    today = datetime.now(UTC).date()
    until: date = expires.date() if expires else today + DEFAULT_VALIDITY
    if until < today:
        raise InputError.single(config, f"--expires {until.isoformat()} is in the past", field_name="expires")
    if len(reason.strip()) < 3:
        raise InputError.single(config, "--reason must say why (at least 3 characters)", field_name="reason")
    fleet = load_fleet(config)
    target = find_target(fleet, load_states(state_dir), base)
    write_expedite(target, reason.strip(), until)
    where = "new external entry" if target.index is None else f"entry {target.name}"
    click.echo(f"expedite: {target.ref} ({where} in {target.file}) skips the soak until {until.isoformat()}: "
               f"{reason.strip()}")
