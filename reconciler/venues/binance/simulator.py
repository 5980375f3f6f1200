"""A strict Binance European Options simulator (seed-venues.md section 2).

Strict where the docs allow two readings, with switches: every mmpSet parameter is required
(the EN docs), limits keep at most 8 decimals and the frozen time is at most 1 h [both
assumptions], a reset leaves lastTriggerTime as it was (`reset_keeps_trigger_time`, True by
default: the reading under which a read cannot show a reset; False zeroes it). Whatever the
reading, the simulator knows whether a scope is frozen (`is_frozen`): a trigger freezes it
for the frozen time, or until a reset when that is 0 (manual), and a reset ends it.
Weight: every MMP endpoint weighs 1 of 2400 per minute; past it 429 with -1008, and after
`ban_after` more requests while limited, 418 and a 2-minute ban, both with Retry-After.
mmpSet refuses a limit of 0 (the FAQ: > 0), and GET reports "0" for a config without one;
what a live "0" limit means (a config set where the limits are optional: the CN page, the
SDK) is not documented: by `qty_zero` and `delta_zero`, a limit of zero ("limit", the
default: any fill trips it) or no such limit ("none"). `fill` plays one MMP order's fill
against the limits: it trips one it reaches or exceeds (the FAQ: "exceeds or equals").
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reconciler.core.units import decimal_places, decimal_text, dumps_exact
from reconciler.simulators.common import Clock
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.binance.capabilities import MAX_DECIMALS
from reconciler.venues.binance.wire import sign

# What GET /eapi/v1/exchangeInfo (public, weight 1) lists, by default: `underlyings` takes
# any list. An underlying it does not list is refused like an invalid one (-1128).
DEFAULT_UNDERLYINGS = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
SET_FIELDS = (
    "underlying",
    "windowTimeInMilliseconds",
    "frozenTimeInMilliseconds",
    "qtyLimit",
    "deltaLimit",
)
COMMON = {"recvWindow", "timestamp", "signature"}


class ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def invalid(name: str) -> ApiError:
    return ApiError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


@dataclass
class SimAccount:
    secret: str
    market_maker: bool = True
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # underlying -> wire
    reset: set[str] = field(default_factory=set)  # underlyings reset since their last trigger


class BinanceSimulator:
    def __init__(
        self,
        *,
        underlyings: Iterable[str] = DEFAULT_UNDERLYINGS,
        clock: Clock | None = None,
        weight_limit: int = 2400,
        ban_after: int = 5,
        reset_keeps_trigger_time: bool = True,
        qty_zero: str = "limit",
        delta_zero: str = "limit",
    ) -> None:
        self.qty_zero = zero_reading("qty_zero", qty_zero)
        self.delta_zero = zero_reading("delta_zero", delta_zero)
        self.underlyings = tuple(underlyings)  # what exchangeInfo lists, in this order
        self.clock = clock or Clock()
        self.weight_limit = weight_limit
        self.ban_after = ban_after
        self.reset_keeps_trigger_time = reset_keeps_trigger_time
        self.accounts: dict[str, SimAccount] = {}  # API key -> account
        self.requests: list[str] = []
        self._minute = -1
        self._used = 0
        self._over = 0
        self._banned_until = 0
        self._lock = threading.Lock()

    # ---- controls ------------------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, *, market_maker: bool = True) -> None:
        self.accounts[api_key] = SimAccount(secret, market_maker)

    def seed(self, api_key: str, params: dict[str, str]) -> None:
        self._set(self.accounts[api_key], dict(params))

    def reset_rate_limits(self) -> None:
        """A fresh weight window and no ban (benchmarks start each command this way)."""
        self._minute, self._used, self._over, self._banned_until = -1, 0, 0, 0

    def trigger(self, api_key: str, underlying: str) -> int:
        now = self.clock.now_ms()
        account = self.accounts[api_key]
        account.configs[underlying]["lastTriggerTime"] = now
        account.reset.discard(underlying)
        return now

    def is_frozen(self, api_key: str, underlying: str) -> bool:
        """The venue's own truth, whatever its answers show: triggered, not reset since, and
        within the frozen time (0: until a reset)."""
        account = self.accounts[api_key]
        config = account.configs.get(underlying)
        if config is None or underlying in account.reset:
            return False
        last, frozen = int(config["lastTriggerTime"]), int(config["frozenTimeInMilliseconds"])
        return last > 0 and (frozen == 0 or self.clock.now_ms() < last + frozen)

    def fill(self, api_key: str, underlying: str, *, quantity: Decimal, delta: Decimal) -> bool:
        """One MMP order of the underlying filled (counted alone: no window): MMP trips (as
        `trigger`) when the quantity reaches qtyLimit or the delta's size deltaLimit, a "0"
        limit as `qty_zero` and `delta_zero` read it. True if it tripped; an underlying
        without config, or already frozen, does not trip."""
        config = self.accounts[api_key].configs.get(underlying)
        if config is None or self.is_frozen(api_key, underlying):
            return False
        over = trips(Decimal(config["qtyLimit"]), self.qty_zero, quantity, reaches=True) or (
            trips(Decimal(config["deltaLimit"]), self.delta_zero, abs(delta), reaches=True)
        )
        if over:
            self.trigger(api_key, underlying)
        return over

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
            limited = self._weigh()
            if limited is not None:
                return limited
            try:
                result = self._handle(request)
            except ApiError as exc:
                return self._answer(exc.status, {"code": exc.code, "msg": exc.msg})
            return self._answer(200, result)

    def _answer(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        all_headers = {
            "Content-Type": "application/json",
            "X-MBX-USED-WEIGHT-1M": str(self._used),
            **(headers or {}),
        }
        return httpx.Response(status, content=dumps_exact(body).encode(), headers=all_headers)

    def _weigh(self) -> httpx.Response | None:
        now = self.clock.now_ms()
        if now < self._banned_until:
            retry = str((self._banned_until - now + 999) // 1000)
            return self._answer(
                418,
                {
                    "code": -1003,
                    "msg": "Way too much request weight used; "
                    "IP banned until " + str(self._banned_until) + ".",
                },
                {"Retry-After": retry},
            )
        minute = now // 60_000
        if minute != self._minute:
            self._minute, self._used, self._over = minute, 0, 0
        self._used += 1
        if self._used <= self.weight_limit:
            return None
        self._over += 1
        if self._over > self.ban_after:
            self._banned_until = now + 120_000
            return self._weigh()
        retry = str(((minute + 1) * 60_000 - now + 999) // 1000)
        return self._answer(
            429,
            {
                "code": -1008,
                "msg": "Too much request weight used; "
                "current limit is 2400 request weight per 1 MINUTE.",
            },
            {"Retry-After": retry},
        )

    def _handle(self, request: httpx.Request) -> Any:
        routes = {
            ("GET", "/eapi/v1/mmp"): self._get,
            ("POST", "/eapi/v1/mmpSet"): self._set,
            ("POST", "/eapi/v1/mmpReset"): self._reset,
        }
        if (request.method, request.url.path) == ("GET", "/eapi/v1/exchangeInfo"):
            return self._exchange_info()  # public: no key, no signature
        route = routes.get((request.method, request.url.path))
        if route is None:
            raise ApiError(404, -1000, "Not found.")
        account, params = self._authenticate(request)
        if not account.market_maker:
            raise ApiError(401, -1002, "You are not authorized to execute this request.")
        return route(account, params)

    def _authenticate(self, request: httpx.Request) -> tuple[SimAccount, dict[str, str]]:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            raise ApiError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(key)
        if account is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query = request.url.query.decode()
        body = request.content.decode()
        if body and "application/x-www-form-urlencoded" not in request.headers.get(
            "Content-Type", ""
        ):
            raise ApiError(
                400,
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        params = dict(parse_qsl(body, keep_blank_values=True))
        params.update(parse_qsl(query, keep_blank_values=True))  # the query string wins
        signed, signature = _signed_part(query, body)
        if "timestamp" not in params:
            raise ApiError(
                400,
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        if not signature or not hmac.compare_digest(
            sign(account.secret, signed), signature.lower()
        ):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        self._check_time(params)
        return account, params

    def _check_time(self, params: dict[str, str]) -> None:
        try:
            timestamp = int(params["timestamp"])
            recv_window = int(params.get("recvWindow", "5000"))
        except ValueError:
            raise ApiError(
                400,
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            ) from None
        if recv_window >= 60_000 or recv_window <= 0:
            raise ApiError(400, -1131, "recvWindow must be less than 60000")
        now = self.clock.now_ms()
        if timestamp >= now + 1000:
            raise ApiError(
                400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    # ---- endpoints -----------------------------------------------------------------------

    def _get(self, account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
        _only(params, {"underlying"})
        underlying = self._underlying(params)
        config = account.configs.get(underlying)
        if config is None:
            return {
                "underlyingId": self._id(underlying),
                "underlying": underlying,
                "windowTimeInMilliseconds": 0,
                "frozenTimeInMilliseconds": 0,
                "qtyLimit": "0",
                "deltaLimit": "0",
                "lastTriggerTime": 0,
            }
        return dict(config)

    def _set(self, account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
        _only(params, set(SET_FIELDS))
        underlying = self._underlying(params)
        window = _long(params, "windowTimeInMilliseconds")
        frozen = _long(params, "frozenTimeInMilliseconds")
        if not 0 < window <= 5000:
            raise invalid("windowTimeInMilliseconds")
        if not 0 <= frozen <= 3_600_000:
            raise invalid("frozenTimeInMilliseconds")
        limits = {name: _limit(params, name) for name in ("qtyLimit", "deltaLimit")}
        previous = account.configs.get(underlying, {})
        config = {
            "underlyingId": self._id(underlying),
            "underlying": underlying,
            "windowTimeInMilliseconds": window,
            "frozenTimeInMilliseconds": frozen,
            **limits,
            "lastTriggerTime": previous.get("lastTriggerTime", 0),
        }
        account.configs[underlying] = config
        return dict(config)

    def _reset(self, account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
        _only(params, {"underlying"})
        underlying = self._underlying(params)
        config = account.configs.get(underlying)
        if config is None:
            return self._get(account, params)
        account.reset.add(underlying)
        if not self.reset_keeps_trigger_time:
            config["lastTriggerTime"] = 0
        return dict(config)

    def _id(self, underlying: str) -> int:
        return sorted(self.underlyings).index(underlying) + 1

    def _underlying(self, params: dict[str, str]) -> str:
        if params["underlying"] not in self.underlyings:
            raise ApiError(400, -1128, "Invalid underlying")
        return params["underlying"]

    def _exchange_info(self) -> dict[str, Any]:
        """The documented shape (timezone, serverTime, optionContracts, optionAssets,
        optionSymbols, rateLimits), one call option per underlying."""
        contracts, symbols = [], []
        for name in self.underlyings:
            base, quote = name.removesuffix("USDT"), "USDT" if name.endswith("USDT") else ""
            contracts.append(
                {"baseAsset": base, "quoteAsset": quote, "underlying": name, "settleAsset": quote}
            )
            symbols.append(
                {
                    "symbol": f"{base}-300101-1000-C",
                    "side": "CALL",
                    "strikePrice": "1000",
                    "underlying": name,
                    "unit": 1,
                    "expiryDate": 1893456000000,
                    "quoteAsset": quote,
                }
            )
        return {
            "timezone": "UTC",
            "serverTime": self.clock.now_ms(),
            "optionContracts": contracts,
            "optionAssets": [{"name": "USDT"}],
            "optionSymbols": symbols,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": self.weight_limit,
                }
            ],
        }

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        return {
            "underlyings": list(self.underlyings),
            "accounts": {
                key: {
                    "secret": a.secret,
                    "market_maker": a.market_maker,
                    "configs": [a.configs[u] for u in sorted(a.configs)],
                    "reset": sorted(a.reset),
                }
                for key, a in sorted(self.accounts.items())
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump (the weight window is this process's)."""
        self.underlyings = tuple(state.get("underlyings", DEFAULT_UNDERLYINGS))
        self.accounts = {}
        for key, data in state.get("accounts", {}).items():
            self.add_account(key, data["secret"], market_maker=data["market_maker"])
            for config in data["configs"]:
                self.accounts[key].configs[config["underlying"]] = dict(config)
            self.accounts[key].reset = set(data.get("reset", []))


