"""Aevo in `--sandbox`: the simulator, seeded with the example desk's Aevo account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.venues.aevo.simulator import AevoSimulator

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


def _seed(sandbox: SimulatorDesk[AevoSimulator]) -> None:
    for account, body, frozen in SEED:
        sandbox.sim.seed(sandbox.key(account), body)
        if frozen:
            sandbox.sim.trigger(sandbox.key(account), body["asset"])


def make(state: dict[str, object] | None) -> SimulatorDesk[AevoSimulator]:
    return SimulatorDesk(AevoSimulator(), "API_KEY", "API_SECRET", state, _seed)
