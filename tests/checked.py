"""`--include-held` as a person gives it after checking each scope on the venue, for tests
whose subject is not the freeze: every scope held because the venue recorded a trigger and
does not tell its end (a Binance manual freeze) is named, with who and why. A scope whose
freeze state is unknown with no trigger seen (Bullish's, read over REST) is written without
it. Only where the test's simulator knows the scope is not frozen; the tests of the freeze
itself give their own."""

from __future__ import annotations

import re

from reconciler.core.model import LiveAccount
from reconciler.planning.plan import Inclusion

REASON = "checked on the venue: not frozen (test)"


def checked(live: list[LiveAccount], by: str = "test") -> Inclusion:
    """Every held-for-a-trigger scope, named with the trigger it has (the one checked)."""
    triggers = sorted(
        (str(scope.key), scope.freeze.last_trigger_ms)
        for account in live
        for scope in account.scopes
        if scope.freeze.trigger_unresolved and scope.freeze.last_trigger_ms is not None
    )
    return Inclusion(tuple(s for s, _ in triggers), REASON, by, tuple(triggers))


def named_in(text: str, scope: object) -> str:
    """SCOPE@TRIGGER as mmp's output tells a person to name it (`--include-held ...`): the
    words a person copies after checking the scope on the venue."""
    found = re.search(rf"--include-held ({re.escape(str(scope))}@\S+) --reason", text)
    assert found, f"no --include-held {scope}@TRIGGER in:\n{text}"
    return found[1]


def include_held(*scopes: object) -> list[str]:
    """The command-line words: --include-held SCOPE for each, then --reason."""
    words: list[str] = []
    for scope in scopes:
        words += ["--include-held", str(scope)]
    return [*words, "--reason", REASON] if words else []
