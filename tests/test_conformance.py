"""Every registered venue passes the same lifecycle against its simulator, under every
reading of its docs' open questions an in-process run plays (tests/venues.py, VenueRow.readings):
read, plan, apply, verify, re-plan empty; and a frozen scope is held and left frozen wherever
the venue can tell it. Where nothing shows its trigger (Bullish's REST while isActive stays
true, no push channel in process) its change is written, flagged first in the plan. A
config on an underlying the venue lists beyond the list we knew is reported unmanaged."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.model import LiveAccount, ScopeKey
from reconciler.planning.plan import Action, Inclusion
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES, capabilities
from reconciler.venues.base import ChangeMode, ResetMeaning
from reconciler.venues.live import Connections
from tests.checked import checked
from tests.venues import (
    ROWS,
    VenueRow,
    connect_to,
    reading_cells,
    simulator_of,
    truly_frozen,
)

HERE = Location("p.yaml", 1, 1)
# in process throughout: every rate-limit wait passes at once on the virtual clock, which
# the simulators' rate limits count by too (tests/clock.py)
pytestmark = pytest.mark.usefixtures("virtual_time")


def test_every_registered_venue_has_a_row() -> None:
    assert set(ROWS) == set(VENUES)


def connections(row: VenueRow, sim: Any, desired: DesiredState) -> Connections:
    return connect_to(sim, desired, {name: row.credentials(sim, name) for name in desired.accounts})


def desired_for(row: VenueRow, n: int) -> DesiredState:
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", row.venue, "testnet", None, "ACCT", HERE)}
    )
    for i, (underlying, group) in enumerate(row.scopes):
        key = ScopeKey(row.venue, "acct", underlying, group)
        desired.scopes[key] = DesiredScope(key, row.sample(n + i), HERE)
    return desired


@pytest.mark.parametrize(("venue", "reading"), reading_cells())
def test_lifecycle(venue: str, reading: str) -> None:
    """Under each reading of the venue's open questions (tests/venues.py readings). Where the
    venue cannot tell whether a scope is frozen, the scopes a person checked on it are
    included (--include-held), never the one the test froze."""
    row = ROWS[venue]
    sim = simulator_of(venue, reading)
    desired = desired_for(row, 0)
    conns = connections(row, sim, desired)
    caps = capabilities()

    async def go() -> None:
        first = make_plan(desired, await conns.read(), caps)
        assert [s.action for s in first.steps] == [Action.CREATE] * len(row.scopes)
        result = await apply_plan(first, conns, Journal(None))
        assert result.exit_code == 0
        assert not make_plan(desired, await conns.read(), caps).has_changes

        # trip a freeze on the first scope, then change every scope
        frozen_key = next(iter(desired.scopes))
        row.trigger(sim, row.credentials(sim, "acct"), frozen_key)
        changed = desired_for(row, 7)
        live = await conns.read()
        checked = checked_but(live, frozen_key)
        plan = make_plan(changed, live, caps, included=checked)
        actions = {s.key: s.action for s in plan.steps}
        replaces = caps[venue].change is ChangeMode.RESET_THEN_SET
        changing = Action.REPLACE if replaces else Action.UPDATE
        step = next(s for s in plan.steps if s.key == frozen_key)
        if step.written_unknown:  # nothing shows the trigger (REST alone): written, flagged
            assert step.reason.startswith(f"freeze state unknown ({step.freeze.unknown}): ")
            assert all(a is changing for a in actions.values())
            assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
            assert not make_plan(changed, await conns.read(), caps).has_changes
            await conns.aclose()
            return
        assert actions[frozen_key] is Action.HELD
        # a scope whose set may end the frozen one's freeze is held too (Deribit: any)
        reach = caps[venue].set_reset_reach
        reached = {k for k in actions if k != frozen_key and reach.reaches(k, frozen_key)}
        for key, action in actions.items():
            if key != frozen_key:
                assert action is (Action.HELD if key in reached else changing), key
        assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
        after = {s.key: s for s in (await conns.read_account("acct")).scopes}
        told = after[frozen_key].freeze
        assert told.may_be_frozen  # frozen, or unknown: never "not frozen"
        assert truly_frozen(sim, frozen_key, told.frozen)  # and the venue still has it frozen
        assert after[frozen_key].config == desired.scopes[frozen_key].config
        if caps[venue].reset_means is ResetMeaning.UNFREEZE:  # apply never unfreezes
            assert not [r for r in sim.requests if "reset" in r.lower()]
        again = make_plan(changed, await conns.read(), caps, included=checked)
        assert not again.has_changes
        held = sorted({frozen_key, *reached}, key=ScopeKey.sort_key)
        assert [s.key for s in again.steps if s.action is Action.HELD] == held
        await conns.aclose()

    asyncio.run(go())


def checked_but(live: list[LiveAccount], frozen: ScopeKey) -> Inclusion:
    """Every scope whose freeze state the venue cannot tell, but the one the test froze."""
    every = checked(live)
    return replace(every, scopes=tuple(s for s in every.scopes if s != str(frozen)))


@pytest.mark.parametrize(("venue", "reading"), reading_cells())
def test_unmanaged_scopes_are_reported_never_touched(venue: str, reading: str) -> None:
    """An undeclared scope's config, and one on each underlying the reading lists beyond the
    list we knew (the venue publishes its list: it is read, never hard-coded)."""
    row = ROWS[venue]
    sim = simulator_of(venue, reading)
    desired = desired_for(row, 0)
    creds = row.credentials(sim, "acct")
    underlying, group = row.scopes[-1]
    strays = [ScopeKey(row.venue, "acct", underlying, group)]
    del desired.scopes[strays[0]]
    strays += [ScopeKey(row.venue, "acct", u) for u in row.reading(reading).extra_underlyings]
    for stray in strays:
        row.seed(sim, creds, stray, row.sample(3))
    conns = connections(row, sim, desired)

    async def go() -> None:
        plan = make_plan(desired, await conns.read(), capabilities())
        actions = {s.key: s.action for s in plan.steps}
        assert {stray: actions.get(stray) for stray in strays} == dict.fromkeys(
            strays, Action.UNMANAGED
        )
        await apply_plan(plan, conns, Journal(None))
        live = {s.key: s.config for s in (await conns.read_account("acct")).scopes}
        assert [live.get(stray) for stray in strays] == [row.sample(3)] * len(strays)
        await conns.aclose()

    asyncio.run(go())
