"""`--include-held` as a person gives it after checking each scope on the venue, for tests
whose subject is not the freeze: every scope held because the venue recorded a trigger and
does not tell its end (a Binance manual freeze) is named, with who and why. A scope whose
freeze state is unknown with no trigger seen (Bullish's, read over REST) is written without
it. Only where the test's simulator knows the scope is not frozen; the tests of the freeze
itself give their own."""

from __future__ import annotations

from reconciler.core.model import LiveAccount
from reconciler.planning.plan import Inclusion

REASON = "checked on the venue: not frozen (test)"


def checked(live: list[LiveAccount], by: str = "test") -> Inclusion:
    scopes = sorted(
        str(scope.key)
        for account in live
        for scope in account.scopes
        if scope.freeze.trigger_unresolved
    )
    return Inclusion(tuple(scopes), REASON, by)


def include_held(*scopes: object) -> list[str]:
    """The command-line words: --include-held SCOPE for each, then --reason."""
    words: list[str] = []
    for scope in scopes:
        words += ["--include-held", str(scope)]
    return [*words, "--reason", REASON] if words else []
