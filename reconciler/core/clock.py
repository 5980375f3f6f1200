"""The clock mmp paces, waits and stamps by: the system's, unless something runs it on
another one (a test, on a virtual clock whose waits pass at once and move every reading of
it on by their length, so the simulators answering in process see the same time).

Every rate-limit wait, back-off, read-back deadline and request timestamp of the venue
layer and of apply reads `clock()`; on the system clock that is time.monotonic_ns,
time.time_ns and asyncio.sleep, as before. Nanoseconds, integers; no floats. The push
channels (a socket, so never in process) stamp what they hear by time.monotonic_ns, the
system clock's: a run with one open stays on the system clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int:
        """For deadlines, lifetimes and rate-limit windows."""
        ...

    def time_ns(self) -> int:
        """Since the epoch: what a venue's timestamps are compared with."""
        ...

    async def sleep_ns(self, ns: int) -> None:
        """Wait at least `ns` (nothing for 0 or less)."""
        ...


class SystemClock:
    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def time_ns(self) -> int:
        return time.time_ns()

    async def sleep_ns(self, ns: int) -> None:
        await asyncio.sleep(max(ns, 0) / 1_000_000_000)


SYSTEM = SystemClock()
_CURRENT: ContextVar[Clock] = ContextVar("mmp_clock", default=SYSTEM)


def clock() -> Clock:
    """The clock in force here: the system's unless `running_on` said otherwise."""
    return _CURRENT.get()


@contextmanager
def running_on(other: Clock) -> Iterator[Clock]:
    """Everything run inside (and every task it starts) reads `other`."""
    token = _CURRENT.set(other)
    try:
        yield other
    finally:
        _CURRENT.reset(token)
