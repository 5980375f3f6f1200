"""Deribit in `--sandbox`: the simulator, seeded with the example desk of policies/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.venues.deribit.simulator import DeribitSimulator

D = Decimal
# The example desk's live state: drift on deribit-main btc_usd, a frozen mass-quote group with
# drift (held), eth_usd with a loose limit (400 live, 300 wanted), sol_usdc unmanaged, and a second
# account whose eth_usd does not exist yet (created). Block RFQ MMP on deribit-main: `all`
# with a looser trade count (50 live, 20 wanted); its btc_usd does not exist yet (created).
SEED: list[tuple[str, dict[str, Any], bool]] = [
    (
        "deribit-main",
        {
            "index_name": "btc_usd",
            "interval": 1,
            "frozen_time": 30,
            "quantity_limit": D("60"),
            "delta_limit": D("20"),
            "max_quote_quantity": D("25"),
        },
        False,
    ),
    (
        "deribit-main",
        {
            "index_name": "btc_usd",
            "mmp_group": "MassQuoteBot7",
            "interval": 60,
            "frozen_time": 0,
            "quantity_limit": D("5"),
            "max_quote_quantity": D("2.5"),
        },
        True,
    ),
    (
        "deribit-main",
        {
            "index_name": "eth_usd",
            "interval": 1,
            "frozen_time": 30,
            "quantity_limit": D("400"),
            "max_quote_quantity": D("100"),
        },
        False,
    ),
    (
        "deribit-main",
        {
            "index_name": "sol_usdc",
            "interval": 5,
            "frozen_time": 60,
            "delta_limit": D("1500.5"),
            "max_quote_quantity": D("1000"),
        },
        False,
    ),
    (
        "deribit-main",
        {
            "index_name": "all",
            "block_rfq": True,
            "interval": 10,
            "frozen_time": 30,
            "trade_count_limit": 50,
            "max_quote_quantity": D("25"),
        },
        False,
    ),
    (
        "deribit-hedge",
        {
            "index_name": "btc_usd",
            "interval": 2,
            "frozen_time": 10,
            "quantity_limit": D("12.5"),
            "delta_limit": D("4.25"),
            "vega_limit": D("3000"),
            "max_quote_quantity": D("5"),
        },
        False,
    ),
]


def _seed(sandbox: SimulatorDesk[DeribitSimulator]) -> None:
    for account, params, frozen in SEED:
        sandbox.sim.seed(sandbox.key(account), params)
        if frozen:
            sandbox.sim.trigger(sandbox.key(account), params["index_name"], params.get("mmp_group"))


def make(state: dict[str, object] | None) -> SimulatorDesk[DeribitSimulator]:
    return SimulatorDesk(DeribitSimulator(testnet=True), "CLIENT_ID", "CLIENT_SECRET", state, _seed)
