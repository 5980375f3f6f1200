"""A client-side token bucket per venue account, so we stay inside the documented limits
instead of learning them from 429s. Integer arithmetic in nanoseconds; no floats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def _sleep_ns(ns: int) -> None:
    await asyncio.sleep(ns / 1_000_000_000)


class Limiter:
    """At most `burst` requests at once, refilled at `per_second` requests a second."""

    def __init__(
        self,
        per_second: int,
        burst: int,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
        sleep_ns: Callable[[int], Awaitable[None]] = _sleep_ns,
    ) -> None:
        self.per_second, self.burst = per_second, burst
        self._clock, self._sleep = clock_ns, sleep_ns
        self._tokens_ns = burst * 1_000_000_000  # tokens x 1e9, so refill stays integral
        self._updated = clock_ns()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                refill = (now - self._updated) * self.per_second
                self._tokens_ns = min(self.burst * 1_000_000_000, self._tokens_ns + refill)
                self._updated = now
                if self._tokens_ns >= 1_000_000_000:
                    self._tokens_ns -= 1_000_000_000
                    return
                missing = 1_000_000_000 - self._tokens_ns
                await self._sleep(-(-missing // self.per_second))  # ceil: never too early
