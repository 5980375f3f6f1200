"""Underlyings a venue publishes, asked once per run per venue endpoint (issue 16).

Aevo lists its assets (GET /assets), Binance its underlyings (GET /eapi/v1/exchangeInfo):
mmp keeps no list of its own for them. The first read of an endpoint asks; the other
accounts of that endpoint wait for the same answer. A request that fails fails every read
that needs it, saying so: nothing falls back to a list of ours. A declared underlying the
venue does not list is refused (Unlisted) before anything of its account is read; offline,
`mmp validate` checks only a name's form (Capabilities.discovery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from reconciler.core.errors import ReconcilerError, VenueError
from reconciler.core.suggest import did_you_mean

SHOWN = 12  # names of a venue's list shown in a message


class Discovered:
    """What one venue endpoint lists, asked at most once (per event loop: a test may run a
    client in two). A failed answer is kept too: every read of the run that needs the list
    fails with it, none goes on with a list of another kind."""

    def __init__(self) -> None:
        self._names: frozenset[str] | None = None
        self._asking: asyncio.Future[frozenset[str]] | None = None

    async def names(self, ask: Callable[[], Awaitable[frozenset[str]]]) -> frozenset[str]:
        if self._names is not None:
            return self._names
        loop = asyncio.get_running_loop()
        if self._asking is None or self._asking.get_loop() is not loop:
            self._asking = asyncio.ensure_future(ask())
            self._asking.add_done_callback(_retrieved)
        # shielded: a reader cancelled while waiting (another account failed) must not
        # cancel the answer the others wait for
        self._names = await asyncio.shield(self._asking)
        return self._names


def _retrieved(future: asyncio.Future[frozenset[str]]) -> None:
    """Mark a failure as seen: every reader still waiting is given it, and asyncio must not
    report it again once they were all cancelled."""
    if not future.cancelled():
        future.exception()


def listing_failed(error: VenueError, venue: str, request: str) -> VenueError:
    """The venue's refusal or fault of the listing request, said as such (same class)."""
    said = (
        f"{request}, the list of {venue}'s underlyings (asked once per run), failed: "
        f"{error.venue_message}; mmp keeps no list of its own to fall back on, so no "
        f"{venue} account was read"
    )
    failed = type(error)(error.where, said, code=error.code, hint=error.hint)
    for name in ("maybe_applied", "answered"):  # what VenueUnavailable says of this one
        if name in vars(error):
            setattr(failed, name, vars(error)[name])
    return failed


@dataclass(frozen=True)
class UnlistedName:
    """A declared underlying the venue endpoint does not list."""

    venue: str
    account: str
    underlying: str
    listed: frozenset[str]
    request: str  # what lists them: "GET /assets"
    host: str  # the venue endpoint's host

    def sentence(self) -> str:
        names = sorted(self.listed)
        shown = ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")
        return (
            f"{self.venue} has no underlying `{self.underlying}`"
            f"{did_you_mean(self.underlying, names)} ({self.request} at {self.host} lists "
            f"{len(names)}: {shown})"
        )


class Unlisted(ReconcilerError):
    """Declared underlyings the venues do not list: nothing is planned from such a read."""

    def __init__(self, names: Sequence[UnlistedName]) -> None:
        self.names = tuple(names)
        super().__init__("\n".join(f"{n.venue}/{n.account}: {n.sentence()}" for n in names))


def refuse_unlisted(
    venue: str,
    account: str,
    declared: Collection[str],
    listed: frozenset[str],
    request: str,
    host: str,
) -> None:
    """Raise Unlisted naming each declared underlying that `listed` lacks."""
    missing = sorted(set(declared) - listed)
    if missing:
        raise Unlisted(
            [UnlistedName(venue, account, name, listed, request, host) for name in missing]
        )
