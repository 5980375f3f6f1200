"""Plan: a pure function from desired state, live state and venue capabilities to a Plan.

No I/O, no clock, no logging. Given the same inputs it returns the same plan, in the same
order. deepdiff finds the field-level differences; our own types carry them out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.freezes import (
    held,
    held_for_others,
    refreezes,
    written_for_others,
    written_unknown,
)
from reconciler.core.mmpfields import FIELDS, LIMIT, MmpField, named
from reconciler.core.model import (
    FreezeState,
    LiveAccount,
    LiveScope,
    MmpConfig,
    ScopeKey,
    fingerprint_of,
    live_digests,
)
from reconciler.core.suggest import did_you_mean
from reconciler.core.units import exact, now, utc_ms_text
from reconciler.planning.plan import (
    NO_INCLUSION,
    Action,
    Direction,
    FieldChange,
    FieldValue,
    Inclusion,
    Plan,
    Step,
)
from reconciler.policy.desired import DesiredScope, DesiredState
from reconciler.venues.base import Capabilities, ChangeMode, ResetMeaning, Undocumented


@dataclass(frozen=True)
class Filters:
    """--account / --venue / --underlying. A filtered run never removes anything."""

    accounts: frozenset[str] = field(default_factory=frozenset)
    venues: frozenset[str] = field(default_factory=frozenset)
    underlyings: frozenset[str] = field(default_factory=frozenset)

    @property
    def active(self) -> bool:
        return bool(self.accounts or self.venues or self.underlyings)

    def account_selected(self, name: str, venue: str) -> bool:
        return (not self.accounts or name in self.accounts) and (
            not self.venues or venue in self.venues
        )

    def scope_selected(self, key: ScopeKey) -> bool:
        return not self.underlyings or key.underlying in self.underlyings

    def to_data(self) -> dict[str, list[str]]:
        data = {"account": self.accounts, "venue": self.venues, "underlying": self.underlyings}
        return {name: sorted(values) for name, values in data.items() if values}


def make_plan(
    desired: DesiredState,
    live: list[LiveAccount],
    capabilities: Mapping[str, Capabilities],
    filters: Filters = Filters(),
    included: Inclusion = NO_INCLUSION,
    now_ms: int | None = None,
) -> Plan:
    """`included`: held scopes whose freeze state is unknown that a person checked and lets
    apply write (--include-held); every other held scope stays held. `now_ms`: the clock to
    plan by (default: now), for what a write does to a freeze read from a past trigger."""
    clock = now("ms") if now_ms is None else now_ms
    steps: list[Step] = []
    by_account: dict[str, dict[ScopeKey, DesiredScope]] = {}
    for key, scope in desired.scopes.items():
        by_account.setdefault(key.account, {})[key] = scope
    for account in live:
        caps = capabilities[account.venue]
        declared = by_account.get(account.account, {})
        context = _Context(caps, filters, included, clock)
        steps += _account_steps(desired, declared, account, context)
    notes: list[str] = []
    if filters.active:
        dropped = [s for s in steps if s.action is Action.REMOVE]
        steps = [s for s in steps if s.action is not Action.REMOVE]
        notes.append("filtered run: only the selected scopes were planned, and nothing is removed")
        if dropped:
            notes.append(
                f"{len(dropped)} removal(s) left out because of the filter: "
                + ", ".join(str(s.key) for s in dropped)
            )
    steps.sort(key=lambda s: (s.action.rank, s.key.sort_key()))
    if included:
        notes += _included_notes(steps, included)
    notes += [note for account in live for note in account.said()]
    digests = live_digests(live)
    return Plan(
        steps=tuple(steps),
        fingerprint=fingerprint_of(digests),
        digests=digests,
        accounts=tuple(sorted(a.account for a in live)),
        filters=filters.to_data(),
        notes=tuple(notes),
        included=included,
    )


def _included_notes(steps: list[Step], included: Inclusion) -> list[str]:
    """What --include-held lets be written: scopes whose freeze state is unknown, and writes
    held for another scope's freeze their set may end."""
    reaching = sorted(
        str(s.key)
        for s in steps
        if s.action.writes
        and s.reaches
        and not s.freeze.may_be_frozen
        and str(s.key) in included.scopes
    )
    unknown = [scope for scope in included.scopes if scope not in reaching]
    notes = []
    if unknown:
        notes.append(
            "written although their freeze state is unknown, as a person checked them: "
            f"{', '.join(unknown)} ({included.said()})"
        )
    if reaching:
        notes.append(
            "written although their write may end another scope's freeze, as a person "
            f"decided: {', '.join(reaching)} ({included.said()})"
        )
    return notes


