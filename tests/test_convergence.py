"""Convergence, for every venue, every reading of its docs' open questions an in-process run
plays (tests/venues.py, VenueRow.readings) and every input within its bounds: apply then plan
is empty, and no frozen scope was unfrozen or written. Where the venue recorded a trigger and
does not tell its end, the scopes a person checked (not frozen) are included (--include-held);
a frozen one never is, and stays held. Where nothing shows a trigger (Bullish's REST while
isActive stays true, no push channel in process), a frozen scope's change is written, flagged
first in the plan: the risk every output names. The default reading draws the most examples;
each other reading fewer (the suite's time)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES, capabilities
from reconciler.venues.base import RemoveMode
from tests.checked import checked
from tests.venues import (
    DEFAULT,
    ROWS,
    connect_to,
    declare_spaces,
    reading_cells,
    simulator_of,
    truly_frozen,
)

HERE = Location("p.yaml", 1, 1)
# in process throughout: every rate-limit wait passes at once on the virtual clock, which
# the simulators' rate limits count by too (tests/clock.py)
pytestmark = pytest.mark.usefixtures("virtual_time")
EXAMPLES = {DEFAULT: 40}  # by reading; any other: OTHER_EXAMPLES
OTHER_EXAMPLES = 12


def test_every_venue_has_a_strategy() -> None:
    assert set(ROWS) == set(VENUES)
    assert all(isinstance(row.configs, st.SearchStrategy) for row in ROWS.values())


@pytest.mark.parametrize(("venue", "reading"), reading_cells())
def test_apply_then_plan_is_empty_and_frozen_scopes_untouched(venue: str, reading: str) -> None:
    @settings(
        max_examples=EXAMPLES.get(reading, OTHER_EXAMPLES),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(data=st.data())
    def example(data: Any) -> None:
        converges(venue, reading, data)

    example()


def converges(venue: str, reading: str, data: Any) -> None:
    row = ROWS[venue]
    configs = row.configs
    # a venue that cannot remove has a config or "skip" on its desired side; others may be absent
    absent_ok = VENUES[venue].capabilities.remove is not RemoveMode.UNSUPPORTED
    wanted = st.one_of(st.just("skip"), configs, *([st.none()] if absent_ok else []))
    sim = simulator_of(venue, reading)
    creds = row.credentials(sim, "acct")
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", venue, "testnet", None, "ACCT", HERE)}
    )
    frozen_before: dict[ScopeKey, MmpConfig] = {}
    for underlying, group in row.scopes:
        key = ScopeKey(venue, "acct", underlying, group)
        live = data.draw(st.one_of(st.none(), configs), label=f"live {key}")
        if live is not None:
            row.seed(sim, creds, key, live)
            # only freezes that outlast the test: a thaw mid-run would (rightly) stop apply
            lasting = live.frozen_ms == MANUAL or int(live.frozen_ms) >= 60_000
            if lasting and data.draw(st.booleans(), label=f"frozen {key}"):
                row.trigger(sim, creds, key)
                frozen_before[key] = live
        want = data.draw(wanted, label=f"desired {key}")
        if want != "skip":
            desired.scopes[key] = DesiredScope(key, want, HERE)
    declare_spaces(desired, "acct")  # a space's scopes read, declared or not
    conns = connect_to(sim, desired, {"acct": creds})

    async def go() -> tuple[dict[ScopeKey, Any], set[ScopeKey]]:
        live = await conns.read()
        every = checked(live)  # a person checked each: all but the frozen ones are not
        included = replace(
            every, scopes=tuple(s for s in every.scopes if s not in map(str, frozen_before))
        )
        plan = make_plan(desired, live, capabilities(), included=included)
        flagged = {s.key for s in plan.written_unknown}
        for step in plan.written_unknown:  # never silently: said first, with why
            assert step.reason.startswith(f"freeze state unknown ({step.freeze.unknown}): ")
        result = await apply_plan(plan, conns, Journal(None))
        assert result.exit_code == 0, [r.detail for r in result.results]
        again = make_plan(desired, await conns.read(), capabilities(), included=included)
        assert not again.has_changes, [str(s.key) for s in again.writes]
        final = {s.key: s for s in (await conns.read_account("acct")).scopes}
        await conns.aclose()
        return final, flagged

    final, flagged = asyncio.run(go())
    for key, config in frozen_before.items():
        if key in flagged:  # nothing showed its trigger: written, as the plan said first
            continue
        told = final[key].freeze
        assert told.may_be_frozen and truly_frozen(sim, key, told.frozen), f"{key} unfrozen"
        assert final[key].config == config, f"{key} was written while frozen"
