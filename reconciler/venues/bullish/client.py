"""Bullish client: HMAC log-in for a JWT, signed asynchronous MMP commands, REST reads.

Commands are only acknowledged; `set_config` and `remove_config` return once acknowledged
and apply (executor.py) polls `read()` until the venue shows the result.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

from reconciler.core import secrets
from reconciler.core.errors import VenueError, VenueRejected
from reconciler.core.model import LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import convert_time, dumps_exact, now
from reconciler.venues.auth import Refusal, VenueAuth
from reconciler.venues.base import Capabilities, Credentials, VenueClient
from reconciler.venues.bullish import wire
from reconciler.venues.bullish.capabilities import CAPABILITIES, CONNECTION
from reconciler.venues.bullish.nonces import Bounds, NonceDay, now_us
from reconciler.venues.errors import ErrorTable, code_of, words
from reconciler.venues.http import malformed_answer, parse_json, request
from reconciler.venues.limiter import RequestLimiter, account_limits

if TYPE_CHECKING:
    from reconciler.venues.bullish.push import BullishPush

INVALID_LOGIN = 8327  # the venue's registry: "Invalid Login"
UNAUTHORIZED_COMMAND = 6105  # "Unauthorized to execute command": a command's refusal
KEYS_HINT = (
    "Bullish refused the log-in itself: check the PUBLIC_KEY and SECRET environment "
    "variables (an HMAC API key of this trading account's user, not revoked)"
)
SESSION_HINT = (
    "Bullish refused a session it had just issued: the log-in with PUBLIC_KEY and SECRET "
    "worked, so the keys are right; check that this API key may use trading account "
    "TRADING_ACCOUNT_ID"
)
COMMAND_HINT = (
    "Bullish refused to run the command although the log-in with PUBLIC_KEY and SECRET "
    "worked, so the keys are right: check that this API key may send commands for trading "
    "account TRADING_ACCOUNT_ID and that MMP is enabled for it (your Bullish relationship "
    "manager)"
)
ERRORS = ErrorTable(  # a request that carried the session's JWT
    auth=frozenset({UNAUTHORIZED_COMMAND, INVALID_LOGIN}),
    rate_limited=frozenset({96000, 96001}),  # RATE_LIMIT_EXCEEDED, GLOBAL_RATE_LIMIT_EXCEEDED
    hints={INVALID_LOGIN: SESSION_HINT, UNAUTHORIZED_COMMAND: COMMAND_HINT},
    auth_hint=(
        "the log-in with PUBLIC_KEY and SECRET worked, so the keys are right; Bullish refused "
        "this request's session or permission: check that this API key may use trading "
        "account TRADING_ACCOUNT_ID"
    ),
    keys_refused=False,  # refused after a fresh log-in with them: the keys are right
)
LOGIN_ERRORS = replace(
    ERRORS, hints={INVALID_LOGIN: KEYS_HINT}, auth_hint=KEYS_HINT, keys_refused=True
)
PUBLIC_ERRORS = replace(  # GET /v1/nonce carries no credentials
    ERRORS,
    hints={},
    auth_hint="this request carries no credentials: the refusal is not about your keys",
)
RENEW_BEFORE_MS = 3_600_000  # log in again an hour before the JWT expires
UNREAD_LIFETIME_MS = 3_600_000  # a token whose exp cannot be read is used for an hour


class BullishAuth(VenueAuth):
    """The HMAC log-in for a JWT, renewed an hour before its exp; `Authorization: Bearer` on
    every request; a command also signed as it leaves: BX-TIMESTAMP, the account's next nonce
    inside the day's bounds (BX-NONCE) and BX-SIGNATURE over the exact body sent."""

    def __init__(
        self, where: str, credentials: Credentials, limits: RequestLimiter, day: NonceDay
    ) -> None:
        super().__init__(limits)
        self._where, self._credentials, self._day = where, credentials, day
        self._token: str | None = None
        self._renew_at_ms = 0
        self._last_nonce = 0

    def needs_login(self) -> bool:
        return self._token is None or _now_ms() >= self._renew_at_ms

    def login_request(self, request: httpx.Request) -> httpx.Request:
        now_ms = _now_ms()
        timestamp, nonce = str(now_ms), str(convert_time(now_ms, "ms", "s"))  # as its example
        headers = {
            "BX-PUBLIC-KEY": self._credentials["PUBLIC_KEY"],
            "BX-TIMESTAMP": timestamp,
            "BX-NONCE": nonce,
            "BX-SIGNATURE": wire.login_signature(self._credentials["SECRET"], timestamp, nonce),
        }
        url = request.url.copy_with(path=wire.LOGIN_PATH, query=None)
        return httpx.Request("GET", url, headers=headers)

    def take_login(self, response: httpx.Response) -> None:
        answer = answer_of(response, self._where, LOGIN_ERRORS)
        with malformed_answer(self._where, f"GET {wire.LOGIN_PATH}"):
            token = wire.login_token(answer)
        secrets.register(token)  # a session key: never printed, like the secret
        expires_ms = wire.token_expiry_ms(token)
        if expires_ms is None:
            self._renew_at_ms = _now_ms() + UNREAD_LIFETIME_MS
        else:
            self._renew_at_ms = expires_ms - RENEW_BEFORE_MS
        self._token = token

    def sign(self, request: httpx.Request) -> httpx.Request:
        assert self._token is not None
        request.headers["Authorization"] = f"Bearer {self._token}"
        if request.method == "POST":  # a command: signed now, so nothing goes stale
            timestamp, nonce = str(_now_ms()), str(self._next_nonce())
            secret, path = self._credentials["SECRET"], request.url.path
            body = request.content.decode()  # the exact bytes sent are the bytes signed
            request.headers["BX-TIMESTAMP"] = timestamp
            request.headers["BX-NONCE"] = nonce
            request.headers["BX-SIGNATURE"] = wire.command_signature(
                secret, timestamp, nonce, "POST", path, body
            )
        return request

    def forget(self) -> None:
        self._token = None

    def token(self) -> str:
        """The session's JWT (the private WebSocket's cookie); log in first."""
        if self._token is None:
            raise VenueRejected(self._where, "no session: log in first")
        return self._token

    def refusal(self, response: httpx.Response) -> Refusal | None:
        """The venue did not take the JWT a request carried, so the request was not applied:
        log in again and send it once more. Told by status and code, never by the words: any
        401; INVALID_LOGIN (the venue's documented refusal) at any 4xx; UNAUTHORIZED_COMMAND
        at any 4xx to a command (the only requests it names)."""
        sent = response.request
        if not sent.headers.get("Authorization", "").startswith("Bearer "):
            return None
        status, code = response.status_code, _code(response)
        if status == 401:
            return Refusal.SESSION
        if not 400 <= status < 500 or status == 429:
            return None
        if code == INVALID_LOGIN or (code == UNAUTHORIZED_COMMAND and sent.method == "POST"):
            return Refusal.SESSION
        return None

    def _next_nonce(self) -> int:
        """Strictly increasing, and inside today's bounds."""
        low, high = self._day.known()
        candidate = min(max(now_us(), self._last_nonce + 1, low), high)
        if candidate <= self._last_nonce:
            raise VenueRejected(self._where, "no nonce left inside today's bounds")
        self._last_nonce = candidate
        return candidate


