"""Apply and the venues' push channels (issue 16): what apply learns the moment a venue
tells it, beside what it reads.

- Before apply reads the venues, each account with a write opens its channel (Connections
  made it where the venue has one), subscribed for the underlyings it writes.
- A freeze pushed since a step's check read began (or, where REST cannot see a freeze, one
  in force) stops every further write to that scope: the step is held, or, between a
  replacement's reset and its set, ends without its set (and says the scope has no MMP).
- A read covers the time since it began only once the channel covers it too: a read begun
  before the subscriptions were confirmed is not reused for the check before a write.
- An asynchronous venue's pushed outcome of a command settles it at once (a rejection with
  the venue's own words); REST reads go on beside it, from PUSH_GRACE_MS on, and settle it
  where the channel is down or says nothing.
Without a channel (none for the venue, in-process transports such as --sandbox, a socket
that cannot open or drops) apply is as before: REST reads only, and `-v` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from reconciler.core.freezes import known
from reconciler.core.model import FreezeState, ScopeKey
from reconciler.planning.plan import Plan
from reconciler.venues.base import PushChannel, Said
from reconciler.venues.live import Connections
from reconciler.venues.push import LOG

T = TypeVar("T")
PUSH_GRACE_MS = 1_000  # with a channel open, REST reads of an outcome start this much later


async def open_channels(connections: Connections, plan: Plan) -> dict[str, str]:
    """Open the channel of every account `plan` writes, for the underlyings it writes, side
    by side. Returns account -> why it has no open channel ("" where it has one), for the
    accounts whose venue has channels."""
    writes: dict[str, set[str]] = {}
    for step in plan.writes:
        writes.setdefault(step.key.account, set()).add(step.key.underlying)
    channels = {a: connections.pushes[a] for a in writes if a in connections.pushes}
    await asyncio.gather(*(c.open(frozenset(writes[a])) for a, c in channels.items()))
    states = {a: c.down for a, c in channels.items()}
    states.update({a: why for a, why in connections.push_notes.items() if a in writes})
    for account, why in sorted(states.items()):
        if why:
            venue = connections.clients[account].capabilities.venue
            LOG.info(
                "%s/%s: no push channel (%s): command outcomes and freezes by REST reads only",
                venue,
                account,
                why,
            )
    return states


def covers(connections: Connections, account: str, read_at_ns: int) -> bool:
    """Whether the account's channel covers the time since a read began (or there is no
    channel to wait for): its subscriptions were confirmed before the read began. Once an
    open channel went down, no read it was part of is reused (what it told of freezes may
    have stopped short): a new read, by REST alone, decides."""
    channel = connections.pushes.get(account)
    if channel is None or channel.since_ns is None:
        return True
    return not channel.down and read_at_ns >= channel.since_ns


async def confirm(connections: Connections, account: str) -> None:
    """Before a step's check: the account's open channel proves it is live (or goes down,
    and the check then reads by REST alone)."""
    channel = connections.pushes.get(account)
    if channel is not None and not channel.down:
        await channel.confirm()


def pushed_freeze(connections: Connections, key: ScopeKey, after_ns: int) -> FreezeState | None:
    """A freeze of `key` its channel pushed after `after_ns`, or knows in force."""
    channel = connections.pushes.get(key.account)
    return None if channel is None else channel.frozen(key, after_ns)


def stop_reason(connections: Connections, key: ScopeKey, after_ns: int) -> str:
    """Why no further write may go to `key` ('' when none): a freeze pushed since."""
    freeze = pushed_freeze(connections, key, after_ns)
    if freeze is None:
        return ""
    return f"MMP triggered on it, {known(freeze)} (pushed by {key.venue})"


def waits_for_word(connections: Connections, key: ScopeKey) -> PushChannel | None:
    """The channel whose pushed outcome a write to `key` waits for: an asynchronous venue's,
    while open."""
    channel = connections.pushes.get(key.account)
    client = connections.clients[key.account]
    if channel is None or channel.down or client.capabilities.synchronous:
        return None
    return channel


async def first_word(
    channel: PushChannel, key: ScopeKey, poll: Callable[[], Awaitable[T]]
) -> Said | T:
    """The venue's pushed outcome of the last command to `key`, or what REST polling
    (`poll`) settles on, whichever comes first. Polling starts PUSH_GRACE_MS late, or at
    once when the channel says it cannot tell."""
    said = asyncio.ensure_future(channel.outcome(key))

    async def polled() -> T:
        # asyncio.wait, not wait_for: wait_for (3.11) swallows a cancellation that comes as
        # `said` ends, and the reads would then go on to their deadline
        await asyncio.wait({said}, timeout=PUSH_GRACE_MS / 1000)
        return await poll()

    reads = asyncio.ensure_future(polled())
    either: set[asyncio.Future[object]] = {said, reads}  # type: ignore[arg-type]
    try:
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        word = said.result() if said.done() and not said.cancelled() else None
        if word is not None:
            return word
        return await reads
    finally:
        for task in (said, reads):
            task.cancel()
        await asyncio.gather(said, reads, return_exceptions=True)
