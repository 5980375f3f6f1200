"""Aevo client: GET /mmp?asset= per asset, POST /mmp, POST /reset-mmp.

HMAC signing by default (the secret never leaves the process); `auth_mode="key"` sends the
AEVO-KEY and AEVO-SECRET headers instead, as Aevo also accepts.
"""

from __future__ import annotations

import time
from typing import Any

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
from reconciler.units import dumps_exact
from reconciler.venues.aevo import wire
from reconciler.venues.aevo.capabilities import ASSETS, CAPABILITIES
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.http import malformed_answer, parse_json, send
from reconciler.venues.limiter import RequestLimiter, account_limits

Shared = dict[str, Any]  # what the accounts of one endpoint share


class AevoClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        auth_mode: str = "hmac",
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
        self._auth_mode = auth_mode

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        names = sorted(only if only is not None else ASSETS | underlyings)
        answers = await read_all(self._call("GET", f"/mmp?asset={n}") for n in names)
        with malformed_answer(f"aevo/{self.account}", "GET /mmp"):
            scopes = [
                wire.live_scope(self.account, answer, asked=name)
                for name, answer in zip(names, answers, strict=True)
            ]
        scopes = [s for s in scopes if s.present]
        return LiveAccount("aevo", self.account, tuple(scopes))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._call("POST", "/mmp", wire.set_body(key, config), str(key))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self._call("POST", "/mmp", wire.set_body(key, before, interval_s=0), str(key))

    async def reset(self, key: ScopeKey) -> None:
        await self._call("POST", "/reset-mmp", {"asset": key.underlying}, str(key))

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, method: str, path: str, body: str) -> dict[str, str]:
        if self._auth_mode == "key":
            return {"AEVO-KEY": self._key, "AEVO-SECRET": self._secret}
        timestamp = str(time.time_ns())
        return {
            "AEVO-KEY": self._key,
            "AEVO-TIMESTAMP": timestamp,
            "AEVO-SIGNATURE": wire.signature(
                self._secret, self._key, timestamp, method, path, body
            ),
        }

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, where: str = ""
    ) -> Any:
        where = where or f"aevo/{self.account}"
        body = "" if payload is None else dumps_exact(payload)

        def build() -> httpx.Request:  # signed when it leaves: the timestamp never goes stale
            headers = self._headers(method, path, body)
            if payload is not None:
                headers["Content-Type"] = "application/json"
            return self._http.build_request(
                method, path, content=body.encode() or None, headers=headers
            )

        response = await send(
            self._http, build, where, idempotent=method == "GET", limiter=self._limiter
        )
        data = parse_json(response, where)
        if response.status_code >= 400:
            raise _error(where, path.split("?")[0], response, data)
        if method == "POST":
            with malformed_answer(where, f"POST {path}"):
                succeeded = wire.check_acknowledged(data)
            if not succeeded:
                raise VenueRejected(where, f"{path}: the venue answered success false")
        return data


def _error(where: str, path: str, response: httpx.Response, data: Any) -> VenueError:
    code = data.get("error", "") if isinstance(data, dict) else ""
    code = code if isinstance(code, str) else ""
    message = f"{path}: {code or response.reason_phrase}"
    status = response.status_code
    if status == 401:
        return VenueAuthError(
            where,
            message,
            code=code or status,
            hint="check the API_KEY and API_SECRET environment variables",
        )
    if status == 429:
        header = response.headers.get("X-RETRY-AFTER", "")
        wait_ns = int(header) if header.isdigit() else 0
        return VenueRateLimited(
            where, message, code=code, hint=f"retry after {wait_ns // 1_000_000} ms"
        )
    if status >= 500:
        return VenueUnavailable(where, f"{message} (HTTP {status})")
    return VenueRejected(where, message, code=code or status)


_CONFORMS: type[VenueClient] = AevoClient  # mypy checks the Protocol here
