"""Before heal creates a config, a read of that scope of its own: the plan's read answering
nothing once is no proof that a scope has no config, and a create over one it did not see
may loosen a person's emergency setting. And an account that reads with no config at all,
where the journal says configs were verified there, is said loudly.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.apply.journal import Journal
from reconciler.apply.journal import read as read_journal
from reconciler.core import console
from reconciler.core.clock import clock
from reconciler.core.errors import ReconcilerError
from reconciler.core.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.secrets import redact
from reconciler.planning.heal import Healing, confirmed, reread
from reconciler.planning.plan import Action
from reconciler.policy.desired import DesiredState
from reconciler.venues.live import Connections

# a create's confirming read comes at least this long after the plan's read began: an
# empty answer twice in one second is no better proof than once (red team 3)
CONFIRM_AFTER_MS = 1000


async def confirmed_creates(
    connections: Connections,
    live: list[LiveAccount],
    healing: Healing,
    judged: Callable[[list[LiveAccount]], Healing],
    journal: Journal,
) -> tuple[list[LiveAccount], Healing]:
    """Each scope to create read again, now (never the plan's read: an empty answer once is
    no proof). A create is sent only where that read shows no config; where it shows one
    (or a freeze), the live state takes the new read and every step is judged again (a
    tightening is healed, anything else left), said and journaled; a scope that cannot be
    read again is left for a person. The read is made CONFIRM_AFTER_MS after the plan's
    (counted from when that read began), so one passing glitch of the venue cannot answer
    both; the executor's own check before the write is a third read, or this one."""
    since_ns = max(connections.read_at_ns.values(), default=None)
    if since_ns is not None:
        wait_ns = since_ns + CONFIRM_AFTER_MS * 1_000_000 - clock().monotonic_ns()
        if wait_ns > 0:
            await clock().sleep_ns(wait_ns)
    fresh, unread = await _read_again(connections, healing)
    seen = {key: scope for key, scope in fresh.items() if scope is not None and scope.present}
    said: dict[ScopeKey, str] = {}
    for key, scope in seen.items():
        now = scope.config.shown() if scope.config is not None else "no config, may be frozen"
        said[key] = (
            f"the plan's read showed no config, but a read made again before its create "
            f"shows {now}: judged on that read"
        )
        journal.write(
            "heal-reread",
            scope=str(key),
            planned=None,
            now=None if scope.config is None else scope.config.to_data(),
            freeze=scope.freeze.to_data(),
        )
    if seen:
        console.warn(
            "mmp: read again before heal created them, "
            + ", ".join(str(key) for key in seen)
            + " hold a config (or a freeze) the first read did not show: judged again on "
            "the new read; nothing was created there"
        )
        live = _merged(live, fresh)
        healing = reread(judged(live), said)
    creates = [item.step.key for item in healing.healed if item.step.action is Action.CREATE]
    bare = {key for key, scope in fresh.items() if scope is None or not scope.present}
    unconfirmed = {
        key: unread.get(key, "it was not read again") for key in creates if key not in bare
    }
    return live, confirmed(healing, unconfirmed)


async def _read_again(
    connections: Connections, healing: Healing
) -> tuple[dict[ScopeKey, LiveScope | None], dict[ScopeKey, str]]:
    """A fresh read of each scope to create: scope -> what it shows (None: nothing), and
    scope -> why it could not be read (its account's read failed)."""
    wanted: dict[str, set[ScopeKey]] = {}
    for item in healing.healed:
        if item.step.action is Action.CREATE:
            wanted.setdefault(item.step.key.account, set()).add(item.step.key)
    fresh: dict[ScopeKey, LiveScope | None] = {}
    unread: dict[ScopeKey, str] = {}
    limits: dict[str, asyncio.Semaphore] = {}

    async def one(account: str, keys: set[ScopeKey]) -> None:
        venue = next(iter(keys)).venue
        only = frozenset(key.underlying for key in keys)
        async with limits.setdefault(venue, asyncio.Semaphore(connections.concurrency)):
            try:
                read = await connections.read_account(account, only=only)
            except ReconcilerError as exc:
                unread.update({key: redact(str(exc)) for key in keys})
                return
        now = read.by_key()
        fresh.update({key: now.get(key) for key in keys})

    await asyncio.gather(*(one(account, keys) for account, keys in wanted.items()))
    return fresh, unread


def _merged(
    live: list[LiveAccount], fresh: Mapping[ScopeKey, LiveScope | None]
) -> list[LiveAccount]:
    """The live state with each scope read again as that read found it."""
    merged = []
    for account in live:
        mine = {key: scope for key, scope in fresh.items() if key.account == account.account}
        if not mine:
            merged.append(account)
            continue
        kept = [scope for scope in account.scopes if scope.key not in mine]
        now = [scope for scope in mine.values() if scope is not None]
        merged.append(dataclasses.replace(account, scopes=(*kept, *now)))
    return merged


def said_empty(
    live: list[LiveAccount],
    desired: DesiredState,
    had: Mapping[ScopeKey, MmpConfig],
    journal: Journal,
) -> None:
    """An account that reads without any MMP config, where the journal says a config was
    verified on it and no unfinished run explains the loss, is said loudly and journaled:
    a venue answering with nothing is more likely than every config gone. (Each create is
    read again before it is sent; this is for a person to look at the venue.)"""
    empty = {
        account.account: account
        for account in live
        if all(scope.config is None for scope in account.scopes)
        and any(
            key.account == account.account and key not in had and declared.config is not None
            for key, declared in desired.scopes.items()
        )
    }
    if not empty or journal.path is None or not journal.path.is_file():
        return  # (a journal that is not a regular file is not read: a FIFO would block)
    last: dict[str, dict[str, Any]] = {}
    for record in read_journal(journal.path):
        if isinstance(record, dict) and record.get("event") == "step-end":
            venue, _, rest = str(record.get("scope", "")).partition("/")
            name = rest.partition("/")[0]
            account = empty.get(name)
            verified = record.get("outcome") == "applied" and record.get("live")
            if account is not None and account.venue == venue and verified:
                last[name] = record
    for name, record in sorted(last.items()):
        where = f"{empty[name].venue}/{name}"
        console.warn(
            f"mmp: WARNING: {where} reads with no MMP config at all, though run "
            f"{record.get('run')} verified {record.get('scope')} configured there at "
            f"{record.get('ts')}. A venue answering with nothing is likelier than every "
            "config gone: heal reads each scope again before it creates one, but check "
            f"{where} on the venue"
        )
        journal.write(
            "empty-account", account=name, verified_run=record.get("run"), scope=record.get("scope")
        )