def inclusion_problems(plan: Plan) -> list[str]:
    """A scope --include-held names must be one of this plan (the policies' or the venue's:
    a typo is refused, not ignored), and not one the venue reports frozen: --include-held
    writes only what the venue cannot tell about, and a person checked. Naming a scope
    that is written anyway, or has nothing to write (a run that already did it), is no
    error: so the same command can be run again after an interrupted run."""
    steps = {str(step.key): step for step in plan.steps}
    found = []
    for scope in plan.included.scopes:
        step = steps.get(scope)
        if step is None and scope not in plan.digests:
            hint = did_you_mean(scope, sorted({*steps, *plan.digests}))
            found.append(f"--include-held {scope}: not a scope of this plan{hint}")
        elif step is not None and step.freeze.frozen:
            found.append(
                f"--include-held {scope}: the venue reports it frozen; --include-held writes "
                "only a scope whose freeze state is unknown (wait for the freeze to end, or "
                "mmp unfreeze it)"
            )
        elif step is not None and step.freeze.trigger_unresolved:
            found += _trigger_checked(scope, step.freeze, plan.included.trigger(scope))
    return found


def _trigger_checked(scope: str, freeze: FreezeState, named: int | None) -> list[str]:
    """A scope held for a trigger is written only while that trigger is the one the person
    checked: a newer one may have frozen it since (red team: a trigger between the check and
    the apply was written over)."""
    last = freeze.last_trigger_ms
    assert last is not None
    if named is None:
        return [
            f"--include-held {scope}: the venue recorded a trigger at {utc_ms_text(last)}; "
            f"name the trigger you checked: --include-held {scope}@{utc_ms_text(last)}, so "
            "that a newer one is never written over"
        ]
    if named != last:
        return [
            f"--include-held {scope}@{utc_ms_text(named)}: the venue's last trigger is at "
            f"{utc_ms_text(last)}, not the one checked; check the scope on the venue again, "
            "then name that trigger"
        ]
    return []


@dataclass(frozen=True)
class _Context:
    """What every step of one account is planned with."""

    caps: Capabilities
    filters: Filters
    included: Inclusion
    now_ms: int
    live: Mapping[ScopeKey, LiveScope] = field(default_factory=dict)  # the account's scopes

    def reached(self, key: ScopeKey) -> dict[ScopeKey, FreezeState]:
        """The account's other scopes a set on `key` may end the freeze of, that are frozen
        or may be (Capabilities.set_reset_reach: its broadest reading)."""
        reach = self.caps.set_reset_reach
        return {
            other: scope.freeze
            for other, scope in sorted(self.live.items(), key=lambda item: item[0].sort_key())
            if other != key and scope.freeze.may_be_frozen and reach.reaches(key, other)
        }


def _account_steps(
    desired: DesiredState,
    declared: dict[ScopeKey, DesiredScope],
    account: LiveAccount,
    context: _Context,
) -> list[Step]:
    live = account.by_key()
    context = replace(context, live=live)
    steps = []
    for key in sorted(declared.keys() | live.keys(), key=ScopeKey.sort_key):
        if not context.filters.scope_selected(key):
            continue
        step = _scope_step(key, declared.get(key), live.get(key), desired, context)
        if step is not None:
            steps.append(step)
    return steps


def _scope_step(
    key: ScopeKey,
    want: DesiredScope | None,
    have: LiveScope | None,
    desired: DesiredState,
    context: _Context,
) -> Step | None:
    before = have.config if have else None
    freeze = have.freeze if have else LiveScope(key, None).freeze
    if want is None:
        absent_at = desired.absent_underlyings.get((key.account, key.underlying))
        if absent_at is None:
            if before is None and not freeze.may_be_frozen:
                return None
            return Step(
                key,
                Action.UNMANAGED,
                before,
                before,
                freeze=freeze,
                reason="not in the policies; left alone",
            )
        if before is None:
            return None
        return _write(key, Action.REMOVE, (before, None), freeze, str(absent_at), context)
    where = str(want.where)
    if want.config is None:
        if before is None:
            return None  # already absent
        return _write(key, Action.REMOVE, (before, None), freeze, where, context)
    if before is None:
        return _write(key, Action.CREATE, (None, want.config), freeze, where, context)
    if before == want.config:
        return Step(
            key, Action.UNCHANGED, before, before, freeze=freeze, where=where, reason=_as_is(freeze)
        )
    change = context.caps.change
    action = Action.REPLACE if change is ChangeMode.RESET_THEN_SET else Action.UPDATE
    return _write(key, action, (before, want.config), freeze, where, context)


def _as_is(freeze: FreezeState) -> str:
    if freeze.frozen:
        return "frozen; nothing to change"
    return "freeze state unknown; nothing to change" if freeze.unknown else ""


