"""Guardrails: rules from policies/guardrails.yaml that a plan must pass before apply.

A tripped guardrail blocks apply unless --force, and its message prints the numbers that
tripped it; --force is journaled. Creates and tightenings never trip the loosening, share
and removal rules; a ceiling or floor is about the resulting config, so it holds for every
write. `check` is pure: the plan in, the trips out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from reconciler.core.errors import ConfigError, Problem, ReconcilerError
from reconciler.core.mmpfields import FIELDS, FROZEN, WINDOW, Kind, MmpField, named
from reconciler.core.model import MmpConfig, ScopeKey, split_space
from reconciler.core.suggest import did_you_mean
from reconciler.core.units import EXACT, decimal_text, to_decimal
from reconciler.planning.plan import Action, Direction, FieldChange, Plan, Step
from reconciler.planning.planner import field_changes
from reconciler.policy.desired import DesiredState
from reconciler.policy.healing import Heal, account_problems, venue_problems
from reconciler.policy.loader import (
    LocatedTree,
    display_path,
    parse_file,
    pydantic_problems,
    raise_if,
)
from reconciler.policy.venue_rules import underlying_problems

FILE = "guardrails.yaml"
Limit = Annotated[Decimal, BeforeValidator(to_decimal)]
_RULE = ConfigDict(extra="forbid", frozen=True)


def _bound_model(kind: Kind) -> type[BaseModel]:
    """A floor and a ceiling for the fields of one kind: durations as durations (`1s`),
    limits as exact decimals."""
    value = Annotated[Any, BeforeValidator(kind.bound)]
    return create_model(
        "Bound", __config__=_RULE, min=(value | None, None), max=(value | None, None)
    )


def _fields_model() -> type[BaseModel]:
    bounds = {kind: _bound_model(kind) for kind in {f.kind for f in FIELDS}}
    rules: dict[str, Any] = {f.name: (bounds[f.kind] | None, None) for f in FIELDS}
    return create_model("Fields", __config__=_RULE, **rules)


# a floor and a ceiling for each MMP field of reconciler.core.mmpfields, every one optional
if TYPE_CHECKING:
    from reconciler.venues.base import Capabilities

    Fields = BaseModel
else:
    Fields = _fields_model()


class Loosening(BaseModel):
    model_config = _RULE
    limit_ratio: Limit | None = Field(None, description="a limit raised beyond this factor")
    shorter_window: bool = True
    shorter_freeze: bool = True

    def shortening_trips(self, field: MmpField) -> bool:
        """Whether shortening this duration field trips (shorter_window, shorter_freeze)."""
        return {WINDOW: self.shorter_window, FROZEN: self.shorter_freeze}[field]


class Changes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_share: Limit | None = Field(None, description="share of managed scopes, e.g. 0.25")
    min_scopes: int = 4  # below this many managed scopes the share rule does not apply


class Guardrails(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fields: Fields = Fields()
    venues: dict[str, Fields] = Field(default_factory=dict)
    coverage: dict[str, list[str]] = Field(default_factory=dict)
    loosening: Loosening = Loosening()
    changes: Changes = Changes()
    removal: bool = True
    heal: Heal = Heal()  # mmp heal: off unless the file says so (reconciler.policy.healing)


class GuardrailError(ReconcilerError):
    def __init__(self, trips: list[str]) -> None:
        self.trips = trips
        super().__init__(
            f"{len(trips)} guardrail(s) tripped; nothing was applied. Review, then re-run "
            "with --force to apply anyway (it is journaled):\n  " + "\n  ".join(trips)
        )


def location(policies: Path) -> Path | None:
    """The guardrails file of a policies folder: at its top, `.yaml` or `.yml`; None when
    there is none (the defaults hold). Both at once is an error."""
    folder = policies if policies.is_dir() else policies.parent
    found = [folder / name for name in (FILE, "guardrails.yml") if (folder / name).is_file()]
    if len(found) > 1:
        raise ConfigError(
            [Problem(display_path(found[1]), 0, 0, f"{found[0].name} is here too: keep one")]
        )
    return found[0] if found else None


def record(policies: Path) -> dict[str, Any]:
    """What a saved plan keeps of the guardrails it was checked against: the file and its
    rules (the defaults when there is no file), as plain data."""
    path = location(policies)
    return {
        "file": None if path is None else display_path(path),
        "rules": load(policies).model_dump(mode="json"),
    }


def load(policies: Path, desired: DesiredState | None = None) -> Guardrails:
    """The guardrails of a policies folder (the defaults without a file). With `desired`,
    the accounts `heal.accounts` names are checked against it too."""
    path = location(policies)
    if path is None:
        return Guardrails()
    tree, problems = parse_file(path)
    raise_if(problems)
    assert tree is not None
    try:
        rules = Guardrails.model_validate(dict(tree.root))
    except ValidationError as exc:
        problems = pydantic_problems(tree, exc)
        raise ConfigError(problems or [Problem(display_path(path), 0, 0, str(exc))]) from None
    problems = _venue_problems(tree, rules)
    if desired is not None:
        problems += account_problems(tree, rules.heal, desired)
    raise_if(problems)
    return rules


def _venue_problems(tree: LocatedTree, rules: Guardrails) -> list[Problem]:
    """A rule for a venue mmp does not know, or coverage of an underlying the venue does not
    have, would hold for nothing: a typo, said where it is."""
    from reconciler.venues import capabilities  # the venues import the field table, as we do

    known = capabilities()
    found = []
    for section in ("venues", "coverage"):
        for venue in getattr(rules, section):
            if venue not in known:
                found.append(
                    tree.problem(
                        (section, venue),
                        f"`{venue}` is not a venue mmp knows{did_you_mean(venue, known)} "
                        f"(known: {', '.join(sorted(known))})",
                        at_key=True,
                    )
                )
    for venue, underlyings in rules.coverage.items():
        if venue in known:
            for i, underlying in enumerate(underlyings):
                found += _covered_problems(tree, ("coverage", venue, i), underlying, known[venue])
    return found + venue_problems(tree, rules.heal, set(known))


def _covered_problems(
    tree: LocatedTree, path: tuple[Any, ...], underlying: str, caps: Capabilities
) -> list[Problem]:
    """An underlying coverage names, in the venue's own MMP or one of its config spaces
    (`block_rfq:all`, as scopes and --underlying spell it)."""
    space, name = split_space(underlying)
    if space is None:
        return underlying_problems(tree, path, underlying, caps)
    if space not in caps.spaces:
        spaces = ", ".join(f"`{s}:`" for s in sorted(caps.spaces)) or "none"
        said = f"`{space}:` is no config space of {caps.venue} (its spaces: {spaces})"
        return [tree.problem(path, said)]
    return underlying_problems(tree, path, name, caps.spaces[space])


def check(
    plan: Plan,
    rules: Guardrails,
    desired: DesiredState | None = None,
    baseline: Mapping[ScopeKey, MmpConfig] | None = None,
) -> list[str]:
    """Every guardrail the plan trips, as a sentence with the numbers. `desired`: the whole
    desk's declared state, which coverage is checked against (so a filter cannot hide an
    account's missing underlying) and the share rule's minimum counts. `baseline`: the
    config a scope had before an unfinished run left it without one: its create is a
    loosening against that, not a first config."""
    trips: list[str] = []
    writes = plan.writes
    if not writes:
        return trips  # nothing to apply: apply refuses nothing
    for step in writes:
        trips += _bounds(step, rules)
        trips += _loosening(step, rules.loosening)
        trips += _loosened_since(step, rules.loosening, baseline or {})
        if rules.removal and step.action is Action.REMOVE:
            trips.append(f"{step.key}: removal of its MMP config")
    trips += _share(plan, rules.changes, desired)
    trips += _coverage(plan, rules.coverage, desired)
    return trips


def _bounds(step: Step, rules: Guardrails) -> list[str]:
    if step.after is None:
        return []
    found = []
    for fields in (rules.fields, rules.venues.get(step.key.venue)):
        if fields is None:
            continue
        for name, bound in fields:
            if bound is not None:
                found += _bound(step, step.after, name, bound)
    return found


def _bound(step: Step, config: MmpConfig, name: str, bound: Any) -> list[str]:
    field = named(name)
    value = config.value(field)
    if value is None:
        return []
    numeric = field.magnitude(value)
    shown = field.show(value)
    if bound.max is not None and numeric > bound.max:
        return [f"{step.key}: {name} {shown} is above the ceiling {field.show(bound.max)}"]
    if bound.min is not None and numeric < bound.min:
        return [f"{step.key}: {name} {shown} is below the floor {field.show(bound.min)}"]
    return []


def _loosening(step: Step, rules: Loosening) -> list[str]:
    if step.action in (Action.CREATE, Action.REMOVE):  # removal has its own rule
        return []
    found = []
    for change in step.changes:
        if change.direction is Direction.LOOSENING:
            found += _loosened(str(step.key), named(change.field), change, rules)
        elif change.direction is Direction.UNKNOWN:  # counted a loosening: louder
            found += [_unknown(str(step.key), named(change.field), change)]
    return found


def _unknown(scope: str, field: MmpField, change: FieldChange) -> str:
    shown = f"{field.show(change.before)} -> {field.show(change.after)}"
    return f"{scope}: {field.name} {shown}: direction unknown ({change.note})"


def _loosened_since(
    step: Step, rules: Loosening, baseline: Mapping[ScopeKey, MmpConfig]
) -> list[str]:
    had = baseline.get(step.key)
    if step.action is not Action.CREATE or had is None or step.after is None:
        return []
    against = " (against the config it had before an unfinished run left it without one)"
    found = []
    for change in field_changes(had, step.after):
        if change.direction is Direction.LOOSENING:
            found += [
                trip + against
                for trip in _loosened(str(step.key), named(change.field), change, rules)
            ]
    return found


def _loosened(scope: str, field: MmpField, change: FieldChange, rules: Loosening) -> list[str]:
    before, after = field.show(change.before), field.show(change.after)
    if field.kind.higher_tightens:  # a duration: loosened by shortening it
        shortened = rules.shortening_trips(field)
        return [f"{scope}: {field.called} shortened {before} -> {after}"] if shortened else []
    if rules.limit_ratio is None:
        return []
    if change.after is None:
        return [f"{scope}: {field.name} {before} removed"]
    if isinstance(change.before, Decimal) and isinstance(change.after, Decimal):
        if not change.before:  # what 0 means differs by venue: a raise from it is loud
            return [f"{scope}: {field.name} raised {before} -> {after} (from 0: beyond any ratio)"]
        ratio = EXACT.divide(change.after, change.before)
        if ratio > rules.limit_ratio:
            return [
                f"{scope}: {field.name} raised {before} -> {after} "
                f"(x{decimal_text(ratio.quantize(Decimal('0.01'), context=EXACT))}, more than "
                f"x{decimal_text(rules.limit_ratio)})"
            ]
    return []


def _share(plan: Plan, rules: Changes, desired: DesiredState | None) -> list[str]:
    """Loosened or removed scopes as a share of the desk's managed scopes. A plan of a
    selection (--account, --venue, --underlying, a shard) cannot know the desk's share
    (other runs, before or after, loosen the rest; selections may overlap), so one that
    loosens or removes anything trips it: plan the whole desk, or --force. The rule applies
    from `min_scopes` managed scopes on the desk."""
    if rules.max_share is None:
        return []
    covered = sum(1 for s in plan.steps if s.action is not Action.UNMANAGED)
    desk = covered if desired is None else desired.managed()
    risky = [
        s
        for s in plan.writes
        if s.action is Action.REMOVE or (s.action is not Action.CREATE and s.loosening)
    ]
    if desk < rules.min_scopes or not desk or not risky:
        return []
    limit = decimal_text(rules.max_share * 100)
    if plan.filters:
        chosen = "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(plan.filters.items()) if v)
        return [
            f"{len(risky)} scope(s) loosened or removed by a plan of a selection ({chosen}): "
            f"the share rule (at most {limit}% of the desk's {desk} managed scopes) needs a "
            "plan of the whole desk; plan without --account, --venue, --underlying and "
            "--shard, or apply with --force"
        ]
    share = EXACT.divide(Decimal(len(risky)), Decimal(desk))
    if share <= rules.max_share:
        return []
    percent = decimal_text((share * 100).quantize(Decimal("0.1"), context=EXACT))
    return [
        f"{len(risky)} of {desk} managed scopes loosened or removed ({percent}%, "
        f"more than {limit}%)"
    ]


def _coverage(
    plan: Plan, coverage: dict[str, list[str]], desired: DesiredState | None
) -> list[str]:
    """Each account of the plan declares a config for each underlying its venue's coverage
    lists (of its declared scopes: a config only the venue has may go any time), for the
    underlying's own orders: a mass-quote group's config alone leaves regular orders bare."""
    venue_of = {step.key.account: step.key.venue for step in plan.steps}
    declared: dict[str, set[str]] = {}
    if desired is not None:
        venue_of |= {name: target.venue for name, target in desired.accounts.items()}
        for key, scope in desired.scopes.items():
            if scope.config is not None and key.group is None:
                declared.setdefault(key.account, set()).add(key.underlying)
    else:
        for step in plan.steps:
            bare = step.action is Action.UNMANAGED or step.after is None
            if not bare and step.key.group is None:
                declared.setdefault(step.key.account, set()).add(step.key.underlying)
    found = []
    for account in plan.accounts:
        venue = venue_of.get(account, "")
        for underlying in coverage.get(venue, []):
            if underlying not in declared.get(account, set()):
                found.append(
                    f"{venue}/{account}: {underlying} is not protected (coverage "
                    f"requires {', '.join(coverage[venue])} on every {venue} account)"
                )
    return found
