"""What Binance European Options can do with MMP (seed-venues.md section 2).

Labelled assumptions where the docs are silent: limits keep at most 8 decimals, and the
frozen time is at most 1 h. Both are enforced identically by our simulator. The underlyings
are the venue's: GET /eapi/v1/exchangeInfo lists them (optionContracts), read once per run
per endpoint; offline a name is only checked to be 2 to 32 capital letters or digits.

`qtyLimit` and `deltaLimit` must be > 0 (the FAQ; seed-venues.md 2.2); what a live "0" means
(a config set where they are optional: the CN page, the SDK) is not documented: no limit, or
a limit of zero (the simulator plays both: `qty_zero`, `delta_zero`). wire.py reads it as 0,
and a change from it has no known direction (`undocumented`: the plan says so, the
guardrails count it a loosening, heal leaves it).
"""

from __future__ import annotations

from decimal import Decimal

from reconciler.venues.base import (
    Capabilities,
    ChangeMode,
    Connection,
    Discovery,
    DurationBound,
    LimitBound,
    RemoveMode,
    ResetMeaning,
)

MAX_DECIMALS = 8  # [assumption] precision of qtyLimit/deltaLimit is not documented
_LIMIT = LimitBound(minimum=Decimal(0), min_exclusive=True, max_decimals=MAX_DECIMALS)
_QTY_ZERO = 'Binance qtyLimit "0" is undocumented: no limit, or a limit of 0'
_DELTA_ZERO = 'Binance deltaLimit "0" is undocumented: no limit, or a limit of 0'

CAPABILITIES = Capabilities(
    venue="binance",
    limits={"quantity_limit": _LIMIT, "delta_limit": _LIMIT},
    window=DurationBound(min_ms=1, max_ms=5000, step_ms=1),  # (0, 5000] ms
    frozen=DurationBound(min_ms=1, max_ms=3_600_000, step_ms=1, allow_manual=True),
    change=ChangeMode.UPSERT,
    remove=RemoveMode.UNSUPPORTED,
    reset_means=ResetMeaning.UNFREEZE,
    synchronous=True,
    # recvWindow 5000 ms (our client's), and a timestamp at most 1000 ms ahead of Binance's
    refuses_after_ms=6_000,
    set_unfreezes=False,  # not documented either way; frozen scopes are held regardless
    freeze_from_trigger=True,  # lastTriggerTime and frozenTimeInMilliseconds only
    required_limits=frozenset({"quantity_limit", "delta_limit"}),
    groups=False,
    # a live "0", and (None) a limit the live config lacks
    undocumented={
        "quantity_limit": {Decimal(0): _QTY_ZERO, None: _QTY_ZERO},
        "delta_limit": {Decimal(0): _DELTA_ZERO, None: _DELTA_ZERO},
    },
    discovery=Discovery(
        request="GET /eapi/v1/exchangeInfo",
        pattern="[A-Z0-9]{2,32}",
        form="2 to 32 capital letters or digits, as exchangeInfo lists them (BTCUSDT)",
    ),
)

CONNECTION = Connection(
    environments={
        "production": "https://eapi.binance.com",
        "testnet": "https://testnet.binancefuture.com",
    },
    credential_vars=("API_KEY", "API_SECRET"),
    # REQUEST_WEIGHT 2400 per minute (per IP; we keep each account at 40/s)
    requests_per_second=40,
    burst=40,
    # REQUEST_WEIGHT 2400 per minute per IP (exchangeInfo's example); each MMP call weighs 1
    shared_limit=2400,
    shared_window_ms=60_000,
)
