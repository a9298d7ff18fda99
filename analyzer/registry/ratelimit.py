"""Client-side politeness per registry host: a token-bucket rate limit and a concurrency bound.

Applied as an httpx transport wrapper so that every request counts, token requests included.
Default 20 requests/s, like Kargo's registry client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

DEFAULT_RATE = 20.0
DEFAULT_CONCURRENCY = 4


class RateLimiter:
    """Token bucket: `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)


class HostLimits:
    """One limiter and one semaphore per endpoint host, created on first use."""

    def __init__(self, settings: Callable[[str], tuple[float, int]],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._settings = settings
        self._sleep = sleep
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[RateLimiter, threading.Semaphore]] = {}

    def for_host(self, host: str) -> tuple[RateLimiter, threading.Semaphore]:
        with self._lock:
            if host not in self._hosts:
                rate, concurrency = self._settings(host)
                self._hosts[host] = (RateLimiter(rate, sleep=self._sleep), threading.Semaphore(concurrency))
            return self._hosts[host]


class LimitedTransport(httpx.BaseTransport):
    """Wraps a transport; waits for the host's rate limit and holds its semaphore while sending.

    The semaphore is released before the body is streamed; registry bodies we read are small.
    """

    def __init__(self, inner: httpx.BaseTransport, limits: HostLimits) -> None:
        self._inner = inner
        self._limits = limits

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        limiter, semaphore = self._limits.for_host(request.url.netloc.decode("ascii"))
        with semaphore:
            limiter.acquire()
            response = self._inner.handle_request(request)
            response.read()
            return response

    def close(self) -> None:
        self._inner.close()
