"""The venue registry: every venue mmp-reconciler speaks, listed explicitly."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.venues.aevo import SPEC as AEVO
from reconciler.venues.base import Capabilities, Connection, VenueSpec
from reconciler.venues.binance import SPEC as BINANCE
from reconciler.venues.bullish import SPEC as BULLISH
from reconciler.venues.bybit import SPEC as BYBIT
from reconciler.venues.deribit import SPEC as DERIBIT
from reconciler.venues.okx import SPEC as OKX

VENUES: dict[str, VenueSpec[Any]] = {
    "deribit": DERIBIT,
    "binance": BINANCE,
    "aevo": AEVO,
    "bullish": BULLISH,
    "okx": OKX,
    "bybit": BYBIT,
}


def capabilities(venues: Mapping[str, VenueSpec[Any]] | None = None) -> dict[str, Capabilities]:
    """What each venue can express: all the planner and the validator's rules know of it."""
    return {name: spec.capabilities for name, spec in (venues or VENUES).items()}


def connections(venues: Mapping[str, VenueSpec[Any]] | None = None) -> dict[str, Connection]:
    """How each venue is reached: environments, credentials, request limits."""
    return {name: spec.connection for name, spec in (venues or VENUES).items()}
