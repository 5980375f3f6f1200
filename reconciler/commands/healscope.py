"""What `mmp heal` reads: only the accounts its setting covers, each on its own.

Heal reads (and is given the keys of) only the accounts guardrails.yaml `heal:` covers; the
others are not read at all, and said once. Each covered account is read on its own, so one
that cannot be read (a venue down, a key refused, MMP not enabled on it) never stops the
healing of the others: it is named "not checked", with why, in heal's output, its report
and so the drift issue, and the run's exit is then 4 (a scope may be unprotected: nobody
knows what that account holds), never 0.

A filtered heal (--account, --venue, --underlying, --shard) heals only what it selects, but
never ends as if the rest were well (`Filtered`): each declared scope outside the filter that
it read (the other underlyings of an account it reads: it reads each account whole) and
found without a config is named and left for a person, and each account heal covers that
the filter leaves unread is named "not checked": either makes the exit 4.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.core.aio import read_all
from reconciler.core.console import Progress, out
from reconciler.core.errors import ReconcilerError, VenueAuthError
from reconciler.core.model import LiveAccount, ScopeKey
from reconciler.planning.heal import Healing
from reconciler.planning.plan import Step
from reconciler.planning.planner import make_plan
from reconciler.planning.selection import Selection
from reconciler.policy import listed
from reconciler.policy.desired import AccountTarget, DesiredState
from reconciler.policy.healing import Heal
from reconciler.venues import capabilities
from reconciler.venues.discovery import Unlisted
from reconciler.venues.live import Connections

UNCHECKED_EXIT = 4  # apply's "a scope may be unprotected": an account heal could not read


class NothingCovered(ReconcilerError):
    """The accounts selected are all outside what heal covers: nothing is read."""


@dataclass(frozen=True)
class Unchecked:
    """A covered account heal could not read: none of its scopes was checked or healed."""

    venue: str
    account: str
    why: str

    def __str__(self) -> str:
        return f"{self.venue}/{self.account}"

    def to_data(self) -> dict[str, str]:
        return {"venue": self.venue, "account": self.account, "why": self.why}


def covered(targets: list[AccountTarget], heal: Heal) -> list[AccountTarget]:
    """The selected accounts heal covers; the others are said and never read (nor their keys
    looked up). None covered: NothingCovered (exit 1, nothing read or sent)."""
    inside = [t for t in targets if heal.covers(t.venue, t.name)]
    outside = [f"{t.venue}/{t.name}" for t in targets if not heal.covers(t.venue, t.name)]
    if not inside:
        raise NothingCovered(
            f"none of the accounts selected ({', '.join(outside)}) is one heal covers "
            f"({heal.narrowed()}, guardrails.yaml `heal:`); nothing was read or sent"
        )
    if outside:
        out(
            f"Not read: {len(outside)} account(s) outside heal's venues/accounts "
            f"({heal.narrowed()}): {', '.join(outside)}\n"
        )
    return inside


async def read_each(
    connections: Connections, targets: list[AccountTarget], desired: DesiredState
) -> tuple[list[LiveAccount], list[Unchecked]]:
    """Every account read on its own (per venue, no more at once than the concurrency):
    what could be read, and each one that could not, with why."""
    limits: dict[str, asyncio.Semaphore] = {}
    failed: list[Unchecked] = []
    progress = Progress(len(targets), "Reading accounts")

    async def one(target: AccountTarget) -> LiveAccount | None:
        async with limits.setdefault(target.venue, asyncio.Semaphore(connections.concurrency)):
            try:
                return await connections.read_account(target.name)
            except ReconcilerError as exc:
                failed.append(
                    Unchecked(target.venue, target.name, _why(exc, target, targets, desired))
                )
                return None
            finally:
                progress.step(target.name)

    try:  # anything but a venue's error (a bug) ends every read before it is raised
        found = await read_all(one(t) for t in sorted(targets, key=lambda t: t.name))
    finally:
        progress.close()
    failed.sort(key=lambda u: u.account)
    return [account for account in found if account is not None], failed


def _why(
    exc: ReconcilerError, target: AccountTarget, targets: list[AccountTarget], desired: DesiredState
) -> str:
    """An account's read error as the whole run would have said it."""
    from reconciler.commands.run import _explained

    if isinstance(exc, VenueAuthError):
        exc = _explained(exc, targets)
    elif isinstance(exc, Unlisted):
        exc = listed.refusal(exc, desired)
    said = " ".join(str(exc).split())
    return said.removeprefix(f"{target.venue}/{target.name}: ")  # named beside it


