from __future__ import annotations

from datetime import timedelta

import pytest

from analyzer.config.durations import describe, parse_any_duration, parse_go_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m0s", 300), ("168h", 604800), ("168h0m0s", 604800), ("1.5h", 5400), ("300ms", 0.3), ("0", 0),
    ("1h30m", 5400),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "7d", "5 m", "-5m", "h", "5m garbage"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="Go duration"):
        parse_go_duration(text)


def test_labels_may_use_the_friendly_form() -> None:
    assert parse_any_duration("7d") == parse_any_duration("168h") == timedelta(days=7)
    with pytest.raises(ValueError):
        parse_any_duration("a week")


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(days=7), "7d (168h)"), (timedelta(hours=36), "1.5d (36h)"), (timedelta(hours=1), "1h"),
    (timedelta(minutes=5), "5m"),
])
def test_describe(delta: timedelta, text: str) -> None:
    assert describe(delta) == text
