"""The one HTTP layer every venue client sends through, with the one retry policy.

It turns transport faults into VenueUnavailable (saying whether the request may have reached
the venue) and parses bodies exactly (no floats). The policy, the same for every venue:
- a transport fault: a read is sent again, up to READ_ATTEMPTS times, backing off with
  jitter; a write never is (its outcome is unknown: apply resolves it by reading back);
- a 429: the venue did not process the request, so any request is sent again after the
  wait the venue asks for (Retry-After in seconds, Aevo's X-RETRY-AFTER in nanoseconds), at
  most RATE_LIMIT_RETRIES times and never longer than MAX_WAIT_MS; a 418 (banned) never is.
  A venue that refuses for its rate limit otherwise (Bybit: 10006 at HTTP 200, the wait in
  a header of its own) says so with `rate_limited`, and the same policy waits it out. A
  write sent again after such a wait passes apply's check again first (sendguard), and the
  wait ends at once when apply is asked to stop.
Written here rather than with tenacity or stamina: the wait comes from the venue's answer,
in the venue's unit, and whether to retry at all from what the request is (read or write);
a library would take as many lines of callbacks as the loop below, and one more dependency.
Signing, log-in and the venue's own resends (a refused session, a stale timestamp) are the
venue's httpx.Auth (reconciler.venues.auth), which also takes each request's rate-limit slot.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from reconciler.core.clock import clock
from reconciler.core.errors import VenueUnavailable
from reconciler.core.units import convert_time, loads_exact
from reconciler.venues.answers import Malformed
from reconciler.venues.limiter import sends_timed, waits_timed
from reconciler.venues.sendguard import rate_limit_wait

READ_ATTEMPTS = 3
BACKOFF_MS = 200
RATE_LIMIT_RETRIES = 5
MAX_WAIT_MS = 10_000
ANSWER_DEADLINE_S = 20  # a whole answer, however slowly it trickles in
LOG = logging.getLogger("mmp")
RateLimited = Callable[[httpx.Response], int | None]  # an answer -> the wait it asks for, ms
MALFORMED = (KeyError, TypeError, ValueError, ArithmeticError, AttributeError, IndexError)
"""What reading a malformed answer raises; ArithmeticError covers decimal.InvalidOperation."""


async def request(
    http: httpx.AsyncClient,
    message: httpx.Request,
    where: str,
    *,
    idempotent: bool,
    auth: httpx.Auth,
    rate_limited: RateLimited | None = None,
) -> httpx.Response:
    """Send `message` through the venue's auth (which signs it when it leaves), under the
    retry policy above; the answer, whatever its status (the venue's client reads it).
    `rate_limited`: how long an answer asks to wait before the request is sent again (None:
    it is no rate-limit refusal); by default rate_limit_wait_ms, a 429's."""
    waited_for = rate_limited or rate_limit_wait_ms
    faults = waits = 0
    while True:
        started = clock().monotonic_ns()
        try:
            with sends_timed() as sends, waits_timed() as slot_waits:
                response = await _whole_answer(http, message, auth)
        except httpx.HTTPError as exc:
            failed = _failed(exc, message)
            LOG.info("%s: %s %s failed: %s", where, failed.method, failed.url.path, exc)
            # a log-in the auth flow sent first failed: the write itself never left
            reached = (failed.method, failed.url.path) == (message.method, message.url.path)
            faults += 1
            if (not idempotent and reached) or faults >= READ_ATTEMPTS:
                raise _unavailable(where, failed, exc, idempotent, reached) from exc
            jitter_percent = random.randint(50, 150)
            await clock().sleep_ns(BACKOFF_MS * 2 ** (faults - 1) * jitter_percent * 10_000)
            continue
        _log_answer(where, message, response, started, sends, sum(slot_waits))
        wait_ms = waited_for(response)
        if wait_ms is None or waits >= RATE_LIMIT_RETRIES:
            return response
        waits += 1
        wait_ms = min(max(wait_ms, 1), MAX_WAIT_MS)
        LOG.info("%s: rate limited: %s sent again in %d ms", where, message.url.path, wait_ms)
        await rate_limit_wait(wait_ms, f"HTTP {response.status_code}")


def _log_answer(
    where: str,
    message: httpx.Request,
    response: httpx.Response,
    started: int,
    sends: list[int],
    waited_ns: int,
) -> None:
    """-v: the answer and its round trip, from the request's (last) send; its wait for its
    rate-limit slot (a log-in's included), said apart."""
    took_ms = convert_time(clock().monotonic_ns() - max(sends, default=started), "ns", "ms")
    waited_ms = convert_time(waited_ns, "ns", "ms")
    slot = f" (after {waited_ms} ms waiting for its rate-limit slot)" if waited_ms else ""
    path, status = message.url.path, response.status_code
    LOG.info("%s: %s %s -> %d in %d ms%s", where, message.method, path, status, took_ms, slot)


def rate_limit_wait_ms(response: httpx.Response) -> int | None:
    """How long a 429 asks us to wait (request() caps it); None when it is not a 429."""
    if response.status_code != 429:
        return None
    nanos = response.headers.get("X-RETRY-AFTER", "")
    seconds = response.headers.get("Retry-After", "")
    if nanos.isdigit():
        wait = convert_time(int(nanos), "ns", "ms")
    elif seconds.isdigit():
        wait = convert_time(int(seconds), "s", "ms")
    else:
        wait = BACKOFF_MS
    return wait


async def _whole_answer(
    http: httpx.AsyncClient, request: httpx.Request, auth: httpx.Auth | None = None
) -> httpx.Response:
    """The answer, whole, within ANSWER_DEADLINE_S: httpx's timeouts bound each read of the
    socket, so an answer trickling in a byte at a time would otherwise never time out."""
    try:
        async with asyncio.timeout(ANSWER_DEADLINE_S):
            if auth is None:
                return await http.send(request)
            return await http.send(request, auth=auth)
    except TimeoutError:
        raise httpx.ReadTimeout(
            f"no whole answer within {ANSWER_DEADLINE_S} s", request=request
        ) from None


def _failed(exc: httpx.HTTPError, message: httpx.Request) -> httpx.Request:
    """The request that failed: `message`, or one its auth flow sent before it (a log-in)."""
    try:
        return exc.request
    except RuntimeError:  # httpx raised before the request was attached
        return message


def _unavailable(
    where: str, request: httpx.Request, exc: httpx.HTTPError, idempotent: bool, reached: bool
) -> VenueUnavailable:
    """`reached`: the failed request is the one asked for, not a log-in sent before it."""
    kind = type(exc).__name__
    sent = isinstance(exc, (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError))
    if idempotent or not reached:
        outcome = "nothing was written"
    elif sent:
        outcome = "the request may have reached the venue; its outcome is unknown"
    else:
        outcome = "the request did not reach the venue"
    error = VenueUnavailable(
        where,
        f"{request.method} {request.url.path} to {request.url.host} failed ({kind}: "
        f"{_said(exc)}); {outcome}",
    )
    error.maybe_applied = reached and (sent or isinstance(exc, httpx.TimeoutException))
    error.answered = False
    return error


def _said(exc: httpx.HTTPError) -> str:
    """What the network said, in words (connection refused, name not known, timed out): the
    operating system's own reason where the chain of causes holds one."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain, never a cycle
        if seen is None:
            break
        if isinstance(seen, OSError) and (seen.errno or seen.strerror):
            return os.strerror(seen.errno) if seen.errno else str(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip() or {
        "ConnectTimeout": "no connection within the timeout",
        "ReadTimeout": "no answer within the timeout",
        "WriteTimeout": "could not send within the timeout",
        "PoolTimeout": "no free connection within the timeout",
    }.get(type(exc).__name__, "no detail")
    return text.split("\n")[0][:160]


def parse_json(response: httpx.Response, where: str) -> Any:
    try:
        return loads_exact(response.content)
    except ValueError as exc:
        raise VenueUnavailable(
            where,
            f"unparsable answer to {response.request.method} {response.request.url.path} "
            f"(HTTP {response.status_code}, {len(response.content)} bytes)",
        ) from exc


@contextmanager
def malformed_answer(where: str, request: str) -> Iterator[None]:
    """Wrap the reading of an answer (`request`: "GET /eapi/v1/mmp", no query string): a
    missing field or one of the wrong type ends as VenueUnavailable naming `where`, the
    request and the field, never as a KeyError or TypeError that would read as a bug in mmp.
    The message never holds a value of the answer. VenueUnavailable leaves `maybe_applied`
    set: a write whose acknowledgement cannot be read may have been applied."""
    try:
        yield
    except MALFORMED as exc:
        raise VenueUnavailable(where, f"malformed answer to {request}: {_wrong(exc)}") from exc


def _wrong(exc: Exception) -> str:
    if isinstance(exc, Malformed):
        return str(exc)
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str):
        return f"{exc.args[0][:64]} is missing"
    return f"a field is missing or of the wrong type ({type(exc).__name__})"
