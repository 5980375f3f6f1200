"""Bullish wire format <-> canonical model, and the two signing recipes."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any

from reconciler.model import FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.units import MANUAL, decimal_text

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
    assert config.frozen_ms != MANUAL  # validation refuses manual on Bullish
    command: dict[str, Any] = {
        "commandType": "V1SetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": key.underlying,
        "windowTimeInSeconds": str(config.window_ms // 1000),  # strings in commands
        "frozenTimeInSeconds": str(int(config.frozen_ms) // 1000),
    }
    if config.quantity_limit is not None:
        command["quantityLimit"] = decimal_text(config.quantity_limit)
    if config.delta_limit is not None:
        command["deltaLimit"] = decimal_text(config.delta_limit)
    return command


def reset_command(account_id: str, key: ScopeKey) -> dict[str, Any]:
    return {
        "commandType": "V1ResetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": key.underlying,
    }


def _limit(text: Any) -> Decimal | None:
    if text is None or str(text) in ("", "0"):
        return None
    return Decimal(str(text))


def live_scope(account: str, item: dict[str, Any]) -> LiveScope:
    """A config as GET reports it (times are integers here); inactive means not in effect."""
    key = ScopeKey(VENUE, account, str(item["underlyingAssetSymbol"]))
    config = MmpConfig(
        window_ms=int(item["windowTimeInSeconds"]) * 1000,
        frozen_ms=int(item["frozenTimeInSeconds"]) * 1000,
        quantity_limit=_limit(item.get("quantityLimit")),
        delta_limit=_limit(item.get("deltaLimit")),
    )
    # REST tells no frozen-until; a config that is not in effect is treated as frozen
    freeze = FreezeState(False)
    if not item.get("isActive", True):
        freeze = FreezeState(True, None, "not in effect (Bullish reports no frozen-until time)")
    return LiveScope(key, config, freeze)
