"""Deribit in `--sandbox`: the simulator, seeded with the example desk of policies/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from reconciler.venues.base import Credentials
from reconciler.venues.deribit.simulator import DeribitSimulator

D = Decimal
# The example desk's live state: drift on deribit-main btc_usd, a frozen mass-quote group with
# drift (held), eth_usd live but marked absent (removed), sol_usdc unmanaged, and a second
# account whose eth_usd does not exist yet (created).
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


def sandbox_credentials(account: str) -> Credentials:
    return Credentials(
        {"CLIENT_ID": f"sandbox-{account}", "CLIENT_SECRET": f"sandbox-secret-{account}"}
    )


class DeribitSandbox:
    def __init__(self, state: dict[str, object] | None) -> None:
        self.sim = DeribitSimulator(testnet=True)
        if state is not None:
            self.sim.load_state(state)
            return
        for account, params, frozen in SEED:
            client_id = self.credentials(account)["CLIENT_ID"]
            self.sim.seed(client_id, params)
            if frozen:
                self.sim.trigger(client_id, params["index_name"], params.get("mmp_group"))

    def credentials(self, account: str) -> Credentials:
        creds = sandbox_credentials(account)
        if creds["CLIENT_ID"] not in self.sim.accounts:
            self.sim.add_account(creds["CLIENT_ID"], creds["CLIENT_SECRET"])
        return creds

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self.sim)

    def dump(self) -> dict[str, object]:
        return self.sim.dump_state()
