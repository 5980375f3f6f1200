"""Bybit options MMP (v5): REST with X-BAPI-* HMAC-SHA256 signed JSON, one baseCoin a call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import Credentials, SimulatedDesk, VenueClient, VenueSpec, nothing
from reconciler.venues.bybit.capabilities import CAPABILITIES, CONNECTION

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.limiter import RequestLimiter


def _client(
    account: str,
    credentials: Credentials,
    http: httpx.AsyncClient,
    limits: RequestLimiter,
    shared: None,
) -> VenueClient:
    from reconciler.venues.bybit.client import BybitClient  # on first use: start-up stays fast

    return BybitClient(account, credentials, http, limits)


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.bybit.desk import make

    return make(state)


SPEC: VenueSpec[None] = VenueSpec(CAPABILITIES, CONNECTION, _client, nothing, _desk)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
