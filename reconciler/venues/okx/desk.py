"""OKX in `--sandbox`: the simulator, seeded with the example desk's OKX account."""

from __future__ import annotations

from reconciler.sandbox.desk import SimulatorDesk
from reconciler.venues.base import Credentials
from reconciler.venues.okx.simulator import OkxSimulator

# okx-mm: BTC-USD drifted (qtyLimit 150 live, 100 wanted); ETH-USD frozen until a reset
# (frozenInterval "0") with a held drift.
SEED: list[tuple[str, dict[str, str], bool]] = [
    (
        "okx-mm",
        {
            "instFamily": "BTC-USD",
            "timeInterval": "5000",
            "frozenInterval": "30000",
            "qtyLimit": "150",
        },
        False,
    ),
    (
        "okx-mm",
        {
            "instFamily": "ETH-USD",
            "timeInterval": "10000",
            "frozenInterval": "0",
            "qtyLimit": "400",
        },
        True,
    ),
]


class _OkxDesk(SimulatorDesk[OkxSimulator]):
    """OKX also needs the key's passphrase among the credentials."""

    def credentials(self, account: str) -> Credentials:
        creds = super().credentials(account)
        passphrase = self.sim.accounts[creds["API_KEY"]].passphrase
        return Credentials({**creds.values, "PASSPHRASE": passphrase})


def _seed(sandbox: SimulatorDesk[OkxSimulator]) -> None:
    for account, body, frozen in SEED:
        sandbox.sim.seed(sandbox.key(account), body)
        if frozen:
            sandbox.sim.trigger(sandbox.key(account), body["instFamily"])


def make(state: dict[str, object] | None) -> SimulatorDesk[OkxSimulator]:
    return _OkxDesk(OkxSimulator(), "API_KEY", "API_SECRET", state, _seed)
