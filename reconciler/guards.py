"""Guardrails: rules from policies/guardrails.yaml that a plan must pass before apply.

A tripped guardrail blocks apply unless --force, and its message prints the numbers that
tripped it; --force is journaled. Creates and tightenings never trip the loosening, share
and removal rules; a ceiling or floor is about the resulting config, so it holds for every
write. `check` is pure: the plan in, the trips out.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from reconciler.errors import ConfigError, Problem, ReconcilerError
from reconciler.loader import display_path, parse_file, pydantic_problems, raise_if
from reconciler.mmpfields import FIELDS, FROZEN, WINDOW, Kind, MmpField, named
from reconciler.model import MmpConfig
from reconciler.plan import Action, Direction, FieldChange, Plan, Step
from reconciler.units import decimal_text, to_decimal

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


# a floor and a ceiling for each MMP field of reconciler.mmpfields, every one optional
if TYPE_CHECKING:
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


def load(policies: Path) -> Guardrails:
    path = location(policies)
    if path is None:
        return Guardrails()
    tree, problems = parse_file(path)
    raise_if(problems)
    assert tree is not None
    try:
        return Guardrails.model_validate(dict(tree.root))
    except ValidationError as exc:
        raise_if(pydantic_problems(tree, exc))
        raise AssertionError("unreachable") from exc


def check(plan: Plan, rules: Guardrails, managed: int | None = None) -> list[str]:
    """Every guardrail the plan trips, as a sentence with the numbers. `managed`: how many
    scopes the whole desk manages (the policies' declared scopes), which the share rule
    counts against, so that filtering a run to one account at a time cannot dodge it."""
    trips: list[str] = []
    writes = plan.writes
    if not writes:
        return trips  # nothing to apply: apply refuses nothing
    for step in writes:
        trips += _bounds(step, rules)
        trips += _loosening(step, rules.loosening)
        if rules.removal and step.action is Action.REMOVE:
            trips.append(f"{step.key}: removal of its MMP config")
    trips += _share(plan, rules.changes, managed)
    if "underlying" not in plan.filters:  # whole accounts were planned (a shard included)
        trips += _coverage(plan, rules.coverage)
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
        ratio = change.after / change.before
        if ratio > rules.limit_ratio:
            return [
                f"{scope}: {field.name} raised {before} -> {after} "
                f"(x{decimal_text(ratio.quantize(Decimal('0.01')))}, more than "
                f"x{decimal_text(rules.limit_ratio)})"
            ]
    return []


def _share(plan: Plan, rules: Changes, managed: int | None) -> list[str]:
    if rules.max_share is None:
        return []
    if managed is None:
        managed = sum(1 for s in plan.steps if s.action is not Action.UNMANAGED)
    risky = [
        s
        for s in plan.writes
        if s.action is Action.REMOVE or (s.action is not Action.CREATE and s.loosening)
    ]
    if managed < rules.min_scopes or not managed:
        return []
    share = Decimal(len(risky)) / Decimal(managed)
    if share <= rules.max_share:
        return []
    percent = decimal_text((share * 100).quantize(Decimal("0.1")))
    limit = decimal_text(rules.max_share * 100)
    return [
        f"{len(risky)} of {managed} managed scopes loosened or removed ({percent}%, "
        f"more than {limit}%)"
    ]


def _coverage(plan: Plan, coverage: dict[str, list[str]]) -> list[str]:
    protected: dict[str, set[str]] = {}
    venue_of: dict[str, str] = {}
    for step in plan.steps:
        venue_of[step.key.account] = step.key.venue
        if step.action is not Action.UNMANAGED and step.after is not None:
            protected.setdefault(step.key.account, set()).add(step.key.underlying)
    found = []
    for account in plan.accounts:
        venue = venue_of.get(account, "")
        for underlying in coverage.get(venue, []):
            if underlying not in protected.get(account, set()):
                found.append(
                    f"{venue}/{account}: {underlying} is not protected (coverage "
                    f"requires {', '.join(coverage[venue])} on every {venue} account)"
                )
    return found
