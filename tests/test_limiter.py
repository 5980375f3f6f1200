"""The client-side limiter: a burst goes at once, then requests are spaced at the rate."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.venues import VENUES
from reconciler.venues.limiter import Limiter, WindowLimiter


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
        caps = spec.connection
        assert caps.requests_per_second > 0 and caps.burst >= 1, name


def test_a_window_lets_its_whole_allowance_go_then_waits_for_the_oldest() -> None:
    fake = FakeTime()
    window = WindowLimiter(3, 1000, clock_ns=fake.clock, sleep_ns=fake.sleep)
    sent: list[int] = []

    async def go() -> None:
        for _ in range(7):
            await window.acquire()
            sent.append(fake.now)
            window.release()  # answered at once
            fake.now += 100_000_000  # 100 ms between attempts

    asyncio.run(go())
    assert sent == [ms * 1_000_000 for ms in (0, 100, 200, 1000, 1100, 1200, 2000)]


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 20),
    window_ms=st.integers(1, 5000),
    gaps_ms=st.lists(st.integers(0, 3000), min_size=1, max_size=80),
    boundary_ms=st.integers(0, 5000),
)
def test_a_window_never_breaks_a_fixed_window_wherever_its_boundary_falls(
    limit: int, window_ms: int, gaps_ms: list[int], boundary_ms: int
) -> None:
    """What the venue counts: fixed windows of window_ms starting at an unknown boundary."""
    fake = FakeTime()
    window = WindowLimiter(limit, window_ms, clock_ns=fake.clock, sleep_ns=fake.sleep)
    sent: list[int] = []

    async def go() -> None:
        for gap in gaps_ms:
            fake.now += gap * 1_000_000
            await window.acquire()
            sent.append(fake.now)
            window.release()

    asyncio.run(go())
    counts: dict[int, int] = {}
    for t in sent:
        slot = (t // 1_000_000 + boundary_ms) // window_ms
        counts[slot] = counts.get(slot, 0) + 1
    assert max(counts.values()) <= limit


def test_accounts_of_one_venue_share_its_per_ip_window() -> None:
    from reconciler.policy.desired import AccountTarget, Location
    from reconciler.venues.base import Credentials
    from reconciler.venues.live import connect

    where = Location("x.yaml", 1, 1)
    targets = [
        AccountTarget(f"bn{n}", "binance", "production", None, f"BN{n}", where) for n in range(3)
    ]
    creds = {t.name: Credentials({"API_KEY": "k", "API_SECRET": "s"}) for t in targets}
    conns = connect(targets, VENUES, creds)
    windows = {
        id(limiter)
        for client in conns.clients.values()
        for limiter in client._limiter.limiters  # type: ignore[attr-defined]
        if isinstance(limiter, WindowLimiter)
    }
    assert len(windows) == 1  # one per venue endpoint, shared: Binance counts per IP
    asyncio.run(conns.aclose())


def test_a_window_slot_counts_from_the_answer_not_the_send() -> None:
    """The venue counts a request when it arrives; a slow answer must not let the next
    request in early."""
    fake = FakeTime()
    window = WindowLimiter(1, 1000, clock_ns=fake.clock, sleep_ns=fake.sleep)

    async def go() -> list[int]:
        await window.acquire()
        fake.now += 400_000_000  # the answer takes 400 ms
        window.release()
        await window.acquire()
        return [fake.now]

    assert asyncio.run(go()) == [1_400_000_000]


def test_a_window_full_of_requests_in_flight_waits_for_an_answer() -> None:
    async def go() -> list[str]:
        window = WindowLimiter(2, 60_000)
        order: list[str] = []
        await window.acquire()
        await window.acquire()

        async def third() -> None:
            await window.acquire()
            order.append("third sent")

        task = asyncio.ensure_future(third())
        await asyncio.sleep(0.01)
        order.append("first answered")
        window.release()
        await asyncio.sleep(0.01)
        task.cancel()
        return order

    assert asyncio.run(go()) == ["first answered"]  # the slot is held for a window
