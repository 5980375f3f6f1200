"""The small types a venue's row (tests/venues.py) tells its limits by: what its docs say of
each (Limit: tests/test_heal_property.py's oracle) and each live "0" its simulator plays both
ways (Zero: tests/test_zero_limits.py, tests/test_open_questions.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple


class Limit(NamedTuple):
    """What the docs say of one limit of one venue (a lower limit is stricter everywhere:
    each trips when its count reaches or exceeds it)."""

    optional: bool  # a policy may leave it out
    # what a limit mmp reads as none stands for on the venue: "never set" (Deribit omits a
    # limit not set: no limit), "0" (the venue reports a limit never set as "0", whose
    # meaning the docs leave open), or "" (the venue always reports it: never none)
    none_is: str
    values: tuple[Decimal, ...] = (Decimal("0.5"), Decimal(2), Decimal(9))


COUNTS = (Decimal(5), Decimal(20), Decimal(100))  # values of a count limit (trade_count_limit)


class Zero(NamedTuple):
    """One limit whose live "0" the venue's docs leave open, and how its simulator plays it
    (a switch taking ZERO_READINGS: `limit`, the default, or `none`)."""

    venue: str
    underlying: str  # the scope it is played on
    field: str  # mmp's name
    wire: str  # the venue's, in the simulator's stored config
    switch: str  # the simulator's reading of a live "0"
    read_as: Decimal | None  # what mmp reads "0" as
    # the venue's own truth (sim, key, underlying): True where only a limit of zero acts
    # (a fill trips it, a quote does not fit under it)
    acts: Callable[[Any, str, str], bool]


def _fill(**amounts: Any) -> Callable[[Any, str, str], bool]:
    return lambda sim, key, underlying: bool(sim.fill(key, underlying, **amounts))


SMALL_QUANTITY = _fill(quantity=Decimal(1), delta=Decimal(0))
SMALL_DELTA = _fill(quantity=Decimal(1), delta=Decimal(1))
SMALL_VEGA = _fill(quantity=Decimal(1), delta=Decimal(1), vega=Decimal(1))
