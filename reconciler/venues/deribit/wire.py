"""Deribit wire format <-> canonical model. The only place Deribit's field names live."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.core.model import (
    LIMIT_FIELDS,
    FreezeState,
    LiveScope,
    MmpConfig,
    ScopeKey,
    in_space,
    split_space,
)
from reconciler.core.units import epoch_ms
from reconciler.venues import answers
from reconciler.venues.deribit.capabilities import BLOCK_RFQ, CAPABILITIES

VENUE = "deribit"
TRADE_COUNT = "trade_count_limit"  # Block RFQ's `all`: a count of trades


def config_from_wire(item: dict[str, Any]) -> MmpConfig:
    """A config as get_mmp_config reports it; a limit that is not set is omitted. A trade
    count (Block RFQ's `all`) is a whole number of trades. A live 0 (the docs: positive, or
    1..1000; its meaning undocumented) is read as it came: a change from it has no known
    direction (capabilities.py: `undocumented`)."""
    limits = {name: answers.optional_number(item, name) for name in LIMIT_FIELDS}
    if TRADE_COUNT in item:
        limits[TRADE_COUNT] = Decimal(answers.integer(item, TRADE_COUNT))
    return MmpConfig(
        window_ms=CAPABILITIES.window.ms_from_wire(answers.integer(item, "interval")),
        frozen_ms=CAPABILITIES.frozen.from_wire(answers.integer(item, "frozen_time")),
        **limits,
    )


def key_from_wire(account: str, item: dict[str, Any], *, block_rfq: bool = False) -> ScopeKey:
    """mmp_group is absent for the default ("orders") group. A Block RFQ config is a scope
    of the block_rfq space (block_rfq:all): it was read with block_rfq: true, so an item
    without the flag is one too; one that says block_rfq: false is order/quote MMP's, listed
    where it does not belong, and is refused: never read into the other space."""
    _same_space(item, block_rfq)
    index = answers.text(item, "index_name")
    underlying = in_space(BLOCK_RFQ if block_rfq else None, index)
    return ScopeKey(VENUE, account, underlying, answers.optional_text(item, "mmp_group"))


def _same_space(item: dict[str, Any], block_rfq: bool) -> None:
    """The item's block_rfq flag, where it has one, names the space asked for."""
    if "block_rfq" in item and answers.flag(item, "block_rfq") != block_rfq:
        asked, said = ("Block RFQ", "order/quote") if block_rfq else ("order/quote", "Block RFQ")
        raise answers.Malformed(f"block_rfq says {said} MMP in an answer about {asked} MMP")


def is_block_rfq(underlying: str) -> bool:
    return split_space(underlying)[0] == BLOCK_RFQ


def scope_params(key: ScopeKey) -> dict[str, Any]:
    """What names a scope on the wire: index_name, mmp_group, and block_rfq: true for a
    Block RFQ scope (whose index may be `all`)."""
    space, index = split_space(key.underlying)
    if space not in (None, BLOCK_RFQ):
        raise ValueError(f"{key} is in no config space of Deribit")
    params: dict[str, Any] = {"index_name": index}
    if key.group is not None:
        params["mmp_group"] = key.group
    if space == BLOCK_RFQ:
        params["block_rfq"] = True
    return params


def set_params(key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    params = scope_params(key)
    params["interval"] = CAPABILITIES.window.to_wire(config.window_ms)
    params["frozen_time"] = CAPABILITIES.frozen.to_wire(config.frozen_ms)
    for name in LIMIT_FIELDS:
        value = getattr(config, name)
        if value is not None:
            params[name] = value
    return params


def remove_params(key: ScopeKey, before: MmpConfig) -> dict[str, Any]:
    """interval 0 removes; the other fields repeat the old config, which any reading accepts,
    but a live limit of 0 (undocumented), which a set may not carry (the docs: positive, or
    1..1000): 1 in its place, valid under every limit's rule, and removed with the rest."""
    params = set_params(key, before)
    params["interval"] = 0
    for name, value in params.items():
        if name in LIMIT_FIELDS and value == 0:
            params[name] = Decimal(1)
    return params


def live_scopes(
    account: str,
    configs: Any,
    freezes: dict[ScopeKey, FreezeState],
    *,
    block_rfq: bool = False,
) -> list[LiveScope]:
    """get_mmp_config's result (an array of objects; empty: no config) with the freezes;
    `block_rfq`: read with block_rfq: true (Block RFQ MMP)."""
    scopes: dict[ScopeKey, LiveScope] = {}
    for item in answers.objects(configs, "result"):
        if not in_read_space(item, block_rfq):
            continue
        key = key_from_wire(account, item, block_rfq=block_rfq)
        if key in scopes:
            raise answers.Malformed(f"result lists {key} twice")  # one of the two would be lost
        scopes[key] = LiveScope(key, config_from_wire(item), freezes.get(key, FreezeState(False)))
    for key, freeze in freezes.items():
        scopes.setdefault(key, LiveScope(key, None, freeze))
    return sorted(scopes.values(), key=lambda s: s.key.sort_key())


def in_read_space(item: dict[str, Any], block_rfq: bool) -> bool:
    """Whether an item belongs to the space read: one flagged for the other space is left to
    that space's read (a venue may list both whatever block_rfq asks: simulator reading
    status_lists_all); an item without the flag is the space asked for."""
    return "block_rfq" not in item or answers.flag(item, "block_rfq") == block_rfq


def freezes(account: str, status: Any, *, block_rfq: bool = False) -> dict[ScopeKey, FreezeState]:
    """get_mmp_status's result: an array of the triggered scopes only; frozen_until 0 means
    until a manual reset."""
    found: dict[ScopeKey, FreezeState] = {}
    for item in answers.objects(status, "result"):
        if not in_read_space(item, block_rfq):
            continue
        key = key_from_wire(account, item, block_rfq=block_rfq)
        until = epoch_ms(answers.integer(item, "frozen_until"), "ms")  # 0: until a reset
        if key in found:
            raise answers.Malformed(f"result lists {key} twice")
        found[key] = FreezeState(True, until or None)
    return found


def check_set_answer(key: ScopeKey, result: Any) -> None:
    """set_mmp_config answers the config it set: an object, or an array of one (§1.4), of
    the index set, and of its space where it says (block_rfq is optional in a config)."""
    if isinstance(result, list):
        items = answers.objects(result, "result")
    else:
        items = [answers.obj(result, "result")]
    if len(items) != 1:
        raise answers.Malformed("result is not one config")
    space, index = split_space(key.underlying)
    if answers.text(items[0], "index_name") != index:
        raise answers.Malformed("index_name is not the index that was set")
    _same_space(items[0], space == BLOCK_RFQ)  # Block RFQ MMP's set, or order/quote MMP's


def check_reset_answer(result: Any) -> None:
    if result != "ok":
        raise answers.wrong("result", '"ok"', result)
