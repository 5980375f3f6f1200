"""Deribit wire format <-> canonical model. The only place Deribit's field names live."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.model import LIMIT_FIELDS, FreezeState, LiveScope, MmpConfig, ScopeKey
from reconciler.units import MANUAL

VENUE = "deribit"


def config_from_wire(item: dict[str, Any]) -> MmpConfig:
    frozen_s = int(item["frozen_time"])
    limits = {}
    for name in LIMIT_FIELDS:
        value = item.get(name)
        # a number arrives as int or Decimal (loads_exact); never via float
        limits[name] = None if value is None else Decimal(value)
    return MmpConfig(
        window_ms=int(item["interval"]) * 1000,
        frozen_ms=MANUAL if frozen_s == 0 else frozen_s * 1000,
        **limits,
    )


def key_from_wire(account: str, item: dict[str, Any]) -> ScopeKey:
    return ScopeKey(VENUE, account, str(item["index_name"]), item.get("mmp_group") or None)


def set_params(key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    params: dict[str, Any] = {"index_name": key.underlying}
    if key.group is not None:
        params["mmp_group"] = key.group
    params["interval"] = config.window_ms // 1000
    params["frozen_time"] = 0 if config.frozen_ms == MANUAL else int(config.frozen_ms) // 1000
    for name in LIMIT_FIELDS:
        value = getattr(config, name)
        if value is not None:
            params[name] = value
    return params


def remove_params(key: ScopeKey, before: MmpConfig) -> dict[str, Any]:
    """interval 0 removes; the other fields repeat the old config, which any reading accepts."""
    params = set_params(key, before)
    params["interval"] = 0
    return params


def live_scopes(
    account: str, configs: list[dict[str, Any]], status: list[dict[str, Any]]
) -> list[LiveScope]:
    freezes: dict[ScopeKey, FreezeState] = {}
    for item in status:
        if item.get("block_rfq"):
            continue
        until = int(item.get("frozen_until") or 0)
        freezes[key_from_wire(account, item)] = FreezeState(True, until or None)
    scopes = {}
    for item in configs:
        if item.get("block_rfq"):
            continue  # block-RFQ MMP is a separate space we do not manage
        key = key_from_wire(account, item)
        scopes[key] = LiveScope(key, config_from_wire(item), freezes.get(key, FreezeState(False)))
    for key, freeze in freezes.items():
        scopes.setdefault(key, LiveScope(key, None, freeze))
    return sorted(scopes.values(), key=lambda s: s.key.sort_key())
