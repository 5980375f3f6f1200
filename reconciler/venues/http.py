"""The one HTTP layer every venue client sends through.

It turns transport faults into VenueUnavailable (saying whether the request may have reached
the venue) and parses bodies exactly (no floats). Reads are retried with backoff and jitter;
writes are never resent here: an unknown write outcome is resolved by reading back.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx

from reconciler.errors import VenueUnavailable
from reconciler.units import loads_exact

READ_ATTEMPTS = 3
BACKOFF_MS = 200


async def send(
    http: httpx.AsyncClient, request: httpx.Request, where: str, *, idempotent: bool
) -> httpx.Response:
    attempts = READ_ATTEMPTS if idempotent else 1
    for attempt in range(1, attempts + 1):
        try:
            return await http.send(request)
        except httpx.HTTPError as exc:
            if attempt == attempts:
                raise _unavailable(where, request, exc, idempotent) from exc
        jitter_percent = random.randint(50, 150)
        await asyncio.sleep(BACKOFF_MS * 2 ** (attempt - 1) * jitter_percent / 100_000)
    raise AssertionError("unreachable")


def _unavailable(
    where: str, request: httpx.Request, exc: httpx.HTTPError, idempotent: bool
) -> VenueUnavailable:
    kind = type(exc).__name__
    sent = isinstance(exc, (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError))
    if idempotent:
        outcome = "nothing was written"
    elif sent:
        outcome = "the request may have reached the venue; its outcome is unknown"
    else:
        outcome = "the request did not reach the venue"
    return VenueUnavailable(
        where, f"{request.method} {request.url.path} failed ({kind}); {outcome}"
    )


def parse_json(response: httpx.Response, where: str) -> Any:
    try:
        return loads_exact(response.content)
    except ValueError as exc:
        raise VenueUnavailable(
            where,
            f"unparsable answer to {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}, {len(response.content)} bytes)",
        ) from exc
