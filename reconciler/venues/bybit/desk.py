"""Bybit in `--sandbox`: the simulator, seeded with the example desk's Bybit account."""

from __future__ import annotations

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.venues.bybit.simulator import BybitSimulator

# bybit-mm: BTC drifted (qtyLimit 50 live, 40 wanted); ETH frozen until a reset with a held
# drift; SOL configured on the venue but not in the policies.
SEED: list[tuple[str, dict[str, str], bool]] = [
    (
        "bybit-mm",
        {
            "baseCoin": "BTC",
            "window": "5000",
            "frozenPeriod": "100000",
            "qtyLimit": "50",
            "deltaLimit": "20",
            "vegaLimit": "500000",
        },
        False,
    ),
    (
        "bybit-mm",
        {
            "baseCoin": "ETH",
            "window": "3000",
            "frozenPeriod": "0",
            "qtyLimit": "200",
            "deltaLimit": "35.5",
            "vegaLimit": "1000",
        },
        True,
    ),
    (
        "bybit-mm",
        {
            "baseCoin": "SOL",
            "window": "1000",
            "frozenPeriod": "60000",
            "qtyLimit": "1000",
            "deltaLimit": "100",
            "vegaLimit": "500000",
        },
        False,
    ),
]


def _seed(sandbox: SimulatorDesk[BybitSimulator]) -> None:
    for account, body, frozen in SEED:
        sandbox.sim.seed(sandbox.key(account), body)
        if frozen:
            sandbox.sim.trigger(sandbox.key(account), body["baseCoin"])


def make(state: dict[str, object] | None) -> SimulatorDesk[BybitSimulator]:
    return SimulatorDesk(BybitSimulator(), "API_KEY", "API_SECRET", state, _seed)
