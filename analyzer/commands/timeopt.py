"""The `--at TIME` option shared by plan, graph and report: an ISO 8601 time, UTC when no offset is given."""

from __future__ import annotations

from datetime import UTC, datetime

import click


def parse_time(text: str) -> datetime:
    """`2026-11-08`, `2026-11-08T12:00`, `2026-11-08T12:00:00Z`, `…+01:00`; naive times are UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-08T12:00:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve_at(text: str | None) -> datetime:
    return parse_time(text) if text else datetime.now(UTC).replace(microsecond=0)


AT_OPTION = click.option("--at", "at", metavar="TIME", default=None,
                         help="Plan as of this ISO 8601 time (default: now, UTC).")
