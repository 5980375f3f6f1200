"""Bybit options MMP client (v5): GET /v5/account/mmp-state per base coin, POST
/v5/account/mmp-modify and /v5/account/mmp-reset, each signed (X-BAPI-*) as it leaves.

Bybit answers its refusals with HTTP 200 and a retCode; its per-UID rate limit too (10006
"Too many visits!"): the venue did not process it, so the shared retry policy waits it out
as a 429, until X-Bapi-Limit-Reset-Timestamp, and sends it again (reconciler.venues.http).
"""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.core.aio import read_all
from reconciler.core.errors import VenueError, VenueRateLimited, VenueRejected, VenueUnavailable
from reconciler.core.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact, now
from reconciler.venues import http as shared
from reconciler.venues.auth import Refusal, VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.bybit import wire
from reconciler.venues.bybit.capabilities import BASE_COINS, CAPABILITIES, CONNECTION
from reconciler.venues.errors import Code, ErrorTable, code_of, words
from reconciler.venues.http import malformed_answer, parse_json, rate_limit_wait_ms, request
from reconciler.venues.limiter import RequestLimiter, account_limits

STATE, MODIFY, RESET = "/v5/account/mmp-state", "/v5/account/mmp-modify", "/v5/account/mmp-reset"
STALE, TOO_MANY, NO_INFORMATION, NOT_ENABLED = 10002, 10006, 110062, 110065
ASK = "MMP is not enabled for this account: ask Bybit"
ERRORS = ErrorTable(
    auth=frozenset({10003, 10004, 10005, 10010, STALE}),
    rate_limited=frozenset({TOO_MANY}),
    hints={
        STALE: "check this machine's clock (NTP): the timestamp is outside recvWindow",
        10003: "check the API_KEY environment variable of this account, and its environment",
        10004: "check the API_SECRET environment variable of this account",
        10005: "the key lacks the permission for this request (apply needs Options trading)",
        10010: "this machine's IP is not on the key's allowed list",
        TOO_MANY: "Bybit's per-UID rate limit: lower the concurrency or wait",
        NOT_ENABLED: f"{ASK} (financial.inst@bybit.com or your business manager)",
        NO_INFORMATION: f"Bybit has no MMP information for the account: {ASK}",
    },
)
IP_LIMITED = (
    "Bybit refused this machine's IP (HTTP 403): more than 600 requests in 5 s (stop and "
    "wait at least 10 minutes), or a region Bybit does not serve"
)


class BybitAuth(VenueAuth):
    """No session: X-BAPI-API-KEY, -TIMESTAMP, -RECV-WINDOW and -SIGN on every request."""

    resends = 2  # a 10002 (outside recvWindow): signed afresh each time

    def __init__(self, credentials: Credentials, limits: RequestLimiter) -> None:
        super().__init__(limits)
        self._key, self._secret = credentials["API_KEY"], credentials["API_SECRET"]

    def sign(self, request: httpx.Request) -> httpx.Request:
        stamp, recv = str(now("ms")), str(wire.RECV_WINDOW_MS)
        signed = request.url.query.decode() if request.method == "GET" else request.content.decode()
        request.headers["X-BAPI-API-KEY"] = self._key
        request.headers["X-BAPI-TIMESTAMP"] = stamp
        request.headers["X-BAPI-RECV-WINDOW"] = recv
        request.headers["X-BAPI-SIGN"] = wire.sign(
            self._secret, wire.payload(stamp, self._key, recv, signed)
        )
        return request

    def refusal(self, response: httpx.Response) -> Refusal | None:
        return Refusal.STALE if _refusal_of(response)[0] == STALE else None


class BybitClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them (with the per-IP
        window); without, a bucket of its own."""
        self.account = account
        self._http = http
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = BybitAuth(credentials, own)

    @property
    def where(self) -> str:
        return f"bybit/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        """One GET a coin: the declared ones and every base coin we know of. A coin the
        policies do not declare that cannot be read stops nothing: it is a note (plan and
        status say it), not a failed account; a declared one (or one asked for) fails it."""
        names = sorted(only if only is not None else BASE_COINS | underlyings)
        asked = underlyings if only is None else only
        failed: list[VenueError] = []
        seen = (self._seen(name, name in underlyings, name in asked, failed) for name in names)
        read = await read_all(seen)
        if failed and len(failed) == len(names):
            raise failed[0]  # no coin could be read: the account could not be, say why
        scopes = [scope for scope in read if scope is not None and scope.present]
        notes = sorted(
            f"{exc.where} (not in the policies) could not be read, so any MMP config there "
            f"is not shown: {str(exc).removeprefix(f'{exc.where}: ')}"
            for exc in failed
        )
        return LiveAccount("bybit", self.account, tuple(scopes), tuple(notes))

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._call("POST", MODIFY, wire.set_body(key, config), str(key))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        raise VenueRejected(
            str(key), "Bybit has no way to remove an MMP config (no API disables or deletes it)"
        )

    async def reset(self, key: ScopeKey) -> None:
        await self._call("POST", RESET, {"baseCoin": key.underlying}, str(key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _seen(
        self, coin: str, declared: bool, asked: bool, failed: list[VenueError]
    ) -> LiveScope | None:
        try:
            return await self._state(coin, declared)
        except (VenueRejected, VenueUnavailable) as exc:
            if asked:
                raise
            failed.append(exc)
            return None

    async def _state(self, coin: str, declared: bool) -> LiveScope | None:
        """One coin's state. Bybit enables MMP per coin (mmpEnabled is a field of each
        coin's item): a coin it has not enabled is no protection at all, which is no config
        where the policies do not declare the coin, and an error naming it where they do
        (before any write: no set of that coin could take)."""
        try:
            answer = await self._call("GET", STATE, {"baseCoin": coin}, f"{self.where}/{coin}")
        except VenueRejected as exc:
            # a coin never configured, under one reading of the docs (110062); a coin (or
            # account) Bybit has not enabled MMP for, under another (110065)
            if exc.code == NO_INFORMATION or (exc.code == NOT_ENABLED and not declared):
                return None
            if exc.code == NOT_ENABLED:
                raise VenueRejected(
                    self.where,
                    f"{exc.venue_message} (asked for {coin})",
                    code=exc.code,
                    hint=_ask(coin),
                ) from None
            raise
        with malformed_answer(f"{self.where}/{coin}", f"GET {STATE}"):
            try:
                return wire.live_scope(self.account, answer, coin, now("ms"))
            except wire.NotEnabled:
                if not declared:
                    return None
        said = f"GET {STATE}: mmpEnabled: false for {coin}, which the policies declare"
        raise VenueRejected(self.where, said, hint=_ask(coin))

    async def _call(self, method: str, path: str, params: dict[str, str], where: str) -> Any:
        """The answer, or Bybit's refusal as ours; its 10006 waited out and sent again."""
        if method == "GET":
            message = self._http.build_request("GET", path, params=params)
        else:
            body = dumps_exact(params).encode()  # the bytes sent are the bytes signed
            headers = {"Content-Type": "application/json"}
            message = self._http.build_request(method, path, content=body, headers=headers)
        response = await request(
            self._http,
            message,
            where,
            idempotent=method == "GET",
            auth=self._auth,
            rate_limited=_rate_limited,
        )
        return _result(response, where, path)


def _ask(coin: str) -> str:
    return (
        f"Bybit has not enabled MMP for {coin} on this account: ask Bybit to enable it "
        "(financial.inst@bybit.com or your business manager), or take the coin out of the "
        "policies; nothing was written"
    )


def _result(response: httpx.Response, where: str, path: str) -> Any:
    """A 200 whose retCode is 0; any other answer is a refusal (ERRORS says which)."""
    status = response.status_code
    if status == 403 and _refusal_of(response)[0] is None:  # its IP limit, not the key
        raise VenueRateLimited(where, f"{path}: HTTP 403", hint=IP_LIMITED)
    if status >= 400:
        raise _error(where, path, response)
    data = parse_json(response, where)
    with malformed_answer(where, f"{response.request.method} {path}"):
        code = wire.ret_code(data)
    if code != 0:
        raise _error(where, path, response)
    return data


def _error(where: str, path: str, response: httpx.Response) -> VenueError:
    code, said = _refusal_of(response)
    return ERRORS.error(where, response.status_code, code, f"{path}: {said or 'no reason given'}")


def _refusal_of(response: httpx.Response) -> tuple[Code | None, str]:
    """The retCode and retMsg of Bybit's envelope, where the answer has them."""
    try:
        data = parse_json(response, "")
    except VenueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    code = code_of(data.get("retCode"))
    return (None if code == 0 else code), words(data.get("retMsg"))


def _rate_limited(response: httpx.Response) -> int | None:
    """The wait a refusal for the rate limit asks for (ms; the shared policy caps it): a
    10006 until X-Bapi-Limit-Reset-Timestamp (epoch ms), a 429 as any venue's; None for
    any other answer."""
    if _refusal_of(response)[0] != TOO_MANY:
        return rate_limit_wait_ms(response)
    at = response.headers.get("X-Bapi-Limit-Reset-Timestamp", "")
    return int(at) - now("ms") if at.isdigit() else shared.BACKOFF_MS


_CONFORMS: type[VenueClient] = BybitClient  # mypy checks the Protocol here
