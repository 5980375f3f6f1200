"""Bybit v5 wire format <-> canonical model, and request signing (more-venues.md 2.3, 2.5)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from reconciler.core.freezes import no_end, overdue
from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, FreezeMs, decimal_text, dumps_exact, epoch_ms
from reconciler.venues import answers
from reconciler.venues.bybit.capabilities import CAPABILITIES

VENUE = "bybit"
RECV_WINDOW_MS = 5000
NO_VEGA = (  # the message stays short: a malformed answer's whole line is at most 300
    "vegaLimit is missing (every coin's state lists it, 500000 by default since 2026-06-09: "
    "no field is not 'no vega limit'), so this coin's vega limit is unknown"
)


class NotEnabled(Exception):
    """mmp-state says mmpEnabled false: Bybit has not enabled MMP for the account."""


def payload(timestamp: str, api_key: str, recv_window: str, query_or_body: str) -> str:
    """What X-BAPI-SIGN signs: timestamp, key and recvWindow, then a GET's query string or a
    POST's raw JSON body, exactly as sent."""
    return timestamp + api_key + recv_window + query_or_body


def sign(secret: str, signed: str) -> str:
    """Lower-case hex HMAC-SHA256 of the payload."""
    return hmac.new(secret.encode(), signed.encode(), hashlib.sha256).hexdigest()


def set_body(key: ScopeKey, config: MmpConfig) -> dict[str, str]:
    """mmp-modify: every value a string, vegaLimit always (its omission is undocumented)."""
    assert config.quantity_limit is not None and config.delta_limit is not None
    assert config.vega_limit is not None
    return {
        "baseCoin": key.underlying,
        "window": str(CAPABILITIES.window.to_wire(config.window_ms)),
        "frozenPeriod": str(CAPABILITIES.frozen.to_wire(config.frozen_ms)),  # manual: "0"
        "qtyLimit": decimal_text(config.quantity_limit),
        "deltaLimit": decimal_text(config.delta_limit),
        "vegaLimit": decimal_text(config.vega_limit),
    }


def ret_code(answer: Any) -> int:
    """The envelope's retCode (0: success)."""
    return answers.integer(answers.obj(answer), "retCode")


def live_scope(account: str, answer: Any, asked: str, now_ms: int) -> LiveScope | None:
    """GET /v5/account/mmp-state?baseCoin=: result.result lists the coin's state, or nothing
    for a coin without one. Every field is required; a coin whose MMP Bybit has not enabled
    raises NotEnabled."""
    result = answers.obj(answers.present(answers.obj(answer), "result"), "result")
    items = answers.objects(answers.present(result, "result"), "result.result")
    if not items:
        return None
    if len(items) > 1:
        raise answers.Malformed("result.result lists the coin more than once")
    item = items[0]
    if answers.text(item, "baseCoin") != asked:
        raise answers.Malformed("baseCoin is not the one asked for")
    if not answers.flag(item, "mmpEnabled"):
        raise NotEnabled(asked)
    if "vegaLimit" not in item:
        raise answers.Malformed(NO_VEGA)
    window = answers.int_text(item, "window")
    frozen = CAPABILITIES.frozen.from_wire(answers.int_text(item, "frozenPeriod"))
    # a "0" (the docs: positive; its meaning undocumented) is read as it came: a change from
    # it has no known direction (capabilities.py: `undocumented`)
    limits = {
        name: answers.decimal_text(item, field)
        for name, field in (
            ("quantity_limit", "qtyLimit"),
            ("delta_limit", "deltaLimit"),
            ("vega_limit", "vegaLimit"),
        )
    }
    config = None
    if window > 0:  # never answered by the simulator: no window is no protection
        config = MmpConfig(CAPABILITIES.window.ms_from_wire(window), frozen, **limits)
    return LiveScope(ScopeKey(VENUE, account, asked), config, freeze_state(item, frozen, now_ms))


def freeze_state(item: dict[str, Any], frozen: FreezeMs, now_ms: int) -> FreezeState:
    """mmpFrozen tells the freeze; mmpFrozenUntil (epoch ms) is read only while it is true
    (the docs: ignore it otherwise), and not for a freeze that lasts until a reset. A frozen
    coin that gives no end ("", "0") is frozen with its end unknown (held); an end already
    past is said as such."""
    if not answers.flag(item, "mmpFrozen"):
        return FreezeState(False)
    if frozen == MANUAL:
        return FreezeState(True)
    given = answers.present(item, "mmpFrozenUntil")
    if given in ("", "0"):
        return no_end(VENUE, f"mmpFrozenUntil {dumps_exact(given)}", frozen)
    until = epoch_ms(answers.int_text(item, "mmpFrozenUntil"), "ms")
    return FreezeState(True, until) if until > now_ms else overdue(VENUE, until)
