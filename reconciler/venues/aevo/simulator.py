"""A strict Aevo simulator (seed-venues.md section 3).

Readings, each labelled and switchable: the signed path of a GET is verified without its
query string (`sign_query=False`, the default: the reading our client does not try first,
so its fallback is exercised; `sign_query=True` for the other); the timestamp must be
within 30 s of the server's clock [assumption: tolerance not documented]; request numbers
must be numbers and amount_limit a string (no string delta_limit); window and freeze at
most 3600 s; 10 requests per second per key with a burst of 20 [assumption: limits not
published], answered with 429, `X-RETRY-AFTER` in nanoseconds and `retry_after` in the body.
GET /assets (public) lists `assets`, any list (BTC, ETH and SOL by default); GET and POST
/mmp and /reset-mmp refuse an asset it does not list (ERR_MALFORMED_REQUEST) [assumption:
the venue's answer to such an asset is not documented]. POST refuses a limit of 0 (our
client never sends one) [assumption]; GET reports a delta_limit never set as "0". What a
live "0" limit means is not documented: by `amount_zero` and `delta_zero`, a limit of zero
("limit", the default: any fill trips it) or no such limit ("none"); `fill` plays one MMP
order's fill against the limits (tripping when one is exceeded [assumption: > or >= is
not documented]).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from reconciler.core.units import decimal_places, decimal_text, dumps_exact, loads_exact
from reconciler.simulators.common import Clock, CreditBucket
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.aevo.wire import SCALE, signature

MAX_SKEW_NS = 30 * 10**9
DEFAULT_ASSETS = ("BTC", "ETH", "SOL")
POST_FIELDS = {"interval", "frozen", "amount_limit", "delta_limit", "asset"}


class AevoError(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status, self.code = status, code


MALFORMED = AevoError(400, "ERR_MALFORMED_REQUEST")


@dataclass
class SimAccount:
    secret: str
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> state
    bucket: CreditBucket = field(default_factory=lambda: CreditBucket(20, 10))


class AevoSimulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        sign_query: bool = False,
        assets: Iterable[str] = DEFAULT_ASSETS,
        amount_zero: str = "limit",
        delta_zero: str = "limit",
    ) -> None:
        self.amount_zero = zero_reading("amount_zero", amount_zero)
        self.delta_zero = zero_reading("delta_zero", delta_zero)
        self.clock = clock or Clock()
        self.sign_query = sign_query
        self.assets = tuple(assets)  # what GET /assets lists, in this order
        self.public = CreditBucket(20, 10)  # unauthenticated requests: per IP
        self.accounts: dict[str, SimAccount] = {}  # API key -> account
        self.requests: list[str] = []
        self._lock = threading.Lock()

    # ---- controls ------------------------------------------------------------------------

    def add_account(self, key: str, secret: str) -> None:
        self.accounts[key] = SimAccount(secret)

    def seed(self, key: str, body: dict[str, Any]) -> None:
        self._post_mmp(self.accounts[key], dict(body))

    def trigger(self, key: str, asset: str) -> int:
        state = self.accounts[key].configs[asset]
        frozen_s = int(state["frozen"])
        end = 0 if frozen_s == 0 else (self.clock.now_ms() + frozen_s * 1000) * 1_000_000
        state["triggered"], state["frozen_end_time"] = True, str(end)
        return end

    def fill(self, key: str, asset: str, *, quantity: Decimal, delta: Decimal) -> bool:
        """One MMP order of the asset filled (counted alone: no window): MMP trips (as
        `trigger`) when the quantity exceeds amount_limit or the delta's size delta_limit,
        a "0" limit as `amount_zero` and `delta_zero` read it. True if it tripped; an asset
        without config, or already frozen, does not trip."""
        state = self.accounts[key].configs.get(asset)
        if state is None:
            return False
        self._thaw(state)
        if state["triggered"]:
            return False
        amount = Decimal(state["amount_limit"]) / SCALE
        over = trips(amount, self.amount_zero, quantity) or trips(
            Decimal(state["delta_limit"]), self.delta_zero, abs(delta)
        )
        if over:
            self.trigger(key, asset)
        return over

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(f"{request.method} {request.url.path}")
            try:
                return self._answer(200, self._handle(request))
            except AevoError as exc:
                return self._answer(exc.status, {"error": exc.code})
            except _Limited as limited:
                return self._answer(
                    429,
                    {"error": "RATE_LIMIT_EXCEEDED", "retry_after": str(limited.wait_ns)},
                    {"X-RETRY-AFTER": str(limited.wait_ns)},
                )

    def _answer(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(
            status,
            content=dumps_exact(body).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _handle(self, request: httpx.Request) -> Any:
        routes = {
            ("GET", "/mmp"): self._get_mmp,
            ("POST", "/mmp"): self._post_mmp,
            ("POST", "/reset-mmp"): self._reset_mmp,
        }
        if (request.method, request.url.path) == ("GET", "/assets"):
            if not self.public.take(1, self.clock.now_ms()):
                raise _Limited(100_000_000)
            return list(self.assets)
        route = routes.get((request.method, request.url.path))
        if route is None:
            raise AevoError(404, "NOT_FOUND")
        account = self._authenticate(request)
        if not account.bucket.take(1, self.clock.now_ms()):
            raise _Limited(100_000_000)  # one token refills in 100 ms at 10 per second
        if request.method == "GET":
            params = dict(request.url.params)
            return route(account, params)
        try:
            body = loads_exact(request.content)
        except ValueError:
            raise MALFORMED from None
        if not isinstance(body, dict):
            raise MALFORMED
        return route(account, body)

    def _authenticate(self, request: httpx.Request) -> SimAccount:
        key = request.headers.get("AEVO-KEY", "")
        account = self.accounts.get(key)
        if account is None:
            raise AevoError(401, "UNAUTHORIZED")
        if "AEVO-SECRET" in request.headers:
            if not hmac.compare_digest(request.headers["AEVO-SECRET"], account.secret):
                raise AevoError(401, "UNAUTHORIZED")
            return account
        timestamp = request.headers.get("AEVO-TIMESTAMP", "")
        given = request.headers.get("AEVO-SIGNATURE", "")
        if not timestamp.isdigit() or not given:
            raise AevoError(401, "UNAUTHORIZED")
        if abs(self.clock.now_ms() * 1_000_000 - int(timestamp)) > MAX_SKEW_NS:
            raise AevoError(401, "UNAUTHORIZED")
        path = request.url.raw_path.decode() if self.sign_query else request.url.path
        expected = signature(
            account.secret, key, timestamp, request.method, path, request.content.decode()
        )
        if not hmac.compare_digest(expected, given.lower()):
            raise AevoError(401, "UNAUTHORIZED")
        return account

    # ---- endpoints -----------------------------------------------------------------------

    def _get_mmp(self, account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
        if set(params) != {"asset"} or params["asset"] not in self.assets:
            raise MALFORMED
        asset = params["asset"]
        state = account.configs.get(asset)
        if state is None:
            return {
                "enabled": False,
                "triggered": False,
                "asset": asset,
                "interval": "0",
                "frozen": "0",
                "frozen_end_time": "0",
                "amount_limit": "0",
                "delta_limit": "0",
                "amount_change": "0",
                "delta_change": "0",
            }
        self._thaw(state)
        return {
            **{k: v for k, v in state.items()},
            "asset": asset,
            "amount_change": "0",
            "delta_change": "0",
        }

    def _post_mmp(self, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
        if not set(body) <= POST_FIELDS or not {
            "interval",
            "frozen",
            "amount_limit",
            "asset",
        } <= set(body):
            raise MALFORMED
        asset = body["asset"]
        if asset not in self.assets:
            raise MALFORMED
        interval, frozen = _seconds(body["interval"]), _seconds(body["frozen"])
        amount = body["amount_limit"]
        if not isinstance(amount, str) or not amount.isdigit() or int(amount) <= 0:
            raise MALFORMED
        delta = body.get("delta_limit")
        if delta is not None and (
            isinstance(delta, (bool, str))
            or not isinstance(delta, (int, Decimal))
            or delta <= 0
            or decimal_places(Decimal(delta)) > 6
        ):
            raise MALFORMED
        if interval == 0:  # disables MMP for the asset
            account.configs.pop(asset, None)
            return {"success": True}
        previous = account.configs.get(asset, {})
        account.configs[asset] = {
            "enabled": True,
            "triggered": previous.get("triggered", False),
            "interval": str(interval),
            "frozen": str(frozen),
            "frozen_end_time": previous.get("frozen_end_time", "0"),
            "amount_limit": str(int(amount)),
            "delta_limit": "0" if delta is None else decimal_text(Decimal(delta)),
        }
        return {"success": True}

    def _reset_mmp(self, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
        if set(body) != {"asset"} or body["asset"] not in self.assets:
            raise MALFORMED
        state = account.configs.get(body["asset"])
        if state is not None:
            state["triggered"], state["frozen_end_time"] = False, "0"
        return {"success": True}

    def _thaw(self, state: dict[str, Any]) -> None:
        end = int(state.get("frozen_end_time") or 0)
        if state.get("triggered") and end and end <= self.clock.now_ms() * 1_000_000:
            state["triggered"], state["frozen_end_time"] = False, "0"

    # ---- state ---------------------------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        return {
            "assets": list(self.assets),
            "accounts": {
                key: {"secret": a.secret, "configs": dict(sorted(a.configs.items()))}
                for key, a in sorted(self.accounts.items())
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump; a known account keeps its rate-limit bucket."""
        self.assets = tuple(state.get("assets", DEFAULT_ASSETS))
        accounts: dict[str, SimAccount] = {}
        for key, data in state.get("accounts", {}).items():
            account = SimAccount(data["secret"], {a: dict(c) for a, c in data["configs"].items()})
            if key in self.accounts:
                account.bucket = self.accounts[key].bucket
            accounts[key] = account
        self.accounts = accounts


class _Limited(Exception):
    def __init__(self, wait_ns: int) -> None:
        super().__init__(wait_ns)
        self.wait_ns = wait_ns


def _seconds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3600:
        raise MALFORMED
    return int(value)
