"""Binance in `--sandbox`: the simulator, seeded with the example desk's Binance account."""

from __future__ import annotations

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.venues.binance.simulator import BinanceSimulator

# binance-mm: BTCUSDT drifted (window 2s live, 3s wanted); ETHUSDT frozen after a trigger
# with a drift that is held; SOLUSDT configured on the venue but not in the policies.
SEED: list[tuple[str, dict[str, str], bool]] = [
    (
        "binance-mm",
        {
            "underlying": "BTCUSDT",
            "windowTimeInMilliseconds": "2000",
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


def _seed(sandbox: SimulatorDesk[BinanceSimulator]) -> None:
    for account, params, frozen in SEED:
        sandbox.sim.seed(sandbox.key(account), params)
        if frozen:
            sandbox.sim.trigger(sandbox.key(account), params["underlying"])


def make(state: dict[str, object] | None) -> SimulatorDesk[BinanceSimulator]:
    return SimulatorDesk(BinanceSimulator(), "API_KEY", "API_SECRET", state, _seed)
