"""Aevo client: GET /assets once per endpoint, GET /mmp?asset= per listed asset, POST /mmp,
POST /reset-mmp.

HMAC signing by default (the secret never leaves the process); `auth_mode="key"` sends the
AEVO-KEY and AEVO-SECRET headers instead, as Aevo also accepts. Aevo has no session: no
log-in, and nothing a resend could mend (a stale timestamp is UNAUTHORIZED like a bad key),
but for the one point the docs leave open: whether a GET's query string is signed
(reconciler.venues.aevo.signing).
"""

from __future__ import annotations

import logging
from time import time_ns
from typing import Any, Literal

import httpx

from reconciler.core.aio import read_all
from reconciler.core.errors import VenueError, VenueRejected
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact
from reconciler.venues.aevo import wire
from reconciler.venues.aevo.capabilities import CAPABILITIES, CONNECTION
from reconciler.venues.aevo.signing import SignedPaths
from reconciler.venues.auth import VenueAuth
from reconciler.venues.base import Capabilities, Credentials, Learning, VenueClient
from reconciler.venues.discovery import Discovered, listing_failed, refuse_unlisted
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
LOG = logging.getLogger("mmp")
ASSETS = "GET /assets"


class AevoEndpoint:
    """What the accounts of one Aevo endpoint share for a run: its list of assets, asked
    once, and how its signed GETs read their query string, found once."""

    def __init__(self) -> None:
        self.assets = Discovered()
        self.signing = SignedPaths()

    def learned(self) -> list[dict[str, str]]:
        return self.signing.learned()


class AevoAuth(VenueAuth):
    """AEVO-KEY with AEVO-TIMESTAMP (ns) and AEVO-SIGNATURE, signed as the request leaves;
    or, in "key" mode, AEVO-KEY with AEVO-SECRET."""

    resends = 0  # no session to renew; a stale timestamp cannot be told from a bad key

    def __init__(
        self,
        credentials: Credentials,
        limits: RequestLimiter,
        mode: AuthMode,
        base: httpx.URL,
        *,
        query: bool = True,
    ) -> None:
        """`query`: whether the signed path holds the query string (signing.py)."""
        super().__init__(limits)
        self._key, self._secret = credentials["API_KEY"], credentials["API_SECRET"]
        self._mode = mode
        self._base = base.raw_path.rstrip(b"/")  # the signed path is the one after the base
        self._query = query

    def sign(self, request: httpx.Request) -> httpx.Request:
        request.headers["AEVO-KEY"] = self._key
        if self._mode == "key":
            request.headers["AEVO-SECRET"] = self._secret
            return request
        timestamp = str(time_ns())
        path = wire.signed_path(request.url.raw_path, self._base, query=self._query)
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
        shared: AevoEndpoint | None = None,
        *,
        auth_mode: AuthMode = "hmac",
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them; without, a bucket
        of its own (a client made alone). `shared`: what the accounts of its endpoint share
        (the list of assets, the signing reading); without, its own."""
        self.account = account
        self._http = http
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = AevoAuth(credentials, own, auth_mode, http.base_url)
        self._bare = AevoAuth(credentials, own, auth_mode, http.base_url, query=False)
        self._public = VenueAuth(own)  # GET /assets: no key, a rate-limit slot all the same
        self._mode = auth_mode
        self._shared = shared or AevoEndpoint()

    @property
    def where(self) -> str:
        return f"aevo/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        if only is not None:
            names = sorted(only)
        else:
            listed = await self._shared.assets.names(self._list_assets)
            host = self._http.base_url.host
            refuse_unlisted("aevo", self.account, underlyings, listed, ASSETS, host)
            names = sorted(listed)
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

    async def _list_assets(self) -> frozenset[str]:
        """GET /assets, public: the assets of this endpoint, for every account of it."""
        try:
            message = self._http.build_request("GET", "/assets")
            response = await request(
                self._http, message, self.where, idempotent=True, auth=self._public
            )
            data = parse_json(response, self.where)
            if response.status_code >= 400:
                raise _error(self.where, "/assets", response, data)
            with malformed_answer(self.where, ASSETS):
                listed = wire.assets_from_wire(data)
        except VenueError as exc:
            raise listing_failed(exc, "aevo", ASSETS) from exc
        LOG.info("aevo %s lists %d assets (%s)", self._http.base_url.host, len(listed), ASSETS)
        return listed

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

        async def attempt(query: bool) -> httpx.Response:
            message = self._http.build_request(
                method, path, params=params, content=body, headers=headers
            )
            auth = self._auth if query else self._bare
            return await request(self._http, message, where, idempotent=method == "GET", auth=auth)

        if method == "GET" and params and self._mode == "hmac":
            host = self._http.base_url.host
            response = await self._shared.signing.send(f"GET {path}", host, attempt)
        else:
            response = await attempt(True)
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
_LEARNS: type[Learning] = AevoEndpoint
