"""Binance eapi client: GET /eapi/v1/mmp per underlying, POST /eapi/v1/mmpSet, signed."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx

from reconciler.aio import read_all
from reconciler.errors import (
    VenueAuthError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.binance import wire
from reconciler.venues.binance.capabilities import CAPABILITIES, UNDERLYINGS
from reconciler.venues.http import malformed_answer, parse_json, send
from reconciler.venues.limiter import RequestLimiter, account_limits

STALE_RETRIES = 2
RECV_WINDOW_MS = 5000
AUTH_CODES = {-1002, -1021, -1022, -2014, -2015}
HINTS = {
    -1021: "check this machine's clock (NTP): the timestamp is outside recvWindow",
    -1022: "check the API_SECRET environment variable of this account",
    -2014: "check the API_KEY environment variable of this account",
    -2015: "the key needs options trading permission and this machine's IP allowed",
    -1002: "the account must be approved as an options market maker to use MMP",
}


Shared = dict[str, Any]  # what the accounts of one endpoint share


class BinanceClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        *,
        limiter: RequestLimiter | None = None,
        shared: Shared | None = None,  # nothing on this venue is the same for every account
    ) -> None:
        self.account = account
        self._key = credentials["API_KEY"]
        self._secret = credentials["API_SECRET"]
        self._http = http
        self._limiter = account_limits(
            limiter, CAPABILITIES.requests_per_second, CAPABILITIES.burst
        )

    @property
    def where(self) -> str:
        return f"binance/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        names = sorted(only if only is not None else UNDERLYINGS | underlyings)
        answers = await read_all(
            self._call("GET", "/eapi/v1/mmp", [("underlying", name)]) for name in names
        )
        now = _now_ms()
        with malformed_answer(self.where, "GET /eapi/v1/mmp"):
            scopes = [
                wire.live_scope(self.account, answer, now, asked=name)
                for name, answer in zip(names, answers, strict=True)
            ]
        scopes = [s for s in scopes if s.present]
        return LiveAccount("binance", self.account, tuple(scopes))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._write(key, "/eapi/v1/mmpSet", wire.set_params(key, config))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        raise VenueRejected(str(key), "Binance has no way to remove an MMP config")

    async def reset(self, key: ScopeKey) -> None:
        await self._write(key, "/eapi/v1/mmpReset", [("underlying", key.underlying)])

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _write(self, key: ScopeKey, path: str, params: list[tuple[str, str]]) -> None:
        """mmpSet and mmpReset answer the scope's config, as GET does."""
        answer = await self._call("POST", path, params, str(key))
        with malformed_answer(str(key), f"POST {path}"):
            wire.live_scope(self.account, answer, _now_ms(), asked=key.underlying)

    async def _call(
        self, method: str, path: str, params: list[tuple[str, str]], where: str = ""
    ) -> Any:
        where = where or self.where

        def build() -> httpx.Request:  # signed when it leaves: the timestamp never goes stale
            stamp = str(_now_ms())
            signed = [*params, ("recvWindow", str(RECV_WINDOW_MS)), ("timestamp", stamp)]
            text = urlencode(signed)
            text += "&signature=" + wire.sign(self._secret, text)
            headers = {"X-MBX-APIKEY": self._key}
            if method == "GET":
                return self._http.build_request("GET", f"{path}?{text}", headers=headers)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self._http.build_request("POST", path, content=text.encode(), headers=headers)

        for attempt in range(1, STALE_RETRIES + 2):
            response = await send(
                self._http, build, where, idempotent=method == "GET", limiter=self._limiter
            )
            if response.status_code == 503:
                raise VenueUnavailable(where, f"{path}: HTTP 503; the outcome is unknown")
            data = parse_json(response, where)
            failed = response.status_code >= 400 or (
                isinstance(data, dict) and "code" in data and "msg" in data and data["code"] != 200
            )
            if not failed:
                return data
            error = _error(where, path, response, data)
            # -1021: refused unread because it arrived outside recvWindow (a stall on the way
            # or a busy venue); nothing was done, so it is signed afresh and sent again
            if error.code != -1021 or attempt > STALE_RETRIES:
                raise error
        raise AssertionError("unreachable")


def _error(where: str, path: str, response: httpx.Response, data: Any) -> VenueError:
    body = data if isinstance(data, dict) else {"msg": data}
    code = _int_or_none(body.get("code"))  # anything else than a number names no code
    text = body.get("msg")
    message = f"{path}: {text if isinstance(text, str) else ''}"
    if response.status_code == 418:
        return VenueRateLimited(
            where,
            message,
            code=code,
            hint="this IP is banned for hammering the venue; stop and wait "
            f"{response.headers.get('Retry-After', '?')} s",
        )
    if response.status_code == 429 or code == -1008:
        return VenueRateLimited(where, message, code=code, hint="request weight limit reached")
    hint = HINTS.get(code, "") if isinstance(code, int) else ""
    if code in AUTH_CODES:
        return VenueAuthError(where, message, code=code, hint=hint)
    return VenueRejected(where, message, code=code, hint=hint)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_CONFORMS: type[VenueClient] = BinanceClient  # mypy checks the Protocol here
