"""Bullish: HMAC login for a JWT, signed asynchronous MMP commands, reset-then-set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.venues.base import Credentials, VenueClient, VenueSandbox, VenueSpec
from reconciler.venues.bullish.capabilities import CAPABILITIES

if TYPE_CHECKING:
    import httpx

    from reconciler.venues.limiter import RequestLimiter


def _client(
    account: str,
    credentials: Credentials,
    http: httpx.AsyncClient,
    limits: RequestLimiter,
    shared: dict[str, Any],
) -> VenueClient:
    from reconciler.venues.bullish.client import BullishClient  # on first use: start-up stays fast

    return BullishClient(account, credentials, http, limiter=limits, shared=shared)


def _sandbox(state: dict[str, object] | None) -> VenueSandbox:
    from reconciler.venues.bullish.sandbox import make

    return make(state)


SPEC: VenueSpec[dict[str, Any]] = VenueSpec(CAPABILITIES, _client, dict, _sandbox)

__all__ = ["CAPABILITIES", "SPEC"]
