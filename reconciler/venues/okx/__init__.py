"""OKX account MMP (options, Portfolio Margin): REST with JSON bodies of strings, v5 HMAC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import (
    Credentials,
    SimulatedDesk,
    VenueClient,
    VenueSpec,
    nothing,
)
from reconciler.venues.okx.capabilities import CAPABILITIES, CONNECTION

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
    from reconciler.venues.okx.client import OkxClient  # on first use: start-up stays fast

    return OkxClient(account, credentials, http, limits, shared)


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.okx.desk import make

    return make(state)


SPEC: VenueSpec[None] = VenueSpec(CAPABILITIES, CONNECTION, _client, nothing, _desk)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
