"""Aevo: REST with JSON bodies, HMAC-signed (or key and secret headers)."""

from __future__ import annotations

from reconciler.venues.aevo.capabilities import CAPABILITIES
from reconciler.venues.base import lazy_venue

SPEC = lazy_venue(CAPABILITIES, __name__, "AevoClient")

__all__ = ["CAPABILITIES", "SPEC"]
