"""Deribit: JSON-RPC over HTTP, OAuth client_credentials, MMP per index and mass-quote group."""

from __future__ import annotations

from reconciler.venues.base import lazy_venue
from reconciler.venues.deribit.capabilities import CAPABILITIES

SPEC = lazy_venue(CAPABILITIES, __name__, "DeribitClient")

__all__ = ["CAPABILITIES", "SPEC"]
