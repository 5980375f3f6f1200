"""A venue's authentication as an httpx.Auth: signing, log-in and refresh in one flow.

Every request a venue client sends goes through its venue's auth flow, which
  1. takes a slot from the account's rate limits for each request that leaves (a log-in
     included), and lets go of it when the answer is in (a window counts from the answer);
  2. logs in first when the venue wants a session and there is none (or it is about to end);
  3. signs the request the moment it leaves, so no timestamp or nonce goes stale while the
     request waits for its turn; a write passes apply's guard first (sendguard: its scope
     checked again when a wait made the check stale);
  4. sends it once more when the venue refused it for a reason that cannot have applied it:
     a session the venue no longer takes (log in again), or a timestamp that arrived too late
     (sign afresh); at most `resends` times.
What a venue does differently is in its subclass: `sign`, and where it has sessions
`needs_login`, `login_request`, `take_login`, `forget`, and `refusal` for what it refuses.
Transport faults and 429s (a log-in's included: the flow hands its 429 back) are retried
outside the flow, by the one retry policy in reconciler.venues.http.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import asynccontextmanager

import httpx

from reconciler.core.clock import clock
from reconciler.venues.limiter import RequestLimiter, note_send, note_wait
from reconciler.venues.sendguard import leaving


class Refusal(enum.Enum):
    SESSION = "session"  # the venue does not take the session (expired, revoked): log in again
    STALE = "stale"  # the request arrived too late for its timestamp: sign it afresh


class VenueAuth(httpx.Auth):
    requires_response_body = True  # the flow reads the venue's refusals and log-in answers
    resends = 1

    def __init__(self, limits: RequestLimiter) -> None:
        self._limits = limits
        self._login_lock = asyncio.Lock()

    # ---- what a venue says --------------------------------------------------------------

    def sign(self, request: httpx.Request) -> httpx.Request:
        """The request as it leaves: signed now (return a new request when the signature
        goes into the URL or the body)."""
        return request

    def needs_login(self) -> bool:
        return False

    def login_request(self, request: httpx.Request) -> httpx.Request:
        """The log-in, to the host `request` goes to (a flow's requests carry whole URLs)."""
        raise NotImplementedError

    def take_login(self, response: httpx.Response) -> None:
        """Keep the session the log-in answer gives; raise the venue's error if it refused."""

    def forget(self) -> None:
        """The session is no good any more: the next request logs in first."""

    def refusal(self, response: httpx.Response) -> Refusal | None:
        """Whether the venue refused this request for a reason a resend can mend."""
        return None

    # ---- the flow -----------------------------------------------------------------------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("venues are spoken to asynchronously")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in range(self.resends + 1):
            async with self._login_lock:  # one log-in at a time; the others then have it
                if self.needs_login():
                    async with self._slot():  # under the lock: no guard, whose read may log in
                        answer = yield self.login_request(request)
                        await answer.aread()
                    if answer.status_code == 429:
                        return  # the one retry policy waits, then this flow starts again
                    self.take_login(answer)
            async with self._slot(guarded=True):
                response = yield self.sign(request)
                await response.aread()
            why = self.refusal(response)
            if why is None or attempt == self.resends:
                return
            if why is Refusal.SESSION:
                self.forget()

    @asynccontextmanager
    async def _slot(self, *, guarded: bool = False) -> AsyncIterator[None]:
        began = clock().monotonic_ns()
        await self._limits.acquire()
        note_wait(clock().monotonic_ns() - began)
        try:
            if guarded:  # a write's check, read again when a wait made it stale (may refuse)
                await leaving()
            note_send()  # may refuse to send (NotSent): the slot is given back all the same
            yield
        finally:
            self._limits.release()  # answered, failed or cancelled: a window counts from now
