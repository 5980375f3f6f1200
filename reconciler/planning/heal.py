"""Heal: of a plan, the steps that only put protection back, and why every other is left.

A pure function, as the planner is: the plan of this checkout's policies against the live
state in, the steps to write out, each with its reason, and every other drifting scope with
why it is left for a person. A step is healed only when all of these hold:

- the policies declare the scope with a config, and the `heal:` setting covers its venue
  and account (reconciler.policy.healing);
- it is a create (the declared scope has no config live: unprotected; the reviewed config
  beats none, even where it is looser than the config an unfinished run took away, within
  the guardrails, which its reason then says), or an update or a replacement in which
  every changed field tightens (a limit added to a live config has no known direction
  where the venue reports an unset limit as a "0" its docs leave open: Bullish's deltaLimit
  "0", read as none, which its capabilities' `undocumented` lists under None);
- the scope is known not to be frozen: never a held scope, nor one whose freeze state is
  unknown (a write may end a freeze), nor a write that may freeze it again;
- no guardrail trips, for the step or for the heal as a whole (a trip that names no step
  stops every step: there is no --force here). Coverage is the exception: heal never
  removes, so it cannot leave coverage worse; its trips are reported (`coverage`), not obeyed.

Heal never crosses a guardrail. Where an unfinished run took a scope's config away (the
journal knows which: the baseline, the latest run's) and the reviewed config is beyond a
guardrail from it, heal creates, field by field, the stricter of the two (never looser than
the reviewed config, nor than the one taken away; an undocumented value such as a live 0 is
never written back), says why, and leaves the reviewed config for a person (`mmp apply
--force`).

Nothing else is ever written: no removal, no loosening, no step mixing a tightening with a
loosening, no unmanaged scope. The executor runs the healed steps as apply runs any plan.
The command reads each scope to create again before it writes (`confirmed`): a create is
sent only where a fresh read says the scope still has no config. A filtered run (--account,
--underlying, ...) also leaves, `outside filter`, each declared scope outside its filter
that it read without a config (`outside_filter`): it heals none of them, and says so.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.mmpfields import named
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.planning.plan import Action, Direction, FieldChange, Plan, Step
from reconciler.planning.planner import field_changes
from reconciler.policy import guards
from reconciler.policy.desired import DesiredState
from reconciler.venues.base import Capabilities, Undocumented

SCHEMA_VERSION = 1
SINCE = "the config it had before an unfinished run left it without one"


class Why(enum.Enum):
    """Why a drifting scope is left for a person."""

    LOOSENING = "loosening"  # every changed field loosens
    UNKNOWN = "direction unknown"  # a live value's meaning is undocumented on its venue
    MIXED = "mixed"  # some fields tighten, others loosen
    REMOVAL = "removal"  # the policies mark it absent
    HELD = "held"  # frozen, or its freeze state is unknown
    REFREEZE = "may freeze"  # the write may freeze the scope again
    GUARDRAIL = "guardrail"  # a guardrail trips
    UNMANAGED = "unmanaged"  # not declared in the policies
    NOT_ENABLED = "outside heal"  # outside the venues or accounts heal covers
    UNCONFIRMED = "unconfirmed"  # to create, but no fresh read confirmed it has no config
    FILTERED = "outside filter"  # without a config, outside a filtered run's selection
    TAKEN = "taken, undeclared"  # an unfinished run left it bare; the policies do not declare it


@dataclass(frozen=True)
class Healed:
    step: Step
    reason: str  # what it puts back, for people and the journal
    looser: bool = False  # a create looser than the config an unfinished run took away
    baseline: bool = False  # that config put back: the reviewed one is beyond a guardrail

    def to_data(self) -> dict[str, Any]:
        return {
            "scope": str(self.step.key),
            "action": self.step.action.value,
            "reason": self.reason,
            "changes": [change.to_data() for change in self.step.changes],
        }


@dataclass(frozen=True)
class Left:
    step: Step
    why: Why
    detail: str

    @property
    def action(self) -> Action:
        """What the plan would do to it (for a held scope: what it would do once free)."""
        return self.step.held_action or self.step.action

    def to_data(self) -> dict[str, Any]:
        return {
            "scope": str(self.step.key),
            "action": self.action.value,
            "why": self.why.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Healing:
    plan: Plan  # the healed steps only, with the plan's fingerprint: what apply's executor runs
    healed: tuple[Healed, ...]
    left: tuple[Left, ...]
    narrowed: str = ""  # what the heal setting limits healing to ('': the whole desk)
    coverage: tuple[str, ...] = ()  # coverage trips: reported; they stop no heal step
    unchecked: tuple[tuple[str, str], ...] = ()  # (venue/account, why) heal could not read

    def bare(self) -> list[str]:
        """The declared scopes left without a config (or held without one) that heal writes
        nothing to: unprotected after it, whatever its steps come to."""
        written = {item.step.key for item in self.healed}
        bare = [item.step.key for item in self.left if item.step.unprotected]
        return [str(key) for key in dict.fromkeys(bare) if key not in written]

    def undeclared_bare(self) -> bool:
        """Whether a scope left bare is one the policies do not declare (taken away)."""
        return any(item.why is Why.TAKEN for item in self.left)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for item in self.healed:
            counts[item.step.action.value] = counts.get(item.step.action.value, 0) + 1
        parts = ", ".join(f"{n} to {action}" for action, n in counts.items())
        head = f"{len(self.healed)} to heal ({parts})" if self.healed else "nothing to heal"
        unread = f"; {len(self.unchecked)} account(s) NOT CHECKED" if self.unchecked else ""
        return f"Heal: {head}; {len(self.left)} left for a person{unread}."

    def to_data(self, outcomes: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Any]:
        """The report `mmp heal --report` writes: with `outcomes` (scope -> outcome, detail),
        how each healed step ended; without, as planned."""
        healed = []
        for item in self.healed:
            data = item.to_data()
            outcome, detail = (outcomes or {}).get(data["scope"], (None, ""))
            healed.append({**data, "outcome": outcome, "detail": detail})
        return {
            "schema_version": SCHEMA_VERSION,
            "sandbox": self.plan.sandbox,
            "fingerprint": self.plan.fingerprint,
            "accounts": list(self.plan.accounts),
            "filters": self.plan.filters,
            "narrowed": self.narrowed,
            "coverage": list(self.coverage),
            "healed": healed,
            "left": [item.to_data() for item in self.left],
            "not_checked": [{"account": name, "why": why} for name, why in self.unchecked],
        }


def select(
    plan: Plan,
    desired: DesiredState,
    rules: guards.Guardrails,
    baseline: Mapping[ScopeKey, MmpConfig] | None = None,
    caps: Mapping[str, Capabilities] | None = None,
    took: Mapping[ScopeKey, str] | None = None,
) -> Healing:
    """The steps of `plan` heal writes, and every other drifting one with why it is left.
    `baseline`: the config each scope had before an unfinished run left it without one;
    `caps`: each venue's capabilities (what its docs leave open: `undocumented`); `took`:
    the run that took each baseline config away, as people name it ("apply run X")."""
    had = baseline or {}
    healed: list[Healed] = []
    left: list[Left] = []
    for step in plan.steps:
        verdict = _judge(step, desired, rules, had)
        if isinstance(verdict, Healed):
            venue = (caps or {}).get(step.key.venue)
            zeros = venue.undocumented if venue is not None else {}
            against = (had, took or {}, zeros)
            verdict, beyond = _within_baseline(verdict, plan, rules, desired, *against)
            left += [beyond] if beyond is not None else []
            healed.append(verdict)
        elif verdict is not None:
            left.append(verdict)
    # heal never removes: coverage cannot get worse by it, so its trips stop no step
    coverage = guards.check(plan, rules.model_copy(update={"coverage": {}}), desired, had)
    coverage = [t for t in guards.check(plan, rules, desired, had) if t not in coverage]
    rules = rules.model_copy(update={"coverage": {}})
    healed, tripped = _within_guardrails(plan, healed, rules, desired)
    order = {step.key: index for index, step in enumerate(plan.steps)}
    left = sorted([*left, *tripped], key=lambda item: order[item.step.key])
    steps = tuple(item.step for item in healed)
    chosen = dataclasses.replace(plan, steps=steps, trips=())
    return Healing(chosen, tuple(healed), tuple(left), rules.heal.narrowed(), tuple(coverage))


def _judge(
    step: Step, desired: DesiredState, rules: guards.Guardrails, had: Mapping[ScopeKey, MmpConfig]
) -> Healed | Left | None:
    """Healed, left with why, or None for a scope that does not drift."""
    if step.action is Action.UNCHANGED:
        return None
    key = step.key
    if not rules.heal.covers(key.venue, key.account):
        limit = rules.heal.narrowed()
        said = f"outside heal's venues/accounts ({limit})" if limit else "healing is not enabled"
        return Left(step, Why.NOT_ENABLED, f"{said} (guardrails.yaml `heal:`)")
    left = _never(step, desired)
    if left is not None:
        return left
    return _by_direction(step, had.get(key))


def _never(step: Step, desired: DesiredState) -> Left | None:
    """What heal never writes, whatever the fields do: removals, undeclared scopes, held
    scopes, scopes whose freeze state is unknown, and writes that may freeze a scope."""
    if Action.REMOVE in (step.action, step.held_action):
        where = f" ({step.where})" if step.where else ""
        said = f"the policies mark it absent{where}: heal never takes protection away"
        return Left(step, Why.REMOVAL, said + " (`mmp apply` does, as reviewed)")
    declared = desired.scopes.get(step.key)
    if step.action is Action.UNMANAGED or declared is None or declared.config is None:
        return Left(step, Why.UNMANAGED, step.reason or "not declared in the policies")
    if step.action is Action.HELD or step.freeze.may_be_frozen:
        return Left(step, Why.HELD, step.reason)
    if step.refreeze:
        return Left(step, Why.REFREEZE, step.refreeze)
    return None


def _by_direction(step: Step, had: MmpConfig | None) -> Healed | Left:
    """A create is healed (said when it is looser than the config an unfinished run took
    away); an update or a replacement only when every changed field tightens."""
    if step.action is Action.CREATE:  # any reviewed config beats none
        reason = "unprotected: no MMP config live; the declared config is set"
        against = field_changes(had, step.after) if had is not None else ()
        looser = [_change_text(c) for c in against if c.direction is not Direction.TIGHTENING]
        if looser:
            reason += f", though it is looser than {SINCE} (within the guardrails, as apply "
            reason += f"would write it): {', '.join(looser)}"
        elif had is not None:
            reason += ", as strict as before an unfinished run took it away, or stricter"
        return Healed(step, reason, looser=bool(looser))
    if not step.changes:
        return Left(step, Why.MIXED, "its configs differ in no field mmp classes")
    shown = ", ".join(_change_text(change) for change in step.changes)
    return _direction(step, step.changes, "") or Healed(
        step, f"every changed field tightens: {shown}"
    )


def _within_baseline(
    item: Healed,
    plan: Plan,
    rules: guards.Guardrails,
    desired: DesiredState,
    baseline: Mapping[ScopeKey, MmpConfig],
    took: Mapping[ScopeKey, str],
    undocumented: Undocumented,
) -> tuple[Healed, Left | None]:
    """A create where an unfinished run took a config away, whose reviewed config is beyond
    a guardrail from that config (apply would refuse it without --force): heal creates,
    field by field, the stricter of the two instead (`_strictest`), never looser than either,
    and leaves the reviewed config for a person. Else as it is."""
    key, had = item.step.key, baseline.get(item.step.key)
    if item.step.action is not Action.CREATE or had is None or item.step.after is None:
        return item, None
    trial = dataclasses.replace(plan, steps=(item.step,))
    rules = rules.model_copy(update={"coverage": {}})
    beyond = [
        (trip.partition(": ")[2] or trip).removesuffix(f" (against {SINCE})")
        for trip in guards.check(trial, rules, desired, {key: had})
        if trip not in guards.check(trial, rules, desired)
    ]
    strictest, kept = _strictest(item.step.after, had, undocumented)
    if not beyond or not kept:
        return item, None
    run = took.get(key, "an unfinished run")
    said = (
        f"the reviewed config is beyond guardrail(s) from what {run} took away "
        f"({'; '.join(beyond)}); a person applies it with --force (`mmp apply --force`)"
    )
    back = dataclasses.replace(item.step, after=strictest, changes=field_changes(None, strictest))
    reason = (
        "unprotected: no MMP config live; created with, field by field, the stricter of the "
        f"reviewed config and the one {run} took away ({', '.join(kept)} as it had them): "
        f"{said}"
    )
    left = Left(item.step, Why.GUARDRAIL, f"{said}; heal created the stricter of the two")
    return Healed(back, reason, baseline=True), left


def _strictest(
    reviewed: MmpConfig,
    had: MmpConfig,
    undocumented: Undocumented,
) -> tuple[MmpConfig, list[str]]:
    """The reviewed config with each field the config taken away holds stricter (a change
    from it to the reviewed one loosens), and those fields' names. Never looser than the
    reviewed config, nor than the one taken away where a direction is known; a field whose
    direction is unknown (a live value of undocumented meaning, such as a limit of 0) is the
    reviewed one's: heal never writes back a value nobody can read the meaning of."""
    kept = [
        change.field
        for change in field_changes(had, reviewed, undocumented)
        if change.direction is Direction.LOOSENING
    ]
    values = {named(name).attribute: had.value(name) for name in kept}
    return reviewed.with_changes(**values), kept


