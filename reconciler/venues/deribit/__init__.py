"""Deribit: JSON-RPC over HTTP, OAuth client_credentials, MMP per index and mass-quote group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import (
    Credentials,
    PushChannel,
    SimulatedDesk,
    VenueClient,
    VenueSpec,
    nothing,
)
from reconciler.venues.deribit.capabilities import CAPABILITIES, CONNECTION

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
    from reconciler.venues.deribit.client import DeribitClient  # on first use: start-up stays fast

    return DeribitClient(account, credentials, http, limits)


def _push(client: VenueClient, base_url: str) -> PushChannel:
    """The account's WebSocket, for the triggers of the indexes apply writes."""
    from reconciler.venues.deribit.client import DeribitClient
    from reconciler.venues.deribit.push import DeribitPush

    assert isinstance(client, DeribitClient)  # as _client made it
    return DeribitPush(client.where, client.credentials, base_url, client.request_slot)


def _desk(state: dict[str, object] | None) -> SimulatedDesk:
    from reconciler.venues.deribit.desk import make

    return make(state)


SPEC: VenueSpec[None] = VenueSpec(CAPABILITIES, CONNECTION, _client, nothing, _desk, _push)

__all__ = ["CAPABILITIES", "CONNECTION", "SPEC"]
