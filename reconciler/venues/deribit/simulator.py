"""A strict Deribit simulator: JSON-RPC over HTTP, as seed-venues.md section 1 documents it.

Where the docs are unclear it takes the stricter reading, and a switch selects the other:
- `set_result`: "object" (the documented example) or "array" (the schema).
- `strict_remove`: a removal (interval 0) still needs max_quote_quantity and a limit.
- `mmp_disabled_code`: what an account without MMP gets: 11050 bad_request with
  data {reason: "MMP disabled"} (what a maintained client library reports, the default) or
  13040 mmp_required (the v2 code list's "User is not a MMP user").
- `trigger_payload`: what a user.mmp_trigger notification carries: "minimal" (the seed
  reference's {frozen_until}, the default) or "full" (also index_name, mmp_group, block_rfq).
  The WebSocket API (simulator_push.py) is served with `serve(sim, push=sim.ws)`.
- `trigger_all_channel`: which channel carries a trigger of Block RFQ's `all` (the docs name
  `user.mmp_trigger.{index_name}` and list `all` among index names, nothing more): none
  (False, the default: subscribing to user.mmp_trigger.all is refused and such a trigger is
  pushed nowhere) or user.mmp_trigger.all (True).
- `set_resets`: a set "triggers MMP reset" (its docs), of what they do not say, while
  reset_mmp is per (index_name, mmp_group, block_rfq space): a set ends the freeze of every
  scope of the account, in both config spaces ("account", the default: the broadest
  reading, so the least convenient for mmp), of every scope of its index in its own space,
  each group ("index"), or of the scope it sets only ("scope").
- `status_lists_all`: get_mmp_status's parameters are not documented beyond the key scope
  it needs (block_rfq:read "when block_rfq=true"): it takes block_rfq and lists one space
  (False, the default), or it ignores the parameter and lists every freeze of both spaces,
  each item flagged block_rfq true or false (True).
- `quantity_zero`, `delta_zero`, `vega_zero`, `quote_zero` (max_quote_quantity),
  `trade_count_zero` (Block RFQ's `all`): what a live limit of 0 means (a config set
  elsewhere; a set of 0 is refused, the docs: positive, 1..1000, or for max_quote_quantity
  by our assumption) is not documented: a limit of zero ("limit", the default: any fill
  trips it, no MMP quote fits under it) or no such limit ("none"). `fill` plays one MMP
  fill against the scope's limits (and a Block RFQ one, as one trade, against `all`'s
  trade count), tripping one it exceeds [assumption: "breached" is > or >= is not said];
  `quote_fits` says whether an MMP quote of a size is within max_quote_quantity.
Block RFQ MMP (block_rfq: true) is a config space of its own per index or `all`, asked for
with the key's block_rfq scope (add_account(block_rfq_scope=False): every block_rfq request
is refused 13021 forbidden, the docs' "insufficient permissions"); trade_count_limit (1..1000)
only on it and only on `all`, which takes no other limit but max_quote_quantity, required
as everywhere; no mmp_group there (groups are for Mass Quotes). A Block RFQ trigger is
pushed on its index's channel like an order one (under the minimal payload nothing tells
the two apart; the full one says block_rfq: true).
GET query values are read by the parameter's name (an mmp_group "2024" stays text); a
signature nonce is single use while its timestamp is inside the 60 s window (older ones,
which the window refuses anyway, are forgotten). Assumptions, labelled: parameter errors
answer -32602 with data {reason, param}; a group stays bound to its index while a config of
it exists; 10028 comes with HTTP 429; where "MMP disabled" sits in the 11050 error (data's
reason) is not documented.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reconciler.core.units import decimal_places, dumps_exact, loads_exact
from reconciler.simulators.common import Clock, CreditBucket
from reconciler.simulators.zeros import trips, zero_reading
from reconciler.venues.deribit.capabilities import INDEX_NAMES
from reconciler.venues.deribit.simulator_push import WebSocketApi

MAX_BODY = 32 * 1024
LIMITS = ("quantity_limit", "delta_limit", "vega_limit", "max_quote_quantity")
TRADE_COUNT = "trade_count_limit"
SET_PARAMS = {"index_name", "mmp_group", "interval", "frozen_time", "block_rfq", TRADE_COUNT}
SET_PARAMS |= set(LIMITS)
RFQ_INDEXES = INDEX_NAMES | {"all"}  # Block RFQ's: `all` for trade_count_limit
GROUP_ID_BASE = 144790485158858750  # ids exceed 2**53, as the docs show
SIGNATURE_WINDOW_MS = 60_000  # a deri-hmac-sha256 ts is valid 60 s either way
INTEGER_PARAMS = {"interval", "frozen_time", "trade_count_limit"}
BOOLEAN_PARAMS = {"block_rfq"}
SET_RESULTS = ("object", "array")  # set_result: the documented example's shape, the schema's
SET_RESETS = ("account", "index", "scope")  # set_resets: how far a set's MMP reset reaches
MMP_DISABLED = {  # mmp_disabled_code -> (message, data) of the refusal
    11050: ("bad_request", {"reason": "MMP disabled"}),
    13040: ("mmp_required", None),
}


class RpcError(Exception):
    def __init__(
        self, code: int, message: str, data: dict[str, Any] | None = None, status: int = 400
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.data, self.status = code, message, data, status


def invalid(param: str, reason: str) -> RpcError:
    return RpcError(-32602, "Invalid params", {"reason": reason, "param": param})


@dataclass
class SimAccount:
    client_secret: str
    mmp_enabled: bool = True
    configs: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)
    frozen_until: dict[tuple[str, str | None], int] = field(default_factory=dict)  # 0 = manual
    group_ids: dict[str, int] = field(default_factory=dict)
    block_rfq_scope: bool = True  # the key has the block_rfq:read_write scope
    rfq_configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # Block RFQ, by index
    rfq_frozen: dict[str, int] = field(default_factory=dict)  # 0 = manual
    bucket: CreditBucket = field(default_factory=lambda: CreditBucket(50_000, 10_000))


class DeribitSimulator:
    """An httpx handler (use with httpx.MockTransport) holding MMP state per API key."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        testnet: bool = False,
        set_result: str = "object",
        strict_remove: bool = True,
        token_ttl_s: int = 900,
        request_cost: int = 500,
        max_groups: int = 16,
        mmp_disabled_code: int = 11050,
        trigger_payload: str = "minimal",
        trigger_all_channel: bool = False,
        status_lists_all: bool = False,
        quantity_zero: str = "limit",
        delta_zero: str = "limit",
        vega_zero: str = "limit",
        quote_zero: str = "limit",
        trade_count_zero: str = "limit",
        set_resets: str = "account",
    ) -> None:
        self.zeros = {  # limit -> what its live 0 means
            "quantity_limit": zero_reading("quantity_zero", quantity_zero),
            "delta_limit": zero_reading("delta_zero", delta_zero),
            "vega_limit": zero_reading("vega_zero", vega_zero),
            "max_quote_quantity": zero_reading("quote_zero", quote_zero),
            TRADE_COUNT: zero_reading("trade_count_zero", trade_count_zero),
        }
        if mmp_disabled_code not in MMP_DISABLED:
            raise ValueError(f"mmp_disabled_code is one of {sorted(MMP_DISABLED)}")
        if set_result not in SET_RESULTS:  # another word would play the object silently
            raise ValueError(f"set_result is one of {list(SET_RESULTS)}")
        if set_resets not in SET_RESETS:
            raise ValueError(f"set_resets is one of {list(SET_RESETS)}")
        self.set_resets = set_resets
        self._seeding = False
        self.mmp_disabled_code = mmp_disabled_code
        self.clock = clock or Clock()
        self.testnet = testnet
        self.set_result = set_result
        self.strict_remove = strict_remove
        self.token_ttl_s = token_ttl_s
        self.request_cost = request_cost
        self.max_groups = max_groups
        self.trigger_all_channel = trigger_all_channel
        self.status_lists_all = status_lists_all
        self.accounts: dict[str, SimAccount] = {}
        self.tokens: dict[str, tuple[str, int]] = {}
        self.used_nonces: dict[tuple[str, str], int] = {}  # (client_id, nonce) -> its ts
        self._nonces_by_ts: list[tuple[int, str, str]] = []  # a heap: oldest ts first
        self.requests: list[str] = []  # method of every request, for tests and benchmarks
        self.before_request: Callable[[str, dict[str, Any]], None] | None = None  # fault hook
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.ws = WebSocketApi(self, trigger_payload)  # the WebSocket API (push=)

    # ---- test and sandbox controls -------------------------------------------------------

    def add_account(
        self,
        client_id: str,
        client_secret: str,
        *,
        mmp_enabled: bool = True,
        block_rfq_scope: bool = True,
    ) -> None:
        self.accounts[client_id] = SimAccount(
            client_secret, mmp_enabled, block_rfq_scope=block_rfq_scope
        )

    def seed(self, client_id: str, params: dict[str, Any]) -> None:
        """Set a config as the API would, bypassing auth and rate limits (the params as
        they would arrive: a whole Decimal is an integer on the wire); it ends the freeze of
        the scope it sets only, whatever set_resets."""
        self._seeding = True  # a seed sets the venue up: it ends no other scope's freeze
        try:
            self._set_mmp_config(self.accounts[client_id], loads_exact(dumps_exact(params)))
        finally:
            self._seeding = False

    def trigger(
        self, client_id: str, index_name: str, group: str | None = None, *, block_rfq: bool = False
    ) -> int:
        """Trip MMP on a configured scope (`block_rfq`: a Block RFQ one, index_name may be
        `all`); returns frozen_until (0 = until manual reset)."""
        account = self.accounts[client_id]
        config = (
            account.rfq_configs[index_name] if block_rfq else account.configs[(index_name, group)]
        )
        frozen_s = int(config["frozen_time"])
        until = 0 if frozen_s == 0 else self.clock.now_ms() + max(frozen_s, 1) * 1000
        if block_rfq:
            account.rfq_frozen[index_name] = until
            self.ws.triggered(client_id, index_name, None, until, block_rfq=True)
            return until
        account.frozen_until[(index_name, group)] = until
        self.ws.triggered(client_id, index_name, group, until)  # on user.mmp_trigger.{index}
        return until

    def fill(
        self,
        client_id: str,
        index_name: str,
        *,
        quantity: Decimal,
        delta: Decimal = Decimal(0),
        vega: Decimal = Decimal(0),
        block_rfq: bool = False,
    ) -> bool:
        """One MMP fill on the index's default group (counted alone: no window), or a Block
        RFQ trade (`block_rfq`: one trade against `all`'s trade_count_limit too): trips (as
        `trigger`) the first config a limit of which it exceeds, a 0 as `self.zeros` reads
        it. True if one tripped; a frozen scope does not trip."""
        account = self.accounts[client_id]
        counted = {"quantity_limit": quantity, "delta_limit": abs(delta), "vega_limit": abs(vega)}
        if block_rfq:
            self._rfq_status(account, {})  # ends the freezes that are over
            scopes = [(i, account.rfq_configs.get(i)) for i in dict.fromkeys((index_name, "all"))]
            counted[TRADE_COUNT] = Decimal(1)
            frozen = account.rfq_frozen
        else:
            self._expire_freezes(account)
            scopes = [(index_name, account.configs.get((index_name, None)))]
            frozen = {i: until for (i, g), until in account.frozen_until.items() if g is None}
        for index, config in scopes:
            if config is None or index in frozen or not self._over(config, counted):
                continue
            self.trigger(client_id, index, block_rfq=block_rfq)
            return True
        return False

    def _over(self, config: dict[str, Any], counted: dict[str, Decimal]) -> bool:
        return any(
            trips(Decimal(config[name]), self.zeros[name], amount)
            for name, amount in counted.items()
            if name in config
        )

    def quote_fits(self, client_id: str, index_name: str, size: Decimal) -> bool:
        """An MMP quote of `size` per side on the index's default group is within its
        max_quote_quantity (a 0 as `self.zeros` reads it: no quote, or no cap); an index
        without config caps nothing."""
        config = self.accounts[client_id].configs.get((index_name, None))
        if config is None:
            return True
        cap = Decimal(config["max_quote_quantity"])
        return not trips(cap, self.zeros["max_quote_quantity"], size)

    def expire_tokens(self) -> None:
        self.tokens = {t: (cid, 0) for t, (cid, _) in self.tokens.items()}

    # ---- HTTP ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            started = self.clock.now_ms() * 1000
            request_id: Any = None
            try:
                method, params, request_id = self._parse(request)
                self.requests.append(method)
                if self.before_request is not None:
                    self.before_request(method, params)
                result = self._dispatch(request, method, params)
            except RpcError as exc:
                error: dict[str, Any] = {"code": exc.code, "message": exc.message}
                if exc.data:
                    error["data"] = exc.data
                return self._envelope(exc.status, request_id, started, error=error)
            return self._envelope(200, request_id, started, result=result)

    def _envelope(
        self, status: int, request_id: Any, started_us: int, **payload: Any
    ) -> httpx.Response:
        finished = self.clock.now_ms() * 1000
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            **payload,
            "testnet": self.testnet,
            "usIn": started_us,
            "usOut": finished,
            "usDiff": finished - started_us,
        }
        return httpx.Response(
            status,
            content=dumps_exact(body).encode(),
            headers={"Content-Type": "application/json"},
        )

    def _parse(self, request: httpx.Request) -> tuple[str, dict[str, Any], Any]:
        path = request.url.path
        if not path.startswith("/api/v2/"):
            raise RpcError(-32601, "Method not found", status=404)
        method = path.removeprefix("/api/v2/")
        raw = request.content
        if len(raw) > MAX_BODY:
            raise RpcError(-32600, "request entity too large", status=413)
        if request.method == "GET" and not raw:
            params: dict[str, Any] = {
                k: _query_value(k, v) for k, v in parse_qsl(request.url.query.decode())
            }
            return method, params, None
        if request.method not in ("GET", "POST"):
            raise RpcError(-32601, "Method not found", status=405)
        try:
            body = loads_exact(raw)
        except ValueError:
            raise RpcError(-32700, "Parse error") from None
        if isinstance(body, list):
            raise RpcError(
                -32600, "Invalid Request", {"reason": "batch requests are not supported"}
            )
        if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
            raise RpcError(-32600, "Invalid Request", {"reason": "jsonrpc must be 2.0"})
        if "id" not in body:
            raise RpcError(-32600, "Invalid Request", {"reason": "id is required"})
        if body.get("method", method) != method:
            raise RpcError(-32600, "Invalid Request", {"reason": "method does not match path"})
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise RpcError(-32602, "Invalid params", {"reason": "named params only"})
        return method, params, body["id"]

    def _dispatch(self, request: httpx.Request, method: str, params: dict[str, Any]) -> Any:
        if method == "public/auth":
            return self._auth(params)
        handlers: dict[str, Callable[[SimAccount, dict[str, Any]], Any]] = {
            "private/get_mmp_config": self._get_mmp_config,
            "private/get_mmp_status": self._get_mmp_status,
            "private/set_mmp_config": self._set_mmp_config,
            "private/reset_mmp": self._reset_mmp,
        }
        if method not in handlers:
            raise RpcError(-32601, "Method not found", status=404)
        client_id = self._authenticate(request)
        account = self.accounts[client_id]
        if not account.bucket.take(self.request_cost, self.clock.now_ms()):
            raise RpcError(10028, "too_many_requests", status=429)
        if not account.mmp_enabled:
            message, data = MMP_DISABLED[self.mmp_disabled_code]
            raise RpcError(self.mmp_disabled_code, message, data and dict(data))
        if _block_rfq(params):
            if not account.block_rfq_scope:  # the docs: "insufficient permissions"
                raise RpcError(13021, "forbidden")
            rfq: dict[str, Callable[[SimAccount, dict[str, Any]], Any]] = {
                "private/get_mmp_config": self._get_rfq_config,
                "private/get_mmp_status": self._get_rfq_status,
                "private/set_mmp_config": self._set_rfq_config,
                "private/reset_mmp": self._reset_rfq,
            }
            return rfq[method](account, params)
        return handlers[method](account, params)

    # ---- auth ----------------------------------------------------------------------------

    def _auth(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("grant_type") != "client_credentials":
            raise invalid("grant_type", "only client_credentials is simulated")
        client_id, secret = params.get("client_id"), params.get("client_secret")
        account = self.accounts.get(str(client_id))
        if account is None or not hmac.compare_digest(str(secret), account.client_secret):
            raise RpcError(13004, "invalid_credentials", status=400)
        if not account.bucket.take(self.request_cost, self.clock.now_ms()):
            raise RpcError(10028, "too_many_requests", status=429)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (str(client_id), self.clock.now_ms() + self.token_ttl_s * 1000)
        scope = "trade:read_write" + (" block_rfq:read_write" if account.block_rfq_scope else "")
        return {
            "access_token": token,
            "refresh_token": secrets.token_urlsafe(24),
            "expires_in": self.token_ttl_s,
            "scope": scope,
            "token_type": "bearer",
            "enabled_features": [],
        }

    def _authenticate(self, request: httpx.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if not header:
            raise RpcError(10000, "authorization_required", status=401)
        if scheme == "Bearer":
            client_id, expiry = self.tokens.get(value, ("", 0))
            if not client_id or self.clock.now_ms() >= expiry:
                raise RpcError(13009, "unauthorized", status=401)
            return client_id
        if scheme == "Basic":
            client_id, _, secret = base64.b64decode(value).decode(errors="replace").partition(":")
            account = self.accounts.get(client_id)
            if account is None or not hmac.compare_digest(secret, account.client_secret):
                raise RpcError(13009, "unauthorized", status=401)
            return client_id
        if scheme == "deri-hmac-sha256":
            return self._verify_signature(request, value)
        raise RpcError(13009, "unauthorized", status=401)

    def _verify_signature(self, request: httpx.Request, value: str) -> str:
        fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        client_id, ts = fields.get("id", ""), fields.get("ts", "")
        sig, nonce = fields.get("sig", ""), fields.get("nonce", "")
        account = self.accounts.get(client_id)
        if account is None or not ts.isdigit() or not nonce:
            raise RpcError(13009, "unauthorized", status=401)
        self._forget_old_nonces()
        stale = abs(self.clock.now_ms() - int(ts)) > SIGNATURE_WINDOW_MS
        if stale or (client_id, nonce) in self.used_nonces:
            raise RpcError(13009, "unauthorized", status=401)
        uri = request.url.raw_path.decode()
        data = f"{request.method.upper()}\n{uri}\n{request.content.decode()}\n"
        expected = deribit_signature(account.client_secret, ts, nonce, data)
        if not hmac.compare_digest(expected, sig):
            raise RpcError(13009, "unauthorized", status=401)
        self.used_nonces[(client_id, nonce)] = int(ts)
        heapq.heappush(self._nonces_by_ts, (int(ts), client_id, nonce))
        return client_id

    def _forget_old_nonces(self) -> None:
        """A nonce whose timestamp the window now refuses cannot be replayed: forget it."""
        oldest_taken = self.clock.now_ms() - SIGNATURE_WINDOW_MS
        while self._nonces_by_ts and self._nonces_by_ts[0][0] < oldest_taken:
            _, client_id, nonce = heapq.heappop(self._nonces_by_ts)
            del self.used_nonces[(client_id, nonce)]

    # ---- MMP methods ---------------------------------------------------------------------

    def _get_mmp_config(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        _only(params, {"index_name", "mmp_group", "block_rfq"})
        index = params.get("index_name")
        group = params.get("mmp_group")
        if group is not None and index is None:
            raise invalid("mmp_group", "mmp_group requires index_name")
        if index is not None:
            _index(index)
        return [
            dict(config)
            for (cfg_index, cfg_group), config in sorted(account.configs.items(), key=_sort)
            if (index is None or cfg_index == index) and (group is None or cfg_group == group)
        ]

    def _get_mmp_status(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        _only(params, {"index_name", "mmp_group", "block_rfq"})
        if self.status_lists_all:  # the block_rfq parameter ignored: both spaces, flagged
            return self._every_status(account, params)
        return self._order_status(account, params)

    def _every_status(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._order_status(account, params, flag=True) + self._rfq_status(account, params)

    def _order_status(
        self, account: SimAccount, params: dict[str, Any], *, flag: bool = False
    ) -> list[dict[str, Any]]:
        self._expire_freezes(account)
        out = []
        for (index, group), until in sorted(account.frozen_until.items(), key=_sort):
            if params.get("index_name") not in (None, index):
                continue
            item: dict[str, Any] = {"index_name": index, "frozen_until": until}
            if group is not None:
                item["mmp_group"] = group
            out.append({**item, "block_rfq": False} if flag else item)
        return out

    def _reset_mmp(self, account: SimAccount, params: dict[str, Any]) -> str:
        _only(params, {"index_name", "mmp_group", "block_rfq"})
        if params.get("index_name") == "all" and not params.get("block_rfq"):
            raise invalid("index_name", "all is only allowed with block_rfq")
        index = _index(_required(params, "index_name"))
        account.frozen_until.pop((index, _group(params)), None)
        return "ok"

    def _set_mmp_config(self, account: SimAccount, params: dict[str, Any]) -> Any:
        if _block_rfq(params):  # seed() comes here straight
            return self._set_rfq_config(account, params)
        _only(params, SET_PARAMS)
        index = _index(_required(params, "index_name"))
        interval = _int_in(params, "interval", 0, 3600)
        frozen = _int_in(params, "frozen_time", 0, 3600)
        group = _group(params)
        if TRADE_COUNT in params:
            raise invalid(TRADE_COUNT, "only with block_rfq and index_name all")
        limits = {name: _limit(params, name) for name in LIMITS if name in params}
        if interval > 0 or self.strict_remove:
            if "max_quote_quantity" not in limits:
                raise invalid("max_quote_quantity", "max_quote_quantity is required")
            if not {"quantity_limit", "delta_limit", "vega_limit"} & limits.keys():
                raise invalid("quantity_limit", "at least one limit parameter must be set")
        self._bind_group(account, index, group)
        key = (index, group)
        self._set_reset(account, index, group, block_rfq=False)
        if interval == 0:
            account.configs.pop(key, None)
            if group is not None and not any(g == group for _, g in account.configs):
                account.group_ids.pop(group, None)
            return self._set_answer({"index_name": index, "interval": 0, "frozen_time": frozen})
        config: dict[str, Any] = {"index_name": index}
        if group is not None:
            config["mmp_group"] = group
            config["id"] = account.group_ids[group]
        config.update({"interval": interval, "frozen_time": frozen, **limits})
        account.configs[key] = config
        return self._set_answer(dict(config))

    # ---- Block RFQ MMP (block_rfq: true): its own configs and freezes ------------------

    def _get_rfq_config(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        _only(params, {"index_name", "block_rfq"})
        index = params.get("index_name")
        if index is not None:
            _index(index, RFQ_INDEXES)
        return [
            dict(config)
            for name, config in sorted(account.rfq_configs.items())
            if index in (None, name)
        ]

    def _get_rfq_status(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        _only(params, {"index_name", "block_rfq"})
        if self.status_lists_all:
            return self._every_status(account, params)
        return self._rfq_status(account, params)

    def _rfq_status(self, account: SimAccount, params: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.clock.now_ms()
        for name, until in list(account.rfq_frozen.items()):
            if until and until <= now:
                del account.rfq_frozen[name]
        return [
            {"index_name": name, "frozen_until": until, "block_rfq": True}
            for name, until in sorted(account.rfq_frozen.items())
            if params.get("index_name") in (None, name)
        ]

    def _reset_rfq(self, account: SimAccount, params: dict[str, Any]) -> str:
        _only(params, {"index_name", "block_rfq"})
        index = _index(_required(params, "index_name"), RFQ_INDEXES)
        account.rfq_frozen.pop(index, None)
        return "ok"

    def _set_rfq_config(self, account: SimAccount, params: dict[str, Any]) -> Any:
        _only(params, SET_PARAMS)
        if "mmp_group" in params:
            raise invalid("mmp_group", "mmp_group is for Mass Quotes, not Block RFQ")
        index = _index(_required(params, "index_name"), RFQ_INDEXES)
        interval = _int_in(params, "interval", 0, 3600)
        frozen = _int_in(params, "frozen_time", 0, 3600)
        limits: dict[str, Any] = {name: _limit(params, name) for name in LIMITS if name in params}
        if TRADE_COUNT in params:
            if index != "all":
                raise invalid(TRADE_COUNT, "only with block_rfq and index_name all")
            limits[TRADE_COUNT] = _int_in(params, TRADE_COUNT, 1, 1000)
        if index == "all":
            for name in ("quantity_limit", "delta_limit", "vega_limit"):
                if name in limits:
                    raise invalid(name, "index_name all takes trade_count_limit only")
        if interval > 0 or self.strict_remove:
            if "max_quote_quantity" not in limits:
                raise invalid("max_quote_quantity", "max_quote_quantity is required")
            if not {"quantity_limit", "delta_limit", "vega_limit", TRADE_COUNT} & limits.keys():
                raise invalid("quantity_limit", "at least one limit parameter must be set")
        self._set_reset(account, index, None, block_rfq=True)  # as for order MMP
        if interval == 0:
            account.rfq_configs.pop(index, None)
            answer = {"index_name": index, "interval": 0, "frozen_time": frozen}
            return self._set_answer({**answer, "block_rfq": True})
        config: dict[str, Any] = {"index_name": index, "block_rfq": True}
        config.update({"interval": interval, "frozen_time": frozen, **limits})
        account.rfq_configs[index] = config
        return self._set_answer(dict(config))

    def _set_reset(
        self, account: SimAccount, index: str, group: str | None, *, block_rfq: bool
    ) -> None:
        """What "Set config for MMP - triggers MMP reset" ends: the freezes set_resets names."""
        reach = "scope" if self._seeding else self.set_resets
        if reach == "account":
            account.frozen_until.clear()
            account.rfq_frozen.clear()
        elif block_rfq:  # no groups in Block RFQ: its index is its one scope
            account.rfq_frozen.pop(index, None)
        elif reach == "index":
            for frozen in [k for k in account.frozen_until if k[0] == index]:
                del account.frozen_until[frozen]
        else:
            account.frozen_until.pop((index, group), None)

    def _set_answer(self, config: dict[str, Any]) -> Any:
        return [config] if self.set_result == "array" else config

    def _bind_group(self, account: SimAccount, index: str, group: str | None) -> None:
        if group is None:
            return
        bound = {g: i for (i, g) in account.configs if g is not None}
        if group in bound and bound[group] != index:
            raise RpcError(
                11029,
                "invalid_arguments",
                {"reason": f"mmp_group is bound to {bound[group]}", "param": "mmp_group"},
            )
        if group not in account.group_ids:
            if len(account.group_ids) >= self.max_groups:
                raise RpcError(
                    11029,
                    "invalid_arguments",
                    {"reason": "too many MMP groups", "param": "mmp_group"},
                )
            account.group_ids[group] = GROUP_ID_BASE + len(account.group_ids) + 1

    def _expire_freezes(self, account: SimAccount) -> None:
        now = self.clock.now_ms()
        for key, until in list(account.frozen_until.items()):
            if until and until <= now:
                del account.frozen_until[key]

    # ---- state for the sandbox -----------------------------------------------------------

    def dump_state(self) -> dict[str, object]:
        """What the venue holds per account: configs, freezes and group ids (tokens and used
        signature nonces are this process's session, not venue state)."""
        return {
            "accounts": {
                client_id: {
                    "client_secret": account.client_secret,
                    "mmp_enabled": account.mmp_enabled,
                    "configs": [c for _, c in sorted(account.configs.items(), key=_sort)],
                    "frozen": [
                        {"index_name": i, "mmp_group": g, "frozen_until": until}
                        for (i, g), until in sorted(account.frozen_until.items(), key=_sort)
                    ],
                    "group_ids": dict(sorted(account.group_ids.items())),
                    "block_rfq_scope": account.block_rfq_scope,
                    "block_rfq_configs": [c for _, c in sorted(account.rfq_configs.items())],
                    "block_rfq_frozen": dict(sorted(account.rfq_frozen.items())),
                }
                for client_id, account in sorted(self.accounts.items())
            }
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the venue's state with a dump, as it was: no validation, no freeze undone,
        group ids kept. Tokens stay valid; a known account keeps its rate-limit bucket."""
        accounts: dict[str, SimAccount] = {}
        for client_id, data in state.get("accounts", {}).items():
            account = SimAccount(data["client_secret"], bool(data["mmp_enabled"]))
            for saved in data["configs"]:
                config: dict[str, Any] = dict(saved)
                for name in LIMITS:
                    if name in config:
                        config[name] = Decimal(config[name])
                account.configs[(config["index_name"], config.get("mmp_group"))] = config
            for frozen in data["frozen"]:
                key = (frozen["index_name"], frozen.get("mmp_group"))
                account.frozen_until[key] = int(frozen["frozen_until"])
            account.group_ids = {g: int(i) for g, i in data.get("group_ids", {}).items()}
            account.block_rfq_scope = bool(data.get("block_rfq_scope", True))
            for saved in data.get("block_rfq_configs", []):
                config = {
                    name: Decimal(value) if name in LIMITS else value
                    for name, value in saved.items()
                }
                account.rfq_configs[config["index_name"]] = config
            for index, until in data.get("block_rfq_frozen", {}).items():
                account.rfq_frozen[index] = int(until)
            for config in account.configs.values():  # files written before group_ids
                if "mmp_group" in config:
                    account.group_ids.setdefault(config["mmp_group"], int(config["id"]))
            if client_id in self.accounts:
                account.bucket = self.accounts[client_id].bucket
            accounts[client_id] = account
        self.accounts = accounts


def deribit_signature(secret: str, ts: str, nonce: str, data: str) -> str:
    message = f"{ts}\n{nonce}\n{data}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def _sort(item: tuple[tuple[str, str | None], Any]) -> tuple[str, str]:
    (index, group), _ = item
    return (index, group or "")


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise invalid(name, "unexpected parameter")


def _required(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        raise RpcError(-32602, "Invalid params", {"reason": "required", "param": name})
    return params[name]


def _block_rfq(params: dict[str, Any]) -> bool:
    value = params.get("block_rfq", False)
    if not isinstance(value, bool):
        raise invalid("block_rfq", "must be a boolean")
    return value


def _index(value: Any, known: frozenset[str] = INDEX_NAMES) -> str:
    if not isinstance(value, str) or value not in known:
        raise invalid("index_name", "must be one of the documented index names")
    return value


def _int_in(params: dict[str, Any], name: str, low: int, high: int) -> int:
    value = _required(params, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, "must be an integer")
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}")
    return int(value)


def _group(params: dict[str, Any]) -> str | None:
    group = params.get("mmp_group")
    if group is None:
        return None
    if not isinstance(group, str) or not group or len(group) > 64:
        raise invalid("mmp_group", "must be a non-empty string of at most 64 characters")
    return group


def _limit(params: dict[str, Any], name: str) -> Decimal:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise invalid(name, "must be a number")
    number = Decimal(value)
    if number <= 0:
        raise invalid(name, "must be positive")
    if decimal_places(number) > 4:
        raise invalid(name, "at most 4 decimal places are supported")
    return number


def _query_value(name: str, text: str) -> Any:
    """A query-string param arrives as text: read it as the type its name takes (integers,
    booleans, the limits as numbers); anything else, or text that is not of the type, stays
    text for validation to judge."""
    if name in INTEGER_PARAMS and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if name in BOOLEAN_PARAMS and text in ("true", "false"):
        return text == "true"
    if name in LIMITS:
        try:
            number = Decimal(text)
        except ArithmeticError:
            return text
        return number if number.is_finite() else text
    return text
