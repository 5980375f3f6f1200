"""Binance eapi wire format <-> canonical model, and request signing."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from reconciler.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.units import MANUAL, decimal_text

VENUE = "binance"


def sign(secret: str, total_params: str) -> str:
    """hex HMAC-SHA256 of totalParams (query string immediately followed by body)."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def set_params(key: ScopeKey, config: MmpConfig) -> list[tuple[str, str]]:
    assert config.quantity_limit is not None and config.delta_limit is not None
    frozen = 0 if config.frozen_ms == MANUAL else int(config.frozen_ms)
    return [
        ("underlying", key.underlying),
        ("windowTimeInMilliseconds", str(config.window_ms)),
        ("frozenTimeInMilliseconds", str(frozen)),
        ("qtyLimit", decimal_text(config.quantity_limit)),
        ("deltaLimit", decimal_text(config.delta_limit)),
    ]


def live_scope(account: str, item: dict[str, Any], now_ms: int) -> LiveScope:
    """One GET /eapi/v1/mmp answer; a zero window means no config is set."""
    key = ScopeKey(VENUE, account, str(item["underlying"]))
    window = int(item.get("windowTimeInMilliseconds") or 0)
    frozen_ms = int(item.get("frozenTimeInMilliseconds") or 0)
    config = None
    if window > 0:
        config = MmpConfig(
            window_ms=window,
            frozen_ms=MANUAL if frozen_ms == 0 else frozen_ms,
            quantity_limit=Decimal(str(item["qtyLimit"])),
            delta_limit=Decimal(str(item["deltaLimit"])),
        )
    return LiveScope(key, config, freeze_state(item, frozen_ms, now_ms))


def freeze_state(item: dict[str, Any], frozen_ms: int, now_ms: int) -> FreezeState:
    """Binance reports only lastTriggerTime: frozen while inside the frozen time after it."""
    last = int(item.get("lastTriggerTime") or 0)
    if last <= 0:
        return FreezeState(False)
    if frozen_ms == 0:
        return FreezeState(True, None, last_trigger_ms=last)  # until manual reset
    until = last + frozen_ms
    if now_ms < until:
        return FreezeState(True, until, last_trigger_ms=last)
    return FreezeState(False, last_trigger_ms=last)
