"""Client-side rate limits, so we stay inside the documented limits instead of learning them
from 429s: a token bucket per venue account, and a sliding window shared by every account
of a venue where the venue counts per IP (Binance's request weight per minute, Bullish's
requests per 10 s). Integer arithmetic in nanoseconds, on the clock in force
(reconciler.core.clock); no floats.

A sliding window never exceeds a fixed window of the same size, wherever the venue's
window boundaries fall, and it lets the whole allowance go at once: reading at the limit,
not below it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from reconciler.core.clock import clock
from reconciler.core.errors import ReconcilerError

STOP_POLL_MS = 50  # a wait for a request that may have to stay back looks this often
_SENDS: ContextVar[tuple[list[int], ...]] = ContextVar("mmp_request_sends", default=())
_WAITS: ContextVar[tuple[list[int], ...]] = ContextVar("mmp_slot_waits", default=())
_STOP: ContextVar[Callable[[], str] | None] = ContextVar("mmp_request_stop", default=None)


class NotSent(ReconcilerError):
    """A request was about to leave when apply was asked to stop: it was not sent."""


@contextmanager
def unless_stopping(stop: Callable[[], str]) -> Iterator[None]:
    """Requests made inside leave only while `stop()` names no reason: a step's first write
    (and what its auth flow sends first: a log-in, a nonce read) is not sent once a signal
    came, however long it waited for its rate-limit slot."""
    token = _STOP.set(stop)
    try:
        yield
    finally:
        _STOP.reset(token)


@contextmanager
def sends_timed() -> Iterator[list[int]]:
    """The monotonic times (ns) at which the requests made inside leave, each taken once
    its rate-limit wait is over: what a read says dates from its first send, not from
    when it began to wait for a slot. Nested, each list has the sends made inside it."""
    sends: list[int] = []
    token = _SENDS.set((*_SENDS.get(), sends))
    try:
        yield sends
    finally:
        _SENDS.reset(token)


@contextmanager
def waits_timed() -> Iterator[list[int]]:
    """How long (ns) each request made inside waited for its rate-limit slot."""
    waits: list[int] = []
    token = _WAITS.set((*_WAITS.get(), waits))
    try:
        yield waits
    finally:
        _WAITS.reset(token)


def note_wait(ns: int) -> None:
    """A request waited `ns` for its slot (see waits_timed)."""
    for waits in _WAITS.get():
        waits.append(ns)


def note_send() -> None:
    """A request is about to leave (its slot taken); NotSent when it must not."""
    why = stop_reason()
    if why:
        raise NotSent(f"not sent: {why}")
    at = clock().monotonic_ns()
    for sends in _SENDS.get():
        sends.append(at)


def stop_reason() -> str:
    """Why the requests made here must not leave ('' when they may: see unless_stopping)."""
    stop = _STOP.get()
    return stop() if stop is not None else ""


def _now_ns() -> int:
    return clock().monotonic_ns()


async def _sleep_ns(ns: int) -> None:
    await wait_unless_stopping(ns, "not sent")


async def wait_unless_stopping(ns: int, said: str) -> None:
    """Wait `ns`; for a request that must not leave any more (a signal, a pushed freeze:
    see unless_stopping), end at once with NotSent("`said`: why"), looking every
    STOP_POLL_MS."""
    if _STOP.get() is None:
        await clock().sleep_ns(ns)
        return
    end = clock().monotonic_ns() + ns
    while True:
        why = stop_reason()
        if why:
            raise NotSent(f"{said}: {why}")
        left = end - clock().monotonic_ns()
        if left <= 0:
            return
        await clock().sleep_ns(min(left, STOP_POLL_MS * 1_000_000))


class Limiter:
    """At most `burst` requests at once, refilled at `per_second` requests a second."""

    def __init__(
        self,
        per_second: int,
        burst: int,
        *,
        clock_ns: Callable[[], int] = _now_ns,
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

    def release(self) -> None:
        """A token bucket counts sends only."""


class WindowLimiter:
    """At most `limit` requests in any `window_ms`, as the venue counts them.

    The venue counts a request when it arrives, somewhere between our send and its answer,
    and a busy network moves that instant. So a slot is held from the send until the answer
    and then for a whole window after the answer: the next request that takes the slot
    arrives at least one window after the one before it, whatever the delays.
    """

    def __init__(
        self,
        limit: int,
        window_ms: int,
        *,
        clock_ns: Callable[[], int] = _now_ns,
        sleep_ns: Callable[[int], Awaitable[None]] = _sleep_ns,
    ) -> None:
        self.limit, self.window_ns = limit, window_ms * 1_000_000
        self._clock, self._sleep = clock_ns, sleep_ns
        self._answered: deque[int] = deque()  # answer times within the last window, in order
        self._own: list[int] = []  # answer times of this process's requests (for the ledger)
        self._in_flight = 0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._answered and self._answered[0] + self.window_ns <= now:
                    self._answered.popleft()
                if self._in_flight + len(self._answered) < self.limit:
                    self._in_flight += 1
                    return
                if self._answered:
                    await self._sleep(self._answered[0] + self.window_ns - now)
                else:  # every slot is in flight: wait for an answer
                    self._changed.clear()
                    await self._changed.wait()

    def release(self) -> None:
        """The answer came (or the request failed): the slot's window starts now."""
        self._in_flight -= 1
        now = self._clock()
        self._answered.append(now)
        self._own.append(now)
        self._changed.set()

    def seed(self, ages_ns: list[int]) -> None:
        """Requests answered before this process began (another mmp process's, say), as
        how long ago each was answered: they hold their slots until their window ends."""
        now = self._clock()
        past = sorted(now - age for age in ages_ns if 0 <= age < self.window_ns)
        self._answered = deque(sorted([*past, *self._answered]))

    def counted(self) -> int:
        """Requests inside the window now, this process's and those seeded."""
        now = self._clock()
        return sum(1 for t in self._answered if t + self.window_ns > now)

    def spent(self) -> list[int]:
        """How long ago each of this process's requests still inside the window was
        answered (ns): what it adds to the ledger (the seeded ones are there already)."""
        now = self._clock()
        return [now - t for t in self._own if t + self.window_ns > now]


class RequestLimiter(Protocol):
    async def acquire(self) -> None: ...

    def release(self) -> None: ...


class Limits:
    """Every limit a request must pass, in order: the account's, then the venue-wide one."""

    def __init__(self, *limiters: RequestLimiter) -> None:
        self.limiters = limiters

    async def acquire(self) -> None:
        taken: list[RequestLimiter] = []
        try:
            for limiter in self.limiters:
                await limiter.acquire()
                taken.append(limiter)
        except BaseException:  # not sent after all (NotSent, cancelled): give back what it took
            for limiter in taken:
                limiter.release()
            raise

    def release(self) -> None:
        for limiter in self.limiters:
            limiter.release()


def account_limits(limiter: RequestLimiter | None, per_second: int, burst: int) -> RequestLimiter:
    """The limits a client was given (connect() adds the venue-wide window), or, for a
    client made on its own, just its account's token bucket."""
    return limiter if limiter is not None else Limiter(per_second, burst)
