"""Binance European Options (eapi): REST with HMAC-SHA256 signed form parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import Credentials, SimulatedDesk, VenueClient, VenueSpec
from reconciler.venues.binance.capabilities import CAPABILITIES, CONNECTION

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.discovery import Discovered
    from reconciler.venues.limiter import RequestLimiter


def _client(
    account: str,
    credentials: Credentials,
    http: httpx.AsyncClient,
    limits: RequestLimiter,
    shared: Discovered,
) -> VenueClient:
    from reconciler.venues.binance.client import BinanceClient  # on first use: start-up stays fast

    return BinanceClient(account, credentials, http, limits, shared)


def _endpoint() -> Discovered:
    """What the accounts of one endpoint share: its underlyings, asked once."""
    from reconciler.venues.discovery import Discovered

    return Discovered()


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.binance.desk import make

    return make(state)


SPEC: VenueSpec[Discovered] = VenueSpec(CAPABILITIES, CONNECTION, _client, _endpoint, _desk)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