def with_unchecked(healing: Healing, unchecked: list[Unchecked]) -> Healing:
    """The heal, naming the accounts it could not read (its output, report, drift issue)."""
    named = tuple((str(item), item.why) for item in unchecked)
    return dataclasses.replace(healing, unchecked=named)


def exit_code(code: int, unchecked: list[Unchecked]) -> int:
    """Heal's exit with the accounts it could not read: never 0 (nor 3, 'every scope safe')
    while one was not checked; 4, said."""
    if not unchecked or code == UNCHECKED_EXIT:
        return code
    out(
        f"Exit {UNCHECKED_EXIT}: {len(unchecked)} account(s) not checked "
        f"({', '.join(map(str, unchecked))}): what they hold is not known, so a scope of "
        "theirs may be unprotected. A person must look (`mmp status`).\n"
    )
    return UNCHECKED_EXIT


def filter_said(filters: Mapping[str, Sequence[str]]) -> str:
    """A run's filter as it was given (a plan's `filters`): '' for the whole desk."""
    return " ".join(
        f"--{name} {value}" for name, values in sorted(filters.items()) for value in values
    )


@dataclass(frozen=True)
class Filtered:
    """What a filtered heal leaves out of what heal covers: the declared scopes (with a
    config) outside its filter, and every covered account it does not read."""

    said: str  # the filter as given ('': the whole desk; nothing is left out)
    scopes: tuple[ScopeKey, ...] = ()
    unread: tuple[Unchecked, ...] = ()  # not read, so not checked

    @classmethod
    def of(
        cls, desired: DesiredState, selection: Selection, read: list[AccountTarget], heal: Heal
    ) -> Filtered:
        """`read`: the accounts this run reads (selected, and covered by heal)."""
        given = selection.filters.to_data()
        if selection.shard is not None:
            given["shard"] = [selection.shard.spec]
        if not given:
            return cls("")
        said, names = filter_said(given), {target.name for target in read}
        scopes = tuple(
            key
            for key, scope in sorted(desired.scopes.items(), key=lambda item: item[0].sort_key())
            if scope.config is not None
            and heal.covers(key.venue, key.account)
            and (key.account not in names or not selection.filters.scope_selected(key))
        )
        unread = tuple(
            Unchecked(
                target.venue,
                target.name,
                f"not read: outside this run's filter ({said}), so none of its declared scopes "
                "was checked or healed",
            )
            for target in sorted(desired.accounts.values(), key=lambda t: t.name)
            # every covered account left unread: one with no declared config may still hold
            # a scope an unfinished run left bare (red team 2)
            if target.name not in names and heal.covers(target.venue, target.name)
        )
        return cls(said, scopes, unread)

    def bare(self, live: list[LiveAccount], desired: DesiredState) -> tuple[Step, ...]:
        """The declared scopes outside the filter, of the accounts read, without a config
        live (or held without one): from a plan of all that was read."""
        if not self.scopes:
            return ()
        outside = set(self.scopes)
        whole = make_plan(desired, live, capabilities())
        return tuple(step for step in whole.steps if step.unprotected and step.key in outside)

    def line(self, bare: Sequence[Step], failed: Sequence[Unchecked]) -> str:
        """What the run says of them, once: '' when its filter leaves nothing out.
        `failed`: the accounts it could not read."""
        if not self.scopes:
            return ""
        holding = {key.account for key in self.scopes}
        failed = [item for item in failed if item.account in holding]
        said = [
            f"Outside the filter ({self.said}): {len(self.scopes)} declared scope(s) heal "
            "covers, not healed by this run"
        ]
        if bare:
            named = ", ".join(str(step.key) for step in bare)
            said.append(f"{len(bare)} of them without MMP: {named} (left above: `outside filter`)")
        if self.unread:
            named = ", ".join(map(str, self.unread))
            said.append(f"{len(self.unread)} account(s) not read, so not checked: {named}")
        if failed:
            named = ", ".join(map(str, failed))
            said.append(f"{len(failed)} of their account(s) could not be read: {named}")
        if not bare and not self.unread and not failed:
            said.append("each has an MMP config live (`mmp plan` shows any drift there)")
        return "; ".join(said) + "\n"
