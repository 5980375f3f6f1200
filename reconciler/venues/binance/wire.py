"""Binance eapi wire format <-> canonical model, and request signing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, FreezeMs, decimal_text, epoch_ms, utc_text
from reconciler.venues import answers
from reconciler.venues.binance.capabilities import CAPABILITIES

VENUE = "binance"


def sign(secret: str, total_params: str) -> str:
    """hex HMAC-SHA256 of totalParams (query string immediately followed by body)."""
    return hmac.new(secret.encode(), total_params.encode(), hashlib.sha256).hexdigest()


def set_params(key: ScopeKey, config: MmpConfig) -> list[tuple[str, str]]:
    assert config.quantity_limit is not None and config.delta_limit is not None
    return [
        ("underlying", key.underlying),
        ("windowTimeInMilliseconds", str(CAPABILITIES.window.to_wire(config.window_ms))),
        ("frozenTimeInMilliseconds", str(CAPABILITIES.frozen.to_wire(config.frozen_ms))),
        ("qtyLimit", decimal_text(config.quantity_limit)),
        ("deltaLimit", decimal_text(config.delta_limit)),
    ]


def underlyings_from_wire(answer: Any) -> frozenset[str]:
    """GET /eapi/v1/exchangeInfo: the `underlying` of each of its optionContracts, and of
    each optionSymbols entry where the answer has them; no underlying at all is no list."""
    info = answers.obj(answer)
    items = answers.objects(answers.present(info, "optionContracts"), "optionContracts")
    if "optionSymbols" in info:
        items += answers.objects(info["optionSymbols"], "optionSymbols")
    names = frozenset(answers.text(item, "underlying") for item in items)
    if not names:
        raise answers.Malformed("optionContracts lists no underlying")
    return names


def live_scope(account: str, item: Any, now_ms: int, *, asked: str | None = None) -> LiveScope:
    """One GET /eapi/v1/mmp answer (set and reset answer the same object); every field is
    required, and a zero window means no config is set. `asked`: the underlying requested,
    which the answer must name."""
    item = answers.obj(item)
    underlying = answers.text(item, "underlying")
    if asked is not None and underlying != asked:
        raise answers.Malformed("underlying is not the one asked for")
    window = answers.integer(item, "windowTimeInMilliseconds")
    frozen = CAPABILITIES.frozen.from_wire(answers.integer(item, "frozenTimeInMilliseconds"))
    quantity = answers.decimal_text(item, "qtyLimit")
    delta = answers.decimal_text(item, "deltaLimit")
    last = epoch_ms(answers.integer(item, "lastTriggerTime"), "ms")
    config = None
    if window > 0:
        config = MmpConfig(
            window_ms=CAPABILITIES.window.ms_from_wire(window),
            frozen_ms=frozen,
            # a "0" (the docs: > 0; its meaning undocumented) is read as it came: a change
            # from it has no known direction (capabilities.py: `undocumented`)
            quantity_limit=quantity,
            delta_limit=delta,
        )
    freeze = freeze_state(last, frozen, now_ms)
    return LiveScope(ScopeKey(VENUE, account, underlying), config, freeze)


# how Binance tells a timed freeze: by the trigger time alone, so a reset since (made on
# Binance's own pages) would not show where it leaves lastTriggerTime as it was
TIMED_DETAIL = (
    "by lastTriggerTime + the frozen time; a reset since would not show: Binance does not "
    "report resets"
)


def freeze_state(last_ms: int, frozen: FreezeMs, now_ms: int) -> FreezeState:
    """Binance reports only lastTriggerTime (0: never): frozen while inside the frozen time
    after it. After a trigger with a `manual` frozen time the state is unknown: the freeze
    lasts until a reset, and Binance does not say whether a reset leaves lastTriggerTime as
    it was (seed-venues.md 2.3, 2.8), so a scope reset since reads as before. A timed freeze
    ends by itself at the time given, so it is told as frozen until then."""
    if last_ms <= 0:
        return FreezeState(False)
    if frozen == MANUAL:
        return FreezeState.unknown_because(manual_unknown(last_ms), last_trigger_ms=last_ms)
    until = last_ms + frozen
    if now_ms < until:
        return FreezeState(True, until, TIMED_DETAIL, last_trigger_ms=last_ms)
    return FreezeState(False, last_trigger_ms=last_ms)


def manual_unknown(last_ms: int) -> str:
    return (
        f"Binance reported a trigger at {utc_text(last_ms)} and the freeze lasts until a "
        "manual reset (frozen: manual), but Binance does not report resets: lastTriggerTime "
        "may stay as it was after one, so the scope may have been reset since"
    )