def confirmed(healing: Healing, unread: Mapping[ScopeKey, str]) -> Healing:
    """The healing with every create a fresh read did not confirm (`unread`: scope -> why it
    could not be read again) left for a person: a create is sent only where a read made for
    it, after the plan's, says the scope still has no config."""
    if not unread:
        return healing
    kept, moved = [], []
    for item in healing.healed:
        why = unread.get(item.step.key)
        if item.step.action is Action.CREATE and why is not None:
            said = f"to create, but it could not be read again before writing ({why}): heal "
            said += "creates only where a fresh read confirms the scope has no config"
            moved.append(Left(item.step, Why.UNCONFIRMED, said))
        else:
            kept.append(item)
    steps = tuple(item.step for item in kept)
    return dataclasses.replace(
        healing,
        plan=dataclasses.replace(healing.plan, steps=steps),
        healed=tuple(kept),
        left=(*healing.left, *moved),
    )


def outside_filter(healing: Healing, bare: Sequence[Step], said: str) -> Healing:
    """The healing of a filtered run (`said`: its filter as given) with each declared scope
    outside the filter that has no config live (`bare`: steps of a plan of all it read,
    held ones included) left for a person: the run heals none of them, and must not end
    as if all were well (they are `bare()`)."""
    if not bare:
        return healing
    left = []
    for step in bare:
        what = "no MMP config live"
        what += f" and held ({step.reason})" if step.action is Action.HELD else ""
        detail = (
            f"{what}; outside this run's filter ({said}), so not healed by it: `mmp heal` "
            "without the filter judges it"
        )
        left.append(Left(step, Why.FILTERED, detail))
    return dataclasses.replace(healing, left=(*healing.left, *left))


