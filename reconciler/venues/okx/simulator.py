"""A strict OKX account-MMP simulator (more-venues.md section 1).

It verifies the v5 signature over the raw path (with its query) and body bytes, the
timestamp's form (50112) and its 30 s window (50102), each header (50103, 50104, 50106,
50107), the key (50111), the passphrase (50105) and the environment (a demo key without
`x-simulated-trading: 1`, or a live key with it: 50101); takes JSON bodies whose every value
is a string, refusing a missing field (50014) and one out of bounds or of another type
(51000); answers OKX's envelope {"code", "msg", "data"} with the HTTP status the docs give;
counts each endpoint per user ID (set 2 per 10 s, read and reset 5 per 2 s each) and answers
50011 past them. A test trips a family's MMP with `trigger`.

Readings of what the docs leave open, each a switch (README's open-questions table):
- `frozen_until_epoch`: mmpFrozenUntil is an epoch-ms time (True) or the ms left (False,
  the default: the docs' example "1000" reads so; the less convenient for a reader that
  takes it for a time).
- `rate_limit_429`: 50011 comes with HTTP 429 (True) or 200 (False, the default: the docs
  say "429 (or 200)"; a 200 is the one a client must read from the body).
- `lists_disabled`: a family disabled by timeInterval "0" is still answered by GET, with
  its "0" (True, the default: a reader must not take it for a config) or dropped (False).
- `set_unfreezes`: what a set does to a freeze is not documented: it keeps it (False, the
  default) or ends it, as Deribit's set does (True).
- `qty_zero`: what a live qtyLimit "0" means (a config set elsewhere; a set of "0" is
  refused, the docs: > 0) is not documented: a limit of zero ("limit", the default: any fill
  trips it) or no limit ("none"). `fill` plays one MMP order's fill against qtyLimit: it
  trips when the quantity exceeds it (the docs: "when qtyLimit is exceeded").
Assumptions as capabilities.py says: at most 600000 ms for timeInterval, 1 h for
frozenInterval, 2 decimals for qtyLimit, the families BTC-USD and ETH-USD; an unknown field
is refused (51000); an account without the MMP privilege answers 51035 at HTTP 200.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from reconciler.core.units import decimal_places, dumps_exact, loads_exact, parse_utc_ms
from reconciler.simulators.common import Clock
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.okx.capabilities import (
    FAMILIES,
    MAX_DECIMALS,
    MAX_FROZEN_MS,
    MAX_WINDOW_MS,
    READ_LIMIT,
    READ_WINDOW_MS,
    SET_LIMIT,
    SET_WINDOW_MS,
)
from reconciler.venues.okx.wire import MMP_PATH, RESET_PATH, signature

MAX_SKEW_MS = 30_000
STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
PLAIN = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,18})?")
SET_FIELDS = ("instFamily", "timeInterval", "frozenInterval", "qtyLimit")
LIMITS = {  # endpoint -> (requests, window ms), per user ID
    ("POST", MMP_PATH): (SET_LIMIT, SET_WINDOW_MS),
    ("GET", MMP_PATH): (READ_LIMIT, READ_WINDOW_MS),
    ("POST", RESET_PATH): (READ_LIMIT, READ_WINDOW_MS),
}
RATE_LIMIT_MSG = (
    "Rate limit reached. Please refer to API documentation and throttle requests accordingly."
)


class OkxError(Exception):
    def __init__(self, status: int, code: str, msg: str) -> None:
        super().__init__(code)
        self.status, self.code, self.msg = status, code, msg


def empty(name: str) -> OkxError:
    return OkxError(400, "50014", f"Parameter {name} can not be empty")


def wrong(name: str) -> OkxError:
    return OkxError(400, "51000", f"Parameter {name} error")


@dataclass
class SimAccount:
    secret: str
    passphrase: str
    demo: bool | None = None  # a demo key (True), a live one (False), or either (None)
    mmp_enabled: bool = True  # OKX granted the MMP privilege
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # family -> state
    sent: dict[tuple[str, str], deque[int]] = field(default_factory=dict)  # endpoint -> ms


class OkxSimulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        frozen_until_epoch: bool = False,
        rate_limit_429: bool = False,
        lists_disabled: bool = True,
        set_unfreezes: bool = False,
        qty_zero: str = "limit",
    ) -> None:
        self.qty_zero = zero_reading("qty_zero", qty_zero)
        self.clock = clock or Clock()
        self.frozen_until_epoch = frozen_until_epoch
        self.rate_limit_429 = rate_limit_429
        self.lists_disabled = lists_disabled
        self.set_unfreezes = set_unfreezes
        self.accounts: dict[str, SimAccount] = {}  # API key -> account
        self.requests: list[str] = []
        self._lock = threading.Lock()

    # ---- controls ------------------------------------------------------------------------

    def add_account(
        self, key: str, secret: str, passphrase: str = "", demo: bool | None = None
    ) -> None:
        self.accounts[key] = SimAccount(secret, passphrase or f"pass-{key}", demo)

    def seed(self, key: str, body: dict[str, Any]) -> None:
        """Set a config as if long ago: checked as a set, counted by no rate limit."""
        self._set(self.accounts[key], dict(body))

    def trigger(self, key: str, family: str) -> int | None:
        """Fills trip MMP on the family: frozen for its frozenInterval, or until a reset.
        Returns when the freeze ends (epoch ms), None for a manual one."""
        state = self.accounts[key].configs[family]
        frozen = int(state["frozenInterval"])
        until = None if frozen == 0 else self.clock.now_ms() + frozen
        state["mmpFrozen"], state["until"] = True, until
        return until

    def is_frozen(self, key: str, family: str) -> bool:
        state = self.accounts[key].configs.get(family)
        if state is None:
            return False
        self._thaw(state)
        return bool(state["mmpFrozen"])

    def fill(
        self, key: str, family: str, *, quantity: Decimal, delta: Decimal = Decimal(0)
    ) -> bool:
        """One MMP order of the family filled (counted alone: no window): MMP trips (as
        `trigger`) when the quantity exceeds qtyLimit (OKX has no delta limit: `delta` is
        not counted), a "0" as `qty_zero` reads it. True if it tripped; a family without
        config, disabled, or already frozen does not trip."""
        state = self.accounts[key].configs.get(family)
        if state is None or state["timeInterval"] == "0" or self.is_frozen(key, family):
            return False
        over = trips(Decimal(state["qtyLimit"]), self.qty_zero, quantity)
        if over:
            self.trigger(key, family)
        return over

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
            try:
                return self._answer(200, "0", "", self._handle(request))
            except OkxError as exc:
                return self._answer(exc.status, exc.code, exc.msg, [])

    def _answer(self, status: int, code: str, msg: str, data: list[Any]) -> httpx.Response:
        body = {"code": code, "msg": msg, "data": data}
        return httpx.Response(
            status, content=dumps_exact(body).encode(), headers={"Content-Type": "application/json"}
        )

    def _handle(self, request: httpx.Request) -> list[Any]:
        endpoint = (request.method, request.url.path)
        if endpoint not in LIMITS:
            raise OkxError(404, "50000", "Not Found")  # [assumption] the body of a 404
        account = self._authenticate(request)
        self._count(account, endpoint)
        if not account.mmp_enabled:
            raise OkxError(
                200, "51035", "Account does not have permission to submit MM quote order"
            )
        if request.method == "GET":
            return self._get(account, request.url.params)
        try:
            body = loads_exact(request.content)
        except ValueError:
            raise OkxError(400, "50002", "JSON syntax error") from None
        if not isinstance(body, dict):
            raise OkxError(400, "50002", "JSON syntax error")
        if request.url.query:
            raise wrong("query")
        if request.url.path == RESET_PATH:
            return self._reset(account, body)
        return [self._set(account, body)]

    def _authenticate(self, request: httpx.Request) -> SimAccount:
        headers = request.headers
        for name, code in (
            ("OK-ACCESS-KEY", "50103"),
            ("OK-ACCESS-PASSPHRASE", "50104"),
            ("OK-ACCESS-SIGN", "50106"),
            ("OK-ACCESS-TIMESTAMP", "50107"),
        ):
            if not headers.get(name):
                raise OkxError(401, code, f"Request header {name} can not be empty.")
        account = self.accounts.get(headers["OK-ACCESS-KEY"])
        if account is None:
            raise OkxError(401, "50111", "Invalid OK-ACCESS-KEY.")
        demo = headers.get("x-simulated-trading") == "1"
        if account.demo is not None and account.demo != demo:
            raise OkxError(401, "50101", "APIKey does not match current environment.")
        if not hmac.compare_digest(headers["OK-ACCESS-PASSPHRASE"], account.passphrase):
            raise OkxError(401, "50105", "Invalid OK-ACCESS-PASSPHRASE.")
        stamp = headers["OK-ACCESS-TIMESTAMP"]
        if not STAMP.fullmatch(stamp):
            raise OkxError(401, "50112", "Invalid OK-ACCESS-TIMESTAMP.")
        if abs(self.clock.now_ms() - parse_utc_ms(stamp)) > MAX_SKEW_MS:
            raise OkxError(401, "50102", "Timestamp request expired.")
        path = request.url.raw_path.decode("ascii")  # the path and its query, as sent
        expected = signature(
            account.secret, stamp, request.method, path, request.content.decode("utf-8", "replace")
        )
        if not hmac.compare_digest(expected, headers["OK-ACCESS-SIGN"]):
            raise OkxError(401, "50113", "Invalid Sign.")
        return account

    def _count(self, account: SimAccount, endpoint: tuple[str, str]) -> None:
        """Each endpoint's requests in the last window, per user ID; past the limit 50011,
        not counted."""
        limit, window_ms = LIMITS[endpoint]
        now = self.clock.now_ms()
        sent = account.sent.setdefault(endpoint, deque())
        while sent and sent[0] + window_ms <= now:
            sent.popleft()
        if len(sent) >= limit:
            raise OkxError(429 if self.rate_limit_429 else 200, "50011", RATE_LIMIT_MSG)
        sent.append(now)

    # ---- endpoints -----------------------------------------------------------------------

    def _get(self, account: SimAccount, params: httpx.QueryParams) -> list[Any]:
        if set(params) - {"instFamily"}:
            raise wrong(sorted(set(params) - {"instFamily"})[0])
        asked = params.get("instFamily")
        if asked is not None and asked not in FAMILIES:
            raise wrong("instFamily")
        found = []
        for family, state in sorted(account.configs.items()):
            if asked not in (None, family):
                continue
            self._thaw(state)
            if state["timeInterval"] == "0" and not self.lists_disabled:
                continue
            found.append({"instFamily": family, **self._shown(state)})
        return found

    def _shown(self, state: dict[str, Any]) -> dict[str, Any]:
        until = state.get("until")
        if not state["mmpFrozen"] or until is None:
            told = ""
        elif self.frozen_until_epoch:
            told = str(until)
        else:
            told = str(max(until - self.clock.now_ms(), 0))
        return {
            "mmpFrozen": state["mmpFrozen"],
            "mmpFrozenUntil": told,
            "timeInterval": state["timeInterval"],
            "frozenInterval": state["frozenInterval"],
            "qtyLimit": state["qtyLimit"],
        }

    def _set(self, account: SimAccount, body: dict[str, Any]) -> dict[str, str]:
        for name in body:
            if name not in SET_FIELDS:
                raise wrong(name)
        for name in SET_FIELDS:
            if body.get(name) in (None, ""):
                raise empty(name)
            if not isinstance(body[name], str):
                raise wrong(name)
        family = body["instFamily"]
        if family not in FAMILIES:
            raise wrong("instFamily")
        _whole(body, "timeInterval", MAX_WINDOW_MS)
        _whole(body, "frozenInterval", MAX_FROZEN_MS)
        _quantity(body["qtyLimit"])
        previous = account.configs.get(family, {})
        account.configs[family] = {
            "timeInterval": body["timeInterval"],
            "frozenInterval": body["frozenInterval"],
            "qtyLimit": body["qtyLimit"],
            # a set keeps a freeze, or (set_unfreezes) ends it
            "mmpFrozen": previous.get("mmpFrozen", False) and not self.set_unfreezes,
            "until": None if self.set_unfreezes else previous.get("until"),
        }
        return {
            name: body[name]
            for name in ("frozenInterval", "instFamily", "qtyLimit", "timeInterval")
        }

    def _reset(self, account: SimAccount, body: dict[str, Any]) -> list[Any]:
        for name in body:
            if name not in ("instType", "instFamily"):
                raise wrong(name)
        if body.get("instType", "OPTION") != "OPTION":
            raise wrong("instType")
        family = body.get("instFamily")
        if family in (None, ""):
            raise empty("instFamily")
        if family not in FAMILIES:
            raise wrong("instFamily")
        state = account.configs.get(family)
        if state is not None:
            state["mmpFrozen"], state["until"] = False, None
        return [{"result": True}]

    def _thaw(self, state: dict[str, Any]) -> None:
        until = state.get("until")
        if state["mmpFrozen"] and until is not None and until <= self.clock.now_ms():
            state["mmpFrozen"], state["until"] = False, None

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        return {
            "accounts": {
                key: {
                    "secret": a.secret,
                    "passphrase": a.passphrase,
                    "configs": dict(sorted(a.configs.items())),
                }
                for key, a in sorted(self.accounts.items())
            }
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump; a known account keeps its rate-limit counts."""
        accounts: dict[str, SimAccount] = {}
        for key, data in state.get("accounts", {}).items():
            account = SimAccount(
                data["secret"],
                data["passphrase"],
                configs={f: dict(c) for f, c in data["configs"].items()},
            )
            if key in self.accounts:
                account.sent = self.accounts[key].sent
            accounts[key] = account
        self.accounts = accounts


def _whole(body: dict[str, Any], name: str, maximum: int) -> None:
    text = body[name]
    if not text.isdigit() or not text.isascii() or int(text) > maximum:
        raise wrong(name)


def _quantity(text: str) -> None:
    """A plain decimal above 0 with at most MAX_DECIMALS places ("100", "2.5")."""
    if not PLAIN.fullmatch(text):
        raise wrong("qtyLimit")
    value = Decimal(text)
    if value <= 0 or decimal_places(value) > MAX_DECIMALS:
        raise wrong("qtyLimit")
