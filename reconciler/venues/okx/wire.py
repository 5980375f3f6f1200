"""OKX wire format <-> canonical model, and the v5 request signature.

Every value OKX takes and answers for MMP is a JSON string: durations in milliseconds
(`timeInterval`, `frozenInterval`; a frozen interval of "0" is a freeze until mmp-reset),
`qtyLimit` in contracts. A `timeInterval` of "0" disables the family's MMP (our removal).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from reconciler.core import units
from reconciler.core.freezes import no_end, overdue
from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import decimal_text, utc_ms_text
from reconciler.venues import answers
from reconciler.venues.okx.capabilities import CAPABILITIES

VENUE = "okx"
MMP_PATH = "/api/v5/account/mmp-config"
RESET_PATH = "/api/v5/account/mmp-reset"
# mmpFrozenUntil: the docs call it a "time interval (ms)", and their example is "1000": an
# epoch-ms time or the ms left is not said (open question). No freeze lasts anywhere near
# 31 years, so a value below this (2001-09-09 as epoch ms) is the time left, any other an
# epoch-ms time: both readings are read right.
EPOCH_FLOOR_MS = 10**12


def timestamp(ms: int) -> str:
    """OK-ACCESS-TIMESTAMP: UTC ISO 8601 to the millisecond, 2020-12-08T09:08:57.715Z."""
    return utc_ms_text(ms)


def prehash(stamp: str, method: str, path: str, body: str) -> str:
    """timestamp + METHOD + request path (with its query) + the exact body sent."""
    return f"{stamp}{method.upper()}{path}{body}"


def signature(secret: str, stamp: str, method: str, path: str, body: str) -> str:
    """OK-ACCESS-SIGN: Base64(HMAC-SHA256(secret, prehash))."""
    digest = hmac.new(secret.encode(), prehash(stamp, method, path, body).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode("ascii")


def set_body(key: ScopeKey, config: MmpConfig) -> dict[str, str]:
    """Every field required, every value a string, in the docs' order."""
    assert config.quantity_limit is not None  # required on OKX: validation says so first
    return {
        "instFamily": key.underlying,
        "timeInterval": str(CAPABILITIES.window.to_wire(config.window_ms)),
        "frozenInterval": str(CAPABILITIES.frozen.to_wire(config.frozen_ms)),  # manual: "0"
        "qtyLimit": decimal_text(config.quantity_limit),
    }


def remove_body(key: ScopeKey, before: MmpConfig) -> dict[str, str]:
    """timeInterval "0" disables the family's MMP; the other fields (all required) repeat
    the old config, but a live qtyLimit "0" (undocumented), which a set may not carry (the
    docs: > 0): "1" in its place, valid under any precision, and disabled with the rest."""
    body = {**set_body(key, before), "timeInterval": "0"}
    if before.quantity_limit == 0:
        body["qtyLimit"] = "1"
    return body


def reset_body(key: ScopeKey) -> dict[str, str]:
    return {"instType": "OPTION", "instFamily": key.underlying}


def data(answer: Any) -> list[dict[str, Any]]:
    """A success envelope's `data` (the caller checked `code` is "0")."""
    return answers.objects(answers.present(answers.obj(answer), "data"), "data")


def live_scope(account: str, item: Any, now_ms: int) -> LiveScope:
    """One item of GET mmp-config's `data`. A family whose timeInterval is "0" has MMP
    disabled: no config (it may still tell a freeze)."""
    item = answers.obj(item)
    family = answers.text(item, "instFamily")
    window = answers.int_text(item, "timeInterval")
    frozen = answers.int_text(item, "frozenInterval")
    quantity = answers.decimal_text(item, "qtyLimit")
    config = None
    if window > 0:
        # a "0" (the docs: > 0; its meaning undocumented) is read as it came, never refused:
        # refusing it failed the whole account's read. A change from it has no known
        # direction (capabilities.py: `undocumented`)
        config = MmpConfig(
            window_ms=CAPABILITIES.window.ms_from_wire(window),
            frozen_ms=CAPABILITIES.frozen.from_wire(frozen),  # "0": until mmp-reset
            quantity_limit=units.exact(quantity),
        )
    return LiveScope(ScopeKey(VENUE, account, family), config, freeze(item, frozen, now_ms))


def freeze(item: dict[str, Any], frozen_interval: int, now_ms: int) -> FreezeState:
    """mmpFrozen, and mmpFrozenUntil. A frozen interval of "0" is a freeze until a reset,
    whatever mmpFrozenUntil says ("", "0", absent). Otherwise a frozen family that gives no
    end ("", absent) is frozen with its end unknown: held, as any frozen scope (reading it
    not frozen could end a freeze, and failing the read would hide every other family); an
    end already past is said as such, never as a time it will end at."""
    if not answers.flag(item, "mmpFrozen"):
        return FreezeState(False)
    if frozen_interval == 0:
        return FreezeState(True, None)
    given = item.get("mmpFrozenUntil")
    if given in ("", None):
        said = "mmpFrozenUntil absent" if given is None else 'mmpFrozenUntil ""'
        return no_end(VENUE, said, CAPABILITIES.frozen.ms_from_wire(frozen_interval))
    value = answers.int_text(item, "mmpFrozenUntil")
    until = value if value >= EPOCH_FLOOR_MS else now_ms + value
    return FreezeState(True, until) if until > now_ms else overdue(VENUE, until)


def echoed(answer: Any, family: str) -> None:
    """POST mmp-config echoes the config set: it must name the family asked for."""
    items = data(answer)
    if len(items) != 1 or answers.text(items[0], "instFamily") != family:
        raise answers.Malformed("data does not echo the family set")


def reset_result(answer: Any) -> bool:
    """POST mmp-reset: data [{"result": true}]; false: the venue failed to reset."""
    items = data(answer)
    if len(items) != 1:
        raise answers.Malformed("data is not one result")
    return answers.flag(items[0], "result")
