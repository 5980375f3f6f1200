"""What Bybit's options MMP (v5) can do (more-venues.md section 2).

Labelled assumptions where the docs are silent, each enforced by our simulator (a reading,
`open_ranges`, accepts more) and refused by mmp nowhere, since a bound the docs do not state
must not refuse a value Bybit has live (beyond one, Bybit decides at apply, and a refusal is
reported with its code): the window is 1 ms to 5 s (Bybit's default window is 5000 ms, and
the venues that document a window cap it there) and the frozen period at most 1 h, 0 being
"until a reset". Limits keep at most 2 decimals (documented). vegaLimit is optional on the
wire with a default of 500000, but whether a modify without it keeps the stored value or
restores the default is not documented: we always send it, so a policy states it. The base
coins: Bybit's MMP endpoints list none, and a coin is read one GET at a time, so mmp reads
those it knows and those the policies declare (another coin in capitals is taken).

qtyLimit, deltaLimit and vegaLimit are "positive" (section 2.3); what a live "0" means is
not documented: no limit, or a limit of zero (the simulator plays both: `qty_zero`,
`delta_zero`, `vega_zero`). wire.py reads it as 0, and a change from it has no known
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
    NameForm,
    RemoveMode,
    ResetMeaning,
)

MAX_DECIMALS = 2  # qtyLimit, deltaLimit, vegaLimit: "up to 2 decimal places"
WINDOW_MAX_MS = 5000  # [assumption] no range documented
FROZEN_MAX_MS = 3_600_000  # [assumption] no range documented
# [assumption] the options base coins at the docs' snapshot; GET mmp-state needs baseCoin
BASE_COINS = frozenset({"BTC", "ETH", "SOL"})
_LIMIT = LimitBound(minimum=Decimal(0), min_exclusive=True, max_decimals=MAX_DECIMALS)
_ZERO = {
    name: f'Bybit {wire} "0" is undocumented: no limit, or a limit of 0'
    for name, wire in (
        ("quantity_limit", "qtyLimit"),
        ("delta_limit", "deltaLimit"),
        ("vega_limit", "vegaLimit"),
    )
}

CAPABILITIES = Capabilities(
    venue="bybit",
    limits={"quantity_limit": _LIMIT, "delta_limit": _LIMIT, "vega_limit": _LIMIT},
    window=DurationBound(min_ms=1, max_ms=WINDOW_MAX_MS, step_ms=1, max_assumed=True),
    frozen=DurationBound(
        min_ms=1, max_ms=FROZEN_MAX_MS, step_ms=1, allow_manual=True, max_assumed=True
    ),
    change=ChangeMode.UPSERT,  # mmp-modify overwrites the coin's config in place
    remove=RemoveMode.UNSUPPORTED,  # no API disables or deletes MMP
    reset_means=ResetMeaning.UNFREEZE,  # and zeroes the counters; the config stays
    synchronous=True,
    # X-BAPI-RECV-WINDOW 5000 ms (our client's), and a timestamp at most 1000 ms ahead
    refuses_after_ms=6_000,
    set_unfreezes=False,  # not documented either way; frozen scopes are held regardless
    # vegaLimit too: always sent (see above)
    required_limits=frozenset({"quantity_limit", "delta_limit", "vega_limit"}),
    groups=False,
    # a live "0", and (None) a limit the live config lacks
    undocumented={name: {Decimal(0): note, None: note} for name, note in _ZERO.items()},
    underlyings=BASE_COINS,
    # "upper case only" (documented)
    names_assumed=NameForm(r"[A-Z0-9]{1,20}", "a base coin such as BTC, in capital letters"),
)

CONNECTION = Connection(
    environments={
        "production": "https://api.bybit.com",
        "testnet": "https://api-testnet.bybit.com",
    },
    credential_vars=("API_KEY", "API_SECRET"),
    # mmp-modify and mmp-reset: 5 per second per UID (mmp-state: "-", kept to the same)
    requests_per_second=5,
    burst=5,
    # the HTTP IP limit: 600 requests in any 5-second window, all accounts of this machine
    shared_limit=600,
    shared_window_ms=5_000,
)
