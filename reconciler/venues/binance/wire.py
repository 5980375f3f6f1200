"""Binance eapi wire format <-> canonical model, and request signing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from reconciler.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.units import MANUAL, decimal_text
from reconciler.venues import answers

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


def live_scope(account: str, item: Any, now_ms: int, *, asked: str | None = None) -> LiveScope:
    """One GET /eapi/v1/mmp answer (set and reset answer the same object); every field is
    required, and a zero window means no config is set. `asked`: the underlying requested,
    which the answer must name."""
    item = answers.obj(item)
    underlying = answers.text(item, "underlying")
    if asked is not None and underlying != asked:
        raise answers.Malformed("underlying is not the one asked for")
    window = answers.integer(item, "windowTimeInMilliseconds")
    frozen_ms = answers.integer(item, "frozenTimeInMilliseconds")
    quantity = answers.decimal_text(item, "qtyLimit")
    delta = answers.decimal_text(item, "deltaLimit")
    last = answers.integer(item, "lastTriggerTime")
    config = None
    if window > 0:
        config = MmpConfig(
            window_ms=window,
            frozen_ms=MANUAL if frozen_ms == 0 else frozen_ms,
            quantity_limit=quantity,
            delta_limit=delta,
        )
    freeze = freeze_state(last, frozen_ms, now_ms)
    return LiveScope(ScopeKey(VENUE, account, underlying), config, freeze)


def freeze_state(last: int, frozen_ms: int, now_ms: int) -> FreezeState:
    """Binance reports only lastTriggerTime (0: never): frozen while inside the frozen time
    after it."""
    if last <= 0:
        return FreezeState(False)
    if frozen_ms == 0:
        return FreezeState(True, None, last_trigger_ms=last)  # until manual reset
    until = last + frozen_ms
    if now_ms < until:
        return FreezeState(True, until, last_trigger_ms=last)
    return FreezeState(False, last_trigger_ms=last)
