"""Durations as people write them (`7d`, `168h`, `36h`, `1h30m`) and as Kargo/Go want them (`168h0m0s`)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"(?:(\d{1,12})w)?(?:(\d{1,12})d)?(?:(\d{1,12})h)?(?:(\d{1,12})m)?(?:(\d{1,12})s)?")
MAX_SECONDS = (2**63 - 1) // 10**9
"""Go's time.Duration (Kargo's fields) holds about 292 years; a longer delay cannot be rendered."""


def parse_duration(text: str) -> timedelta:
    """Parse `7d`, `168h`, `1h30m`, `2w`; raise ValueError with the accepted forms otherwise."""
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: use a number with a unit, e.g. 7d, 168h, 36h, 1h30m")
    seconds = sum(int(v) * _UNIT_SECONDS[u] for v, u in zip(match.groups(), "wdhms", strict=True) if v)
    if seconds > MAX_SECONDS:
        raise ValueError(f"duration {text!r} is too long: at most {MAX_SECONDS // 3600}h (Go's time.Duration)")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Canonical short form used in state, names and labels: whole hours as `168h`, else `1h30m`/`90s`."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    out = f"{hours}h" if hours else ""
    if minutes:
        out += f"{minutes}m"
    if seconds or not out:
        out += f"{seconds}s"
    return out


def go_duration(delta: timedelta) -> str:
    """Go's time.Duration string form (Kargo/Argo fields): `168h0m0s`."""
    total = int(delta.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes}m{seconds}s"
