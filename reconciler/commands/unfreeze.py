"""`mmp unfreeze SCOPE --reason TEXT`: the one way a frozen scope is unfrozen.

It calls the venue's reset, which on Deribit, Binance and Aevo unfreezes and keeps the
config; Bullish has no unfreeze (its reset clears the config), so it refuses there. A scope
neither the venue nor the policies have is an error naming the closest one. What is said of
a freeze comes from reconciler/core/freezes.py, as in plan and status. It is journaled with who
and why, and apply never calls it. A scope whose freeze state the venue cannot tell is reset
too (a person says it may quote again); when the venue's read cannot show the reset either
(Binance's lastTriggerTime), that is said, never "unfrozen" nor "still frozen".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from reconciler.apply.journal import Journal, who
from reconciler.core.errors import ReconcilerError
from reconciler.core.freezes import (
    no_unfreeze,
    reset_unconfirmed,
    same_trigger,
    still_frozen,
)
from reconciler.core.model import LiveScope, ScopeKey
from reconciler.core.suggest import closest, did_you_mean
from reconciler.planning.render.rows import name_list
from reconciler.policy.desired import DesiredState
from reconciler.venues.base import Capabilities, ResetMeaning
from reconciler.venues.live import Connections


def parse_scope(
    text: str, desired: DesiredState, capabilities: Mapping[str, Capabilities]
) -> ScopeKey:
    """The scope `text` names, checked against the policies and what the venue can have."""
    parts = text.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise ReconcilerError(f"scope `{text}` must be venue/account/underlying[/group]")
    venue, account, underlying = parts[:3]
    caps = capabilities.get(venue)
    if caps is None:
        known = ", ".join(sorted(capabilities))
        hint = did_you_mean(venue, capabilities)
        raise ReconcilerError(f"scope `{text}`: no venue `{venue}` (known: {known}){hint}")
    _check_account(text, parts, desired)
    _check_names(text, parts, caps)
    if caps.reset_means is not ResetMeaning.UNFREEZE:
        raise ReconcilerError(f"scope `{text}`: {no_unfreeze(caps)}")
    group = parts[3] if len(parts) == 4 else None
    if group == caps.default_group_name:
        group = None
    return ScopeKey(venue, account, underlying, group)


def _check_names(text: str, parts: list[str], caps: Capabilities) -> None:
    """A group where the venue has none; an underlying the venue does not list, where the
    read would ask the venue for it by name. A venue read in bulk may hold names newer than
    our list: there the read tells (see _not_there)."""
    venue, account, underlying = parts[:3]
    if len(parts) == 4 and not caps.groups:
        raise ReconcilerError(
            f"scope `{text}`: {venue} has no groups; write {venue}/{account}/{underlying}"
        )
    if caps.bulk_read or not caps.underlyings or underlying in caps.underlyings:
        return
    assumed = caps.names_assumed  # our list is an assumption: the venue's answer tells
    if assumed is not None and re.fullmatch(assumed.pattern, underlying):
        return
    known = sorted(caps.underlyings)
    hint = did_you_mean(underlying, known) or f" (it has {name_list(known, 8)})"
    raise ReconcilerError(f"scope `{text}`: {venue} has no underlying `{underlying}`{hint}")


def _check_account(text: str, parts: list[str], desired: DesiredState) -> None:
    venue, account = parts[:2]
    target = desired.accounts.get(account)
    if target is None:
        same_venue = [name for name, t in desired.accounts.items() if t.venue == venue]
        hint = did_you_mean(account, same_venue)
        raise ReconcilerError(
            f"scope `{text}`: no {venue} account `{account}` in the policies{hint}"
        )
    if target.venue != venue:
        meant = "/".join([target.venue, *parts[1:]])
        raise ReconcilerError(
            f"scope `{text}`: `{account}` is a {target.venue} account; did you mean `{meant}`?"
        )


async def unfreeze(
    key: ScopeKey,
    reason: str,
    connections: Connections,
    journal: Journal,
    declared: Collection[ScopeKey] = (),
) -> str:
    """Reset one frozen scope; returns what happened, for the user. `declared`: the scopes
    the policies declare, to tell a typo from a declared scope the venue has nothing for."""
    if not reason.strip():
        raise ReconcilerError("--reason is required: say why this scope may quote again")
    live = await _present(connections, key)
    scope = live.get(key)
    if scope is None:
        caps = connections.clients[key.account].capabilities
        raise ReconcilerError(_not_there(key, caps, live, declared))
    if not scope.freeze.may_be_frozen:
        return f"{key} is not frozen; nothing was done"
    journal.write("unfreeze-begin", scope=str(key), by=who(), reason=reason)
    await connections.clients[key.account].reset(key)
    after = (await _present(connections, key)).get(key)
    still = after is not None and after.freeze.frozen
    unsure = "" if after is None else after.freeze.unknown
    journal.write(
        "unfreeze-end",
        scope=str(key),
        by=who(),
        reason=reason,
        frozen=None if unsure else still,
        **({"unknown": unsure} if unsure else {}),
    )
    caps = connections.clients[key.account].capabilities
    if after is not None and still and _same_trigger(scope, after):
        return same_trigger(key, caps, after.freeze) + f" (reset by {who()}: {reason})"
    if after is not None and still:
        raise ReconcilerError(still_frozen(key, caps, after.freeze))
    if after is not None and unsure:
        return reset_unconfirmed(key, caps, after.freeze) + f" (reset by {who()}: {reason})"
    return f"{key} unfrozen by {who()}: {reason}"


def _same_trigger(before: LiveScope, after: LiveScope) -> bool:
    """The venue tells the freeze by a last trigger, and it is the one from before the reset."""
    last = after.freeze.last_trigger_ms
    return last is not None and last == before.freeze.last_trigger_ms


async def _present(connections: Connections, key: ScopeKey) -> dict[ScopeKey, LiveScope]:
    """The scopes the venue has something for (a config or a freeze) on key's account."""
    account = await connections.read_account(key.account)
    return {k: scope for k, scope in account.by_key().items() if scope.present}


def _not_there(
    key: ScopeKey,
    caps: Capabilities,
    live: Mapping[ScopeKey, LiveScope],
    declared: Collection[ScopeKey],
) -> str:
    said = f"{key}: {key.venue} has no MMP config and no freeze for it: nothing to unfreeze"
    if key in declared:
        return f"{said} (the policies declare it; `mmp status` shows it unprotected or `absent`)"
    mine = [k for k in (*live, *declared) if k.account == key.account]
    meant = _meant(key, caps, mine)
    if meant is not None:
        return f"{said}; did you mean `{meant}`?"
    scopes = sorted({str(k) for k in mine})
    return said + (f" ({key.account} has {name_list(scopes)})" if scopes else "")


def _meant(key: ScopeKey, caps: Capabilities, mine: list[ScopeKey]) -> ScopeKey | None:
    """The scope a mistyped underlying or group most likely meant. An underlying the venue
    has (a name it lists, or one read from it) is no typo: only its group may be."""
    underlyings = {k.underlying for k in mine} | set(caps.underlyings or ())
    if key.underlying not in underlyings:
        found = closest(key.underlying, underlyings)
        return None if found is None else ScopeKey(key.venue, key.account, found)
    groups = {k.group or caps.default_group_name for k in mine if k.underlying == key.underlying}
    if key.group is None or not groups:
        return None
    found = closest(key.group, groups - {key.group})
    if found is None:
        return None
    return ScopeKey(
        key.venue, key.account, key.underlying, None if found == caps.default_group_name else found
    )
