"""What Deribit can do with MMP (seed-venues.md section 1).

quantity_limit, delta_limit and vega_limit are "positive", max_quote_quantity has no rule
but its 4 decimals, Block RFQ's trade_count_limit is 1..1000 (section 1.2); a limit not set
is omitted from get_mmp_config (no limit). What a live 0 means is not documented: no limit,
or a limit of zero (the simulator plays both: `quantity_zero`, `delta_zero`, `vega_zero`,
`quote_zero`, `trade_count_zero`). wire.py reads it as 0, and a change from it has no known
direction (`undocumented`: the plan says so, the guardrails count it a loosening, heal
leaves it); a limit added where the config omits one tightens, as ever (`ZEROS` has no
None key).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from reconciler.venues.base import (
    Capabilities,
    ChangeMode,
    Connection,
    DurationBound,
    LimitBound,
    RemoveMode,
    ResetMeaning,
    ResetReach,
    Undocumented,
)

INDEX_NAMES = frozenset(
    {
        "btc_usd",
        "eth_usd",
        "btc_usdc",
        "eth_usdc",
        "ada_usdc",
        "algo_usdc",
        "avax_usdc",
        "bch_usdc",
        "bnb_usdc",
        "doge_usdc",
        "dot_usdc",
        "link_usdc",
        "ltc_usdc",
        "near_usdc",
        "paxg_usdc",
        "shib_usdc",
        "sol_usdc",
        "ton_usdc",
        "trx_usdc",
        "trump_usdc",
        "uni_usdc",
        "xrp_usdc",
        "usde_usdc",
        "buidl_usdc",
        "btcdvol_usdc",
        "ethdvol_usdc",
        "btc_usdt",
        "eth_usdt",
    }
)


# every limit of both spaces (the planner reads a venue's `undocumented` for all its scopes,
# Block RFQ's included; only Block RFQ's `all` has trade_count_limit): a live 0 only, no
# None, since a limit the live config lacks is one Deribit omits: no limit
ZEROS: Undocumented = {
    name: {Decimal(0): f'Deribit {name} "0" is undocumented: no limit, or a limit of 0'}
    for name in (
        "quantity_limit",
        "delta_limit",
        "vega_limit",
        "max_quote_quantity",
        "trade_count_limit",
    )
}
_LIMIT = LimitBound(minimum=Decimal(0), min_exclusive=True, max_decimals=4)

CAPABILITIES = Capabilities(
    venue="deribit",
    limits={
        "quantity_limit": _LIMIT,
        "delta_limit": _LIMIT,
        "vega_limit": _LIMIT,
        "max_quote_quantity": _LIMIT,
    },
    # interval 0 removes the config, so a live window is 1..3600 whole seconds
    window=DurationBound(min_ms=1000, max_ms=3_600_000, step_ms=1000),
    # frozen_time 0 means manual reset: we spell that `manual`, so 1..3600 s otherwise
    frozen=DurationBound(min_ms=1000, max_ms=3_600_000, step_ms=1000, allow_manual=True),
    change=ChangeMode.UPSERT,
    remove=RemoveMode.SET_ZERO_WINDOW,
    reset_means=ResetMeaning.UNFREEZE,
    synchronous=True,
    bulk_read=True,  # get_mmp_config without an index returns every scope
    set_unfreezes=True,  # "Set config for MMP - triggers MMP reset"
    # of what, the docs do not say: reset_mmp is per (index, group, space), and a set may
    # reset its index's other groups, or every scope of the account in either space
    set_reset_reach=ResetReach.ACCOUNT,
    # a scope stays frozen at least 1 s after a trigger, whatever the reset (its Starbase MMP
    # page; seed-venues.md section 1.3)
    minimum_freeze_ms=1000,
    required_limits=frozenset({"max_quote_quantity"}),
    at_least_one_of=frozenset({"quantity_limit", "delta_limit", "vega_limit"}),
    groups=True,
    undocumented=ZEROS,
    default_group_name="default",
    max_group_name=64,
    max_groups_per_account=16,
    underlyings=INDEX_NAMES,
)

BLOCK_RFQ = "block_rfq"  # the policy section, the space of its scope keys, the wire flag
ALL = "all"  # the index of Block RFQ's trade_count_limit
_TRADE_COUNT = LimitBound(
    minimum=Decimal(1), min_exclusive=False, maximum=Decimal(1000), max_decimals=0
)

# Block RFQ MMP (set_mmp_config with block_rfq: true): a config space of its own, per index
# or `all`, with no mass-quote groups (groups are for Mass Quotes only). The docs carve no
# exception from max_quote_quantity being required, so it is required here too (the less
# convenient reading). trade_count_limit is taken on `all` only, and `all` takes no other
# limit: the docs call `all` meaningful for trade_count_limit only, and quantity and delta
# are in an index's base currency.
_BLOCK_RFQ_INDEX = replace(
    CAPABILITIES,
    groups=False,
    max_group_name=0,
    max_groups_per_account=0,
    underlyings=INDEX_NAMES | {ALL},
)
BLOCK_RFQ_CAPABILITIES = replace(
    _BLOCK_RFQ_INDEX,
    by_underlying={
        ALL: replace(
            _BLOCK_RFQ_INDEX,
            limits={"trade_count_limit": _TRADE_COUNT, "max_quote_quantity": _LIMIT},
            at_least_one_of=frozenset({"trade_count_limit"}),
            label="deribit Block RFQ's `all` scope",
        )
    },
)
CAPABILITIES = replace(CAPABILITIES, spaces={BLOCK_RFQ: BLOCK_RFQ_CAPABILITIES})

CONNECTION = Connection(
    environments={
        "production": "https://www.deribit.com",
        "testnet": "https://test.deribit.com",
    },
    credential_vars=("CLIENT_ID", "CLIENT_SECRET"),
    # matching-engine tier 4 (the lowest): 5 requests/s, burst 20
    requests_per_second=5,
    burst=20,
)