class BullishClient:
    capabilities: Capabilities = CAPABILITIES

    def __init__(
        self,
        account: str,
        credentials: Credentials,
        http: httpx.AsyncClient,
        limits: RequestLimiter | None = None,
        shared: NonceDay | None = None,
    ) -> None:
        """`limits`: the account's rate limits as connect() makes them (with the venue-wide
        window); without, a bucket of its own. `shared`: the endpoint's NonceDay, made by
        the VenueSpec's endpoint_state; without, one of its own (a client made alone)."""
        self.account = account
        self._http = http
        self._account_id = credentials["TRADING_ACCOUNT_ID"]
        self._day = shared if shared is not None else NonceDay()
        own = account_limits(limits, CONNECTION.requests_per_second, CONNECTION.burst)
        self._auth = BullishAuth(self.where, credentials, own, self._day)
        self._public = VenueAuth(own)  # GET /v1/nonce: no session, a rate-limit slot only
        self._push: BullishPush | None = None  # the private WebSocket, for a networked account

    @property
    def where(self) -> str:
        return f"bullish/{self.account}"

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        answer = await self._read_answer()
        told = None
        if self._push is not None:
            await self._push.open()  # once: its trigger snapshot, if the venue sends one
            told = self._push.told()  # the freezes REST cannot show
        with malformed_answer(self.where, f"GET {wire.MMP_PATH}"):
            scopes = wire.live_scopes(self.account, self._account_id, answer, told)
        return LiveAccount("bullish", self.account, tuple(scopes))

    async def _read_answer(self) -> Any:
        # one bulk read returns every underlying of the trading account
        message = self._http.build_request(
            "GET", wire.MMP_PATH, params={"tradingAccountId": self._account_id}
        )
        return await self._send(message, self.where, self._auth)

    def attach_push(self, base_url: str) -> BullishPush:
        """The account's private WebSocket (VenueSpec.push): read() opens it, each command's
        requestId is told to it."""
        from reconciler.venues.bullish.push import BullishPush

        self._push = BullishPush(
            self.where, self._account_id, base_url, self._jwt, self._public._slot
        )
        return self._push

    async def _jwt(self) -> str:
        """The session's JWT, logging in first where there is none (a read does)."""
        if self._auth.needs_login():
            await self._read_answer()
        return self._auth.token()

    async def set_config(self, key: ScopeKey, config: MmpConfig) -> None:
        await self._command(wire.set_command(self._account_id, key, config), key)

    async def remove_config(self, key: ScopeKey, before: MmpConfig) -> None:
        await self.reset(key)

    async def reset(self, key: ScopeKey) -> None:
        await self._command(wire.reset_command(self._account_id, key), key)

    async def aclose(self) -> None:
        if self._push is not None:
            await self._push.aclose()
        await self._http.aclose()

    async def _command(self, command: dict[str, Any], key: ScopeKey) -> str:
        where = str(key)
        await self._day.bounds(self._read_nonce_bounds)  # BullishAuth signs inside them
        body = dumps_exact(command)  # compact: the exact bytes signed are the bytes sent
        message = self._http.build_request(
            "POST",
            wire.MMP_PATH,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = await self._send(message, where, self._auth)
        # an acknowledgement we cannot read may still stand for an accepted command
        with malformed_answer(where, f"POST {wire.MMP_PATH}"):
            request_id = wire.request_id(answer)
        if self._push is not None:
            self._push.sent(key, request_id)  # its outcome comes on mmpRequest
        return request_id

    async def _read_nonce_bounds(self) -> Bounds:
        message = self._http.build_request("GET", wire.NONCE_PATH)
        answer = await self._send(message, self.where, self._public)
        with malformed_answer(self.where, f"GET {wire.NONCE_PATH}"):
            return wire.nonce_bounds(answer)

    async def _send(self, message: httpx.Request, where: str, auth: VenueAuth) -> Any:
        idempotent = message.method == "GET"  # a command's outcome is unknown when it fails
        response = await request(self._http, message, where, idempotent=idempotent, auth=auth)
        return answer_of(response, where, ERRORS if auth is self._auth else PUBLIC_ERRORS)


def answer_of(response: httpx.Response, where: str, table: ErrorTable = ERRORS) -> Any:
    """The answer's JSON, or the venue's refusal as our error (`table` says which: ERRORS
    for a request with the session's JWT, LOGIN_ERRORS for the log-in). Refusals:
    {"message", "raw", "errorCode", "errorCodeName"}, or a parameter's
    {"type": "HttpInvalidParameterException", "message"}."""
    data = parse_json(response, where)
    if response.status_code < 400:
        return data
    body = data if isinstance(data, dict) else {}
    said = [words(body.get("errorCodeName")), words(body.get("message"))]
    message = " ".join([f"{response.request.url.path}:", *(text for text in said if text)])
    code = code_of(body.get("errorCode"))
    raise table.error(where, response.status_code, code, message)


def _code(response: httpx.Response) -> object:
    """The errorCode of a refusal, if it has one we can read."""
    try:
        data = parse_json(response, "")
    except VenueError:
        return None
    return code_of(data.get("errorCode")) if isinstance(data, dict) else None


def _now_ms() -> int:
    return now("ms")


_CONFORMS: type[VenueClient] = BullishClient  # mypy checks the Protocol here
