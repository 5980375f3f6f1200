"""Aevo in `--sandbox`: the simulator, seeded with the example desk's Aevo account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from reconciler.venues.aevo.simulator import AevoSimulator
from reconciler.venues.base import Credentials

# aevo-mm: ETH drifted (amount 1.5 live, 1.25 wanted); BTC frozen until manual reset with a
# held drift; SOL configured on the venue but marked absent (removed by interval 0).
SEED: list[tuple[str, dict[str, Any], bool]] = [
    (
        "aevo-mm",
        {
            "asset": "ETH",
            "interval": 30,
            "frozen": 30,
            "amount_limit": "1500000",
            "delta_limit": Decimal("0.1"),
        },
        False,
    ),
    ("aevo-mm", {"asset": "BTC", "interval": 10, "frozen": 0, "amount_limit": "250000"}, True),
    (
        "aevo-mm",
        {
            "asset": "SOL",
            "interval": 5,
            "frozen": 60,
            "amount_limit": "40000000",
            "delta_limit": Decimal(12),
        },
        False,
    ),
]


def sandbox_credentials(account: str) -> Credentials:
    return Credentials(
        {"API_KEY": f"sandbox-key-{account}", "API_SECRET": f"sandbox-secret-{account}"}
    )


class AevoSandbox:
    def __init__(self, state: dict[str, object] | None) -> None:
        self.sim = AevoSimulator()
        if state is not None:
            self.sim.load_state(state)
            return
        for account, body, frozen in SEED:
            key = self.credentials(account)["API_KEY"]
            self.sim.seed(key, body)
            if frozen:
                self.sim.trigger(key, body["asset"])

    def credentials(self, account: str) -> Credentials:
        creds = sandbox_credentials(account)
        if creds["API_KEY"] not in self.sim.accounts:
            self.sim.add_account(creds["API_KEY"], creds["API_SECRET"])
        return creds

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self.sim)

    def dump(self) -> dict[str, object]:
        return self.sim.dump_state()
