"""Bullish: HMAC login for a JWT, signed asynchronous MMP commands, reset-then-set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import (
    Credentials,
    PushChannel,
    SimulatedDesk,
    VenueClient,
    VenueSpec,
)
from reconciler.venues.bullish.capabilities import CAPABILITIES, CONNECTION

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.bullish.nonces import NonceDay
    from reconciler.venues.limiter import RequestLimiter


def _client(
    account: str,
    credentials: Credentials,
    http: httpx.AsyncClient,
    limits: RequestLimiter,
    shared: NonceDay,
) -> VenueClient:
    from reconciler.venues.bullish.client import BullishClient  # on first use: start-up stays fast

    return BullishClient(account, credentials, http, limits, shared)


def _nonce_day() -> NonceDay:
    """What the accounts of one endpoint share: the day's nonce bounds, read once a day."""
    from reconciler.venues.bullish.nonces import NonceDay

    return NonceDay()


def _push(client: VenueClient, base_url: str) -> PushChannel:
    """The account's private-data WebSocket: command outcomes (mmpRequest) and triggers."""
    from reconciler.venues.bullish.client import BullishClient

    assert isinstance(client, BullishClient)  # as _client made it
    return client.attach_push(base_url)


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.bullish.desk import make

    return make(state)


SPEC: VenueSpec[NonceDay] = VenueSpec(CAPABILITIES, CONNECTION, _client, _nonce_day, _desk, _push)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
