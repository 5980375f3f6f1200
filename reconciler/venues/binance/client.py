"""Binance eapi client: GET /eapi/v1/exchangeInfo once per endpoint (public), GET
/eapi/v1/mmp per listed underlying, POST /eapi/v1/mmpSet and /eapi/v1/mmpReset, each signed
(HMAC-SHA256) the moment it leaves."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import httpx

from reconciler.core.aio import read_all
from reconciler.core.errors import VenueError, VenueRateLimited, VenueRejected
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import now
from reconciler.venues.auth import Refusal, VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.binance import wire
from reconciler.venues.binance.capabilities import CAPABILITIES, CONNECTION
from reconciler.venues.discovery import Discovered, listing_failed, refuse_unlisted
from reconciler.venues.errors import Code, ErrorTable, code_of, words
from reconciler.venues.http import malformed_answer, parse_json, request
from reconciler.venues.limiter import RequestLimiter, account_limits

LOG = logging.getLogger("mmp")
RECV_WINDOW_MS = 5000
# -1021: the request arrived outside recvWindow (a stall on the way, a busy venue) and was
# refused unread; after its resends it is reported with the credentials, as a clock to fix
STALE = -1021
WEIGHT = "request weight limit reached"
INFO = "GET /eapi/v1/exchangeInfo"
ERRORS = ErrorTable(
    auth=frozenset({-1002, STALE, -1022, -2014, -2015}),
    rate_limited=frozenset({-1003, -1008}),
    hints={
        STALE: "check this machine's clock (NTP): the timestamp is outside recvWindow",
        -1022: "check the API_SECRET environment variable of this account",
        -2014: "check the API_KEY environment variable of this account",
        -2015: "the key needs options trading permission and this machine's IP allowed",
        -1002: "the account must be approved as an options market maker to use MMP",
        -1003: WEIGHT,
        -1008: WEIGHT,
    },
)


class BinanceAuth(VenueAuth):
    """No session: every request carries recvWindow, the moment it leaves and its signature."""

    resends = 2  # a -1021, signed afresh each time

    def __init__(self, credentials: Credentials, limits: RequestLimiter) -> None:
        super().__init__(limits)
        self._key, self._secret = credentials["API_KEY"], credentials["API_SECRET"]

    def sign(self, request: httpx.Request) -> httpx.Request:
        """The template's unsigned parameters (the query of a GET, the form body of a POST)
        followed by recvWindow, the timestamp and, last, the signature of the query and the
        body exactly as they are sent."""
        stamp = urlencode([("recvWindow", str(RECV_WINDOW_MS)), ("timestamp", str(_now_ms()))])
        url, query, body = request.url, request.url.query.decode("ascii"), request.content.decode()
        if request.method == "GET":
            query = _and(query, stamp)
            query = _and(query, "signature=" + wire.sign(self._secret, query + body))
            url = url.copy_with(query=query.encode("ascii"))
        else:
            body = _and(body, stamp)
            body = _and(body, "signature=" + wire.sign(self._secret, query + body))
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        headers.append(("X-MBX-APIKEY", self._key))
        return httpx.Request(request.method, url, headers=headers, content=body.encode() or None)

    def refusal(self, response: httpx.Response) -> Refusal | None:
        return Refusal.STALE if _refusal_of(response)[0] == STALE else None


class BinanceClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
        shared: Discovered | None = None,
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them (with the venue-wide
        window: Binance counts request weight per IP); without, a bucket of its own.
        `shared`: its endpoint's list of underlyings, asked once for all its accounts;
        without, its own."""
        self.account = account
        self._http = http
        # kept by name: tests/test_limiter.py checks the accounts share the per-IP window
        self._limiter = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = BinanceAuth(credentials, self._limiter)
        self._public = VenueAuth(self._limiter)  # exchangeInfo: unsigned, weighed all the same
        self._listed = shared or Discovered()

    @property
    def where(self) -> str:
        return f"binance/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        if only is not None:
            names = sorted(only)
        else:
            listed = await self._listed.names(self._list_underlyings)
            host = self._http.base_url.host
            refuse_unlisted("binance", self.account, underlyings, listed, INFO, host)
            names = sorted(listed)
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

    async def _list_underlyings(self) -> frozenset[str]:
        """exchangeInfo (public, weight 1): the underlyings of this endpoint, for every
        account of it."""
        path = "/eapi/v1/exchangeInfo"
        try:
            message = self._http.build_request("GET", path)
            response = await request(
                self._http, message, self.where, idempotent=True, auth=self._public
            )
            data = _result(response, self.where, path)
            with malformed_answer(self.where, INFO):
                listed = wire.underlyings_from_wire(data)
        except VenueError as exc:
            raise listing_failed(exc, "binance", INFO) from exc
        host = self._http.base_url.host
        LOG.info("binance %s lists %d underlyings (%s)", host, len(listed), INFO)
        return listed

    async def _write(self, key: ScopeKey, path: str, params: list[tuple[str, str]]) -> None:
        """mmpSet and mmpReset answer the scope's config, as GET does."""
        answer = await self._call("POST", path, params, str(key))
        with malformed_answer(str(key), f"POST {path}"):
            wire.live_scope(self.account, answer, _now_ms(), asked=key.underlying)

    async def _call(
        self, method: str, path: str, params: list[tuple[str, str]], where: str = ""
    ) -> Any:
        """The answer to `params`, sent unsigned to the auth, which signs it as it leaves."""
        where = where or self.where
        unsigned = urlencode(params)
        if method == "GET":
            message = self._http.build_request("GET", path, params=unsigned)
        else:
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            message = self._http.build_request(
                method, path, content=unsigned.encode(), headers=form
            )
        response = await request(
            self._http, message, where, idempotent=method == "GET", auth=self._auth
        )
        return _result(response, where, path)


def _result(response: httpx.Response, where: str, path: str) -> Any:
    """The answer, or the venue's refusal as ours. An error status is a refusal whatever its
    body (where that holds Binance's code and words, they are named); a 200 must be JSON,
    and is a refusal too when it is Binance's {code, msg} with a code other than 200."""
    if response.status_code >= 400:
        raise _error(where, path, response)
    data = parse_json(response, where)
    if isinstance(data, dict) and "code" in data and "msg" in data and data["code"] != 200:
        raise _error(where, path, response)
    return data


def _error(where: str, path: str, response: httpx.Response) -> VenueError:
    """ERRORS says what a refusal is, but for two statuses Binance gives its own meaning."""
    code, said = _refusal_of(response)
    message = f"{path}: {said or 'no reason given'}"
    status = response.status_code
    if status == 418:  # the IP is banned: never retried (reconciler.venues.http)
        wait = response.headers.get("Retry-After", "")
        until = f"{wait} s" if wait.isdigit() else "until the ban ends"
        hint = f"this IP is banned for hammering the venue; stop and wait {until}"
        return VenueRateLimited(where, message, code=code, hint=hint)
    if status == 403 and code not in ERRORS.auth:  # its firewall, not the key
        hint = "Binance's web application firewall refused the request (HTTP 403)"
        return VenueRejected(where, message, code=code, hint=hint)
    return ERRORS.error(where, status, code, message)


def _refusal_of(response: httpx.Response) -> tuple[Code | None, str]:
    """The code and the words of Binance's error body, where it has one."""
    try:
        data = parse_json(response, "")
    except VenueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    return code_of(data.get("code")), words(data.get("msg"))


def _and(params: str, more: str) -> str:
    return f"{params}&{more}" if params else more


def _now_ms() -> int:
    return now("ms")


_CONFORMS: type[VenueClient] = BinanceClient  # mypy checks the Protocol here
