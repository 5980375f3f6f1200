"""The check before a write, kept fresh until the write leaves (a sendguard.Guard).

apply checks a scope (reconciler.apply.writes), then sends its write. When the write is
to be sent again after the venue refused it for its rate limit (however short the wait), or
waited for its rate-limit slot longer than `fresh_ms` since the check, the scope is read and
checked again just before the write leaves; a scope that froze or moved meanwhile is not
written (NotSent: the step ends as that check says). The journal has each wait
(`rate-limited`) and each new check (`recheck`, then `recheck-done`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from reconciler.apply.journal import Journal
from reconciler.core.clock import clock
from reconciler.venues.limiter import NotSent


class Recheck:
    def __init__(
        self,
        journal: Journal,
        scope: str,
        check: Callable[[], Awaitable[str]],
        waiting: Callable[[bool], None],
        fresh_ms: int,
    ) -> None:
        """`check`: a new read and check, '' when the scope is still as planned, else why
        not; `waiting(True)`: the write is refused and waits to be sent again, (False) it
        is about to leave (or its attempt is over)."""
        self.journal, self.scope, self.check, self.fresh_ms = journal, scope, check, fresh_ms
        self._waiting = waiting
        self.checked_ns = clock().monotonic_ns()  # made the moment the check passed
        self.waits: list[str] = []  # the venue's rate-limit refusals since that check
        self.rechecked = False

    async def leaving(self) -> None:
        """A write sent again after the venue refused it for its rate limit is checked
        again the first time whatever the wait (a 429 with no Retry-After waits 200 ms, a
        Bybit 10006 whose reset is near less: red team 3 froze the scope in that wait), and
        after that once its check is older than `fresh_ms`, as a write that only waited for
        its slot (a read before every resend would spend the allowance it waits for)."""
        since_ms = (clock().monotonic_ns() - self.checked_ns) // 1_000_000
        first_resend = bool(self.waits) and not self.rechecked
        if since_ms <= self.fresh_ms and not first_resend:
            self._waiting(False)
            return
        waited = "; ".join(self.waits) or "for its rate-limit slot"
        self.journal.write("recheck", scope=self.scope, since_check_ms=since_ms, waited=waited)
        why = await self.check()
        self.journal.write("recheck-done", scope=self.scope, still_as_planned=not why, said=why)
        if why:
            raise NotSent(f"not sent: {why}")
        self.checked_ns = clock().monotonic_ns()
        self.rechecked = True  # later resends: checked again once this check is stale
        self.waits.clear()
        self._waiting(False)

    def waiting_ended(self) -> None:
        """The write's attempt is over, sent or not: no longer said to be waiting."""
        self._waiting(False)

    def waiting(self, wait_ms: int, why: str) -> None:
        self.waits.append(f"refused for the rate limit ({why}), sent again {wait_ms} ms later")
        self.journal.write("rate-limited", scope=self.scope, wait_ms=wait_ms, said=why)
        self._waiting(True)
