"""What mmp says about a frozen scope, in the same words wherever it says it: the plan's held
step, `mmp status`, apply's check before a write and `mmp unfreeze`.

Two things are said: what the venue tells of the freeze (until when, until a manual reset,
or only that the config is not in effect: Bullish's REST tells no frozen-until time), and
what the user can do. The second follows from the venue's capabilities: where its reset
unfreezes and keeps the config (Deribit, Binance, Aevo) `mmp unfreeze` ends the freeze;
where its reset clears the config (Bullish) there is no unfreeze, and the freeze is waited
out. Nothing here claims a minimum freeze a venue does not document.

Where the venue cannot tell whether a scope is frozen (FreezeState.unknown), that is said
with the venue's reason, never guessed either way. Where the venue recorded a trigger it does
not tell the end of (FreezeState.trigger_unresolved), the scope is held as a frozen one is,
and what the user can do is check it on the venue, then name it to `--include-held`. Where
nothing shows a trigger, a change is written, and each write says what it may do to a freeze
the scope might have (`written_unknown`).
"""

from __future__ import annotations

from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, format_duration, utc_ms_text, utc_text
from reconciler.venues.base import Capabilities, ChangeMode, ResetMeaning, ResetReach


def known(freeze: FreezeState) -> str:
    """What the venue tells of a freeze: 'until manual reset', 'until <UTC time>', or, where it
    tells no end, what it does say."""
    if freeze.until_ms is None:
        return freeze.detail or "until manual reset"
    said = f"until {utc_text(freeze.until_ms)}"
    return f"{said} ({freeze.detail})" if freeze.detail else said


def overdue(venue: str, until_ms: int) -> FreezeState:
    """A freeze the venue reports in force past the end it gives (a venue's clock or state
    behind, or a time read the wrong way): frozen, its end not known, never said to end by
    itself at a time that has passed."""
    return FreezeState(
        True,
        detail=f"{venue} still reports it frozen, though the end it gave ({utc_text(until_ms)}) "
        "has passed: it may end any moment, or last until a reset",
    )


def no_end(venue: str, said: str, frozen_ms: int) -> FreezeState:
    """A freeze the venue reports with no end (`said`: what it gave instead) though its
    frozen time is not until-a-reset: frozen, held, with what is known said."""
    return FreezeState(
        True,
        detail=f"{venue} reports it frozen and gives no end ({said}), though its frozen time is "
        f"{format_duration(frozen_ms)}: it should end by itself within that of the trigger",
    )


def unknown(freeze: FreezeState) -> str:
    """'freeze state unknown: <the venue's reason>'."""
    return f"freeze state unknown: {freeze.unknown}"


