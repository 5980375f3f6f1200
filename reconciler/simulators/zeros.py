"""What a live limit of "0" means, where a venue's docs do not say: an open question each
simulator plays both ways by a switch (README, "Open questions: each a simulator switch").

- "limit" (every switch's default: the reading less convenient to a client that takes a 0
  for no limit): a limit of zero, the tightest there is; any fill trips it.
- "none": no such limit; nothing trips it.
"""

from __future__ import annotations

from decimal import Decimal

ZERO_READINGS = ("limit", "none")


def zero_reading(switch: str, value: str) -> str:
    """The reading, checked: one the simulator does not know is refused, never played as
    the default."""
    if value not in ZERO_READINGS:
        raise ValueError(f"{switch} is one of {list(ZERO_READINGS)}")
    return value


def trips(limit: Decimal, reading: str, amount: Decimal, *, reaches: bool = False) -> bool:
    """A fill's size `amount` trips the live `limit` (a "0" as `reading` says): when it
    exceeds it, or (`reaches`: the venue's rule is "reaches or exceeds") equals it too."""
    if limit == 0 and reading == "none":
        return False
    return amount >= limit if reaches else amount > limit
