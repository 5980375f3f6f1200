"""Bullish client: HMAC login for a JWT, signed asynchronous MMP commands, REST reads.

Commands are only acknowledged; `set_config` and `remove_config` return once acknowledged
and apply (executor.py) polls `read()` until the venue shows the result.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from reconciler import secrets
from reconciler.errors import (
    VenueAuthError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.units import dumps_exact
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.bullish import wire
from reconciler.venues.bullish.capabilities import CAPABILITIES
from reconciler.venues.http import malformed_answer, parse_json, send
from reconciler.venues.limiter import RequestLimiter, account_limits

RENEW_BEFORE_S = 3600  # log in again an hour before the JWT expires
AUTH_CODES = {6105, 8327}
NONCE_BOUNDS = "bullish.nonce_bounds"  # in the endpoint's Shared: the day's bounds, or their read


Shared = dict[str, Any]  # what the accounts of one endpoint share


class BullishClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        limiter: RequestLimiter | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.account = account
        self._public_key = credentials["PUBLIC_KEY"]
        self._secret = credentials["SECRET"]
        self._account_id = credentials["TRADING_ACCOUNT_ID"]
        self._http = http
        self._limiter = account_limits(
            limiter, CAPABILITIES.requests_per_second, CAPABILITIES.burst
        )
        self._jwt: str | None = None
        self._jwt_exp_s = 0
        self._last_nonce = 0
        self._shared: Shared = shared if shared is not None else {}
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"bullish/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        # one bulk read returns every underlying of the trading account
        query = urlencode({"tradingAccountId": self._account_id})
        data = await self._send("GET", f"{wire.MMP_PATH}?{query}")
        with malformed_answer(self.where, f"GET {wire.MMP_PATH}"):
            scopes = wire.live_scopes(self.account, self._account_id, data)
        return LiveAccount("bullish", self.account, tuple(scopes))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._command(wire.set_command(self._account_id, key, config), str(key))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self.reset(key)

    async def reset(self, key: ScopeKey) -> None:
        await self._command(wire.reset_command(self._account_id, key), str(key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _command(self, command: dict[str, Any], where: str) -> str:
        body = dumps_exact(command)  # compact: the exact bytes signed are the bytes sent
        bounds = await self._nonce_bounds()

        def signed() -> dict[str, str]:  # at send time: timestamp and nonce never go stale
            ts = str(time.time_ns() // 1_000_000)
            nonce = str(self._take_nonce(bounds))
            return {
                "BX-TIMESTAMP": ts,
                "BX-NONCE": nonce,
                "BX-SIGNATURE": wire.command_signature(
                    self._secret, ts, nonce, "POST", wire.MMP_PATH, body
                ),
                "Content-Type": "application/json",
            }

        answer = await self._send("POST", wire.MMP_PATH, body, signed, where=where)
        # an acknowledgement we cannot read may still stand for an accepted command
        with malformed_answer(where, f"POST {wire.MMP_PATH}"):
            return wire.request_id(answer)

    async def _nonce_bounds(self) -> tuple[int, int]:
        """Today's nonce bounds from GET /v1/nonce (microseconds). They are the venue's, the
        same for every account, so one request a day per endpoint: every account waits for
        the one under way (a failed one is tried again by the next command)."""
        now_us = time.time_ns() // 1000
        pending: asyncio.Future[tuple[int, int]] | None = self._shared.get(NONCE_BOUNDS)
        if pending is not None and pending.done():
            failed = pending.cancelled() or pending.exception() is not None
            if failed or not _within(now_us, pending.result()):
                pending = None  # failed, or another day
        if pending is None:
            pending = asyncio.ensure_future(self._fetch_nonce_bounds())
            self._shared[NONCE_BOUNDS] = pending
        return await asyncio.shield(pending)  # one account cancelled: the others still wait

    async def _fetch_nonce_bounds(self) -> tuple[int, int]:
        answer = await self._send("GET", wire.NONCE_PATH, auth=False)
        with malformed_answer(self.where, f"GET {wire.NONCE_PATH}"):
            return wire.nonce_bounds(answer)

    def _take_nonce(self, bounds: tuple[int, int]) -> int:
        """Increasing, and inside today's bounds."""
        low, high = bounds
        candidate = min(max(time.time_ns() // 1000, self._last_nonce + 1, low), high)
        if candidate <= self._last_nonce:
            raise VenueRejected(self.where, "no nonce left inside today's bounds")
        self._last_nonce = candidate
        return candidate

    async def _token(self) -> str:
        async with self._lock:
            if self._jwt is None or time.time() >= self._jwt_exp_s - RENEW_BEFORE_S:

                def signed() -> dict[str, str]:  # at send time
                    ts = str(time.time_ns() // 1_000_000)
                    nonce = str(int(ts) // 1000)
                    return {
                        "BX-PUBLIC-KEY": self._public_key,
                        "BX-TIMESTAMP": ts,
                        "BX-NONCE": nonce,
                        "BX-SIGNATURE": wire.login_signature(self._secret, ts, nonce),
                    }

                data = await self._send("GET", wire.LOGIN_PATH, headers=signed, auth=False)
                with malformed_answer(self.where, f"GET {wire.LOGIN_PATH}"):
                    self._jwt = wire.login_token(data)
                secrets.register(self._jwt)  # a session key: never printed, like the secret
                self._jwt_exp_s = _jwt_expiry(self._jwt)
            return self._jwt

    async def _send(
        self,
        method: str,
        path: str,
        body: str = "",
        headers: Callable[[], dict[str, str]] | None = None,
        *,
        auth: bool = True,
        where: str = "",
    ) -> Any:
        where = where or self.where
        for attempt in (1, 2):
            bearer = {"Authorization": f"Bearer {await self._token()}"} if auth else {}

            def build(bearer: dict[str, str] = bearer) -> httpx.Request:
                all_headers = {**(headers() if headers else {}), **bearer}
                return self._http.build_request(
                    method, path, content=body.encode() or None, headers=all_headers
                )

            response = await send(
                self._http, build, where, idempotent=method == "GET", limiter=self._limiter
            )
            data = parse_json(response, where)
            if response.status_code < 400:
                return data
            error = _error(where, path.split("?")[0], response.status_code, data)
            # a refused JWT (expired or revoked early): log in again once; the request was
            # refused, so sending it again cannot apply it twice
            if not (
                auth
                and attempt == 1
                and isinstance(error, VenueAuthError)
                and isinstance(data, dict)
                and "JWT" in str(data.get("message", ""))
            ):
                raise error
            self._jwt = None
        raise AssertionError("unreachable")


def _within(now_us: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= now_us <= bounds[1]


def _jwt_expiry(token: str) -> int:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return int(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return int(time.time()) + 3600  # opaque token: renew within the hour


def _error(where: str, path: str, status: int, data: Any) -> VenueError:
    body = data if isinstance(data, dict) else {}
    code = body.get("errorCode")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    texts = [body.get("errorCodeName"), body.get("message")]
    message = " ".join([f"{path}:", *(t for t in texts if isinstance(t, str) and t)])
    if status == 429 or code in (96000, 96001):
        return VenueRateLimited(where, message, code=code)
    if status == 401 or code in AUTH_CODES:
        return VenueAuthError(
            where, message, code=code, hint="check the PUBLIC_KEY and SECRET environment variables"
        )
    if status >= 500:
        return VenueUnavailable(where, f"{message} (HTTP {status})")
    return VenueRejected(where, message, code=code)


_CONFORMS: type[VenueClient] = BullishClient  # mypy checks the Protocol here
