"""The clock mmp paces, waits and stamps by (reconciler.core.clock) and the tests' virtual one
(tests/clock.py): the system's unless a run is put on another; on the virtual clock a wait
passes at once and moves the clients and the simulators in process on together, so a
simulator still refuses a client that does not pace. The venues' pacing itself stays as
their docs say: the virtual clock is how the suite skips the waits, never shorter windows."""

from __future__ import annotations

import asyncio

import httpx

from reconciler.core.clock import SYSTEM, clock, running_on
from reconciler.core.units import monotonic_ms, now
from reconciler.simulators.common import Clock
from reconciler.venues import VENUES
from reconciler.venues.base import Credentials
from reconciler.venues.bybit.simulator import STATE, BybitSimulator
from reconciler.venues.limiter import Limiter
from reconciler.venues.okx import capabilities as okx
from tests.clock import VirtualClock
from tests.venues import client_of


def test_the_system_clock_unless_a_run_is_put_on_another() -> None:
    assert clock() is SYSTEM
    virtual = VirtualClock()

    async def read() -> object:
        return clock()

    with running_on(virtual):
        assert clock() is virtual
        assert asyncio.run(read()) is virtual  # and every task started inside
    assert clock() is SYSTEM


def test_a_wait_moves_the_client_and_the_simulator_on_together() -> None:
    """5 requests a second, 5 at once: the tenth leaves a whole second after the limiter
    began, by its clock; the venue's timestamps and the simulator's clock move on by every
    wait too."""
    virtual, sim_clock = VirtualClock(), Clock()
    with running_on(virtual):
        began = (monotonic_ms(), now("ms"), sim_clock.now_ms())
        limiter = Limiter(5, 5)

        async def go() -> None:
            for _ in range(10):
                await limiter.acquire()

        asyncio.run(go())
        ended = (monotonic_ms(), now("ms"), sim_clock.now_ms())
    assert ended[0] - began[0] >= 1000
    waited_ms = virtual.waited_ns // 1_000_000
    assert waited_ms > 0
    assert all(end - start >= waited_ms for start, end in zip(began, ended, strict=True))


def _bybit_reads(limits: Limiter, count: int) -> int:
    """`count` reads of one coin, one after the other, on the virtual clock: how many the
    simulator refused for the rate (10006; the client waits each out and sends it again)."""
    sim = BybitSimulator()
    sim.add_account("key", "secret")
    refused = 0

    def watched(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        answer = sim(request)
        refused += b'"retCode":10006' in answer.content
        return answer

    http = httpx.AsyncClient(
        base_url="https://api-testnet.bybit.com", transport=httpx.MockTransport(watched)
    )
    spec = VENUES["bybit"]
    creds = Credentials({"API_KEY": "key", "API_SECRET": "secret"})
    client = spec.client("acct", creds, http, limits, spec.endpoint_state())

    async def go() -> None:
        for _ in range(count):
            await client.read(only=frozenset({"BTC"}))
        await client.aclose()

    with running_on(VirtualClock()):
        asyncio.run(go())
    assert sim.requests.count(f"GET {STATE}") == count + refused
    return refused


def test_a_simulator_on_the_virtual_clock_still_refuses_a_client_that_does_not_pace() -> None:
    """Bybit answers 10 mmp-state reads a second: 30 sent at once are refused past them;
    paced at the client's 5 a second, none is."""
    assert _bybit_reads(Limiter(1000, 1000), 30) > 0
    spec = VENUES["bybit"].connection
    assert _bybit_reads(Limiter(spec.requests_per_second, spec.burst), 30) == 0


def test_the_venues_pace_as_their_docs_say() -> None:
    """The suite's speed comes from the virtual clock, not from shorter windows: what each
    venue's client paces by is what its docs say (more-venues.md, seed-venues.md)."""
    paced = {
        name: (spec.connection.requests_per_second, spec.connection.burst)
        for name, spec in VENUES.items()
        if name in ("deribit", "okx", "bybit")
    }
    assert paced == {"deribit": (5, 20), "okx": (5, 5), "bybit": (5, 5)}
    assert (okx.SET_LIMIT, okx.SET_WINDOW_MS) == (2, 10_000)
    assert (okx.READ_LIMIT, okx.READ_WINDOW_MS) == (5, 2_000)
    bybit = VENUES["bybit"].connection
    assert (bybit.shared_limit, bybit.shared_window_ms) == (600, 5_000)
    http = httpx.AsyncClient(base_url="https://openapi.okx.com")
    creds = Credentials({"API_KEY": "k", "API_SECRET": "s", "PASSPHRASE": "p"})
    client = client_of("okx", "acct", creds, http)
    window = client.set_window  # type: ignore[attr-defined]
    assert (window.limit, window.window_ns) == (2, 10_000_000_000)
    assert clock() is SYSTEM  # and outside a test's virtual clock, on the system's
    asyncio.run(client.aclose())
