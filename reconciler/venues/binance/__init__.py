"""Binance European Options (eapi): REST with HMAC-SHA256 signed form parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.venues.base import Credentials, VenueClient, VenueSandbox, VenueSpec
from reconciler.venues.binance.capabilities import CAPABILITIES

if TYPE_CHECKING:
    import httpx


def _client(account: str, credentials: Credentials, http: httpx.AsyncClient) -> VenueClient:
    from reconciler.venues.binance.client import BinanceClient  # lazy: keeps start-up fast

    return BinanceClient(account, credentials, http)


def _sandbox(state: dict[str, object] | None) -> VenueSandbox:
    from reconciler.venues.binance.sandbox import make

    return make(state)


SPEC = VenueSpec(capabilities=CAPABILITIES, client=_client, sandbox=_sandbox)

__all__ = ["CAPABILITIES", "SPEC"]
