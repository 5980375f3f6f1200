"""Declared underlyings a venue does not list, at the place the policies declare them.

`mmp validate` checks only the form of a name where the venue publishes its list
(Capabilities.discovery); the list is read at plan, and a name it lacks is refused there
(reconciler.venues.discovery.Unlisted). This puts each one at its file:line, as validation
would have, so the message reads like every other policy problem.
"""

from __future__ import annotations

from reconciler.core.errors import ConfigError, Problem, ReconcilerError
from reconciler.core.model import ScopeKey
from reconciler.policy.desired import DesiredState, Location
from reconciler.venues.discovery import Unlisted, UnlistedName


def refusal(error: Unlisted, desired: DesiredState) -> ReconcilerError:
    """Each unlisted underlying at the place it is declared; the error as it was when one
    of them is not declared in the policies (a scope named on the command line)."""
    problems = []
    for name in error.names:
        where = place(desired, name)
        if where is None:
            return error
        message = (
            f"{name.sentence()}; `mmp validate` checks only the form of a {name.venue} "
            "underlying, the venue's list is read at plan"
        )
        problems.append(Problem(where.file, where.line, where.col, message))
    return ConfigError(problems)


def place(desired: DesiredState, name: UnlistedName) -> Location | None:
    """Where the policies declare `name`'s underlying for its account: the scope, the
    `absent`, or the first of its groups."""
    key = ScopeKey(name.venue, name.account, name.underlying)
    if key in desired.scopes:
        return desired.scopes[key].where
    absent = desired.absent_underlyings.get((name.account, name.underlying))
    if absent is not None:
        return absent
    found = [
        scope.where
        for scope in desired.scopes.values()
        if (scope.key.venue, scope.key.account, scope.key.underlying)
        == (name.venue, name.account, name.underlying)
    ]
    return min(found, key=lambda where: (where.file, where.line, where.col), default=None)
