"""Deribit client: JSON-RPC 2.0 over HTTP POST, a Bearer token from public/auth
(client_credentials), renewed a minute before it ends and once more when refused."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar, cast

import httpx

from reconciler.core import secrets
from reconciler.core.aio import read_all
from reconciler.core.errors import VenueAuthError, VenueError
from reconciler.core.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import convert_time, dumps_exact, monotonic_ms
from reconciler.venues import answers
from reconciler.venues.auth import Refusal, VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.deribit import wire
from reconciler.venues.deribit.capabilities import BLOCK_RFQ, CAPABILITIES, CONNECTION
from reconciler.venues.errors import ErrorTable, code_of, words
from reconciler.venues.http import malformed_answer, parse_json, request
from reconciler.venues.limiter import RequestLimiter, account_limits

ASK_FOR_MMP = "ask Deribit support to enable MMP for the account; a retry will not help"
ERRORS = ErrorTable(
    auth=frozenset({10000, 13004, 13009, 13021, 13403, 13010, 10001}),
    rate_limited=frozenset({10028}),
    hints={  # MMP not enabled: 13040 (the v2 code list), 11050 "MMP disabled" (client libraries)
        13040: f"MMP is not enabled for this account: {ASK_FOR_MMP}",
        11050: f"a bad_request that says MMP disabled means MMP is not enabled for this "
        f"account: {ASK_FOR_MMP}",
        13004: "check the CLIENT_ID and CLIENT_SECRET environment variables of this account",
        13021: "the API key needs the trade:read_write scope",
        10028: "rate limit: lower the concurrency or wait",
    },
)
BLOCK_RFQ_SCOPE = (
    "the API key lacks the block_rfq scope, which Block RFQ MMP needs (trade:read_write does "
    "not cover it): block_rfq:read to read it, block_rfq:read_write to set, remove or reset "
    "it. Add block_rfq:read_write to the key's scopes on Deribit (Account > API, edit the "
    "key), or remove the account's block_rfq section"
)
BLOCK_RFQ_ERRORS = ErrorTable(  # a request with block_rfq: true; the key itself was taken
    auth=ERRORS.auth,
    rate_limited=ERRORS.rate_limited,
    hints={**ERRORS.hints, 13021: BLOCK_RFQ_SCOPE, 13403: BLOCK_RFQ_SCOPE},
    keys_refused=False,
)
KEY_LACKS_SCOPE = frozenset({13021, 13403})  # forbidden, scope_exceeded
UNREADABLE = (
    "Block RFQ not readable with this key: the key lacks the block_rfq:read scope, so this "
    "account's Block RFQ MMP configs and freezes are not shown (the policies declare none "
    "here; add block_rfq:read to the key's scopes on Deribit to see them)"
)
SESSION_ERRORS = frozenset({13009, 13010})  # the token expired or was revoked: log in again
REFRESH_MARGIN_S = 60
AUTH_PATH = "/api/v2/public/auth"
T = TypeVar("T")


class DeribitAuth(VenueAuth):
    """public/auth for a token (client_credentials); Bearer on every other request."""

    def __init__(self, where: str, credentials: Credentials, limits: RequestLimiter) -> None:
        super().__init__(limits)
        self._where, self._credentials = where, credentials
        self._token: str | None = None
        self._expires_ms = 0

    def needs_login(self) -> bool:
        return self._token is None or monotonic_ms() >= self._expires_ms

    def login_request(self, request: httpx.Request) -> httpx.Request:
        params = {
            "grant_type": "client_credentials",
            "client_id": self._credentials["CLIENT_ID"],
            "client_secret": self._credentials["CLIENT_SECRET"],
        }
        body = dumps_exact({"jsonrpc": "2.0", "id": 0, "method": "public/auth", "params": params})
        headers = {"Content-Type": "application/json"}
        url = request.url.copy_with(path=AUTH_PATH, query=None)
        return httpx.Request("POST", url, content=body.encode(), headers=headers)

    def take_login(self, response: httpx.Response) -> None:
        result = envelope_result(response, self._where, "public/auth")
        with malformed_answer(self._where, f"POST {AUTH_PATH}"):
            answer = answers.obj(result, "result")
            token = answers.text(answer, "access_token")
            lifetime_s = max(answers.integer(answer, "expires_in") - REFRESH_MARGIN_S, 0)
        secrets.register(token)  # a session key: never printed, like the credentials
        refresh = answer.get("refresh_token")
        if isinstance(refresh, str):
            secrets.register(refresh)
        self._token, self._expires_ms = token, monotonic_ms() + convert_time(lifetime_s, "s", "ms")

    def sign(self, request: httpx.Request) -> httpx.Request:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def forget(self) -> None:
        self._token = None

    def refusal(self, response: httpx.Response) -> Refusal | None:
        error = _error_of(response)
        return Refusal.SESSION if error and code_of(error.get("code")) in SESSION_ERRORS else None


class DeribitClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them (with the venue-wide
        window where there is one); without, a bucket of its own (a client made alone)."""
        self.account = account
        self._http = http
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = DeribitAuth(self.where, credentials, own)
        self._ids = itertools.count(1)
        self.credentials = credentials  # its WebSocket logs in with them too (push.py)

    def request_slot(self) -> AbstractAsyncContextManager[None]:
        """A request's place in the account's rate limits, for one sent another way (its
        WebSocket's: each costs the credits it costs over HTTP)."""
        return self._auth._slot()

    @property
    def where(self) -> str:
        return f"deribit/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        """One bulk read returns every scope of a space. Block RFQ MMP is a space of its own,
        read with block_rfq: true (and the key's block_rfq scope): on every whole read, so
        its configs and freezes are reported on every account, declared or not. A read of
        `only` (apply's check before a write and its read-back) reads just the spaces `only`
        names: a Block RFQ scope's with block_rfq: true alone, an order/quote scope's
        without, two requests instead of four (what it returns is every scope of those
        spaces, none of the other's: reconciler.apply.writes.Read.spaces)."""
        declares = any(map(wire.is_block_rfq, underlyings))
        spaces: list[Awaitable[tuple[list[LiveScope], list[str]]]]
        if only is None:
            spaces = [self._read_space(False), self._rfq(declares)]
        else:  # a space `only` names must be read: a key that may not is the error it is
            named = sorted({wire.is_block_rfq(underlying) for underlying in only} or {False})
            spaces = [self._rfq(True) if rfq else self._read_space(False) for rfq in named]
        reads = await _both(spaces)
        scopes = tuple(scope for found, _ in reads for scope in found)
        notes = tuple(note for _, said in reads for note in said)
        return LiveAccount("deribit", self.account, scopes, notes)

    async def _rfq(self, declared: bool) -> tuple[list[LiveScope], list[str]]:
        """The Block RFQ space. A key without the block_rfq scope, on an account whose
        policies declare no Block RFQ scope, is a note (nothing there is managed); where they
        do, the error it is (BLOCK_RFQ_SCOPE says how to add the scope)."""
        try:
            return await self._read_space(True)
        except VenueAuthError as exc:
            if declared or exc.code not in KEY_LACKS_SCOPE:
                raise
            return [], [f"{UNREADABLE} (venue error {exc.code}: {exc.venue_message})"]

    async def _read_space(self, block_rfq: bool) -> tuple[list[LiveScope], list[str]]:
        params: dict[str, Any] = {"block_rfq": True} if block_rfq else {}
        where = f"{self.where}/{BLOCK_RFQ}" if block_rfq else self.where
        configs, status = await read_all(
            [
                self._rpc("private/get_mmp_config", params, write=False, where=where),
                self._rpc("private/get_mmp_status", params, write=False, where=where),
            ]
        )
        with malformed_answer(where, "POST /api/v2/private/get_mmp_status"):
            freezes = wire.freezes(self.account, status, block_rfq=block_rfq)
        with malformed_answer(where, "POST /api/v2/private/get_mmp_config"):
            return wire.live_scopes(self.account, configs, freezes, block_rfq=block_rfq), []

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._set(key, wire.set_params(key, config))

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self._set(key, wire.remove_params(key, before))

    async def reset(self, key: ScopeKey) -> None:
        result = await self._rpc("private/reset_mmp", wire.scope_params(key), where=str(key))
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
        errors = BLOCK_RFQ_ERRORS if params.get("block_rfq") else ERRORS
        body = dumps_exact(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        )
        message = self._http.build_request(
            "POST",
            f"/api/v2/{method}",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        response = await request(self._http, message, where, idempotent=not write, auth=self._auth)
        return envelope_result(response, where, method, errors)


async def _both(reads: list[Awaitable[T]]) -> list[T]:
    """The spaces' reads side by side, each to its end; where both fail, the order space's
    failure is the one said (a log-in that failed is the account's, said the same way
    whichever read was first to need it)."""
    ended = await asyncio.gather(*reads, return_exceptions=True)
    for result in ended:
        if isinstance(result, BaseException):
            raise result
    return cast("list[T]", ended)


def envelope_result(
    response: httpx.Response, where: str, method: str, errors: ErrorTable = ERRORS
) -> Any:
    """The JSON-RPC result, or the venue's error as ours (ERRORS says which)."""
    data = parse_json(response, where)
    with malformed_answer(where, f"POST /api/v2/{method}"):
        envelope = answers.obj(data)
        if "error" in envelope:
            raise _venue_error(
                where,
                method,
                response.status_code,
                answers.obj(envelope["error"], "error"),
                errors,
            )
        return answers.present(envelope, "result")


def _error_of(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = parse_json(response, "")
    except VenueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else None


def _venue_error(
    where: str, method: str, status: int, error: dict[str, Any], errors: ErrorTable = ERRORS
) -> VenueError:
    code = code_of(error.get("code"))
    message = words(error.get("message"))
    data = error.get("data")
    if isinstance(data, dict) and words(data.get("reason")):
        param = words(data.get("param"))
        message += f" ({data['reason']}{': ' if param else ''}{param})"
    elif words(data):  # e.g. "MMP disabled": where the venue puts it is not documented
        message += f" ({data})"
    return errors.error(where, status, code, f"{method}: {message}")


_CONFORMS: type[VenueClient] = DeribitClient  # mypy checks the Protocol here
