"""`mmp validate`: offline, no credentials, and quick to start (the pre-commit hook runs
it on every commit), so it imports only the loader, the validator and the guardrails."""

from __future__ import annotations

import argparse

from reconciler import guards
from reconciler.console import out
from reconciler.validate import load_desired
from reconciler.venues import capabilities


def validate(args: argparse.Namespace) -> int:
    desired = load_desired(args.policies, capabilities())
    guards.load(args.policies)  # guardrails.yaml is checked too, with file:line
    live_scopes = sum(1 for s in desired.scopes.values() if s.config is not None)
    removals = len(desired.scopes) - live_scopes + len(desired.absent_underlyings)
    out(
        f"{args.policies}: valid; {len(desired.accounts)} account(s), {live_scopes} scope(s), "
        f"{removals} marked absent\n"
    )
    return 0
