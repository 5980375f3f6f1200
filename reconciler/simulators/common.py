"""Building blocks every simulator uses: a settable clock and a credit bucket."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core.clock import clock


class Clock:
    """Milliseconds since the epoch: the clock in force (reconciler.core.clock: the system's,
    or a test's virtual one, so a simulator answering in process sees the time its client
    paces by), unless a test pins or advances it."""

    def __init__(self, fixed_ms: int | None = None) -> None:
        self._fixed = fixed_ms
        self._offset = 0

    def now_ms(self) -> int:
        base = self._fixed if self._fixed is not None else clock().time_ns() // 1_000_000
        return base + self._offset

    def advance(self, ms: int) -> None:
        self._offset += ms


@dataclass
class CreditBucket:
    """A leaky bucket of credits: `capacity` at most, refilled at `refill_per_s`.

    Kept in integer milli-credits so that no float enters the simulators either.
    """

    capacity: int
    refill_per_s: int
    milli: int = -1
    updated_ms: int = 0

    def take(self, cost: int, now_ms: int) -> bool:
        if self.milli < 0:
            self.milli, self.updated_ms = self.capacity * 1000, now_ms
        elapsed_ms = max(now_ms - self.updated_ms, 0)
        # refill_per_s credits per second == refill_per_s milli-credits per millisecond
        self.milli = min(self.capacity * 1000, self.milli + elapsed_ms * self.refill_per_s)
        self.updated_ms = now_ms
        if self.milli < cost * 1000:
            return False
        self.milli -= cost * 1000
        return True
