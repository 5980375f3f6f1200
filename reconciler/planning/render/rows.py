"""Row data shared by every renderer: what to say about each step, computed once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconciler.core.freezes import known, unknown
from reconciler.core.mmpfields import FIELDS, named
from reconciler.core.model import FreezeState, MmpConfig
from reconciler.planning.plan import Action, FieldChange, Plan, Step

SANDBOX = "[sandbox: simulators, not venues]"  # what every sandbox output says first
SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "-/+",
    Action.REMOVE: "-",
    Action.HELD: "!",
    Action.UNMANAGED: "?",
    Action.UNCHANGED: "=",
}


NAMES_SHOWN = 10  # scopes named in a one-line list before "and N more"


@dataclass(frozen=True)
class FieldRow:
    name: str
    before: str
    after: str
    direction: str


@dataclass(frozen=True)
class Row:
    symbol: str
    action: str
    scope: str
    fields: tuple[FieldRow, ...]
    notes: tuple[str, ...]
    where: str


def freeze_text(freeze: FreezeState) -> str:
    if freeze.unknown:
        return unknown(freeze)
    if not freeze.frozen:
        return ""
    if freeze.until_ms is None:
        return f"frozen: {freeze.detail}" if freeze.detail else "frozen until manual reset"
    return f"frozen {known(freeze)}"


def _field_rows(step: Step) -> tuple[FieldRow, ...]:
    if step.action in (Action.UNCHANGED, Action.UNMANAGED):
        return _config_rows(step.before)
    return tuple(_change_row(c) for c in step.changes)


def _change_row(change: FieldChange) -> FieldRow:
    field = named(change.field)
    return FieldRow(field.name, field.show(change.before), field.show(change.after), change.said)


def _config_rows(config: MmpConfig | None) -> tuple[FieldRow, ...]:
    if config is None:
        return ()
    shown = ((f, config.value(f)) for f in FIELDS)
    return tuple(
        FieldRow(f.name, f.show(value), f.show(value), "")
        for f, value in shown
        if value is not None
    )


def row(step: Step) -> Row:
    flagged = step.written_unknown  # its reason says the freeze state is unknown, and why
    first = step.reason if flagged else freeze_text(step.freeze)
    notes = [first] if first else []
    if step.action is Action.HELD and step.held_action is not None:
        notes.append(f"would {step.held_action.value}; {step.reason}")
    elif step.action is Action.REPLACE:
        notes.append("the scope is without MMP between the reset and the set")
        if step.freeze.unknown and not flagged:
            notes.append(step.reason)
    elif step.reason and not flagged:
        notes.append(step.reason)
    if step.refreeze:
        notes.insert(0, step.refreeze)  # flagged first on its line
    return Row(
        SYMBOLS[step.action],
        step.action.value,
        str(step.key),
        _field_rows(step),
        tuple(notes),
        step.where,
    )


def shown_steps(plan: Plan) -> list[Step]:
    """Unchanged scopes are counted, not listed, unless they are frozen or may be."""
    return [s for s in plan.steps if s.action is not Action.UNCHANGED or s.freeze.may_be_frozen]


def name_list(names: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    """'a, b, c': at most `shown` names, then 'and N more'."""
    text = ", ".join(names[:shown])
    more = len(names) - shown
    return text + (f" and {more:,} more" if more > 0 else "")


def unprotected_line(plan: Plan) -> str:
    """The line every plan output opens with when a declared scope has no MMP config live."""
    return unprotected_warning([str(step.key) for step in plan.unprotected])


def selection_line(plan: Plan) -> str:
    """What a plan made with filters or a shard covers, said so nobody takes it for the desk:
    '' for a plan of the whole desk."""
    given = [
        f"{name} {', '.join(values)}" for name, values in sorted(plan.filters.items()) if values
    ]
    if not given:
        return ""
    return (
        f"Selection: {'; '.join(given)}. Only this part of the desk was read and planned; "
        "the rest is neither checked nor changed"
    )


def unprotected_warning(scopes: Sequence[str], which: str = "declared scope(s)") -> str:
    """'UNPROTECTED: N declared scope(s) ...' naming them (`which`: what they are), or ''
    when there are none."""
    if not scopes:
        return ""
    head = f"UNPROTECTED: {len(scopes):,} {which} have no MMP config live: "
    return head + name_list(scopes)
