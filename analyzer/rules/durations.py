"""Go `time.Duration` strings as Kargo fields carry them (`5m0s`, `168h`, `1.5h`), and the project's labels."""

from __future__ import annotations

import re
from datetime import timedelta

from analyzer.config.durations import parse_duration

_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


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
