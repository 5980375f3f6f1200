"""What a run covers: the --account/--venue/--underlying filters and the --shard, as given on
the command line or as a saved plan records them. A filtered run never removes anything; a
shard plans the accounts it owns exactly. With them, the held scopes --include-held names
(with --reason): part of what a plan is made from, so a saved plan records it."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.apply.journal import who
from reconciler.core import console
from reconciler.core.errors import ReconcilerError
from reconciler.core.model import LiveAccount, split_space
from reconciler.core.suggest import did_you_mean
from reconciler.core.units import parse_utc_ms
from reconciler.planning.plan import NO_INCLUSION, Action, Inclusion, Plan
from reconciler.planning.planner import Filters, inclusion_problems, make_plan
from reconciler.planning.render.rows import name_list
from reconciler.planning.shard import Shard, parse_shard
from reconciler.policy.desired import AccountTarget, DesiredState
from reconciler.venues.base import Capabilities


@dataclass(frozen=True)
class Selection:
    filters: Filters = dataclasses.field(default_factory=Filters)
    shard: Shard | None = None
    included: Inclusion = NO_INCLUSION

    @classmethod
    def of(cls, args: argparse.Namespace, venues: frozenset[str]) -> Selection:
        filters = Filters(
            frozenset(getattr(args, "account", [])),
            frozenset(getattr(args, "venue", [])),
            frozenset(getattr(args, "underlying", [])),
        )
        _check_venues(filters.venues, venues)
        spec = getattr(args, "shard", None)
        shard = None if spec is None else parse_shard(spec, venues)
        return cls(filters, shard, inclusion(args))

    @classmethod
    def of_plan(cls, plan: Plan, venues: frozenset[str]) -> Selection:
        """The selection a plan was made with, from what it records."""
        given = plan.filters
        filters = Filters(
            frozenset(given.get("account", [])),
            frozenset(given.get("venue", [])),
            frozenset(given.get("underlying", [])),
        )
        shards = given.get("shard", [])
        if len(shards) > 1:
            raise ReconcilerError(f"a plan of one shard records {len(shards)}")
        return cls(filters, parse_shard(shards[0], venues) if shards else None, plan.included)

    @property
    def given(self) -> bool:
        return self.filters.active or self.shard is not None

    def targets(self, desired: DesiredState) -> list[AccountTarget]:
        if not desired.accounts:
            raise ReconcilerError(
                "the policies declare no account yet: declare one under `accounts:` in a "
                "policy file, with its `venue`, `environment` and `credentials` (the prefix "
                "of its environment variables) and an empty `mmp:` to start; then run "
                "mmp validate"
            )
        _check_accounts(self.filters.accounts, desired)
        wanted = self.filters.account_selected
        targets = [t for t in desired.accounts.values() if wanted(t.name, t.venue)]
        _note_underlyings(self.filters.underlyings, desired, targets)
        if self.shard is not None:  # a shard may own no account: its plan is then empty
            shard = self.shard
            return sorted((t for t in targets if shard.owns(t.name, t.venue)), key=_name)
        if not targets:
            given = [f"--account {name}" for name in sorted(self.filters.accounts)]
            given += [f"--venue {name}" for name in sorted(self.filters.venues)]
            raise ReconcilerError(f"no account in the policies matches {' '.join(given)}")
        return sorted(targets, key=_name)

    def plan(
        self,
        desired: DesiredState,
        live: list[LiveAccount],
        capabilities: Mapping[str, Capabilities],
        targets: list[AccountTarget],
        *,
        now_ms: int | None = None,
    ) -> Plan:
        """`now_ms`: the clock to plan by (a saved plan's own, when it is recomputed)."""
        made = make_plan(desired, live, capabilities, self.filters, self.included, now_ms)
        problems = inclusion_problems(made)
        if problems:
            raise ReconcilerError(
                "nothing was sent to any venue: " + "; ".join(problems) + _held_hint(made)
            )
        if self.shard is None:
            return made
        owned = ", ".join(t.name for t in targets) or "none"
        note = (
            f"shard {self.shard.spec}: exact for the accounts it owns ({owned}); other shards "
            "plan the rest"
        )
        return dataclasses.replace(
            made, filters={**made.filters, "shard": [self.shard.spec]}, notes=(*made.notes, note)
        )


def inclusion(args: argparse.Namespace) -> Inclusion:
    """--include-held SCOPE[@TRIGGER] (repeatable) with --reason TEXT: who is journaled with
    them. TRIGGER is the venue's trigger time the person checked, as the plan shows it."""
    named = [named_scope(text) for text in getattr(args, "include_held", None) or []]
    scopes = tuple(sorted({scope for scope, _ in named}))
    reason = (getattr(args, "reason", None) or "").strip()
    if not scopes:
        if reason:
            raise ReconcilerError(
                "--reason says why the held scopes --include-held names may be written; "
                "give --include-held SCOPE with it, or leave both out"
            )
        return NO_INCLUSION
    if not reason:
        raise ReconcilerError(
            "--include-held needs --reason TEXT: say what was checked on the venue, and by "
            "whom (it is journaled with who ran it)"
        )
    triggers: dict[str, int] = {}
    for scope, at in named:
        if at is None:
            continue
        if triggers.setdefault(scope, at) != at:
            raise ReconcilerError(f"--include-held names {scope} with two trigger times")
    return Inclusion(scopes, reason, who(), tuple(sorted(triggers.items())))


def named_scope(text: str) -> tuple[str, int | None]:
    """'SCOPE' or 'SCOPE@TRIGGER' (a UTC time, as the plan shows the trigger checked)."""
    scope, at, when = text.partition("@")
    if not at:
        return scope, None
    try:
        return scope, parse_utc_ms(when)
    except ValueError:
        raise ReconcilerError(
            f"--include-held {text}: {when!r} is not a time; after the @ give the trigger "
            "time the plan shows for the scope (e.g. 2026-11-30T20:14:09.123Z)"
        ) from None


def _held_hint(plan: Plan) -> str:
    unknown = [
        str(s.key)
        for s in plan.steps
        if s.freeze.trigger_unresolved or (s.action is Action.HELD and s.freeze.unknown)
    ]
    if not unknown:
        return " (no held scope of this plan has an unknown freeze state)"
    return f" (held for an unknown freeze state, unless checked: {name_list(unknown)})"


def _name(target: AccountTarget) -> str:
    return target.name


def _check_venues(given: frozenset[str], venues: frozenset[str]) -> None:
    said = _unknown("--venue", "no such venue", sorted(given - venues), sorted(venues))
    if said:
        raise ReconcilerError(said)


def _check_accounts(given: frozenset[str], desired: DesiredState) -> None:
    names = sorted(desired.accounts)
    said = _unknown(
        "--account", "no such account in the policies", sorted(given - set(names)), names
    )
    if said:
        raise ReconcilerError(said)


def _unknown(flag: str, what: str, unknown: list[str], known: list[str]) -> str:
    """Each unknown name with the known one it most likely meant; the known names when
    none is close. '' when every name is known."""
    text = ""
    for name in unknown:
        hint = did_you_mean(name, known)
        joint = "" if not text else " " if text.endswith("?") else "; "
        text += f"{joint}{flag} {name}: {what}{hint}"
    if text and not text.endswith("?"):
        text += f" (known: {name_list(known)})" if known else " (there are none)"
    return text


def _note_underlyings(
    given: frozenset[str], desired: DesiredState, targets: list[AccountTarget]
) -> None:
    """An --underlying the selected accounts' policies do not name may be a typo (or a scope
    only the venue has, which a filter may select): said when one they name is close."""
    declared = desired.declared_underlyings()
    # a section of another config space (`block_rfq:`) is no underlying to suggest
    named = {u for t in targets for u in declared.get(t.name, ()) if split_space(u)[1]}
    for underlying in sorted(given - named):
        # `all` for `block_rfq:all`: a scope of another space is selected by its whole name
        spaced = sorted(u for u in named if split_space(u)[1] == underlying)
        hint = f"; did you mean `{spaced[0]}`?" if spaced else did_you_mean(underlying, named)
        if hint:
            console.note(
                f"--underlying {underlying}: the policies name no such underlying for the "
                f"selected accounts{hint}"
            )
