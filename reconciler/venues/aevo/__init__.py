"""Aevo: REST with JSON bodies, HMAC-signed (or key and secret headers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.aevo.capabilities import CAPABILITIES, CONNECTION
from reconciler.venues.base import Credentials, SimulatedDesk, VenueClient, VenueSpec

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.aevo.client import AevoEndpoint
    from reconciler.venues.limiter import RequestLimiter


def _client(
    account: str,
    credentials: Credentials,
    http: httpx.AsyncClient,
    limits: RequestLimiter,
    shared: AevoEndpoint,
) -> VenueClient:
    from reconciler.venues.aevo.client import AevoClient  # on first use: start-up stays fast

    return AevoClient(account, credentials, http, limits, shared)


def _endpoint() -> AevoEndpoint:
    """What the accounts of one endpoint share: its assets, its signing reading."""
    from reconciler.venues.aevo.client import AevoEndpoint

    return AevoEndpoint()


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.aevo.desk import make

    return make(state)


SPEC: VenueSpec[AevoEndpoint] = VenueSpec(CAPABILITIES, CONNECTION, _client, _endpoint, _desk)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
