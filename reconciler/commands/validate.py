"""`mmp validate`: offline, no credentials, and quick to start (the pre-commit hook runs
it on every commit), so it imports only the loader, the validator and the guardrails."""

from __future__ import annotations

import argparse

from reconciler.core.console import note, out
from reconciler.policy import guards
from reconciler.policy.loader import printable
from reconciler.policy.validate import load_desired
from reconciler.venues import capabilities


def validate(args: argparse.Namespace) -> int:
    desired = load_desired(args.policies, capabilities())
    guards.load(args.policies, desired)  # guardrails.yaml is checked too, with file:line
    live_scopes = sum(1 for s in desired.scopes.values() if s.config is not None)
    removals = len(desired.scopes) - live_scopes + len(desired.absent_underlyings)
    out(
        f"{printable(str(args.policies))}: valid; {len(desired.accounts)} account(s), "
        f"{live_scopes} scope(s), {removals} marked absent\n"
    )
    if not desired.accounts:
        note(
            "no account is declared yet: add one under `accounts:` (venue, environment, "
            "credentials), with an empty `mmp:`, then `mmp import` fills it from the venue"
        )
    return 0
