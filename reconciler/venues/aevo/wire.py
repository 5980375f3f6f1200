"""Aevo wire format <-> canonical model, and request signing."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from reconciler.core import units
from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import epoch_ms
from reconciler.venues import answers
from reconciler.venues.aevo.capabilities import CAPABILITIES

VENUE = "aevo"
SCALE = Decimal(10) ** 6  # amount_limit: contracts x 10^6, as an integer string


def signature(secret: str, key: str, timestamp_ns: str, method: str, path: str, body: str) -> str:
    message = f"{key},{timestamp_ns},{method.upper()},{path},{body}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed_path(raw_path: bytes, base: bytes, *, query: bool = True) -> str:
    """The path that is signed: the request's path and (with `query`) its query string as
    sent, after the base URL's own path (`base`, without its trailing slash) where it has
    one. Whether Aevo signs the query is not documented (reconciler.venues.aevo.signing)."""
    if base and raw_path.startswith(base + b"/"):
        raw_path = raw_path[len(base) :]
    if not query:
        raw_path = raw_path.partition(b"?")[0]
    return raw_path.decode("ascii")


def assets_from_wire(answer: Any) -> frozenset[str]:
    """GET /assets: a JSON array of asset names (["ETH", "BTC"]); an empty list is no list."""
    if not isinstance(answer, list):
        raise answers.wrong("the answer", "an array of asset names", answer)
    names = [answers.text({"asset": item}, "asset") for item in answer]
    if not names:
        raise answers.Malformed("the answer lists no asset")
    return frozenset(names)


def amount_to_wire(quantity: Decimal) -> str:
    scaled = units.EXACT.multiply(quantity, SCALE)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{quantity} has more than 6 decimal places")  # validate stops this
    return str(int(scaled))


def amount_from_wire(text: str) -> Decimal:
    return units.exact(units.EXACT.divide(Decimal(text), SCALE))


def set_body(key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    assert config.quantity_limit is not None
    body: dict[str, Any] = {
        "interval": CAPABILITIES.window.to_wire(config.window_ms),
        "frozen": CAPABILITIES.frozen.to_wire(config.frozen_ms),  # manual: 0
        "amount_limit": amount_to_wire(config.quantity_limit),
    }
    if config.delta_limit is not None:
        body["delta_limit"] = config.delta_limit
    body["asset"] = key.underlying
    return body


def remove_body(key: ScopeKey, before: MmpConfig) -> dict[str, Any]:
    """interval 0 disables MMP for the asset; the other fields repeat the old config."""
    return {**set_body(key, before), "interval": 0}


def live_scope(account: str, item: Any, *, asked: str | None = None) -> LiveScope:
    """One GET /mmp answer. The simulator answers every field, zeros for an asset without a
    config, so every field we read is required; a disabled or zero-interval asset has no
    config. `asked`: the asset requested, which the answer must name."""
    item = answers.obj(item)
    asset = answers.text(item, "asset")
    if asked is not None and asset != asked:
        raise answers.Malformed("asset is not the one asked for")
    enabled, triggered = answers.flag(item, "enabled"), answers.flag(item, "triggered")
    interval, frozen_s = answers.int_text(item, "interval"), answers.int_text(item, "frozen")
    end_ns = answers.int_text(item, "frozen_end_time")
    amount = answers.int_text(item, "amount_limit")
    delta = answers.decimal_text(item, "delta_limit")
    config = None
    if enabled and interval > 0:
        config = MmpConfig(
            window_ms=CAPABILITIES.window.ms_from_wire(interval),
            frozen_ms=CAPABILITIES.frozen.from_wire(frozen_s),  # 0: until a manual reset
            # "0": meaning undocumented (capabilities.py: `undocumented`), read as it came for
            # amount_limit (always set), as none for delta_limit (a config set without one
            # reads back "0"); a change from either has no known direction (the planner)
            quantity_limit=amount_from_wire(str(amount)),
            delta_limit=units.exact(delta) if delta > 0 else None,
        )
    freeze = FreezeState(False)
    if triggered:
        until = epoch_ms(end_ns, "ns") if frozen_s and end_ns else None
        freeze = FreezeState(True, until)
    return LiveScope(ScopeKey(VENUE, account, asset), config, freeze)


def check_acknowledged(answer: Any) -> bool:
    """POST /mmp and /reset-mmp answer {"success": true}; False: the venue said it failed."""
    return answers.flag(answers.obj(answer), "success")
