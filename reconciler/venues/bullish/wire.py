"""Bullish wire format <-> canonical model, and the two signing recipes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.core.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import FreezeMs, decimal_text, epoch_ms, loads_exact
from reconciler.venues import answers
from reconciler.venues.bullish.capabilities import CAPABILITIES

VENUE = "bullish"
LOGIN_PATH = "/trading-api/v1/users/hmac/login"
MMP_PATH = "/trading-api/v2/mmp-configuration"
NONCE_PATH = "/trading-api/v1/nonce"


def login_signature(secret: str, timestamp: str, nonce: str) -> str:
    """Login: plain HMAC over timestamp + nonce + "GET" + path, no pre-hash."""
    message = f"{timestamp}{nonce}GET{LOGIN_PATH}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def command_signature(
    secret: str, timestamp: str, nonce: str, method: str, path: str, body: str
) -> str:
    """Commands: HMAC of the hex SHA-256 digest of timestamp + nonce + METHOD + path + body."""
    digest = hashlib.sha256(f"{timestamp}{nonce}{method}{path}{body}".encode()).hexdigest()
    return hmac.new(secret.encode(), digest.encode(), hashlib.sha256).hexdigest()


def set_command(account_id: str, key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    command: dict[str, Any] = {
        "commandType": "V1SetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": key.underlying,
        "windowTimeInSeconds": str(CAPABILITIES.window.to_wire(config.window_ms)),  # strings
        "frozenTimeInSeconds": _frozen_text(config.frozen_ms),
    }
    if config.quantity_limit is not None:
        command["quantityLimit"] = decimal_text(config.quantity_limit)
    if config.delta_limit is not None:
        command["deltaLimit"] = decimal_text(config.delta_limit)
    return command


def _frozen_text(frozen_ms: FreezeMs) -> str:
    """Whole seconds, as a string; a 0 read from the venue (a config set elsewhere, its
    meaning undocumented) goes back as it came when the old config is restored."""
    return "0" if frozen_ms == 0 else str(CAPABILITIES.frozen.to_wire(frozen_ms))


def reset_command(account_id: str, key: ScopeKey) -> dict[str, Any]:
    return {
        "commandType": "V1ResetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": key.underlying,
    }


def _limit(item: dict[str, Any], name: str) -> Decimal | None:
    value = answers.decimal_text(item, name)
    # "0": no such limit set (a config set without it reads "0"); whether a live "0" means
    # no limit or a limit of zero is not documented (capabilities.py: `undocumented`), so a
    # limit added to it has no known direction (the planner)
    return None if value == 0 else value


def live_scopes(
    account: str,
    account_id: str,
    answer: Any,
    told: Mapping[str, FreezeState] | None = None,
) -> list[LiveScope]:
    """GET /v2/mmp-configuration: every field is required (GetMmpConfigurationResponse), the
    answer must be about the trading account asked for, and each underlying listed once.
    `told`: underlying -> the freeze state the private WebSocket told (mmpTrigger), which
    REST cannot; without it, freeze_state says what REST alone tells."""
    answer = answers.obj(answer)
    if answers.text(answer, "tradingAccountId") != account_id:
        raise answers.Malformed("tradingAccountId is not the trading account asked for")
    scopes: dict[ScopeKey, LiveScope] = {}
    for item in answers.objects(answers.present(answer, "mmpConfigurations"), "mmpConfigurations"):
        scope = live_scope(account, item, told)
        if scope.key in scopes:
            raise answers.Malformed(f"mmpConfigurations lists {scope.key} twice")
        scopes[scope.key] = scope
    return sorted(scopes.values(), key=lambda s: s.key.sort_key())


def live_scope(
    account: str, item: dict[str, Any], told: Mapping[str, FreezeState] | None = None
) -> LiveScope:
    """A config as GET reports it (times are integers here, every field required)."""
    key = ScopeKey(VENUE, account, answers.text(item, "underlyingAssetSymbol"))
    config = MmpConfig(
        window_ms=CAPABILITIES.window.ms_from_wire(answers.integer(item, "windowTimeInSeconds")),
        frozen_ms=CAPABILITIES.frozen.from_wire(answers.integer(item, "frozenTimeInSeconds")),
        quantity_limit=_limit(item, "quantityLimit"),
        delta_limit=_limit(item, "deltaLimit"),
    )
    active = answers.flag(item, "isActive")
    return LiveScope(key, config, freeze_state(active, (told or {}).get(key.underlying)))


NOT_IN_EFFECT = "not in effect (Bullish reports no frozen-until time)"
REST_CANNOT_TELL = (
    'Bullish\'s REST read tells only isActive ("configuration in effect"), which may stay '
    "true while the scope is frozen; Bullish tells freezes on its private WebSocket "
    "(mmpTrigger), and no trigger event for it was seen"
)


def freeze_state(active: bool, told: FreezeState | None = None) -> FreezeState:
    """What is known of a scope's freeze. A freeze the WebSocket told (with its frozen-until)
    is known; a config not in effect (isActive false) is held as frozen, as it may be; what
    the WebSocket told otherwise is known; else REST alone cannot tell: unknown, and why.
    The docs define isActive only as "configuration in effect" (seed-venues.md 4.2)."""
    if told is not None and told.frozen:
        return told
    if not active:
        return FreezeState(True, None, NOT_IN_EFFECT)
    if told is not None:
        return told
    return FreezeState.unknown_because(REST_CANNOT_TELL)


def request_id(answer: Any) -> str:
    """A command's acknowledgement: {"message": ..., "requestId": "633910976353665025"}."""
    return answers.text(answers.obj(answer), "requestId")


def nonce_bounds(answer: Any) -> tuple[int, int]:
    """GET /v1/nonce: the day's bounds in microseconds."""
    answer = answers.obj(answer)
    low, high = answers.integer(answer, "lowerBound"), answers.integer(answer, "upperBound")
    if low > high:
        raise answers.Malformed("lowerBound is above upperBound")
    return low, high


def login_token(answer: Any) -> str:
    """GET /v1/users/hmac/login: {"authorizer": ..., "token": "<JWT>"}."""
    return answers.text(answers.obj(answer), "token")


def token_expiry_ms(token: str) -> int | None:
    """When a JWT ends (its exp claim, seconds since the epoch), in milliseconds since the
    epoch; None when the token is not a JWT whose exp can be read."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = answers.obj(loads_exact(base64.urlsafe_b64decode(payload)))
        return epoch_ms(answers.integer(claims, "exp"), "s")
    except ValueError:  # base64, UTF-8, JSON or the claim: each one's error is a ValueError
        return None