def _signed_part(query: str, body: str) -> tuple[str, str]:
    """totalParams without the signature, and the signature, which must be the last param."""
    for part in (query, body):
        head, sep, signature = part.rpartition("signature=")
        if sep and (head == "" or head.endswith("&")) and "&" not in signature:
            head = head.removesuffix("&")
            if part is query:
                return head + body, signature
            return query + head, signature
    return query + body, ""


def _only(params: dict[str, str], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed | COMMON:
            raise ApiError(
                400,
                -1104,
                "Not all sent parameters were read; read 1 parameter(s) but was sent more.",
            )
    for name in allowed:
        if name not in params or params[name] == "":
            raise ApiError(
                400,
                -1102,
                f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
            )


def _long(params: dict[str, str], name: str) -> int:
    text = params[name]
    if not text.lstrip("-").isdigit():
        raise invalid(name)
    return int(text)


def _limit(params: dict[str, str], name: str) -> str:
    try:
        value = Decimal(params[name])
    except InvalidOperation:
        raise invalid(name) from None
    if not value.is_finite() or value <= 0:
        raise invalid(name)
    if decimal_places(value) > MAX_DECIMALS:
        raise ApiError(400, -1111, f"Precision is over the maximum defined for {name}.")
    return decimal_text(value)  # answered as strings
