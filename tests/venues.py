"""Per-venue test adapters: how to make a simulator account, seed a config and trip a
freeze, plus sample scopes that are valid on the venue. One row per registered venue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.policy.desired import DesiredState
from reconciler.venues import VENUES
from reconciler.venues.aevo import wire as aevo_wire
from reconciler.venues.aevo.simulator import AevoSimulator
from reconciler.venues.base import Credentials, VenueClient
from reconciler.venues.binance import wire as binance_wire
from reconciler.venues.binance.simulator import BinanceSimulator
from reconciler.venues.bullish import wire as bullish_wire
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.deribit import wire as deribit_wire
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.limiter import Limiter
from reconciler.venues.live import Connections, connect


def connect_to(handler: Any, desired: DesiredState, creds: dict[str, Credentials]) -> Connections:
    """Every desired account, connected to one simulator (or a fault wrapper around it)."""
    return connect(
        sorted(desired.accounts.values(), key=lambda t: t.name),
        VENUES,
        creds,
        lambda venue: httpx.MockTransport(handler),
        declared=desired.declared_underlyings(),
    )


def client_of(venue: str, account: str, creds: Credentials, http: httpx.AsyncClient) -> VenueClient:
    """One venue client made as connect() makes it: its account's own limits, and what the
    accounts of its endpoint share."""
    spec = VENUES[venue]
    limits = Limiter(spec.connection.requests_per_second, spec.connection.burst)
    return spec.client(account, creds, http, limits, spec.endpoint_state())


@dataclass(frozen=True)
class VenueRow:
    venue: str
    make: Callable[[], Any]
    credentials: Callable[[Any, str], Credentials]  # (sim, account) -> creds, creating it
    seed: Callable[[Any, Credentials, ScopeKey, MmpConfig], None]
    trigger: Callable[[Any, Credentials, ScopeKey], None]
    scopes: tuple[tuple[str, str | None], ...]  # (underlying, group) valid on the venue
    sample: Callable[[int], MmpConfig]  # a valid config, varied by n

    def transport(self, sim: Any) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(sim)


def _deribit_creds(sim: DeribitSimulator, account: str) -> Credentials:
    if f"id-{account}" not in sim.accounts:
        sim.add_account(f"id-{account}", "pw")
    return Credentials({"CLIENT_ID": f"id-{account}", "CLIENT_SECRET": "pw"})


def _binance_creds(sim: BinanceSimulator, account: str) -> Credentials:
    if f"key-{account}" not in sim.accounts:
        sim.add_account(f"key-{account}", "pw")
    return Credentials({"API_KEY": f"key-{account}", "API_SECRET": "pw"})


def _aevo_creds(sim: AevoSimulator, account: str) -> Credentials:
    if f"key-{account}" not in sim.accounts:
        sim.add_account(f"key-{account}", "pw")
    return Credentials({"API_KEY": f"key-{account}", "API_SECRET": "pw"})


def _bullish_creds(sim: BullishSimulator, account: str) -> Credentials:
    if f"key-{account}" not in sim.accounts:
        sim.add_account(f"key-{account}", "pw")
    account_id = sim.accounts[f"key-{account}"].trading_account_id
    return Credentials(
        {"PUBLIC_KEY": f"key-{account}", "SECRET": "pw", "TRADING_ACCOUNT_ID": account_id}
    )


def _bullish_seed(
    sim: BullishSimulator, creds: Credentials, key: ScopeKey, config: MmpConfig
) -> None:
    sim.seed(
        creds["PUBLIC_KEY"], bullish_wire.set_command(creds["TRADING_ACCOUNT_ID"], key, config)
    )


ROWS: dict[str, VenueRow] = {
    "deribit": VenueRow(
        venue="deribit",
        make=DeribitSimulator,
        credentials=_deribit_creds,
        seed=lambda sim, c, key, cfg: sim.seed(c["CLIENT_ID"], deribit_wire.set_params(key, cfg)),
        trigger=lambda sim, c, key: sim.trigger(c["CLIENT_ID"], key.underlying, key.group),
        scopes=(("btc_usd", None), ("btc_usd", "Bot1"), ("eth_usd", None)),
        sample=lambda n: MmpConfig(
            (n % 5 + 1) * 1000,
            MANUAL if n % 3 == 0 else 30_000,
            quantity_limit=Decimal(n + 1) / 10,
            max_quote_quantity=Decimal("2.5"),
        ),
    ),
    "binance": VenueRow(
        venue="binance",
        make=BinanceSimulator,
        credentials=_binance_creds,
        seed=lambda sim, c, key, cfg: sim.seed(
            c["API_KEY"], dict(binance_wire.set_params(key, cfg))
        ),
        trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
        scopes=(("BTCUSDT", None), ("ETHUSDT", None), ("BNBUSDT", None)),
        sample=lambda n: MmpConfig(
            (n % 5 + 1) * 500,
            MANUAL if n % 3 == 0 else 60_000,
            quantity_limit=Decimal(n + 1) / 10,
            delta_limit=Decimal("2.3"),
        ),
    ),
    "aevo": VenueRow(
        venue="aevo",
        make=AevoSimulator,
        credentials=_aevo_creds,
        seed=lambda sim, c, key, cfg: sim.seed(c["API_KEY"], aevo_wire.set_body(key, cfg)),
        trigger=lambda sim, c, key: sim.trigger(c["API_KEY"], key.underlying),
        scopes=(("BTC", None), ("ETH", None), ("SOL", None)),
        sample=lambda n: MmpConfig(
            (n % 5 + 1) * 1000,
            MANUAL if n % 3 == 0 else 60_000,
            quantity_limit=Decimal(n + 1) / 8,
            delta_limit=Decimal("0.1") if n % 2 else None,
        ),
    ),
    "bullish": VenueRow(
        venue="bullish",
        make=lambda: BullishSimulator(apply_delay_ms=0),  # acknowledged now, applied next call
        credentials=_bullish_creds,
        seed=_bullish_seed,
        trigger=lambda sim, c, key: sim.trigger(c["PUBLIC_KEY"], key.underlying),
        scopes=(("BTC", None), ("ETH", None), ("SOL", None)),
        sample=lambda n: MmpConfig(
            (n % 5 + 1) * 1000,
            (n % 7 + 1) * 1000,
            quantity_limit=Decimal(n + 1) / 8,
            delta_limit=Decimal("0.1") if n % 2 else None,
        ),
    ),
}
