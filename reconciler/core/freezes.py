"""What mmp says about a frozen scope, in the same words wherever it says it: the plan's held
step, `mmp status` and `mmp unfreeze`.

Two things are said: what the venue tells of the freeze (until when, until a manual reset,
or only that the config is not in effect: Bullish's REST tells no frozen-until time), and
what the user can do. The second follows from the venue's capabilities: where its reset
unfreezes and keeps the config (Deribit, Binance, Aevo) `mmp unfreeze` ends the freeze;
where its reset clears the config (Bullish) there is no unfreeze, and the freeze is waited
out. Nothing here claims a minimum freeze a venue does not document.
"""

from __future__ import annotations

from reconciler.core.model import FreezeState, ScopeKey
from reconciler.core.units import format_duration, utc_text
from reconciler.venues.base import Capabilities, ResetMeaning


def known(freeze: FreezeState) -> str:
    """What the venue tells of a freeze: 'until manual reset', 'until <UTC time>', or, where it
    tells no end, what it does say."""
    if freeze.detail:
        return freeze.detail
    if freeze.until_ms is None:
        return "until manual reset"
    return f"until {utc_text(freeze.until_ms)}"


def what_to_do(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """What ends the freeze of `key`, as the user can act on it."""
    if caps.reset_means is not ResetMeaning.UNFREEZE:
        return no_unfreeze(caps)
    command = f"`mmp unfreeze {key} --reason TEXT` ({caps.venue}'s reset keeps the config)"
    if freeze.detail:
        return f"end it with {command}"
    if freeze.until_ms is None:
        return f"only a reset ends it: {command}"
    return f"it ends by itself at {utc_text(freeze.until_ms)}, or now with {command}"


def no_unfreeze(caps: Capabilities) -> str:
    """A venue whose reset clears the config (Bullish): whatever the freeze, it is waited out."""
    return (
        f"{caps.venue} has no unfreeze: its reset clears the MMP config, so wait for the "
        "freeze to end"
    )


def why_held(caps: Capabilities) -> str:
    """Why a change to a frozen scope is held rather than written."""
    if caps.set_unfreezes:
        return f"a set on {caps.venue} would also unfreeze it"
    return f"{caps.venue} does not document what a write does to a freeze"


def still_frozen(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """After the venue accepted a reset and still reports `key` frozen: what we know."""
    said = (
        f"{key}: {caps.venue} accepted the reset and still reports the scope frozen "
        f"({known(freeze)})"
    )
    minimum = caps.minimum_freeze_ms
    if minimum is not None:
        return (
            f"{said}; {caps.venue} keeps a scope frozen for at least "
            f"{format_duration(minimum)} after a trigger, whatever the reset: run this "
            "mmp unfreeze again in a moment"
        )
    return (
        f"{said}; {caps.venue} documents no minimum freeze, so mmp knows no reason: see "
        f"`mmp status`, and ask {caps.venue} if it stays frozen"
    )
