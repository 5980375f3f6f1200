"""`mmp unfreeze SCOPE --reason TEXT`: the one way a frozen scope is unfrozen.

It calls the venue's reset, which on Deribit, Binance and Aevo unfreezes and keeps the
config; Bullish has no unfreeze (its reset clears the config), so it refuses there. It is
journaled with who and why, and apply never calls it.
"""

from __future__ import annotations

from reconciler.desired import DesiredState
from reconciler.errors import ReconcilerError
from reconciler.journal import Journal, who
from reconciler.live import Connections
from reconciler.model import ScopeKey
from reconciler.venues.base import Capabilities, ResetMeaning


def parse_scope(
    text: str, desired: DesiredState, capabilities: dict[str, Capabilities]
) -> ScopeKey:
    parts = text.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise ReconcilerError(f"scope `{text}` must be venue/account/underlying[/group]")
    venue, account, underlying = parts[:3]
    target = desired.accounts.get(account)
    if target is None or target.venue != venue:
        raise ReconcilerError(f"scope `{text}`: no {venue} account `{account}` in the policies")
    caps = capabilities[venue]
    if caps.reset_means is not ResetMeaning.UNFREEZE:
        raise ReconcilerError(
            f"{venue} has no unfreeze: its reset clears the MMP config. "
            "Wait for the freeze to end, or ask the venue."
        )
    group = parts[3] if len(parts) == 4 else None
    if group == caps.default_group_name:
        group = None
    return ScopeKey(venue, account, underlying, group)


async def unfreeze(key: ScopeKey, reason: str, connections: Connections, journal: Journal) -> str:
    """Reset one frozen scope; returns what happened, for the user."""
    if not reason.strip():
        raise ReconcilerError("--reason is required: say why this scope may quote again")
    live = (await connections.read_account(key.account)).by_key().get(key)
    if live is None or not live.freeze.frozen:
        return f"{key} is not frozen; nothing was done"
    journal.write("unfreeze-begin", scope=str(key), by=who(), reason=reason)
    await connections.clients[key.account].reset(key)
    after = (await connections.read_account(key.account)).by_key().get(key)
    still = after is not None and after.freeze.frozen
    journal.write("unfreeze-end", scope=str(key), by=who(), reason=reason, frozen=still)
    if still:
        raise ReconcilerError(
            f"{key}: the venue accepted the reset but the scope is still "
            "frozen (a minimum freeze may apply); try again shortly"
        )
    return f"{key} unfrozen by {who()}: {reason}"
