"""Durations, the one module that reads and writes them: as people write them (`7d`, `168h`, `36h`, `1h30m`),
as Kargo/Go want them (`168h0m0s`), Go `time.Duration` strings as Kargo fields carry them (`5m0s`, `1.5h`),
and for people reading a violation (`7d (168h)`)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"(?:(\d{1,12})w)?(?:(\d{1,12})d)?(?:(\d{1,12})h)?(?:(\d{1,12})m)?(?:(\d{1,12})s)?")
GO_DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(s|m|h))+$"
"""What the deployment settings accept for a Go duration field (`5m0s`, `30m`, `1.5h`)."""
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
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


def parse_go_duration(value: str) -> timedelta:
    """Parse what Go's time.ParseDuration accepts (no sign); ValueError otherwise."""
    text = value.strip()
    if text == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _GO_PART.finditer(text):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"invalid duration {value!r}: use Go duration syntax such as 5m0s or 168h")
    return timedelta(seconds=seconds)


def parse_any_duration(value: str) -> timedelta:
    """A Go duration, or the project's friendly form (`7d`, `2w`) that labels may carry."""
    try:
        return parse_go_duration(value)
    except ValueError:
        return parse_duration(value)


def describe(delta: timedelta) -> str:
    """`7d (168h)` for people reading a violation."""
    seconds = delta.total_seconds()
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    hours = seconds / 3600
    return f"{hours / 24:g}d ({hours:g}h)" if hours >= 24 else f"{hours:g}h"
