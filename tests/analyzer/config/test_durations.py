from datetime import timedelta

import pytest

from analyzer.config.durations import format_duration, go_duration, parse_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", timedelta(days=7)), ("168h", timedelta(hours=168)), ("36h", timedelta(hours=36)),
    ("1h30m", timedelta(minutes=90)), ("2w", timedelta(days=14)), ("45s", timedelta(seconds=45)),
])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7 days", "d", "-1h", "1.5h", "7D"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_formats() -> None:
    assert format_duration(timedelta(days=7)) == "168h"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    assert go_duration(timedelta(days=7)) == "168h0m0s"
