"""Binance in `--sandbox`: the simulator, seeded with the example desk's Binance account."""

from __future__ import annotations

import httpx

from reconciler.venues.base import Credentials
from reconciler.venues.binance.simulator import BinanceSimulator

# binance-mm: BTCUSDT drifted (window 5s live, 3s wanted); ETHUSDT frozen after a trigger
# with a drift that is held; SOLUSDT configured on the venue but not in the policies.
SEED: list[tuple[str, dict[str, str], bool]] = [
    (
        "binance-mm",
        {
            "underlying": "BTCUSDT",
            "windowTimeInMilliseconds": "5000",
            "frozenTimeInMilliseconds": "300000",
            "qtyLimit": "2",
            "deltaLimit": "2.3",
        },
        False,
    ),
    (
        "binance-mm",
        {
            "underlying": "ETHUSDT",
            "windowTimeInMilliseconds": "3000",
            "frozenTimeInMilliseconds": "0",
            "qtyLimit": "40",
            "deltaLimit": "15",
        },
        True,
    ),
    (
        "binance-mm",
        {
            "underlying": "SOLUSDT",
            "windowTimeInMilliseconds": "1000",
            "frozenTimeInMilliseconds": "60000",
            "qtyLimit": "500",
            "deltaLimit": "120.5",
        },
        False,
    ),
]


def sandbox_credentials(account: str) -> Credentials:
    return Credentials(
        {"API_KEY": f"sandbox-key-{account}", "API_SECRET": f"sandbox-secret-{account}"}
    )


class BinanceSandbox:
    def __init__(self, state: dict[str, object] | None) -> None:
        self.sim = BinanceSimulator()
        if state is not None:
            self.sim.load_state(state)
            return
        for account, params, frozen in SEED:
            key = self.credentials(account)["API_KEY"]
            self.sim.seed(key, params)
            if frozen:
                self.sim.trigger(key, params["underlying"])

    def credentials(self, account: str) -> Credentials:
        creds = sandbox_credentials(account)
        if creds["API_KEY"] not in self.sim.accounts:
            self.sim.add_account(creds["API_KEY"], creds["API_SECRET"])
        return creds

    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self.sim)

    def dump(self) -> dict[str, object]:
        return self.sim.dump_state()
