"""Deribit: JSON-RPC over HTTP, OAuth client_credentials, MMP per index and mass-quote group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import Credentials, VenueClient, VenueSandbox, VenueSpec
from reconciler.venues.deribit.capabilities import CAPABILITIES

if TYPE_CHECKING:
    import httpx


def _client(account: str, credentials: Credentials, http: httpx.AsyncClient) -> VenueClient:
    from reconciler.venues.deribit.client import DeribitClient  # lazy: keeps start-up fast

    return DeribitClient(account, credentials, http)


def _sandbox(state: dict[str, object] | None) -> VenueSandbox:
    from reconciler.venues.deribit.sandbox import make

    return make(state)


SPEC = VenueSpec(capabilities=CAPABILITIES, client=_client, sandbox=_sandbox)

__all__ = ["CAPABILITIES", "SPEC"]
