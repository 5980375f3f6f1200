"""OKX client: GET /api/v5/account/mmp-config (every family at once), POST the same path
(set, and removal by timeInterval "0"), POST /api/v5/account/mmp-reset (unfreeze); each
signed (OKX v5 HMAC) the moment it leaves.

OKX counts its limits per user ID and per endpoint: set 2 requests per 10 s, read and reset
5 per 2 s each. Each account keeps a window per endpoint, so no request of this process is
refused for them; a set refused all the same (another process, or tool, set MMP on the
account within 10 s) is reported rate-limited, with what to do.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from reconciler.core.errors import VenueError, VenueRejected
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact, now
from reconciler.venues import answers
from reconciler.venues.auth import VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.errors import ErrorTable, code_of, words
from reconciler.venues.http import malformed_answer, parse_json, rate_limit_wait_ms, request
from reconciler.venues.limiter import Limits, RequestLimiter, WindowLimiter, account_limits
from reconciler.venues.okx import wire
from reconciler.venues.okx.capabilities import (
    CAPABILITIES,
    CONNECTION,
    READ_LIMIT,
    READ_WINDOW_MS,
    SET_LIMIT,
    SET_WINDOW_MS,
)
from reconciler.venues.sendguard import rate_limit_wait

RATE_LIMITED = "50011"
RATE_LIMIT_RESENDS = 2
LOG = logging.getLogger("mmp")
NOT_ENABLED = "MMP is not enabled for this account (options, Portfolio Margin): ask OKX"
ERRORS = ErrorTable(
    auth=frozenset(
        {"50035", "50101", "50102", "50103", "50104", "50105", "50106", "50107", "50111"}
        | {"50112", "50113", "50120", "59509"}
    ),
    rate_limited=frozenset({RATE_LIMITED}),
    hints={
        RATE_LIMITED: (
            "OKX counts each endpoint per user (a set 2 per 10 s, a read or a reset 5 per "
            "2 s): another process or tool spent this account's allowance; run again in 10 s"
        ),
        "50101": "the key is for the other environment: demo keys go with environment: testnet",
        "50102": "check this machine's clock (NTP): OKX refuses a timestamp 30 s off",
        "50105": "check the PASSPHRASE environment variable of this account",
        "50111": "check the API_KEY environment variable of this account",
        "50113": "check the API_SECRET environment variable of this account",
        "50035": "this endpoint needs a key bound to this machine's IP",
        "50120": "the key needs the Trade permission for MMP writes (Read for plan)",
        "59509": "the account may not reset MMP: ask OKX for the MMP privilege",
        "51035": NOT_ENABLED,
        "51036": "MMP is only for options of Portfolio Margin accounts",
        "51042": "a Portfolio Margin account uses MMP in cross margin only",
    },
    auth_hint="check the API_KEY, API_SECRET and PASSPHRASE environment variables",
)


class OkxAuth(VenueAuth):
    """OK-ACCESS-KEY, -PASSPHRASE, -TIMESTAMP and -SIGN, signed as the request leaves over
    the path with its query and the exact body. No session, and nothing a resend mends: a
    stale timestamp (50102) is this machine's clock."""

    resends = 0

    def __init__(self, credentials: Credentials, limits: RequestLimiter, base: httpx.URL) -> None:
        super().__init__(limits)
        self._key, self._secret = credentials["API_KEY"], credentials["API_SECRET"]
        self._passphrase = credentials["PASSPHRASE"]
        self._base = base.raw_path.rstrip(b"/")  # the signed path is the one after the base

    def sign(self, request: httpx.Request) -> httpx.Request:
        stamp = wire.timestamp(now("ms"))
        path = request.url.raw_path
        if self._base and path.startswith(self._base + b"/"):
            path = path[len(self._base) :]
        body = request.content.decode()  # the exact bytes sent
        request.headers["OK-ACCESS-KEY"] = self._key
        request.headers["OK-ACCESS-PASSPHRASE"] = self._passphrase
        request.headers["OK-ACCESS-TIMESTAMP"] = stamp
        request.headers["OK-ACCESS-SIGN"] = wire.signature(
            self._secret, stamp, request.method, path.decode("ascii"), body
        )
        return request


class OkxClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
        shared: None = None,
    ) -> None:
        """`limits`: the account's limits as connect() makes them; without, its own. Each
        endpoint's window is added here: OKX counts per user ID and endpoint."""
        self.account = account
        self._http = http
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        # kept by name: tests/test_okx.py checks a set waits for its window
        self.set_window = WindowLimiter(SET_LIMIT, SET_WINDOW_MS)
        read_window = WindowLimiter(READ_LIMIT, READ_WINDOW_MS)
        reset_window = WindowLimiter(READ_LIMIT, READ_WINDOW_MS)
        base = http.base_url
        self._read = OkxAuth(credentials, Limits(own, read_window), base)
        self._set = OkxAuth(credentials, Limits(own, self.set_window), base)
        self._reset = OkxAuth(credentials, Limits(own, reset_window), base)

    @property
    def where(self) -> str:
        return f"okx/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        """Every family at once (a read-back of one scope too: one request either way)."""
        answer = await self._call("GET", wire.MMP_PATH, None, self._read, self.where)
        at = now("ms")
        with malformed_answer(self.where, f"GET {wire.MMP_PATH}"):
            scopes = [wire.live_scope(self.account, item, at) for item in wire.data(answer)]
            if len({s.key for s in scopes}) != len(scopes):
                raise answers.Malformed("data names a family twice")
        return LiveAccount("okx", self.account, tuple(s for s in scopes if s.present))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._write_config(key, wire.set_body(key, config))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self._write_config(key, wire.remove_body(key, before))

    async def reset(self, key: ScopeKey) -> None:
        where = str(key)
        answer = await self._call("POST", wire.RESET_PATH, wire.reset_body(key), self._reset, where)
        with malformed_answer(where, f"POST {wire.RESET_PATH}"):
            done = wire.reset_result(answer)
        if not done:
            raise VenueRejected(where, f"{wire.RESET_PATH}: the venue answered result false")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _write_config(self, key: ScopeKey, body: dict[str, str]) -> None:
        where = str(key)
        answer = await self._call("POST", wire.MMP_PATH, body, self._set, where)
        with malformed_answer(where, f"POST {wire.MMP_PATH}"):
            wire.echoed(answer, key.underlying)

    async def _call(
        self, method: str, path: str, payload: dict[str, str] | None, auth: OkxAuth, where: str
    ) -> Any:
        """The answer's envelope once its code is "0"; else the venue's refusal as ours. A
        50011 (at 200 or 429) was not processed: the endpoint's allowance was spent by
        another client of the same user (a plan just before, another process), so it is
        sent again once a whole window has passed, at most RATE_LIMIT_RESENDS times: here
        only, not also by the shared policy's 429 resends (a write sent again passes apply's
        check again first: reconciler.venues.sendguard). Another 429 is the shared policy's."""
        body = None if payload is None else dumps_exact(payload).encode()  # sent and signed
        headers = {"Content-Type": "application/json"}  # on every private request (docs 1.5)
        window_ms = SET_WINDOW_MS if auth is self._set else READ_WINDOW_MS
        for attempt in range(RATE_LIMIT_RESENDS + 1):
            message = self._http.build_request(method, path, content=body, headers=headers)
            response = await request(
                self._http,
                message,
                where,
                idempotent=method == "GET",
                auth=auth,
                rate_limited=_resent_here,
            )
            if _code(response) != RATE_LIMITED or attempt == RATE_LIMIT_RESENDS:
                break
            LOG.info("%s: %s %s: 50011, sent again in %d ms", where, method, path, window_ms)
            await rate_limit_wait(window_ms, f"OKX {RATE_LIMITED}")
        if response.status_code >= 400:
            raise _error(where, path, response)
        data = parse_json(response, where)
        if not isinstance(data, dict) or data.get("code") != "0":
            raise _error(where, path, response)
        return data


def _resent_here(response: httpx.Response) -> int | None:
    """The shared policy's wait for a 429 that is no 50011 (a gateway's, say); a 50011, at
    200 or 429, is sent again by _call alone (a whole window later)."""
    return None if _code(response) == RATE_LIMITED else rate_limit_wait_ms(response)


def _code(response: httpx.Response) -> object:
    """The code of OKX's envelope, where the answer is one (None elsewhere)."""
    try:
        data = parse_json(response, "")
    except VenueError:
        return None
    return data.get("code") if isinstance(data, dict) else None


def _error(where: str, path: str, response: httpx.Response) -> VenueError:
    """OKX's refusal, {"code": "<string>", "msg": "...", "data": []}, at whatever status:
    ERRORS says what its code is. A 200 that is no such envelope is unreadable."""
    code: Any = None
    said = ""
    try:
        data = parse_json(response, where)
    except VenueError:
        if response.status_code < 400:
            raise
        data = None
    if isinstance(data, dict):
        code, said = code_of(data.get("code")), words(data.get("msg"))
    digits = isinstance(code, str) and answers.DIGITS.fullmatch(code) is not None
    if response.status_code < 400 and (not digits or code == "0"):
        with malformed_answer(where, f"{response.request.method} {path}"):
            raise answers.Malformed("code is not a string of digits")
    message = f"{path}: {said or response.reason_phrase or 'no reason given'}"
    return ERRORS.error(where, response.status_code, code or None, message)


_CONFORMS: type[VenueClient] = OkxClient  # mypy checks the Protocol here
