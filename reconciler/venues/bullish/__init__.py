"""Bullish: HMAC login for a JWT, signed asynchronous MMP commands, reset-then-set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import Credentials, VenueClient, VenueSandbox, VenueSpec
from reconciler.venues.bullish.capabilities import CAPABILITIES

if TYPE_CHECKING:
    import httpx


def _client(account: str, credentials: Credentials, http: httpx.AsyncClient) -> VenueClient:
    from reconciler.venues.bullish.client import BullishClient  # lazy: keeps start-up fast

    return BullishClient(account, credentials, http)


def _sandbox(state: dict[str, object] | None) -> VenueSandbox:
    from reconciler.venues.bullish.sandbox import make

    return make(state)


SPEC = VenueSpec(capabilities=CAPABILITIES, client=_client, sandbox=_sandbox)

__all__ = ["CAPABILITIES", "SPEC"]
