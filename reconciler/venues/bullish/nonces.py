"""What the accounts of one Bullish endpoint share: the day's nonce bounds.

GET /v1/nonce answers the venue's day (the first and last microsecond of it), the same for
every account, so one endpoint reads it once a day and its accounts wait for that one read.
Each account's nonces (strictly increasing inside the bounds) are its own (BullishAuth).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from reconciler.core.units import now

Bounds = tuple[int, int]  # the day's lowest and highest nonce, microseconds since the epoch


class NonceDay:
    """The day's nonce bounds of one endpoint, read when a command first needs them and
    again once the day they cover is over; a read that failed is tried again by the next
    command. Made once per endpoint by the VenueSpec's `endpoint_state`."""

    def __init__(self) -> None:
        self._known: Bounds | None = None
        self._reading: asyncio.Future[Bounds] | None = None

    async def bounds(self, read: Callable[[], Awaitable[Bounds]]) -> Bounds:
        """Today's bounds: the ones known, the read under way, or a read started with `read`."""
        if self._known is not None and holds(self._known, now_us()):
            return self._known
        if self._reading is None or _over(self._reading):
            self._reading = asyncio.ensure_future(self._read(read))
        return await asyncio.shield(self._reading)  # one account cancelled: the others wait

    async def _read(self, read: Callable[[], Awaitable[Bounds]]) -> Bounds:
        self._known = await read()  # known the moment it is read: no second read starts
        return self._known

    def known(self) -> Bounds:
        """The bounds last read (a command reads them before it is signed)."""
        if self._known is None:
            raise RuntimeError("a Bullish command was signed before the day's nonces were read")
        return self._known


def holds(bounds: Bounds, nonce: int) -> bool:
    return bounds[0] <= nonce <= bounds[1]


def now_us() -> int:
    """Microseconds since the epoch: the unit of the venue's nonces (its example's too)."""
    return now("us")


def _over(reading: asyncio.Future[Bounds]) -> bool:
    """A read that ended: failed (its error taken, so asyncio has nothing to report) or read
    bounds that are not today's any more (else they would be known and today's)."""
    if not reading.done():
        return False
    if not reading.cancelled():
        reading.exception()
    return True
