"""A new desk's policies: one commented example account per venue, built from what the venue
registry says each venue can express (so a venue added to the registry gets its example), and
conservative guardrails."""

from __future__ import annotations

import re
from decimal import Decimal

from reconciler.core.errors import ReconcilerError
from reconciler.venues import VENUES, capabilities, connections
from reconciler.venues.base import Capabilities, DurationBound, LimitBound

WINDOWS_MS = (1000, 5000, 10_000, 60_000)  # the first the venue can express is the example's
FREEZES_MS = (30_000, 60_000, 10_000, 5_000)
LIMIT_VALUES = {"quantity_limit": "10", "max_quote_quantity": "5"}  # others: 2
POLICY_HEADER = """\
# yaml-language-server: $schema=../schema/mmp-policy.schema.json
# The desk's MMP policies. Each account names its venue, its environment and an
# environment-variable prefix for its credentials (never a secret itself: the workflows
# pass the keys in from the GitHub environments). These accounts are examples, one per
# venue: rename them, set the limits your desk runs (the numbers below are placeholders,
# in each venue's own units), and take out the venues you do not use. Then:
#   mmp validate                     # offline: every problem with file:line
#   mmp plan --sandbox               # against the built-in simulators
#   mmp import --account NAME        # or start an account from its live settings
#   mmp workflows --write            # after adding or removing an account
accounts:
"""


def venues(asked: list[str]) -> list[str]:
    """The venues asked for, in the registry's order; every one when none is asked."""
    unknown = sorted(set(asked) - set(VENUES))
    if unknown:
        raise ReconcilerError(
            f"--venue {', '.join(unknown)}: no such venue; mmp speaks {', '.join(VENUES)}"
        )
    return [v for v in VENUES if v in asked or not asked]


def policies(names: list[str]) -> str:
    return POLICY_HEADER + "\n".join(account(v) for v in names)


def account(venue: str) -> str:
    caps = capabilities()[venue]
    reach = connections()[venue]
    prefix = f"{venue.upper()}_DESK"
    reads = ", ".join(f"{prefix}_{suffix}" for suffix in reach.credential_vars)
    environment = "testnet" if "testnet" in reach.environments else next(iter(reach.environments))
    others = ", ".join(sorted(set(reach.environments) - {environment}))
    window, frozen = _duration(caps.window, WINDOWS_MS), _duration(caps.frozen, FREEZES_MS)
    fields = _limits(caps)
    lines = [
        _note(f"  {venue}-desk:", "an example account: rename it"),
        f"    venue: {venue}",
        _note(
            f"    environment: {environment}",
            "production when the plan reads right" if others else "",
        ),
        f"    # the credentials are read from {reads}",
        f"    credentials: {prefix}",
        f"    defaults: {{window: {window}, frozen: {frozen}}}",
        "    mmp:",
    ]
    underlying = example_underlying(caps)
    if caps.groups:
        lines += [
            f"      {underlying}:",
            _note(f"        {caps.default_group_name}:", "the regular-orders group"),
            *(f"          {name}: {value}" for name, value in fields),
        ]
    else:
        lines += [f"      {underlying}:", *(f"        {name}: {value}" for name, value in fields)]
    return "\n".join(lines) + "\n"


def _note(line: str, comment: str) -> str:
    return f"{line.ljust(34)} # {comment}" if comment else line


def example_underlying(caps: Capabilities) -> str:
    """A name the venue knows (its list, or the example its discovery form gives)."""
    if caps.underlyings:
        known = sorted(caps.underlyings)
        return next((n for n in known if n.lower().startswith("btc")), known[0])
    if caps.discovery is not None:
        found: list[str] = re.findall(r"\(([^)]+)\)", caps.discovery.form)
        if found:
            return found[-1].split(",")[0].strip()
    raise ReconcilerError(f"{caps.venue}: no example underlying (no list, no example name)")


def _duration(bound: DurationBound, candidates: tuple[int, ...]) -> str:
    for ms in candidates:
        if bound.min_ms <= ms <= bound.max_ms and ms % bound.step_ms == 0:
            return f"{ms // 1000}s"
    raise ReconcilerError(f"no example duration fits {bound}")


def _limits(caps: Capabilities) -> list[tuple[str, str]]:
    """The limits the venue requires (the quantity limit where one of several is), quantity
    limit first."""
    names = set(caps.required_limits)
    if caps.at_least_one_of and not names & caps.at_least_one_of:
        either = sorted(caps.at_least_one_of)
        names.add("quantity_limit" if "quantity_limit" in either else either[0])
    if not names:
        names.add("quantity_limit" if "quantity_limit" in caps.limits else sorted(caps.limits)[0])
    ordered = sorted(names, key=lambda n: (n != "quantity_limit", n))
    return [(n, _value(LIMIT_VALUES.get(n, "2"), caps.limits[n])) for n in ordered]


def _value(text: str, bound: LimitBound) -> str:
    value = Decimal(text)
    if bound.maximum is not None and value > bound.maximum:
        value = bound.maximum
    return str(value)


GUARDRAILS = """\
# Guardrails: what `mmp apply` refuses without --force (a forced apply is journaled with who
# forced it, and the workflows show it to the reviewers first). Conservative to start:
# loosen them on purpose, in a reviewed pull request.
fields:                      # floors for every write, on every venue
  window: {{min: 500ms}}
  frozen: {{min: 5s}}
coverage:                    # every account of the venue must protect these underlyings
{coverage}
loosening:
  limit_ratio: 1.25          # a limit raised more than 1.25x
  shorter_window: true       # any shorter counting window
  shorter_freeze: true       # any shorter freeze
changes:
  max_share: 0.25            # more than 25% of managed scopes loosened or removed
  min_scopes: 4
removal: true                # removing a config
# heal:                      # the drift workflow puts back, with no prompt, what restores
#   enabled: true            # or tightens the protection declared here (README: mmp-heal)
#   venues: [NAME]           # optional: only these venues; `accounts: [NAME]` likewise
"""


def guardrails(names: list[str]) -> str:
    caps = capabilities()
    coverage = "\n".join(f"  {v}: [{example_underlying(caps[v])}]" for v in names)
    return GUARDRAILS.format(coverage=coverage)
