"""Whether Aevo's signature covers a GET's query string: the docs do not say.

The signed message is key, timestamp, method, path and body (seed-venues.md 3.4); for
`GET /mmp?asset=ETH` the path may be read with its query or without. The first try signs
it with the query: the stricter reading, under which the signature also binds what is
asked for (which asset), so a query changed on the way is refused. On a 401 the request is
signed once more without it. The reading that worked is kept per request (method and
path) for the venue endpoint, for every account of it and the rest of the run; what was
found is said with -v and journaled by apply (base.Learning). A second 401 is the venue's
answer: the key, the secret or the clock (the auth error says so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

LOG = logging.getLogger("mmp")
WITH, WITHOUT = "with its query string", "without its query string"
Attempt = Callable[[bool], Awaitable[httpx.Response]]
"""Send the request signed with (True) or without (False) the query; its answer."""


class SignedPaths:
    """Per venue endpoint: for each signed GET with a query, the reading the venue took."""

    def __init__(self) -> None:
        self._kept: dict[str, bool] = {}  # "GET /mmp" -> the query is signed
        self._finding: dict[str, asyncio.Lock] = {}
        self._learned: list[dict[str, str]] = []

    def kept(self, request: str) -> bool | None:
        """The reading kept for `request` ("GET /mmp"), None while none has worked."""
        return self._kept.get(request)

    async def send(self, request: str, host: str, attempt: Attempt) -> httpx.Response:
        """The answer to `request`, signed the way kept for it; until one is kept, one
        request at a time finds it (the others wait, so a wrong first reading costs one
        401, not one per asset). Once one is kept, the waiters send at once, side by side:
        the lock is for finding the reading, not for sending with it."""
        kept = self._kept.get(request)
        if kept is None:
            async with self._finding.setdefault(request, asyncio.Lock()):
                kept = self._kept.get(request)
                if kept is None:
                    return await self._find(request, host, attempt)
        return await attempt(kept)

    async def _find(self, request: str, host: str, attempt: Attempt) -> httpx.Response:
        """Try the stricter reading, then the other on a 401; keep the one that worked."""
        first = await attempt(True)
        if first.status_code != 401:
            if first.is_success:
                self._keep(request, host, True, "the first reading tried was taken")
            return first
        second = await attempt(False)
        if second.is_success:
            why = f"signed {WITH}, the venue answered 401; {WITHOUT}, it answered"
            self._keep(request, host, False, why)
        return first if second.status_code == 401 else second

    def learned(self) -> list[dict[str, str]]:
        return list(self._learned)

    def _keep(self, request: str, host: str, query: bool, why: str) -> None:
        self._kept[request] = query
        reading = WITH if query else WITHOUT
        LOG.info(
            "aevo %s: %s is signed over its path %s (%s); kept for this endpoint",
            host,
            request,
            reading,
            why,
        )
        self._learned.append(
            {"venue": "aevo", "endpoint": host, "request": request, "signed": reading, "why": why}
        )
