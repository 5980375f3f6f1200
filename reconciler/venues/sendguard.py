"""What a write waits for on its way out, and the check it must pass after any such wait.

A write may wait after apply checked its scope: for its rate-limit slot (a venue's window,
paced in this process), or after the venue refused it for its rate limit and it is sent
again later (OKX's 50011, Bybit's 10006, any 429: reconciler.venues.http and the venue
clients wait those out through `rate_limit_wait`). Whatever the wait, the request's auth
flow calls `leaving` once its slot is taken, just before it is signed and sent: apply's
guard (reconciler.apply.writes) reads the scope again there when the wait made its check
stale, and keeps the request back (NotSent) when the scope froze or moved meanwhile. The
guard hears each rate-limit wait (`waiting`), so what apply says of the write is true:
refused and waiting to be sent again, not sent and waiting for the venue. A wait ends at
once, and the request is not sent (again), when apply is asked to stop: a wait for a slot
too (reconciler.venues.limiter).

Shared by every venue: nothing here knows one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from reconciler.venues.limiter import wait_unless_stopping


class Guard(Protocol):
    async def leaving(self) -> None:
        """The request is about to leave, its slot taken: raise NotSent to keep it back."""

    def waiting(self, wait_ms: int, why: str) -> None:
        """The venue refused the request for its rate limit: sent again in `wait_ms`."""


_GUARD: ContextVar[Guard | None] = ContextVar("mmp_send_guard", default=None)


@contextmanager
def guarded(guard: Guard) -> Iterator[None]:
    """Requests made inside (a write) pass `guard` as they leave and tell it their waits."""
    token = _GUARD.set(guard)
    try:
        yield
    finally:
        _GUARD.reset(token)


async def leaving() -> None:
    """Called by the auth flow once a request's slot is taken, before it is signed."""
    guard = _GUARD.get()
    if guard is None:
        return
    token = _GUARD.set(None)  # what the guard sends itself (its read) passes no guard
    try:
        await guard.leaving()
    finally:
        _GUARD.reset(token)


async def rate_limit_wait(wait_ms: int, why: str) -> None:
    """Wait `wait_ms` before a request refused for the rate limit is sent again; NotSent
    at once when apply is asked to stop meanwhile (the request is not sent again)."""
    guard = _GUARD.get()
    if guard is not None:
        guard.waiting(wait_ms, why)
    said = f"not sent again after the venue refused it ({why})"
    await wait_unless_stopping(wait_ms * 1_000_000, said)
