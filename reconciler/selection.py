"""What a run covers: the --account/--venue/--underlying filters and the --shard, as given on
the command line or as a saved plan records them. A filtered run never removes anything; a
shard plans the accounts it owns exactly."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.desired import AccountTarget, DesiredState
from reconciler.errors import ReconcilerError
from reconciler.model import LiveAccount
from reconciler.plan import Plan
from reconciler.planner import Filters, make_plan
from reconciler.shard import Shard, parse_shard
from reconciler.venues.base import Capabilities


@dataclass(frozen=True)
class Selection:
    filters: Filters = dataclasses.field(default_factory=Filters)
    shard: Shard | None = None

    @classmethod
    def of(cls, args: argparse.Namespace, venues: frozenset[str]) -> Selection:
        filters = Filters(
            frozenset(getattr(args, "account", [])),
            frozenset(getattr(args, "venue", [])),
            frozenset(getattr(args, "underlying", [])),
        )
        spec = getattr(args, "shard", None)
        return cls(filters, None if spec is None else parse_shard(spec, venues))

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
        return cls(filters, parse_shard(shards[0], venues) if shards else None)

    @property
    def given(self) -> bool:
        return self.filters.active or self.shard is not None

    def targets(self, desired: DesiredState) -> list[AccountTarget]:
        wanted = self.filters.account_selected
        targets = [t for t in desired.accounts.values() if wanted(t.name, t.venue)]
        if self.shard is not None:  # a shard may own no account: its plan is then empty
            shard = self.shard
            return sorted((t for t in targets if shard.owns(t.name, t.venue)), key=_name)
        if not targets:
            raise ReconcilerError(
                "no account in the policies matches the --account/--venue filters"
            )
        return sorted(targets, key=_name)

    def plan(
        self,
        desired: DesiredState,
        live: list[LiveAccount],
        capabilities: Mapping[str, Capabilities],
        targets: list[AccountTarget],
    ) -> Plan:
        made = make_plan(desired, live, capabilities, self.filters)
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


def _name(target: AccountTarget) -> str:
    return target.name
