"""Aevo client: GET /mmp?asset= per asset, POST /mmp, POST /reset-mmp.

HMAC signing by default (the secret never leaves the process); `auth_mode="key"` sends the
AEVO-KEY and AEVO-SECRET headers instead, as Aevo also accepts. Aevo has no session: no
log-in, and nothing a resend could mend (a stale timestamp is UNAUTHORIZED like a bad key).
"""

from __future__ import annotations

from time import time_ns
from typing import Any, Literal

import httpx

from reconciler.core.aio import read_all
from reconciler.core.errors import VenueError, VenueRejected
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact
from reconciler.venues.aevo import wire
from reconciler.venues.aevo.capabilities import ASSETS, CAPABILITIES, CONNECTION
from reconciler.venues.auth import VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.errors import ErrorTable, code_of
from reconciler.venues.http import malformed_answer, parse_json, request
from reconciler.venues.limiter import RequestLimiter, account_limits

ERRORS = ErrorTable(
    auth=frozenset({"UNAUTHORIZED"}),
    rate_limited=frozenset({"RATE_LIMIT_EXCEEDED"}),
    unknown_outcome=frozenset({"INTERNAL_ERROR"}),
    hints={"RATE_LIMIT_EXCEEDED": "rate limit: lower the concurrency or wait"},
    auth_hint="check the API_KEY and API_SECRET environment variables",
)
AuthMode = Literal["hmac", "key"]


class AevoAuth(VenueAuth):
    """AEVO-KEY with AEVO-TIMESTAMP (ns) and AEVO-SIGNATURE, signed as the request leaves;
    or, in "key" mode, AEVO-KEY with AEVO-SECRET."""

    resends = 0  # no session to renew; a stale timestamp cannot be told from a bad key

    def __init__(
        self, credentials: Credentials, limits: RequestLimiter, mode: AuthMode, base: httpx.URL
    ) -> None:
        super().__init__(limits)
        self._key, self._secret = credentials["API_KEY"], credentials["API_SECRET"]
        self._mode = mode
        self._base = base.raw_path.rstrip(b"/")  # the signed path is the one after the base

    def sign(self, request: httpx.Request) -> httpx.Request:
        request.headers["AEVO-KEY"] = self._key
        if self._mode == "key":
            request.headers["AEVO-SECRET"] = self._secret
            return request
        timestamp = str(time_ns())
        path = wire.signed_path(request.url.raw_path, self._base)
        body = request.content.decode()  # the exact bytes sent
        request.headers["AEVO-TIMESTAMP"] = timestamp
        request.headers["AEVO-SIGNATURE"] = wire.signature(
            self._secret, self._key, timestamp, request.method, path, body
        )
        return request


class AevoClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
        *,
        auth_mode: AuthMode = "hmac",
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them; without, a bucket
        of its own (a client made alone). Nothing is shared between Aevo accounts."""
        self.account = account
        self._http = http
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = AevoAuth(credentials, own, auth_mode, http.base_url)

    @property
    def where(self) -> str:
        return f"aevo/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        names = sorted(only if only is not None else ASSETS | underlyings)
        answers = await read_all(self._call("GET", "/mmp", params={"asset": n}) for n in names)
        with malformed_answer(self.where, "GET /mmp"):
            scopes = [
                wire.live_scope(self.account, answer, asked=name)
                for name, answer in zip(names, answers, strict=True)
            ]
        return LiveAccount("aevo", self.account, tuple(s for s in scopes if s.present))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._call("POST", "/mmp", wire.set_body(key, config), where=str(key))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self._call("POST", "/mmp", wire.remove_body(key, before), where=str(key))

    async def reset(self, key: ScopeKey) -> None:
        await self._call("POST", "/reset-mmp", {"asset": key.underlying}, where=str(key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        where: str = "",
    ) -> Any:
        where = where or self.where
        body = None if payload is None else dumps_exact(payload).encode()  # sent and signed
        headers = {} if payload is None else {"Content-Type": "application/json"}
        message = self._http.build_request(
            method, path, params=params, content=body, headers=headers
        )
        response = await request(
            self._http, message, where, idempotent=method == "GET", auth=self._auth
        )
        data = parse_json(response, where)
        if response.status_code >= 400:
            raise _error(where, path, response, data)
        if method == "POST":
            with malformed_answer(where, f"POST {path}"):
                succeeded = wire.check_acknowledged(data)
            if not succeeded:
                raise VenueRejected(where, f"{path}: the venue answered success false")
        return data


def _error(where: str, path: str, response: httpx.Response, data: Any) -> VenueError:
    """Aevo's refusal, {"error": "CODE"}, as ours (ERRORS says which)."""
    code = code_of(data.get("error")) if isinstance(data, dict) else None
    code = code if code != "" else None
    said = response.reason_phrase if code is None else code
    return ERRORS.error(where, response.status_code, code, f"{path}: {said}")


_CONFORMS: type[VenueClient] = AevoClient  # mypy checks the Protocol here
