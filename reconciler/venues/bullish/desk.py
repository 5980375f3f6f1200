"""Bullish in `--sandbox`: the simulator, seeded with the example desk's Bullish account."""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.simulators.common import Clock
from reconciler.venues.base import Credentials
from reconciler.venues.bullish.simulator import BullishSimulator

# bullish-mm: BTC and SOL drifted (each a replacement: reset, then set); ETH frozen by a
# trigger, with a drift. REST cannot show a freeze under the simulator's default reading
# (isActive stays true) and the sandbox has no push channel, so every scope's freeze state
# reads unknown with no trigger seen: each change is written, flagged (if the scope is
# frozen, its reset may end the freeze: ETH's does).
SEED: list[tuple[str, dict[str, Any], bool]] = [
    (
        "bullish-mm",
        {
            "underlyingAssetSymbol": "BTC",
            "windowTimeInSeconds": "10",
            "frozenTimeInSeconds": "5",
            "quantityLimit": "10",
            "deltaLimit": "1",
        },
        False,
    ),
    (
        "bullish-mm",
        {
            "underlyingAssetSymbol": "ETH",
            "windowTimeInSeconds": "30",
            "frozenTimeInSeconds": "60",
            "quantityLimit": "150",
        },
        True,
    ),
    (
        "bullish-mm",
        {
            "underlyingAssetSymbol": "SOL",
            "windowTimeInSeconds": "5",
            "frozenTimeInSeconds": "10",
            "deltaLimit": "900",
        },
        False,
    ),
]


class _BullishDesk(SimulatorDesk[BullishSimulator]):
    """Bullish also needs the trading account id among the credentials."""

    def credentials(self, account: str) -> Credentials:
        creds = super().credentials(account)
        account_id = self.sim.accounts[creds["PUBLIC_KEY"]].trading_account_id
        return type(creds)({**creds.values, "TRADING_ACCOUNT_ID": account_id})


def _seed(sandbox: SimulatorDesk[BullishSimulator]) -> None:
    for account, command, frozen in SEED:
        key = sandbox.key(account)
        account_id = sandbox.sim.accounts[key].trading_account_id
        sandbox.sim.seed(
            key, {"commandType": "V1SetMMP", "tradingAccountId": account_id, **command}
        )
        if frozen:
            sandbox.sim.trigger(key, command["underlyingAssetSymbol"])


def make(
    state: dict[str, object] | None, *, clock: Clock | None = None, apply_delay_ms: int = 200
) -> SimulatorDesk[BullishSimulator]:
    """The sandbox; tests pass a clock and an apply delay of their own."""
    sim = BullishSimulator(clock=clock, apply_delay_ms=apply_delay_ms)
    return _BullishDesk(sim, "PUBLIC_KEY", "SECRET", state, _seed)
