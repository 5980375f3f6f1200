"""Deribit client: JSON-RPC 2.0 over HTTP POST, token from public/auth (client_credentials)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import httpx

from reconciler import secrets
from reconciler.aio import read_all
from reconciler.errors import VenueAuthError, VenueError, VenueRateLimited, VenueRejected
from reconciler.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.units import dumps_exact
from reconciler.venues import fields
from reconciler.venues.base import Capabilities, Credentials, Shared, VenueClient
from reconciler.venues.deribit import wire
from reconciler.venues.deribit.capabilities import CAPABILITIES
from reconciler.venues.http import malformed_answer, parse_json, send
from reconciler.venues.limiter import RequestLimiter, account_limits

AUTH_ERRORS = {10000, 13004, 13009, 13021, 13403, 13010, 10001}
TOKEN_ERRORS = {13009, 13010}  # the token expired or was revoked: log in again once
HINTS = {
    13040: "MMP is not enabled for this account; ask Deribit support to enable it",
    13004: "check the CLIENT_ID and CLIENT_SECRET environment variables of this account",
    13021: "the API key needs the trade:read_write scope",
    10028: "rate limit: lower the concurrency or wait",
}
REFRESH_MARGIN_S = 60


class DeribitClient:
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
        self._credentials = credentials
        self._http = http
        self._limiter = account_limits(
            limiter, CAPABILITIES.requests_per_second, CAPABILITIES.burst
        )
        self._token: str | None = None
        self._token_expiry_ms = 0
        self._ids = itertools.count(1)
        self._auth_lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"deribit/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        # one bulk read returns every scope; the declared underlyings add nothing
        configs, status = await read_all(
            [
                self._rpc("private/get_mmp_config", {}, write=False),
                self._rpc("private/get_mmp_status", {}, write=False),
            ]
        )
        with malformed_answer(self.where, "POST /api/v2/private/get_mmp_status"):
            freezes = wire.freezes(self.account, status)
        with malformed_answer(self.where, "POST /api/v2/private/get_mmp_config"):
            scopes = wire.live_scopes(self.account, configs, freezes)
        return LiveAccount("deribit", self.account, tuple(scopes))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._set(key, wire.set_params(key, config))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self._set(key, wire.remove_params(key, before))

    async def reset(self, key: ScopeKey) -> None:
        params: dict[str, Any] = {"index_name": key.underlying}
        if key.group is not None:
            params["mmp_group"] = key.group
        result = await self._rpc("private/reset_mmp", params, where=str(key))
        with malformed_answer(str(key), "POST /api/v2/private/reset_mmp"):
            wire.check_reset_answer(result)

    async def _set(self, key: ScopeKey, params: dict[str, Any]) -> None:
        result = await self._rpc("private/set_mmp_config", params, where=str(key))
        with malformed_answer(str(key), "POST /api/v2/private/set_mmp_config"):
            wire.check_set_answer(key, result)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _rpc(
        self, method: str, params: dict[str, Any], *, write: bool = True, where: str = ""
    ) -> Any:
        where = where or self.where
        for attempt in (1, 2):
            token = await self._access_token()
            try:
                return await self._call(method, params, token, write=write, where=where)
            except VenueAuthError as exc:
                if attempt == 2 or exc.code not in TOKEN_ERRORS:
                    raise
                self._token = None  # expired or revoked: the request was refused, so resend
        raise AssertionError("unreachable")

    async def _access_token(self) -> str:
        async with self._auth_lock:
            if self._token is None or _monotonic_ms() >= self._token_expiry_ms:
                result = await self._call(
                    "public/auth",
                    {
                        "grant_type": "client_credentials",
                        "client_id": self._credentials["CLIENT_ID"],
                        "client_secret": self._credentials["CLIENT_SECRET"],
                    },
                    None,
                    write=False,
                    where=self.where,
                )
                with malformed_answer(self.where, "POST /api/v2/public/auth"):
                    answer = fields.obj(result, "result")
                    token = fields.text(answer, "access_token")
                    lifetime_s = max(fields.integer(answer, "expires_in") - REFRESH_MARGIN_S, 0)
                secrets.register(token)  # a session key: never printed, like the credentials
                refresh = answer.get("refresh_token")
                if isinstance(refresh, str):
                    secrets.register(refresh)
                self._token = token
                self._token_expiry_ms = _monotonic_ms() + lifetime_s * 1000
            return self._token

    async def _call(
        self, method: str, params: dict[str, Any], token: str | None, *, write: bool, where: str
    ) -> Any:
        body = dumps_exact(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        )
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = self._http.build_request(
            "POST", f"/api/v2/{method}", content=body.encode(), headers=headers
        )
        response = await send(
            self._http, request, where, idempotent=not write, limiter=self._limiter
        )
        data = parse_json(response, where)
        with malformed_answer(where, f"POST /api/v2/{method}"):
            envelope = fields.obj(data)
            if "error" in envelope:
                raise _error(where, method, fields.obj(envelope["error"], "error"))
            return fields.present(envelope, "result")


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def _error(where: str, method: str, error: dict[str, Any]) -> VenueError:
    code = error.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    message = _text(error.get("message"))
    data = error.get("data")
    if isinstance(data, dict) and _text(data.get("reason")):
        param = _text(data.get("param"))
        message += f" ({data['reason']}{': ' if param else ''}{param})"
    hint = HINTS.get(code, "") if isinstance(code, int) else ""
    text = f"{method}: {message}"
    if code in AUTH_ERRORS:
        return VenueAuthError(where, text, code=code, hint=hint)
    if code == 10028:
        return VenueRateLimited(where, text, code=code, hint=hint)
    return VenueRejected(where, text, code=code, hint=hint)


def _text(value: Any) -> str:
    """The venue's own words, when they are words."""
    return value if isinstance(value, str) else ""


_CONFORMS: type[VenueClient] = DeribitClient  # mypy checks the Protocol here
