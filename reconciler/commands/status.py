"""`mmp status`: every scope across venues, configured or not, frozen or not, and until when.

A declared scope (in the policies with a config, not `absent`) that the venue has no config
for is unprotected: shown as such, counted, and exit 4 (as apply's "a scope may be
unprotected"); else exit 2 when a scope is frozen, else 3 when the venue recorded a trigger
and cannot tell whether its freeze has ended (changes to it are held until a person checks
it), else 0. Each frozen scope is told as plan and unfreeze tell it
(reconciler/core/freezes.py): what the venue says of the freeze, and what ends it; each
unknown one, why and what to do. An unknown state with no trigger seen (Bullish over REST)
is shown with why, and does not by itself change the exit code: changes to it are written,
flagged, so a desk with such a venue would otherwise never exit 0.

Pure: rows from the desired and live state and a clock reading; the command does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reconciler.core.freezes import known, what_to_do
from reconciler.core.model import NOT_FROZEN, FreezeState, LiveAccount, ScopeKey
from reconciler.core.units import dumps_exact, utc_text
from reconciler.planning.render.rows import unprotected_warning
from reconciler.policy.desired import DesiredState
from reconciler.venues import capabilities


@dataclass(frozen=True)
class StatusRow:
    key: ScopeKey
    declared: bool  # in the policies
    configured: bool  # the venue has a config for it
    freeze: FreezeState
    wanted: bool = False  # the policies give it a config (declared, not `absent`)

    @property
    def unprotected(self) -> bool:
        """The policies give it a config and the venue has none."""
        return self.wanted and not self.configured

    @property
    def what_to_do(self) -> str | None:
        """What ends the freeze (or settles an unknown state), as plan and unfreeze say it;
        None when not frozen."""
        if not self.freeze.may_be_frozen:
            return None
        return what_to_do(self.key, capabilities()[self.key.venue], self.freeze)

    def to_data(self, now_ms: int) -> dict[str, Any]:
        until = self.freeze.until_ms
        return {
            "scope": str(self.key),
            **self.key.to_data(),
            "declared": self.declared,
            "configured": self.configured,
            "unprotected": self.unprotected,
            "frozen": None if self.freeze.unknown else self.freeze.frozen,
            "freeze_unknown": self.freeze.unknown or None,
            # unknown after a trigger the venue recorded: changes held, and exit 3
            "trigger_unresolved": self.freeze.trigger_unresolved,
            "frozen_until_ms": until,
            "frozen_until": None if until is None else utc_text(until),
            "frozen_for_ms": None if until is None else max(until - now_ms, 0),
            "manual_reset": self.freeze.frozen and until is None and not self.freeze.detail,
            "detail": self.freeze.detail or None,
            "what_to_do": self.what_to_do,
            "last_trigger_ms": self.freeze.last_trigger_ms,
            "last_trigger": None
            if self.freeze.last_trigger_ms is None
            else utc_text(self.freeze.last_trigger_ms),
        }


def rows(desired: DesiredState, live: list[LiveAccount]) -> list[StatusRow]:
    read = {a.account for a in live}
    found = {scope.key: scope for account in live for scope in account.scopes if scope.present}
    keys = set(found) | {k for k in desired.scopes if k.account in read}
    out = []
    for key in sorted(keys, key=ScopeKey.sort_key):
        scope = found.get(key)
        want = desired.scopes.get(key)
        out.append(
            StatusRow(
                key,
                declared=want is not None,
                configured=scope is not None and scope.config is not None,
                freeze=scope.freeze if scope is not None else NOT_FROZEN,
                wanted=want is not None and want.config is not None,
            )
        )
    return out


UNPROTECTED_EXIT = 4  # as apply's "a scope may be unprotected"
FROZEN_EXIT = 2
UNKNOWN_EXIT = 3  # none known frozen; one with a trigger the venue does not tell the end of


def exit_code(items: list[StatusRow]) -> int:
    """4 when a declared scope has no MMP config live, else 2 when a scope is frozen, else 3
    when a scope's freeze state is unknown after a trigger the venue recorded (its changes
    are held), else 0. Unknown with no trigger seen does not count."""
    if any(r.unprotected for r in items):
        return UNPROTECTED_EXIT
    if any(r.freeze.frozen for r in items):
        return FROZEN_EXIT
    return UNKNOWN_EXIT if any(r.freeze.trigger_unresolved for r in items) else 0


def _frozen_text(freeze: FreezeState, now_ms: int) -> str:
    if freeze.unknown:
        return "unknown (see below)"
    if not freeze.frozen:
        return "no"
    if freeze.until_ms is None:
        return f"yes: {known(freeze)}" if freeze.detail else f"yes, {known(freeze)}"
    return f"yes, {known(freeze)} (in {relative(freeze.until_ms - now_ms)})"


def _trigger_text(freeze: FreezeState, now_ms: int) -> str:
    if freeze.last_trigger_ms is None:
        return "-"
    return f"{utc_text(freeze.last_trigger_ms)} ({relative(now_ms - freeze.last_trigger_ms)} ago)"


def relative(ms: int) -> str:
    """A span for people: the two most significant units, 90061000 -> '1d 1h'."""
    seconds = max(ms, 0) // 1000
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next((i for i, (value, _) in enumerate(parts) if value), len(parts) - 1)
    return " ".join(f"{value}{unit}" for value, unit in parts[first : first + 2])


def table(items: list[StatusRow], now_ms: int) -> str:
    header = ("scope", "in policies", "configured", "frozen", "last trigger")
    lines = [
        (
            str(r.key),
            "yes" if r.declared else "no",
            _configured_text(r),
            _frozen_text(r.freeze, now_ms),
            _trigger_text(r.freeze, now_ms),
        )
        for r in items
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    warning = unprotected_warning([str(r.key) for r in items if r.unprotected])
    text = [warning] if warning else []
    text += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    ]
    text += _what_to_do(items)
    text.append(_summary(items))
    return "\n".join(text) + "\n"


def _what_to_do(items: list[StatusRow]) -> list[str]:
    """Under the table, one line per frozen scope: what ends its freeze; then one per scope
    whose freeze state is unknown: why, and what settles it."""
    todo = [f"  {r.key}: {r.what_to_do}" for r in items if r.freeze.frozen and r.what_to_do]
    lines = ["What ends each freeze:", *todo] if todo else []
    unsure = [f"  {r.key}: {r.freeze.unknown}; {r.what_to_do}" for r in items if r.freeze.unknown]
    return lines + (["Freeze state unknown, and why:", *unsure] if unsure else [])


def _configured_text(r: StatusRow) -> str:
    if r.unprotected:
        return "NO - UNPROTECTED"
    return "yes" if r.configured else "no"


def _summary(items: list[StatusRow]) -> str:
    unprotected = sum(1 for r in items if r.unprotected)
    frozen = sum(1 for r in items if r.freeze.frozen)
    unsure = sum(1 for r in items if r.freeze.unknown)
    why = {
        UNPROTECTED_EXIT: " Exit 4: a declared scope has no MMP config live.",
        FROZEN_EXIT: " Exit 2: a scope is frozen.",
        UNKNOWN_EXIT: " Exit 3: a scope's freeze state is unknown after a trigger.",
        0: "",
    }[exit_code(items)]
    unknown_count = f", {unsure} freeze state unknown" if unsure else ""
    return (
        f"{len(items)} scope(s): {sum(1 for r in items if r.configured)} configured, "
        f"{unprotected} unprotected, {frozen} frozen{unknown_count}.{why}"
    )


def json_text(items: list[StatusRow], now_ms: int) -> str:
    data = {
        "now": utc_text(now_ms),
        "now_ms": now_ms,
        "frozen": sum(1 for r in items if r.freeze.frozen),
        "freeze_unknown": sum(1 for r in items if r.freeze.unknown),
        "scopes": [r.to_data(now_ms) for r in items],
    }
    text = dumps_exact(data, indent=2, sort_keys=True)
    unprotected = sum(1 for r in items if r.unprotected)
    # the count of unprotected scopes first, as in every output; the rest in sorted order
    return f'{{\n  "unprotected": {unprotected},\n' + text.removeprefix("{\n") + "\n"
