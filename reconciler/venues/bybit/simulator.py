"""A strict Bybit options MMP simulator (v5; more-venues.md section 2).

Strict where the docs allow two readings, each a switch defaulting to the stricter one:
- `vega_omitted_kept`: a modify without vegaLimit restores its default 500000 (False), or
  keeps the stored value (True). Our client always sends it.
- `open_ranges`: window 1 to 5000 ms and frozenPeriod 0 to 3,600,000 ms, refused with 10001
  outside them (False, our assumption, as capabilities.py says), or any positive window and
  any frozen period (True): no range is documented.
- `unconfigured_110062`: mmp-state for a coin never configured lists nothing (False), or
  refuses it with 110062 "no MMP information" (True).
- `not_enabled_110065`: mmp-state of an account whose MMP Bybit has not enabled answers
  mmpEnabled false (False), or refuses it with 110065 (True); modify and reset refuse it
  with 110065 either way.
- `set_unfreezes`: what a modify does to a freeze is not documented: it keeps it (False,
  the default) or ends it, as Deribit's set does (True).
- `qty_zero`, `delta_zero`, `vega_zero`: what a live qtyLimit, deltaLimit or vegaLimit of
  "0" means (a config set elsewhere; a modify with "0" is refused, the docs: positive) is
  not documented: a limit of zero ("limit", the default: any fill trips it) or no such
  limit ("none"). `fill` plays one MMP order's fill against the limits: it trips one it
  reaches or exceeds (the docs: "reaches or exceeds").
mmpEnabled is a field of each coin's item, so Bybit may enable MMP coin by coin:
`SimAccount.coins_off` are coins it has not enabled (the account's others are), answered as
an account without MMP is for them alone, with an item of zeros where nothing is set.
Every request is signed (X-BAPI-*: hex HMAC-SHA256 over timestamp + key + recvWindow + the
raw query or body) and taken only if `server - recvWindow <= timestamp < server + 1000`.
Business errors come with HTTP 200 and the {retCode, retMsg, result, retExtInfo, time}
envelope. Rate limits: 5 per second per UID for modify and for reset, 10 for mmp-state
[assumption: listed as "-"], answered 10006 "Too many visits!" with the X-Bapi-Limit
headers; 600 requests in 5 s per IP, then HTTP 403 "access too frequent". `trigger` trips
MMP on a coin: frozen for frozenPeriod, or until a reset when it is 0.
"""

from __future__ import annotations

import hmac
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from reconciler.core.units import decimal_places, decimal_text, dumps_exact, loads_exact
from reconciler.simulators.common import Clock, CreditBucket
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.bybit.capabilities import (
    BASE_COINS,
    FROZEN_MAX_MS,
    MAX_DECIMALS,
    WINDOW_MAX_MS,
)
from reconciler.venues.bybit.wire import payload, sign

STATE, MODIFY, RESET = "/v5/account/mmp-state", "/v5/account/mmp-modify", "/v5/account/mmp-reset"
REQUIRED = ("baseCoin", "window", "frozenPeriod", "qtyLimit", "deltaLimit")
LIMITS = ("qtyLimit", "deltaLimit", "vegaLimit")
DEFAULT_VEGA = "500000"
PER_SECOND = {STATE: 10, MODIFY: 5, RESET: 5}
IP_LIMIT, IP_WINDOW_MS = 600, 5_000
DIGITS = re.compile(r"[0-9]{1,18}")
NOT_ENABLED = (110065, "MMP is not enabled for this account")
NO_INFORMATION = (110062, "There is no MMP information of the institution found")


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def params_error(what: str) -> ApiError:
    return ApiError(10001, f"params error: {what}")


@dataclass
class SimAccount:
    secret: str
    mmp_enabled: bool = True
    configs: dict[str, dict[str, str]] = field(default_factory=dict)  # coin -> wire fields
    frozen: dict[str, int] = field(default_factory=dict)  # coin -> until (ms; 0: a reset)
    coins_off: set[str] = field(default_factory=set)  # coins whose MMP Bybit has not enabled
    buckets: dict[str, CreditBucket] = field(default_factory=dict)  # path -> its limit


class BybitSimulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        vega_omitted_kept: bool = False,
        open_ranges: bool = False,
        unconfigured_110062: bool = False,
        not_enabled_110065: bool = False,
        set_unfreezes: bool = False,
        qty_zero: str = "limit",
        delta_zero: str = "limit",
        vega_zero: str = "limit",
    ) -> None:
        self.zeros = {  # wire limit -> what its live "0" means
            "qtyLimit": zero_reading("qty_zero", qty_zero),
            "deltaLimit": zero_reading("delta_zero", delta_zero),
            "vegaLimit": zero_reading("vega_zero", vega_zero),
        }
        self.clock = clock or Clock()
        self.vega_omitted_kept = vega_omitted_kept
        self.open_ranges = open_ranges
        self.unconfigured_110062 = unconfigured_110062
        self.not_enabled_110065 = not_enabled_110065
        self.set_unfreezes = set_unfreezes
        self.accounts: dict[str, SimAccount] = {}  # API key -> account
        self.requests: list[str] = []
        self._ip_window, self._ip_used = -1, 0
        self._lock = threading.Lock()

    # ---- controls ------------------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, *, mmp_enabled: bool = True) -> None:
        self.accounts[api_key] = SimAccount(secret, mmp_enabled)

    def seed(self, api_key: str, body: dict[str, str]) -> None:
        self._modify(self.accounts[api_key], dict(body))

    def trigger(self, api_key: str, coin: str) -> int:
        """MMP trips on `coin`: frozen for its frozenPeriod (0: until a reset)."""
        account = self.accounts[api_key]
        period = int(account.configs[coin]["frozenPeriod"])
        now = self.clock.now_ms()
        account.frozen[coin] = now + period if period else 0
        return now

    def is_frozen(self, api_key: str, coin: str) -> bool:
        """The venue's own truth: tripped, not reset since, within its frozen period."""
        return self._frozen(self.accounts[api_key], coin)

    def fill(
        self,
        api_key: str,
        coin: str,
        *,
        quantity: Decimal,
        delta: Decimal = Decimal(0),
        vega: Decimal = Decimal(0),
    ) -> bool:
        """One MMP order of the coin filled (counted alone: no window): MMP trips (as
        `trigger`) when the quantity reaches qtyLimit, or the size of its delta or vega
        deltaLimit or vegaLimit, a "0" as `self.zeros` reads it. True if it tripped; a coin
        without config, or already frozen, does not trip."""
        config = self.accounts[api_key].configs.get(coin)
        if config is None or self.is_frozen(api_key, coin):
            return False
        counted = {"qtyLimit": quantity, "deltaLimit": abs(delta), "vegaLimit": abs(vega)}
        over = any(
            trips(Decimal(config[name]), self.zeros[name], amount, reaches=True)
            for name, amount in counted.items()
        )
        if over:
            self.trigger(api_key, coin)
        return over

    def reset_rate_limits(self) -> None:
        self._ip_window, self._ip_used = -1, 0
        for account in self.accounts.values():
            account.buckets.clear()

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
            if not self._ip_allows():
                return httpx.Response(403, text="access too frequent")
            try:
                result = self._handle(request)
            except ApiError as exc:
                if exc.status != 200:
                    return httpx.Response(exc.status, text=exc.msg)
                return self._answer({"retCode": exc.code, "retMsg": exc.msg, "result": {}})
            except _Limited as limited:
                return self._answer(
                    {"retCode": 10006, "retMsg": "Too many visits!", "result": {}},
                    {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": limited.at},
                )
            return self._answer(result)

    def _answer(
        self, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        now = self.clock.now_ms()
        if "result" in body:
            body = {**body, "retExtInfo": {}, "time": now}
        return httpx.Response(
            200,
            content=dumps_exact(body).encode(),
            headers={
                "Content-Type": "application/json",
                "X-Bapi-Limit-Reset-Timestamp": str(now),
                **(headers or {}),
            },
        )

    def _ip_allows(self) -> bool:
        window = self.clock.now_ms() // IP_WINDOW_MS
        if window != self._ip_window:
            self._ip_window, self._ip_used = window, 0
        self._ip_used += 1
        return self._ip_used <= IP_LIMIT

    def _handle(self, request: httpx.Request) -> dict[str, Any]:
        routes = {("GET", STATE): self._state, ("POST", MODIFY): self._modify}
        routes[("POST", RESET)] = self._reset
        route = routes.get((request.method, request.url.path))
        if route is None:
            raise ApiError(404, "Not Found", status=404)
        account, signed = self._authenticate(request)
        self._take(account, request.url.path)
        params = _query(signed) if request.method == "GET" else _body(request, signed)
        if request.method == "POST" and not _enabled(account, params.get("baseCoin")):
            raise ApiError(*NOT_ENABLED)
        return route(account, params)

    def _authenticate(self, request: httpx.Request) -> tuple[SimAccount, str]:
        """The account, and what its signature covers: the raw query, or the raw body."""
        key = request.headers.get("X-BAPI-API-KEY", "")
        account = self.accounts.get(key)
        if account is None:
            raise ApiError(10003, "API key is invalid.")
        stamp = request.headers.get("X-BAPI-TIMESTAMP", "")
        recv = request.headers.get("X-BAPI-RECV-WINDOW", "5000")
        given = request.headers.get("X-BAPI-SIGN", "")
        if not DIGITS.fullmatch(stamp) or not DIGITS.fullmatch(recv) or not given:
            raise params_error("X-BAPI-TIMESTAMP, X-BAPI-RECV-WINDOW or X-BAPI-SIGN")
        now = self.clock.now_ms()
        if not now - int(recv) <= int(stamp) < now + 1000:
            raise ApiError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{stamp}],server_timestamp[{now}],recv_window[{recv}]",
            )
        signed = request.url.query.decode() if request.method == "GET" else request.content.decode()
        expected = sign(account.secret, payload(stamp, key, recv, signed))
        if not hmac.compare_digest(expected, given):  # lower-case hex, as documented
            raise ApiError(10004, "error sign! please check your signature")
        return account, signed

    def _take(self, account: SimAccount, path: str) -> None:
        rate = PER_SECOND[path]
        bucket = account.buckets.setdefault(path, CreditBucket(rate, rate))
        now = self.clock.now_ms()
        if not bucket.take(1, now):
            raise _Limited(str(now + 1000 // rate))

    # ---- endpoints -----------------------------------------------------------------------

    def _state(self, account: SimAccount, params: dict[str, Any]) -> dict[str, Any]:
        if set(params) != {"baseCoin"}:
            raise params_error("baseCoin is the one parameter")
        coin = _coin(params)
        enabled = _enabled(account, coin)
        if not enabled and self.not_enabled_110065:
            raise ApiError(*NOT_ENABLED)
        config = account.configs.get(coin)
        if config is None and coin in account.coins_off:
            config = {name: "0" for name in REQUIRED[1:]} | {"vegaLimit": "0"}
        if config is None:
            if self.unconfigured_110062:
                raise ApiError(*NO_INFORMATION)
            return _ok({"result": []})
        until = account.frozen.get(coin, 0)
        frozen = self._frozen(account, coin)
        item = {
            "baseCoin": coin,
            "mmpEnabled": enabled,
            **config,
            # kept after a freeze ends: the docs say to ignore it while mmpFrozen is false
            "mmpFrozenUntil": str(until),
            "mmpFrozen": frozen,
        }
        return _ok({"result": [item]})

    def _frozen(self, account: SimAccount, coin: str) -> bool:
        until = account.frozen.get(coin)
        return until is not None and (until == 0 or self.clock.now_ms() < until)

    def _modify(self, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
        if not set(REQUIRED) <= set(body) or not set(body) <= {*REQUIRED, "vegaLimit"}:
            raise params_error("baseCoin, window, frozenPeriod, qtyLimit, deltaLimit[, vegaLimit]")
        coin = _coin(body)
        window, frozen = _ms(body, "window"), _ms(body, "frozenPeriod")
        if window == 0 or (not self.open_ranges and window > WINDOW_MAX_MS):
            raise params_error("window")
        if not self.open_ranges and frozen > FROZEN_MAX_MS:
            raise params_error("frozenPeriod")
        previous = account.configs.get(coin, {})
        vega = previous.get("vegaLimit", DEFAULT_VEGA) if self.vega_omitted_kept else DEFAULT_VEGA
        config = {"window": str(window), "frozenPeriod": str(frozen)}
        config.update({name: _limit(body, name) for name in LIMITS if name in body})
        config.setdefault("vegaLimit", vega)
        account.configs[coin] = {k: config[k] for k in ("window", "frozenPeriod", *LIMITS)}
        if self.set_unfreezes:
            account.frozen.pop(coin, None)
        return {"retCode": 0, "retMsg": "success"}

    def _reset(self, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
        if set(body) != {"baseCoin"}:
            raise params_error("baseCoin is the one parameter")
        account.frozen.pop(_coin(body), None)  # and the counters, which we do not keep
        return {"retCode": 0, "retMsg": "success"}

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        return {
            "accounts": {
                key: {
                    "secret": a.secret,
                    "mmp_enabled": a.mmp_enabled,
                    "configs": dict(sorted(a.configs.items())),
                    "frozen": dict(sorted(a.frozen.items())),
                    "coins_off": sorted(a.coins_off),
                }
                for key, a in sorted(self.accounts.items())
            }
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump; a known account keeps its rate limits."""
        accounts: dict[str, SimAccount] = {}
        for key, data in state.get("accounts", {}).items():
            account = SimAccount(data["secret"], bool(data.get("mmp_enabled", True)))
            account.configs = {c: dict(v) for c, v in data.get("configs", {}).items()}
            account.frozen = {c: int(v) for c, v in data.get("frozen", {}).items()}
            account.coins_off = set(data.get("coins_off", []))
            if key in self.accounts:
                account.buckets = self.accounts[key].buckets
            accounts[key] = account
        self.accounts = accounts


def _enabled(account: SimAccount, coin: object) -> bool:
    """Whether Bybit has enabled MMP for the account, and for this coin."""
    return account.mmp_enabled and coin not in account.coins_off


class _Limited(Exception):
    def __init__(self, at: str) -> None:
        super().__init__(at)
        self.at = at  # X-Bapi-Limit-Reset-Timestamp: when the next request is taken (ms)


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result}


def _query(signed: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in signed.split("&") if signed else []:
        name, sep, value = part.partition("=")
        if not sep or name in params:
            raise params_error(name or "query")
        params[name] = value
    return params


def _body(request: httpx.Request, raw: str) -> dict[str, Any]:
    if "application/json" not in request.headers.get("Content-Type", ""):
        raise params_error("Content-Type must be application/json")
    try:
        body = loads_exact(raw)
    except ValueError:
        raise params_error("the body is not JSON") from None
    if not isinstance(body, dict) or not all(isinstance(v, str) for v in body.values()):
        raise params_error("every value is a string")
    return body


def _coin(params: dict[str, Any]) -> str:
    coin = params["baseCoin"]
    if coin not in BASE_COINS:  # upper case only, an options base coin
        raise params_error("baseCoin")
    return str(coin)


def _ms(body: dict[str, Any], name: str) -> int:
    if not DIGITS.fullmatch(body[name]):
        raise params_error(name)
    return int(body[name])


def _limit(body: dict[str, Any], name: str) -> str:
    try:
        value = Decimal(body[name])
    except InvalidOperation:
        raise params_error(name) from None
    if not value.is_finite() or value <= 0 or decimal_places(value) > MAX_DECIMALS:
        raise params_error(f"{name} must be positive, at most {MAX_DECIMALS} decimal places")
    return decimal_text(value)
