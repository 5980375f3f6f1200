"""What OKX account MMP can do (more-venues.md section 1): options, Portfolio Margin accounts
with the MMP privilege OKX grants.

Labelled assumptions where the docs are silent (each the less convenient reading, which our
simulator enforces; mmp itself refuses none of them, since a bound the docs do not state
must not refuse a value OKX has live: beyond one, OKX decides at apply, and a refusal is
reported with its code):
- `timeInterval` has no documented maximum for account MMP: we take the block-trading
  surface's documented 600000 ms (section 1.7) as its bound.
- `frozenInterval` has no documented maximum: at most 1 h, as on the other venues.
- `qtyLimit` (contracts, > 0) has no documented precision: at most 2 decimals.
- The instrument families: the docs name `BTC-USD`; OKX lists options on `BTC-USD` and
  `ETH-USD`. Another well-formed family (capital letters or digits, a dash, ...) is taken:
  OKX's GET answers every family configured, so one it has live is read either way.

`qtyLimit` "must be > 0" (section 1.3); what a live "0" means (with a timeInterval above 0)
is not documented: no limit, or a limit of zero (the simulator plays both: `qty_zero`).
wire.py reads it as 0 (never a failed read of the account), and a change from it has no
known direction (`undocumented`: the plan says so, the guardrails count it a loosening,
heal leaves it).
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

MAX_DECIMALS = 2  # [assumption] qtyLimit's precision is not documented
MAX_WINDOW_MS = 600_000  # [assumption] the RFQ surface's maximum; none documented here
MAX_FROZEN_MS = 3_600_000  # [assumption] none documented
FAMILIES = frozenset({"BTC-USD", "ETH-USD"})  # [assumption] OKX's option families
SET_LIMIT = 2  # POST /api/v5/account/mmp-config: 2 requests per 10 s per user ID
SET_WINDOW_MS = 10_000
READ_LIMIT = 5  # GET mmp-config and POST mmp-reset: 5 requests per 2 s per user ID, each
READ_WINDOW_MS = 2_000
DEMO_HEADERS = {"x-simulated-trading": "1"}  # demo trading: the same host, this header
_QTY_ZERO = 'OKX qtyLimit "0" is undocumented: no limit, or a limit of 0'

CAPABILITIES = Capabilities(
    venue="okx",
    limits={
        "quantity_limit": LimitBound(
            minimum=Decimal(0), min_exclusive=True, max_decimals=MAX_DECIMALS, decimals_assumed=True
        )
    },
    # "0" disables; the maxima are assumed
    window=DurationBound(min_ms=1, max_ms=MAX_WINDOW_MS, step_ms=1, max_assumed=True),
    frozen=DurationBound(
        min_ms=1, max_ms=MAX_FROZEN_MS, step_ms=1, allow_manual=True, max_assumed=True
    ),
    change=ChangeMode.UPSERT,  # a set overwrites the family's config in place
    remove=RemoveMode.SET_ZERO_WINDOW,  # timeInterval "0" disables; there is no delete
    reset_means=ResetMeaning.UNFREEZE,  # mmp-reset only unfreezes; the config stays
    synchronous=True,
    set_unfreezes=False,  # not documented either way; frozen scopes are held regardless
    bulk_read=True,  # GET mmp-config without instFamily answers every family
    # a timestamp more than 30 s from OKX's clock is refused (50102), plus 1 s of lag
    refuses_after_ms=31_000,
    required_limits=frozenset({"quantity_limit"}),
    groups=False,
    # a live "0", and (None) a limit the live config lacks
    undocumented={"quantity_limit": {Decimal(0): _QTY_ZERO, None: _QTY_ZERO}},
    underlyings=FAMILIES,
    names_assumed=NameForm(
        r"[A-Z0-9]+(-[A-Z0-9]+)+", "an instrument family such as BTC-USD, in capital letters"
    ),
)

CONNECTION = Connection(
    # the July-2026 docs list one host for production and demo trading; demo trading is
    # the header x-simulated-trading: 1 (environment_headers), with keys made for it
    environments={
        "production": "https://openapi.okx.com",
        "testnet": "https://openapi.okx.com",
    },
    environment_headers={"testnet": DEMO_HEADERS},
    credential_vars=("API_KEY", "API_SECRET", "PASSPHRASE"),
    # every limit is per user ID and per endpoint: the client keeps each endpoint's own
    # window (client.py); this bucket only keeps an account from sending in bursts
    requests_per_second=5,
    burst=5,
)
