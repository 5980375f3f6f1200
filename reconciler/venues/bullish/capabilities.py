"""What Bullish can do with MMP (seed-venues.md section 4).

Our readings where the docs are silent, labelled: a config with no limit protects nothing,
so at least one limit is required; `frozenTimeInSeconds = 0` has no documented meaning, so
`manual` is refused; limits keep at most 8 decimals. GET reports every field, a limit never
set as "0" (wire.py reads it as none, so a config set without one reads back as set); what
a live "0" means, no limit or a limit of zero, is not documented for either limit
(`quantityLimit`: "> 0 if set"; `deltaLimit`: no rule at all; the simulator plays both
readings: `quantity_zero`, `delta_zero`), so a limit added to a live config has no known
direction (`undocumented`: the plan says so, the guardrails count it a loosening, heal
leaves it).
"""

from __future__ import annotations

from decimal import Decimal

from reconciler.venues.base import (
    Capabilities,
    ChangeMode,
    Connection,
    DurationBound,
    LimitBound,
    RemoveMode,
    ResetMeaning,
)

ASSETS = frozenset({"BTC", "ETH", "SOL"})
_LIMIT = LimitBound(minimum=Decimal(0), min_exclusive=True, max_decimals=8)
_QUANTITY_ZERO = 'Bullish quantityLimit "0" is undocumented: no limit, or a limit of 0'
_DELTA_ZERO = 'Bullish deltaLimit "0" is undocumented: no limit, or a limit of 0'

CAPABILITIES = Capabilities(
    venue="bullish",
    limits={"quantity_limit": _LIMIT, "delta_limit": _LIMIT},
    window=DurationBound(min_ms=1000, max_ms=600_000, step_ms=1000),  # (0, 600] s
    frozen=DurationBound(min_ms=1000, max_ms=3_600_000, step_ms=1000, allow_manual=False),
    change=ChangeMode.RESET_THEN_SET,
    remove=RemoveMode.RESET,
    reset_means=ResetMeaning.CLEAR,
    synchronous=False,  # commands are acknowledged, applied later
    bulk_read=True,  # one GET returns every underlying of the trading account
    set_unfreezes=False,
    at_least_one_of=frozenset({"quantity_limit", "delta_limit"}),
    groups=False,
    underlyings=ASSETS,
    undocumented={
        "frozen": {0: "Bullish freeze 0 is undocumented"},
        # a limit's "0" is read as none (wire.py): None, a limit the live config lacks, is
        # that "0", and a limit added to it has no known direction (planner)
        "quantity_limit": {Decimal(0): _QUANTITY_ZERO, None: _QUANTITY_ZERO},
        "delta_limit": {Decimal(0): _DELTA_ZERO, None: _DELTA_ZERO},
    },
)

CONNECTION = Connection(
    environments={
        "production": "https://api.exchange.bullish.com",
        "testnet": "https://api.simnext.bullish-test.com",
    },
    credential_vars=("PUBLIC_KEY", "SECRET", "TRADING_ACCOUNT_ID"),
    credential_formats={
        "TRADING_ACCOUNT_ID": (r"[1-9][0-9]{0,19}", "a numeric trading account id"),
    },
    # 50 requests/s per category for authenticated calls
    requests_per_second=50,
    burst=50,
    # and per IP: 500 requests per 10 s, then the IP is blocked for 60 s
    shared_limit=500,
    shared_window_ms=10_000,
)
