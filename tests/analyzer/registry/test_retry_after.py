from datetime import UTC, datetime

from analyzer.registry.client import retry_after_seconds

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after_seconds("7", NOW) == 7.0
    assert retry_after_seconds("Thu, 26 Nov 2026 12:00:30 GMT", NOW) == 30.0
    assert retry_after_seconds("Thu, 26 Nov 2026 11:00:00 GMT", NOW) == 0.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None