def taken_away(healing: Healing, restores: Sequence[Step]) -> Healing:
    """Each scope the policies do not declare that an unfinished run left without a config
    (`restores`: recovery's steps putting its old config back), left for a person and bare:
    heal writes only what the policies declare, so the run never ends as if all were well."""
    if not restores:
        return healing
    left = [
        Left(
            step,
            Why.TAKEN,
            f"no MMP config live: {step.where.removeprefix('journal ')} took it away and the "
            "policies do not declare it, so heal does not put it back; declare it, or run "
            "`mmp apply` on a terminal, which restores the config it had before that run",
        )
        for step in restores
    ]
    return dataclasses.replace(healing, left=(*healing.left, *left))


def reread(healing: Healing, said: Mapping[ScopeKey, str]) -> Healing:
    """The healing with what a fresh read before a create found (scope -> what) said first
    in the reason or the detail of each scope it re-judged."""
    if not said:
        return healing

    def told(key: ScopeKey, text: str) -> str:
        return f"{said[key]}; {text}" if key in said else text

    healed = tuple(
        dataclasses.replace(i, reason=told(i.step.key, i.reason)) for i in healing.healed
    )
    left = tuple(dataclasses.replace(i, detail=told(i.step.key, i.detail)) for i in healing.left)
    return dataclasses.replace(healing, healed=healed, left=left)