def _write(
    key: ScopeKey,
    action: Action,
    configs: tuple[MmpConfig | None, MmpConfig | None],
    freeze: FreezeState,
    where: str,
    context: _Context,
) -> Step:
    """A write, or HELD when the scope is frozen, or when the venue recorded a trigger and
    does not tell whether its freeze ended (unless a person checked it and --include-held
    names it: then the write, saying so). A scope whose freeze state is unknown with no
    trigger seen is written, and the step says what the write may do to a freeze; a write
    that may bring a past trigger's freeze back says so too (`refreeze`). A write whose set
    may end another scope's freeze (`reaches`: one frozen, or that may be) is held for it
    too, unless --include-held names it."""
    caps, included = context.caps, context.included
    before, after = configs
    changes = field_changes(before, after, caps.undocumented)
    checked = str(key) in included.scopes
    others = context.reached(key)
    reaches = tuple(str(other) for other in others)
    if freeze.frozen or (freeze.trigger_unresolved and not checked) or (others and not checked):
        why = held(key, caps, freeze) if freeze.may_be_frozen else ""
        return Step(
            key,
            Action.HELD,
            before,
            after,
            changes,
            freeze,
            held_action=action,
            where=where,
            reason=why or held_for_others(key, caps, others),
            reaches=reaches,
        )
    reason = _written_reason(key, action, freeze, context)
    if reaches:
        said = written_for_others(reaches, included.said())
        reason = f"{reason}; {said}" if reason else said  # its own freeze state said first
    again = refreezes(caps, freeze, configs, context.now_ms)
    return Step(
        key,
        action,
        before,
        after,
        changes,
        freeze,
        where=where,
        reason=reason,
        refreeze=again,
        reaches=reaches,
    )


def _written_reason(key: ScopeKey, action: Action, freeze: FreezeState, context: _Context) -> str:
    """What a write's step says of its own scope's freeze state, or of a replacement."""
    caps, included = context.caps, context.included
    checked = str(key) in included.scopes
    reason = ""
    if freeze.trigger_unresolved:
        reason = f"written although its freeze state is unknown: {included.said()}"
    elif freeze.unknown:
        reset = action is Action.REPLACE or (
            action is Action.REMOVE and caps.reset_means is ResetMeaning.CLEAR
        )
        reason = written_unknown(caps, freeze, reset)
        if checked:
            reason += f"; checked: {included.said()}"
    elif action is Action.REPLACE:
        reason = "the venue cannot change a config in place: reset, then set"
    return reason


def field_changes(
    before: MmpConfig | None,
    after: MmpConfig | None,
    undocumented: Undocumented | None = None,
) -> tuple[FieldChange, ...]:
    """Every changed field, in the canonical field order, classed tightening or loosening;
    a change from a value `undocumented` lists (the venue's docs leave its meaning open) has
    no known direction. A limit a live config lacks is looked up as None: where
    `undocumented` lists None (the venue reports a limit never set as a "0" read as none:
    Bullish, Aevo's delta_limit), a limit added to it has no known direction either."""
    old = _as_dict(before)
    new = _as_dict(after)
    changed = set(DeepDiff(_comparable(old), _comparable(new)).affected_root_keys)
    read = before is not None  # a config: a field it lacks was read so
    return tuple(
        _change(f, (old[f.name], new[f.name]), undocumented or {}, read)
        for f in FIELDS
        if f.name in changed
    )


def _change(
    f: MmpField,
    values: tuple[FieldValue, FieldValue],
    undocumented: Undocumented,
    read: bool,
) -> FieldChange:
    before, after = values
    # a value read, or (None) a limit the live config lacks; a create read nothing
    looked_up = before is not None or (read and f.kind is LIMIT)
    note = undocumented.get(f.name, {}).get(before) if looked_up else None
    if note is not None:
        return FieldChange(f.name, before, after, Direction.UNKNOWN, note)
    return FieldChange(f.name, before, after, direction(f, before, after))


def _as_dict(config: MmpConfig | None) -> dict[str, FieldValue]:
    return {f.name: (config.value(f) if config else None) for f in FIELDS}


def _comparable(values: dict[str, FieldValue]) -> dict[str, Any]:
    # Decimals compare by value (2.5 == 2.50); strings keep "manual" distinct from numbers
    return {k: (exact(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def direction(name: MmpField | str, before: FieldValue, after: FieldValue) -> Direction:
    """A longer window or freeze tightens; a lower limit tightens; adding one tightens
    (reconciler.core.mmpfields says which way each field tightens)."""
    tightens = named(name).tightens(before, after)
    return Direction.TIGHTENING if tightens else Direction.LOOSENING
