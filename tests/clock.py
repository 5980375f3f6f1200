"""A virtual clock for runs in process (reconciler.core.clock): the system's clocks plus every
wait so far. A wait (a rate-limit slot, a back-off, a read-back's next poll) passes at once,
after every other ready task has had its turn, and moves the clock on by its whole length,
for apply, the venue clients and every simulator answering in process alike: each sees the
time pass that it would have seen waiting, so a simulator counts its rate limits over the
same time the client paced by, and stays as strict as the venue.

Waits that overlap each move it on by their whole length, so more time passes than would
have (as on a busy machine that oversleeps): never less than any waiter asked for.

Only for a run whose every party is in this process: a real process or a simulator served
on a socket keeps the system's time (each thread starts on the system clock), and a wait
for one of them would pass before it did anything.
"""

from __future__ import annotations

import asyncio
import time


class VirtualClock:
    def __init__(self) -> None:
        self.waited_ns = 0  # every wait so far, added to both clocks

    def monotonic_ns(self) -> int:
        return time.monotonic_ns() + self.waited_ns

    def time_ns(self) -> int:
        return time.time_ns() + self.waited_ns

    async def sleep_ns(self, ns: int) -> None:
        self.waited_ns += max(ns, 0)
        await asyncio.sleep(0)  # every other ready task runs first, as during a real wait