def _direction(step: Step, changes: tuple[FieldChange, ...], said: str) -> Left | None:
    unknown = [c for c in changes if c.direction is Direction.UNKNOWN]
    if unknown:
        shown = ", ".join(f"{_change_text(c)} ({c.note})" for c in unknown)
        return Left(step, Why.UNKNOWN, f"direction unknown: {shown}")
    loose = [c for c in changes if c.direction is Direction.LOOSENING]
    if not loose:
        return None
    shown = ", ".join(_change_text(change) for change in loose)
    if len(loose) < len(changes):
        tight = ", ".join(_change_text(c) for c in changes if c.direction is Direction.TIGHTENING)
        return Left(step, Why.MIXED, f"tightens {tight} but loosens {shown}{said}")
    return Left(step, Why.LOOSENING, f"loosens {shown}{said}")


def _change_text(change: FieldChange) -> str:
    field = named(change.field)
    return f"{field.name} {field.show(change.before)} -> {field.show(change.after)}"


def _within_guardrails(
    plan: Plan,
    healed: list[Healed],
    rules: guards.Guardrails,
    desired: DesiredState,
) -> tuple[list[Healed], list[Left]]:
    """The healed steps no guardrail trips for. A trip that names a step leaves that step; a
    trip that names none leaves every step. What remains is checked again as a whole."""
    trips = _trips(plan, healed, rules, desired)
    named_steps = {str(item.step.key): item for item in healed}
    mine: dict[str, list[str]] = {}
    general: list[str] = []
    for trip in trips:
        scope, _, said = trip.partition(": ")
        if scope in named_steps:
            mine.setdefault(scope, []).append(said)  # the scope is the step's own
        else:
            general.append(trip)
    if general:
        return [], [Left(h.step, Why.GUARDRAIL, "; ".join(general)) for h in healed]
    kept = [item for item in healed if str(item.step.key) not in mine]
    tripped = [Left(named_steps[s].step, Why.GUARDRAIL, "; ".join(t)) for s, t in mine.items()]
    again = _trips(plan, kept, rules, desired)
    if again:
        return [], tripped + [Left(h.step, Why.GUARDRAIL, "; ".join(again)) for h in kept]
    return kept, tripped


def _trips(
    plan: Plan,
    healed: list[Healed],
    rules: guards.Guardrails,
    desired: DesiredState,
) -> list[str]:
    trial = dataclasses.replace(plan, steps=tuple(item.step for item in healed))
    return guards.check(trial, rules, desired)  # a create is not judged against `had`
