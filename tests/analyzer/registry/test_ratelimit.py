from analyzer.registry.ratelimit import RateLimiter


def test_token_bucket_waits_once_the_burst_is_spent() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rate=20, clock=lambda: now[0], sleep=sleep)
    for _ in range(20):
        limiter.acquire()
    assert slept == []
    limiter.acquire()
    assert len(slept) == 1 and abs(slept[0] - 0.05) < 1e-9
    now[0] += 1.0
    for _ in range(20):
        limiter.acquire()
    assert len(slept) == 1
