"""Fault injection in front of any simulator: the faults real venues produce.

    transport = httpx.MockTransport(FaultInjector(sim, is_write, fault="timeout-after-write"))

Faults hit the first `times` matching requests (writes, or every request for a 429 storm):
  500-on-write           answer 500 with an HTML body; the write does not reach the venue
  timeout-after-write    the venue applies the write, then the answer is lost (ReadTimeout)
  connection-reset       the connection drops before the write reaches the venue
  429-storm              every request is answered 429 (Retry-After: 0) `times` times first
  malformed-json         the venue applies the write, then answers 200 with broken JSON
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

Handler = Callable[[httpx.Request], httpx.Response]
FAULTS = ("500-on-write", "timeout-after-write", "connection-reset", "429-storm", "malformed-json")


class FaultInjector:
    def __init__(
        self, app: Handler, is_write: Callable[[httpx.Request], bool], fault: str, times: int = 1
    ) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        self.app, self.is_write, self.fault, self.left = app, is_write, fault, times
        self.injected = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        hit = self.left > 0 and (self.fault == "429-storm" or self.is_write(request))
        if not hit:
            return self.app(request)
        self.left -= 1
        self.injected += 1
        if self.fault == "500-on-write":
            return httpx.Response(500, content=b"<html>Internal Server Error</html>")
        if self.fault == "connection-reset":
            raise httpx.ConnectError("connection reset by peer", request=request)
        if self.fault == "429-storm":
            return httpx.Response(
                429, headers={"Retry-After": "0"}, content=b'{"error":"RATE_LIMIT_EXCEEDED"}'
            )
        self.app(request)  # the venue applies it...
        if self.fault == "timeout-after-write":
            raise httpx.ReadTimeout("answer lost", request=request)  # ...and the answer is lost
        return httpx.Response(200, content=b'{"result": [tru')  # ...and answers garbage
