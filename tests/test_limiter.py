"""The client-side limiter: a burst goes at once, then requests are spaced at the rate."""

from __future__ import annotations

import asyncio

from reconciler.venues import VENUES
from reconciler.venues.limiter import Limiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0
        self.slept: list[int] = []

    def clock(self) -> int:
        return self.now

    async def sleep(self, ns: int) -> None:
        self.slept.append(ns)
        self.now += ns


def test_burst_then_rate() -> None:
    fake = FakeTime()
    limiter = Limiter(5, 20, clock_ns=fake.clock, sleep_ns=fake.sleep)

    async def go() -> None:
        for _ in range(30):
            await limiter.acquire()

    asyncio.run(go())
    assert fake.slept == [200_000_000] * 10  # 20 at once, then one every 1/5 s
    assert fake.now == 2_000_000_000


def test_idle_time_refills_up_to_the_burst_only() -> None:
    fake = FakeTime()
    limiter = Limiter(10, 3, clock_ns=fake.clock, sleep_ns=fake.sleep)

    async def go() -> None:
        for _ in range(3):
            await limiter.acquire()
        fake.now += 60_000_000_000  # a minute idle refills 3, not 600
        for _ in range(4):
            await limiter.acquire()

    asyncio.run(go())
    assert fake.slept == [100_000_000]


def test_every_venue_declares_its_rate() -> None:
    for name, spec in VENUES.items():
        caps = spec.capabilities
        assert caps.requests_per_second > 0 and caps.burst >= 1, name
