"""Bullish: HMAC login for a JWT, signed asynchronous MMP commands, reset-then-set."""

from __future__ import annotations

from reconciler.venues.base import lazy_venue
from reconciler.venues.bullish.capabilities import CAPABILITIES

SPEC = lazy_venue(CAPABILITIES, __name__, "BullishClient")

__all__ = ["CAPABILITIES", "SPEC"]
