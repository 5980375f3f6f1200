"""A strict Bullish simulator (seed-venues.md section 4).

Login by HMAC for a JWT; the nonce must increase and lie inside the day's bounds; commands
are signed over the raw body, acknowledged with a requestId and applied `apply_delay_ms`
later. Stricter readings, labelled and switchable: a V1SetMMP while a config exists is
rejected (`reject_set_when_configured`); a rejected or dropped command shows nothing on
REST (its outcome would arrive on the WebSocket mmpRequest topic, kept in `outcomes`).
Error codes where the docs give none are our choice: 2035 bad nonce, 8327 bad login, 6105
bad command signature, 2010 unknown trading account. A JWT the venue does not take (expired,
unknown, malformed) is refused with 401 and, by `token_refusal`, the registry's
"invalid_login" (8327 INVALID_LOGIN, the default) or "unauthorized_command" (6105
UNAUTHORIZED_COMMAND, "Invalid JWT", this simulator's old wording). Nonces strictly increase;
with `BX-NONCE-WINDOW-ENABLED: true` a command's nonce need only be unused and less than 100
below the highest used (the docs say so for orders; for MMP commands it is our assumption).
Per IP (every request to this simulator): at most 500 requests in 10 s; the 501st is refused
with 429 and the IP stays blocked for 60 s, as the docs say. The private-data WebSocket
(simulator_push.py, served with `serve(sim, push=sim.ws)`) publishes each command's outcome
on mmpRequest when it is due and each trigger on the trigger topic; its undocumented points
are the switches of `ws=Readings(...)`.

Freezes: `trigger` freezes a configured scope until a reset (or until `until_ms`); a reset
clears the config and its freeze. `fill` plays one MMP order's fill against the scope's
limits, and trips it when one is exceeded. GET reports a limit never set as "0"; what a
live "0" means is not documented for either limit: by `quantity_zero` and `delta_zero`, a
limit of zero ("limit", the default: any fill trips it) or no such limit ("none"). The
docs define REST `isActive` only as "configuration in effect": by `active_while_frozen`
(True by default, the reading under which REST cannot show a freeze) it stays true while
frozen, or (False) reads false while frozen. `is_frozen` is the venue's own truth,
whatever REST shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reconciler.core.units import decimal_places, dumps_exact, loads_exact
from reconciler.simulators.common import Clock, CreditBucket
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.bullish.capabilities import ASSETS
from reconciler.venues.bullish.simulator_push import PrivateData, Readings
from reconciler.venues.bullish.wire import (
    LOGIN_PATH,
    MMP_PATH,
    NONCE_PATH,
    command_signature,
    login_signature,
)

DAY_MS = 86_400_000
JWT_TTL_S = 86_400
FIRST_REQUEST_ID = 633910976353665025
NONCE_WINDOW = 100  # BX-NONCE-WINDOW-ENABLED: unique, and within 100 of the highest used
TOKEN_REFUSALS = {  # token_refusal -> (code, name, message) of a JWT the venue does not take
    "invalid_login": (8327, "INVALID_LOGIN", "Invalid login"),
    "unauthorized_command": (6105, "UNAUTHORIZED_COMMAND", "Invalid JWT"),
}
SET_FIELDS = {
    "commandType",
    "tradingAccountId",
    "underlyingAssetSymbol",
    "windowTimeInSeconds",
    "frozenTimeInSeconds",
    "quantityLimit",
    "deltaLimit",
}


class BxError(Exception):
    def __init__(self, status: int, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.body = (
            status,
            {"message": message, "raw": None, "errorCode": code, "errorCodeName": name},
        )


def bad_parameter(detail: str) -> BxError:
    error = BxError(400, 0, "", "")
    error.body = {
        "type": "HttpInvalidParameterException",
        "message": f"HTTP_INVALID_PARAMETER: {detail}",
    }
    return error


@dataclass
class SimAccount:
    secret: str
    trading_account_id: str
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> GET item
    frozen: dict[str, int] = field(default_factory=dict)  # asset -> until (ms; 0: a reset)
    last_nonce: int = 0  # the highest nonce used
    recent_nonces: set[int] = field(default_factory=set)  # those used within the window
    bucket: CreditBucket = field(default_factory=lambda: CreditBucket(50, 50))


@dataclass
class Pending:
    due_ms: int
    public_key: str
    request_id: str
    command: dict[str, Any]


class BullishSimulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        apply_delay_ms: int = 200,
        reject_set_when_configured: bool = True,
        token_refusal: str = "invalid_login",
        ws: Readings | None = None,
        active_while_frozen: bool = True,
        quantity_zero: str = "limit",
        delta_zero: str = "limit",
    ) -> None:
        if token_refusal not in TOKEN_REFUSALS:
            raise ValueError(f"token_refusal is one of {sorted(TOKEN_REFUSALS)}")
        self.quantity_zero = zero_reading("quantity_zero", quantity_zero)
        self.delta_zero = zero_reading("delta_zero", delta_zero)
        self.clock = clock or Clock()
        self.apply_delay_ms = apply_delay_ms
        self.reject_set_when_configured = reject_set_when_configured
        self.token_refusal = token_refusal
        self.active_while_frozen = active_while_frozen
        self.accounts: dict[str, SimAccount] = {}  # public key -> account
        self.pending: list[Pending] = []
        self.outcomes: dict[str, dict[str, str]] = {}  # requestId -> mmpRequest-like status
        self.requests: list[str] = []
        self.reject_next_sets = 0  # fault switch: the next N sets are rejected later
        self.drop_next_sets = 0  # fault switch: the next N sets are acknowledged, never applied
        self.next_request_id = FIRST_REQUEST_ID
        self._jwt_key = b"bullish-simulator"
        self._lock = threading.Lock()
        self.ip_limit, self.ip_window_ms, self.ip_block_ms = 500, 10_000, 60_000
        self._ip_seen: deque[int] = deque()
        self._ip_blocked_until = 0
        self.ws = PrivateData(self, ws or Readings())  # the private-data WebSocket (push=)

    # ---- controls ------------------------------------------------------------------------

    def add_account(self, public_key: str, secret: str, trading_account_id: str = "") -> None:
        account_id = trading_account_id or str(111000000000000 + len(self.accounts) + 1)
        self.accounts[public_key] = SimAccount(secret, account_id)

    def seed(self, public_key: str, command: dict[str, Any]) -> None:
        """Apply a V1SetMMP at once, as if acknowledged long ago."""
        account = self.accounts[public_key]
        self._validate(account, command)
        self._apply(account, command)

    def expire_tokens(self) -> None:
        """Every JWT issued so far stops working (rotates the signing key)."""
        self._jwt_key = self._jwt_key + b"'"

    def reset_rate_limits(self) -> None:
        """A fresh per-IP window and no block (benchmarks start each command this way)."""
        self._ip_seen.clear()
        self._ip_blocked_until = 0

    def trigger(self, public_key: str, asset: str, *, until_ms: int = 0) -> None:
        """MMP trips on a configured scope: frozen until a reset, or until `until_ms`."""
        account = self.accounts[public_key]
        if asset not in account.configs:
            raise KeyError(f"{asset} has no MMP config to trigger")
        account.frozen[asset] = until_ms
        self.ws.triggered(public_key, asset)  # published on the trigger topic

    def fill(self, public_key: str, asset: str, *, quantity: Decimal, delta: Decimal) -> bool:
        """One MMP order of the scope filled (counted alone: no window): MMP trips, frozen
        for the config's frozen time (until a reset if 0), when the quantity exceeds its
        quantityLimit or the delta's size its deltaLimit; a "0" limit is what
        `quantity_zero` and `delta_zero` read. True if it tripped; a scope without config,
        or already frozen, does not trip."""
        account = self.accounts[public_key]
        config = account.configs.get(asset)
        if config is None or self._frozen_now(account, asset):
            return False
        quantity_limit, delta_limit = (
            Decimal(config["quantityLimit"]),
            Decimal(config["deltaLimit"]),
        )
        over = trips(quantity_limit, self.quantity_zero, quantity) or trips(
            delta_limit, self.delta_zero, abs(delta)
        )
        if over:
            frozen_s = int(config["frozenTimeInSeconds"])
            until = self.clock.now_ms() + frozen_s * 1000 if frozen_s else 0
            self.trigger(public_key, asset, until_ms=until)
        return over

    def is_frozen(self, public_key: str, asset: str) -> bool:
        return self._frozen_now(self.accounts[public_key], asset)

    def _frozen_now(self, account: SimAccount, asset: str) -> bool:
        until = account.frozen.get(asset)
        return until is not None and (until == 0 or self.clock.now_ms() < until)

    def settle(self) -> None:
        """Apply every pending command now (tests)."""
        for item in self.pending:
            item.due_ms = 0
        self._run_due()

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
            self._run_due()
            try:
                self._count_ip()
                return self._answer(200, self._route(request))
            except BxError as exc:
                return self._answer(exc.status, exc.body)

    def _answer(self, status: int, body: Any) -> httpx.Response:
        return httpx.Response(
            status, content=dumps_exact(body).encode(), headers={"Content-Type": "application/json"}
        )

    def _route(self, request: httpx.Request) -> Any:
        path, method = request.url.path, request.method
        if (method, path) == ("GET", NONCE_PATH):
            low, high = self._day_bounds_us()
            return {"lowerBound": low, "upperBound": high}
        if (method, path) == ("GET", LOGIN_PATH):
            return self._login(request)
        if path != MMP_PATH or method not in ("GET", "POST"):
            raise BxError(404, 0, "NOT_FOUND", "Not found")
        public_key = self._bearer(request)
        account = self.accounts[public_key]
        if not account.bucket.take(1, self.clock.now_ms()):
            raise BxError(429, 96000, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded")
        if method == "GET":
            return self._get(account, dict(parse_qsl(request.url.query.decode())))
        self._check_command_signature(request, account)
        return self._command(public_key, account, request.content)

    def _count_ip(self) -> None:
        now = self.clock.now_ms()
        if now < self._ip_blocked_until:
            raise BxError(429, 96000, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded")
        while self._ip_seen and self._ip_seen[0] + self.ip_window_ms <= now:
            self._ip_seen.popleft()
        if len(self._ip_seen) >= self.ip_limit:
            self._ip_blocked_until = now + self.ip_block_ms
            raise BxError(429, 96000, "RATE_LIMIT_EXCEEDED", "Rate limit exceeded")
        self._ip_seen.append(now)

    def _day_bounds_us(self) -> tuple[int, int]:
        start_ms = self.clock.now_ms() // DAY_MS * DAY_MS
        return start_ms * 1000, (start_ms + DAY_MS) * 1000 - 1

    # ---- auth ----------------------------------------------------------------------------

    def _login(self, request: httpx.Request) -> dict[str, str]:
        headers = request.headers
        public_key = headers.get("BX-PUBLIC-KEY", "")
        account = self.accounts.get(public_key)
        ts, nonce = headers.get("BX-TIMESTAMP", ""), headers.get("BX-NONCE", "")
        given = headers.get("BX-SIGNATURE", "")
        if account is None or not ts.isdigit() or not nonce.isdigit():
            raise BxError(401, 8327, "INVALID_LOGIN", "Invalid login")
        if abs(self.clock.now_ms() - int(ts)) > 60_000:
            raise BxError(401, 8327, "INVALID_LOGIN", "Invalid login: stale timestamp")
        if not hmac.compare_digest(login_signature(account.secret, ts, nonce), given):
            raise BxError(401, 8327, "INVALID_LOGIN", "Invalid login")
        return {"authorizer": public_key, "token": self._jwt(public_key)}

    def _jwt(self, public_key: str) -> str:
        def b64(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        exp = self.clock.now_ms() // 1000 + JWT_TTL_S
        unsigned = b64({"alg": "HS256", "typ": "JWT"}) + "." + b64({"sub": public_key, "exp": exp})
        sig = hmac.new(self._jwt_key, unsigned.encode(), hashlib.sha256).digest()
        return unsigned + "." + base64.urlsafe_b64encode(sig).decode().rstrip("=")

    def _bearer(self, request: httpx.Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        parts = token.split(".")
        if scheme != "Bearer" or len(parts) != 3:
            raise self._token_refused()
        unsigned = f"{parts[0]}.{parts[1]}"
        sig = hmac.new(self._jwt_key, unsigned.encode(), hashlib.sha256).digest()
        if base64.urlsafe_b64encode(sig).decode().rstrip("=") != parts[2]:
            raise self._token_refused()
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if claims["exp"] * 1000 <= self.clock.now_ms() or claims["sub"] not in self.accounts:
            raise self._token_refused()
        return str(claims["sub"])

    def _token_refused(self) -> BxError:
        return BxError(401, *TOKEN_REFUSALS[self.token_refusal])

    def _check_command_signature(self, request: httpx.Request, account: SimAccount) -> None:
        ts = request.headers.get("BX-TIMESTAMP", "")
        nonce = request.headers.get("BX-NONCE", "")
        given = request.headers.get("BX-SIGNATURE", "")
        if not ts.isdigit() or not nonce.isdigit() or not given:
            raise BxError(400, 2001, "BAD_INCOMING_REQUEST", "Missing BX- signing headers")
        windowed = request.headers.get("BX-NONCE-WINDOW-ENABLED") == "true"
        if not self._nonce_fits(account, int(nonce), windowed):
            raise BxError(400, 2035, "INVALID_NONCE", "Invalid nonce")
        expected = command_signature(
            account.secret, ts, nonce, "POST", MMP_PATH, request.content.decode()
        )
        if not hmac.compare_digest(expected, given):
            raise BxError(401, 6105, "UNAUTHORIZED_COMMAND", "Invalid signature")
        _use_nonce(account, int(nonce))

    def _nonce_fits(self, account: SimAccount, nonce: int, windowed: bool) -> bool:
        """Inside the day; above the highest used, or with the window on, unused and less
        than NONCE_WINDOW below it (the docs: "up to a window size of 100 from the highest
        previously used nonce value (inclusive)"; 1...100 in any order are all valid)."""
        low, high = self._day_bounds_us()
        if not low <= nonce <= high:
            return False
        if nonce > account.last_nonce:
            return True
        return (
            windowed
            and nonce > account.last_nonce - NONCE_WINDOW
            and (nonce not in account.recent_nonces)
        )

    # ---- MMP -----------------------------------------------------------------------------

    def _get(self, account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
        if params.get("tradingAccountId") != account.trading_account_id:
            raise BxError(400, 2010, "ACCOUNT_DOES_NOT_EXIST", "Trading account does not exist")
        symbol = params.get("symbol")
        items = [
            self._item(account, a, c)
            for a, c in sorted(account.configs.items())
            if symbol in (None, a)
        ]
        return {
            "tradingAccountId": account.trading_account_id,
            "message": None if items else "No mmp config setup",
            "mmpConfigurations": items,
        }

    def _item(self, account: SimAccount, asset: str, config: dict[str, Any]) -> dict[str, Any]:
        """A config as GET shows it: isActive false while frozen only under that reading."""
        hidden = self.active_while_frozen or not self._frozen_now(account, asset)
        return {**config, "isActive": bool(config["isActive"]) and hidden}

    def _command(self, public_key: str, account: SimAccount, raw: bytes) -> dict[str, str]:
        try:
            command = loads_exact(raw)
        except ValueError:
            raise bad_parameter("body is not JSON") from None
        if not isinstance(command, dict):
            raise bad_parameter("body is not an object")
        self._validate(account, command)
        request_id = str(self.next_request_id)
        self.next_request_id += 1
        due = self.clock.now_ms() + self.apply_delay_ms
        self.pending.append(Pending(due, public_key, request_id, command))
        self.ws.scheduled(due)  # its outcome is published when due, traffic or not
        kind = "SetMMPConfig" if command["commandType"] == "V1SetMMP" else "ResetMMPConfig"
        return {"message": f"Command acknowledged - {kind}", "requestId": request_id}

    def _validate(self, account: SimAccount, command: dict[str, Any]) -> None:
        kind = command.get("commandType")
        allowed = (
            SET_FIELDS
            if kind == "V1SetMMP"
            else {"commandType", "tradingAccountId", "underlyingAssetSymbol"}
        )
        if kind not in ("V1SetMMP", "V1ResetMMP") or not set(command) <= allowed:
            raise bad_parameter("commandType or fields")
        if command.get("tradingAccountId") != account.trading_account_id:
            raise BxError(400, 2010, "ACCOUNT_DOES_NOT_EXIST", "Trading account does not exist")
        if command.get("underlyingAssetSymbol") not in ASSETS:
            raise BxError(400, 28004, "INVALID_SYMBOL", "Invalid symbol")
        if kind == "V1ResetMMP":
            return
        _seconds(command, "windowTimeInSeconds", 1, 600)
        _seconds(command, "frozenTimeInSeconds", 0, 3600)
        for name in ("quantityLimit", "deltaLimit"):
            if name in command:
                _limit(command, name)

    def _run_due(self) -> None:
        now = self.clock.now_ms()
        due = [p for p in self.pending if p.due_ms <= now]
        self.pending = [p for p in self.pending if p.due_ms > now]
        for item in due:
            self.outcomes[item.request_id] = self._settle(item)
            self.ws.settled(item, self.outcomes[item.request_id])  # published on mmpRequest

    def _settle(self, item: Pending) -> dict[str, str]:
        account = self.accounts[item.public_key]
        command = item.command
        asset = command["underlyingAssetSymbol"]
        if command["commandType"] == "V1ResetMMP":
            account.configs.pop(asset, None)
            account.frozen.pop(asset, None)
            return {"status": "CLOSED", "statusReason": "Ok", "isReset": "true"}
        if self.drop_next_sets:
            self.drop_next_sets -= 1
            return {"status": "OPEN", "statusReason": "", "isReset": "false"}
        if self.reject_next_sets:
            self.reject_next_sets -= 1
            return {"status": "REJECTED", "statusReason": "Injected rejection", "isReset": "false"}
        if self.reject_set_when_configured and asset in account.configs:
            return {
                "status": "REJECTED",
                "statusReason": "MMP config already exists; reset it first",
                "isReset": "false",
            }
        self._apply(account, command)
        return {"status": "CLOSED", "statusReason": "Ok", "isReset": "false"}

    def _apply(self, account: SimAccount, command: dict[str, Any]) -> None:
        account.configs[command["underlyingAssetSymbol"]] = {
            "underlyingAssetSymbol": command["underlyingAssetSymbol"],
            "windowTimeInSeconds": int(command["windowTimeInSeconds"]),  # integers on read
            "frozenTimeInSeconds": int(command["frozenTimeInSeconds"]),
            "quantityLimit": command.get("quantityLimit", "0"),
            "deltaLimit": command.get("deltaLimit", "0"),
            "isActive": True,
        }

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        """What the venue holds: accounts (with each one's last nonce), the commands
        acknowledged and not yet applied, and the next request id. No side effect: a pending
        command stays pending until it is due."""
        return {
            "accounts": {
                key: {
                    "secret": a.secret,
                    "trading_account_id": a.trading_account_id,
                    "configs": dict(sorted(a.configs.items())),
                    "frozen": dict(sorted(a.frozen.items())),
                    "last_nonce": a.last_nonce,
                    "recent_nonces": sorted(a.recent_nonces),
                }
                for key, a in sorted(self.accounts.items())
            },
            "pending": [
                {
                    "request_id": p.request_id,
                    "due_ms": p.due_ms,
                    "command": p.command,
                    "public_key": p.public_key,
                }
                for p in self.pending
            ],
            "next_request_id": self.next_request_id,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump. Session state stays: JWTs issued by this
        simulator keep working, and a known account keeps its rate-limit bucket."""
        accounts: dict[str, SimAccount] = {}
        for key, data in state.get("accounts", {}).items():
            account = SimAccount(data["secret"], data["trading_account_id"])
            account.configs = {a: dict(c) for a, c in data["configs"].items()}
            account.frozen = {a: int(u) for a, u in data.get("frozen", {}).items()}
            for asset, config in account.configs.items():  # a state saved before `frozen`
                if config.get("isActive") is False:
                    account.frozen.setdefault(asset, 0)
                    config["isActive"] = True
            account.last_nonce = int(data.get("last_nonce", 0))
            account.recent_nonces = {int(n) for n in data.get("recent_nonces", [])}
            if key in self.accounts:
                account.bucket = self.accounts[key].bucket
            accounts[key] = account
        self.accounts = accounts
        self.pending = [
            Pending(int(p["due_ms"]), p["public_key"], p["request_id"], dict(p["command"]))
            for p in state.get("pending", [])
        ]
        issued = [int(p.request_id) + 1 for p in self.pending]
        self.next_request_id = max([int(state.get("next_request_id", FIRST_REQUEST_ID)), *issued])


def _use_nonce(account: SimAccount, nonce: int) -> None:
    """Record a used nonce; forget those the window can no longer reach."""
    account.last_nonce = max(account.last_nonce, nonce)
    floor = account.last_nonce - NONCE_WINDOW
    account.recent_nonces = {n for n in account.recent_nonces if n > floor}
    account.recent_nonces.add(nonce)


def _seconds(command: dict[str, Any], name: str, low: int, high: int) -> None:
    value = command.get(name)
    if not isinstance(value, str) or not value.isdigit() or not low <= int(value) <= high:
        raise bad_parameter(f"{name} must be a string of whole seconds in [{low}, {high}]")


def _limit(command: dict[str, Any], name: str) -> None:
    value = command[name]
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number <= 0 or decimal_places(number) > 8:
        raise bad_parameter(f"{name} must be a positive decimal string")