def what_to_do(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """What ends the freeze of `key` (or, when the venue cannot tell whether it is frozen,
    what settles that), as the user can act on it."""
    if freeze.trigger_unresolved:
        return check_first(key, caps, freeze)
    if freeze.unknown:
        return check_when_writing(key, caps)
    if caps.reset_means is not ResetMeaning.UNFREEZE:
        return no_unfreeze(caps)
    command = f"`mmp unfreeze {key} --reason TEXT` ({caps.venue}'s reset keeps the config)"
    if freeze.detail and freeze.until_ms is None:
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


def check_first(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """A scope whose freeze state the venue does not tell: a person checks it, then says so,
    naming the trigger checked (a newer one voids the check)."""
    named = f"{key}@{utc_ms_text(freeze.last_trigger_ms)}" if freeze.last_trigger_ms else key
    said = (
        f"check on {caps.venue} whether it is frozen ({caps.venue}'s web interface, or its "
        f"support); once checked, `mmp apply --include-held {named} --reason TEXT` writes a "
        "change held for it"
    )
    if caps.reset_means is ResetMeaning.UNFREEZE:
        said += f"; `mmp unfreeze {key} --reason TEXT` ends a freeze it may have"
    return said


def check_when_writing(key: ScopeKey, caps: Capabilities) -> str:
    """A scope whose freeze state is unknown with no trigger seen: changes to it are written,
    flagged; a person who wants to be sure checks it on the venue first."""
    return (
        "no trigger of it is known, so a change to it is written, flagged as a risk "
        f"({why_held(caps)}); "
        f"to be sure before applying one, check on {caps.venue} whether it is frozen "
        f"({caps.venue}'s web interface, or its support)"
    )


def written_unknown(caps: Capabilities, freeze: FreezeState, starts_with_reset: bool) -> str:
    """Why a write to a scope whose freeze state is unknown (no trigger seen) is flagged:
    'freeze state unknown (<why>): if the scope is frozen, this reset may end the freeze'."""
    what = "reset" if starts_with_reset else "write"
    ends = caps.reset_means is ResetMeaning.UNFREEZE if starts_with_reset else caps.set_unfreezes
    effect = (
        "ends the freeze"
        if ends
        else f"may end the freeze ({caps.venue} does not document what a {what} does to one)"
    )
    return f"freeze state unknown ({freeze.unknown}): if the scope is frozen, this {what} {effect}"


def held(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """Why the plan holds a change to a frozen scope, or to one that may be, and what to do."""
    if freeze.unknown:
        return (
            f"freeze state unknown, so held as a frozen scope is: {why_held(caps)}; "
            + what_to_do(key, caps, freeze)
        )
    return f"frozen: {why_held(caps)}; {what_to_do(key, caps, freeze)}"


def became_held(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """Apply's check before a write: the scope froze (or became unknown) after the plan."""
    if freeze.unknown:
        said = (
            "not written: since the plan was made, mmp cannot tell whether the scope is "
            f"frozen ({freeze.unknown}); "
        )
        if freeze.trigger_unresolved:
            return said + what_to_do(key, caps, freeze)
        return said + (
            "plan again: the new plan shows the change flagged with its freeze state "
            "unknown, for review before it is written"
        )
    return (
        f"not written: the scope froze after the plan was made ({why_held(caps)}); "
        + what_to_do(key, caps, freeze)
    )


def reset_unconfirmed(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """`mmp unfreeze`: the venue accepted the reset, and its read cannot tell whether the
    scope is still frozen. Said as such, never as unfrozen nor as still frozen."""
    return (
        f"{key}: {caps.venue} accepted the reset, but whether it ended the freeze is unknown: "
        f"{freeze.unknown}. mmp shows the scope `freeze state unknown` and holds changes to "
        f"it until a person checks it: look on {caps.venue} ({caps.venue}'s web interface, "
        f"or ask its support), then `mmp apply --include-held {key} --reason TEXT`"
    )


def same_trigger(key: ScopeKey, caps: Capabilities, freeze: FreezeState) -> str:
    """`mmp unfreeze` where the venue tells a freeze only by its last trigger, and its answer
    after the reset shows the same trigger as before: the reset may not show in it, so
    whether it ended the freeze is unknown; the freeze ends by itself at the time it gives."""
    assert freeze.last_trigger_ms is not None
    ends = (
        "never ends by itself"
        if freeze.until_ms is None
        else (f"ends by itself at {utc_text(freeze.until_ms)} anyway")
    )
    return (
        f"{key}: {caps.venue} accepted the reset, but whether it ended the freeze is unknown: "
        f"{caps.venue} tells a freeze only by its last trigger, its answer still shows the "
        f"trigger at {utc_text(freeze.last_trigger_ms)} from before the reset ({caps.venue} "
        "does not document whether a reset changes it), and by that trigger the freeze "
        f"{ends}. mmp cannot confirm it: look on {caps.venue} ({caps.venue}'s web interface, "
        "or ask its support)"
    )


REACH_SAID = {
    ResetReach.INDEX: "the other scopes of its index",
    ResetReach.ACCOUNT: "every scope of the account, in either config space",
}


def reach_said(caps: Capabilities) -> str:
    """Why a set may end another scope's freeze: how far its reset may reach, undocumented."""
    return (
        f"a set on {caps.venue} triggers an MMP reset, and {caps.venue}'s docs do not say of "
        f"what: it may also end the freeze of {REACH_SAID[caps.set_reset_reach]}"
    )


def sibling_state(freeze: FreezeState) -> str:
    """'frozen until ...', or 'freeze state unknown: ...' (a trigger whose end is not told)."""
    return f"frozen {known(freeze)}" if freeze.frozen else unknown(freeze)


def held_for_others(key: ScopeKey, caps: Capabilities, others: dict[ScopeKey, FreezeState]) -> str:
    """Why the plan holds a write to a scope that is not frozen itself: a scope its set may
    reach is frozen (or may be), and writing would end that protection silently."""
    named = "; ".join(f"{other} is {sibling_state(state)}" for other, state in others.items())
    that, it = ("that freeze", "it") if len(others) == 1 else ("those freezes", "them")
    return (
        f"{named}, and writing this may end {that} ({reach_said(caps)}); wait for {it} to "
        f"end, or, to write this anyway and accept that it may end {that}, "
        f"`mmp apply --include-held {key} --reason TEXT`"
    )


def written_for_others(others: tuple[str, ...], said: str) -> str:
    """A write --include-held lets through although its set may end another scope's freeze."""
    return f"written although it may end the freeze of {', '.join(others)}: {said}"


def became_held_for(key: ScopeKey, caps: Capabilities, other: ScopeKey, state: FreezeState) -> str:
    """Apply's check before a write: a scope the set may reach froze after the plan."""
    return (
        f"not written: {other} froze after the plan was made ({sibling_state(state)}), and "
        f"writing {key} may end that freeze ({reach_said(caps)}); plan again: the new plan "
        "holds the change, and says how to write it anyway"
    )


def ended_by_write(key: ScopeKey, caps: Capabilities, write: ScopeKey, pushed: str) -> str:
    """Apply: a freeze of `key` was pushed while this run's write of `write` was on its way,
    and that write's set may have ended it: said, never taken for no freeze at all."""
    return (
        f"not written: {pushed}, after the plan was made, while this run's write of {write} "
        f"was on its way; that write may have ended the freeze ({reach_said(caps)}): see "
        f"`mmp status`, and plan again"
    )


def why_held(caps: Capabilities) -> str:
    """Why a change to a frozen scope is held rather than written."""
    if caps.set_unfreezes:
        return f"a set on {caps.venue} would also unfreeze it"
    if caps.change is ChangeMode.RESET_THEN_SET:
        return (
            f"a change on {caps.venue} starts with a reset, and {caps.venue} does not document "
            "what a reset does to a freeze"
        )
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


def refreezes(
    caps: Capabilities,
    freeze: FreezeState,
    configs: tuple[MmpConfig | None, MmpConfig | None],
    now_ms: int,
) -> str:
    """Why a write may freeze a scope again ('' when it cannot): on a venue that tells only
    its last trigger time (`freeze_from_trigger`), a longer frozen time reaches past now from
    a past trigger, and a manual one makes that trigger's freeze last until a reset the venue
    does not report. Said on the step and its result, never found out afterwards."""
    before, after = configs
    last = freeze.last_trigger_ms
    # a frozen scope is held, never written; one held for a trigger is written only when a
    # person checked it (--include-held), and its write is judged like any other
    if not caps.freeze_from_trigger or after is None or last is None or freeze.frozen:
        return ""
    if before is not None and before.frozen_ms == after.frozen_ms:
        return ""
    venue = caps.venue
    if after.frozen_ms == MANUAL:
        return (
            f"this write may freeze the scope again: {venue} recorded a trigger at "
            f"{utc_text(last)} and tells a freeze only by that time and the frozen time; with "
            f"frozen: manual that freeze lasts until a reset {venue} does not report, so the "
            "scope will read freeze state unknown, and changes to it are held until a person "
            "checks it (--include-held)"
        )
    until = last + after.frozen_ms
    if until <= now_ms:
        return ""
    return (
        f"this write may freeze the scope again until {utc_text(until)}: {venue} recorded a "
        f"trigger at {utc_text(last)}, and its freeze is read from that time plus the frozen "
        f"time, now {format_duration(after.frozen_ms)}; quoting may stop until then"
    )
