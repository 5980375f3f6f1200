"""Aevo: REST with JSON bodies, HMAC-signed (or key and secret headers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.aevo.capabilities import CAPABILITIES
from reconciler.venues.base import Credentials, VenueClient, VenueSandbox, VenueSpec

if TYPE_CHECKING:
    import httpx


def _client(account: str, credentials: Credentials, http: httpx.AsyncClient) -> VenueClient:
    from reconciler.venues.aevo.client import AevoClient  # lazy: keeps start-up fast

    return AevoClient(account, credentials, http)


def _sandbox(state: dict[str, object] | None) -> VenueSandbox:
    from reconciler.venues.aevo.sandbox import make

    return make(state)


SPEC = VenueSpec(capabilities=CAPABILITIES, client=_client, sandbox=_sandbox)

__all__ = ["CAPABILITIES", "SPEC"]
