"""What Aevo can do with MMP (seed-venues.md section 3).

Labelled assumptions where the docs are silent: window and freeze at most 1 h; delta_limit
keeps at most 6 decimals like amount_limit. Our simulator enforces the same. The assets are
the venue's: GET /assets lists them, read once per run per endpoint; offline an asset name
is only checked to be 1 to 32 letters or digits (as the venue writes them: ETH, 1000PEPE).

What a live limit of "0" means is not documented (seed-venues.md 3.2 gives `amount_limit`
and `delta_limit` no rule): no limit, or a limit of zero, the tightest there is (the
simulator plays both: `amount_zero`, `delta_zero`). So a change from it has no known
direction (`undocumented`: the plan says so, the guardrails count it a loosening, heal
leaves it). wire.py reads an `amount_limit` "0" as 0 (the field is always set), and a
`delta_limit` "0" as none (a config set without one reads back "0").
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

DECIMALS = 6  # amount_limit is a 6-decimal fixed-point integer on the wire
_LIMIT = LimitBound(minimum=Decimal(0), min_exclusive=True, max_decimals=DECIMALS)
_AMOUNT_ZERO = 'Aevo amount_limit "0" is undocumented: no limit, or a limit of 0'
_DELTA_ZERO = 'Aevo delta_limit "0" is undocumented: no limit, or a limit of 0'

CAPABILITIES = Capabilities(
    venue="aevo",
    limits={"quantity_limit": _LIMIT, "delta_limit": _LIMIT},
    window=DurationBound(min_ms=1000, max_ms=3_600_000, step_ms=1000),  # interval 0 disables
    frozen=DurationBound(min_ms=1000, max_ms=3_600_000, step_ms=1000, allow_manual=True),
    change=ChangeMode.UPSERT,
    remove=RemoveMode.SET_ZERO_WINDOW,
    reset_means=ResetMeaning.UNFREEZE,
    synchronous=True,
    set_unfreezes=False,  # not documented either way; frozen scopes are held regardless
    required_limits=frozenset({"quantity_limit"}),
    groups=False,
    # a live "0", and (None) a limit the live config lacks: a delta_limit "0" is read so
    undocumented={
        "quantity_limit": {Decimal(0): _AMOUNT_ZERO, None: _AMOUNT_ZERO},
        "delta_limit": {Decimal(0): _DELTA_ZERO, None: _DELTA_ZERO},
    },
    discovery=Discovery(
        request="GET /assets",
        pattern="[A-Za-z0-9]{1,32}",
        form="1 to 32 letters or digits, as GET /assets lists them (ETH, BTC)",
    ),
)

CONNECTION = Connection(
    environments={
        "production": "https://api.aevo.xyz",
        "testnet": "https://api-testnet.aevo.xyz",
    },
    credential_vars=("API_KEY", "API_SECRET"),
    # not published; our simulator's assumption, 10/s with a burst of 20
    requests_per_second=10,
    burst=20,
)
