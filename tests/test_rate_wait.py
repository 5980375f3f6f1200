"""Rate-limit waits in the shared layer (reconciler.venues.sendguard, http), in process on
the virtual clock (tests/clock.py): OKX's refusal is sent again by its client alone, after
whole windows, at most twice; `-v` says a request's wait for its slot apart from its round
trip; a wait ends at once when apply is asked to stop."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.core.clock import clock, running_on
from reconciler.core.errors import VenueError
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact
from reconciler.venues.base import Credentials
from reconciler.venues.limiter import Limits, NotSent, WindowLimiter, unless_stopping
from reconciler.venues.okx import wire
from reconciler.venues.okx.capabilities import SET_WINDOW_MS
from reconciler.venues.okx.client import OkxClient
from reconciler.venues.okx.simulator import OkxSimulator
from reconciler.venues.sendguard import rate_limit_wait
from tests.clock import VirtualClock

BTC = ScopeKey("okx", "acct", "BTC-USD")
ETH = ScopeKey("okx", "acct", "ETH-USD")
CONFIG = MmpConfig(10_000, 60_000, quantity_limit=Decimal(10))


def okx_client(sim: OkxSimulator, handler: httpx.MockTransport) -> OkxClient:
    sim.add_account("k", "s")
    creds = {"API_KEY": "k", "API_SECRET": "s", "PASSPHRASE": sim.accounts["k"].passphrase}
    http = httpx.AsyncClient(base_url="https://okx.test", transport=handler)
    return OkxClient("acct", Credentials(creds), http)


@pytest.mark.parametrize("status", [200, 429])
def test_an_okx_50011_is_sent_again_after_whole_windows_at_most_twice(status: int) -> None:
    """Another client keeps spending the allowance: the set is sent 3 times in all, 10 s
    apart (by the virtual clock), then reported; a 429 is not also resent by the shared
    policy's 200-ms back-off."""
    sim = OkxSimulator()
    posts: list[int] = []

    def spent(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return sim(request)
        posts.append(clock().monotonic_ns() // 1_000_000)
        body = {"code": "50011", "msg": "Too Many Requests", "data": []}
        return httpx.Response(status, content=dumps_exact(body).encode())

    client = okx_client(sim, httpx.MockTransport(spent))

    async def go() -> None:
        try:
            await client.set_config(BTC, CONFIG)
        finally:
            await client.aclose()

    with running_on(VirtualClock()), pytest.raises(VenueError, match="50011"):
        asyncio.run(go())
    assert len(posts) == 3, posts
    assert all(b - a >= SET_WINDOW_MS for a, b in itertools.pairwise(posts))


def test_the_verbose_line_says_the_wait_for_a_slot_apart(caplog: pytest.LogCaptureFixture) -> None:
    """The third set within 10 s waits for OKX's window: its line gives the round trip from
    when it left, and the wait before that apart."""
    sim = OkxSimulator()
    client = okx_client(sim, httpx.MockTransport(sim))

    async def go() -> None:
        for key in (BTC, ETH, BTC):
            await client.set_config(key, CONFIG)
        await client.aclose()

    with running_on(VirtualClock()), caplog.at_level(logging.INFO, logger="mmp"):
        asyncio.run(go())
    lines = [
        r.getMessage() for r in caplog.records if f"POST {wire.MMP_PATH} -> 200" in r.getMessage()
    ]
    assert len(lines) == 3, lines
    assert "waiting" not in lines[0] and "waiting" not in lines[1], lines
    said = re.search(
        r"-> 200 in (\d+) ms \(after (\d+) ms waiting for its rate-limit slot\)", lines[2]
    )
    assert said is not None, lines[2]
    assert int(said[2]) >= SET_WINDOW_MS // 2 and int(said[1]) < SET_WINDOW_MS // 2, lines[2]


def test_a_rate_limit_wait_ends_at_once_when_apply_is_stopping() -> None:
    """Asked to stop before or during the wait: NotSent, and the virtual clock shows no more
    than one poll's wait passed, not the 10 s asked for."""
    _stopped_while(lambda: rate_limit_wait(10_000, "OKX 50011"))


def test_a_wait_for_a_slot_ends_at_once_when_the_request_must_stay_back() -> None:
    """A write waiting for OKX's set window (the third within 10 s) when apply is asked to
    stop: NotSent at once, not after the window; the account's slot it took is given back."""
    own, window = WindowLimiter(5, 2_000), WindowLimiter(1, SET_WINDOW_MS)

    async def spent_then_acquire() -> None:
        await window.acquire()
        window.release()  # the window is spent: the next set waits 10 s
        await Limits(own, window).acquire()

    _stopped_while(spent_then_acquire)
    assert own.counted() == 1  # its slot given back (counted from then), none left in flight


def _stopped_while(waiting: Callable[[], Coroutine[Any, Any, object]]) -> None:
    """Apply asked to stop (SIGINT) once `waiting` has begun: NotSent, and the virtual clock
    shows no more than one poll's wait passed."""
    virtual = VirtualClock()
    stop = [""]

    async def go() -> None:
        with unless_stopping(lambda: stop[0]):
            began = asyncio.ensure_future(waiting())
            await asyncio.sleep(0)
            stop[0] = "apply was interrupted (SIGINT)"
            await began

    with running_on(virtual), pytest.raises(NotSent, match="SIGINT"):
        asyncio.run(go())
    assert virtual.waited_ns <= 2 * 50 * 1_000_000
