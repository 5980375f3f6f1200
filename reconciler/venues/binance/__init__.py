"""Binance European Options (eapi): REST with HMAC-SHA256 signed form parameters."""

from __future__ import annotations

from reconciler.venues.base import lazy_venue
from reconciler.venues.binance.capabilities import CAPABILITIES

SPEC = lazy_venue(CAPABILITIES, __name__, "BinanceClient")

__all__ = ["CAPABILITIES", "SPEC"]
