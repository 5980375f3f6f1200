"""Convergence, for every input within Deribit's bounds: apply then plan is empty, and no
frozen scope was unfrozen or written."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.executor import apply_plan
from reconciler.journal import Journal
from reconciler.model import MmpConfig, ScopeKey
from reconciler.planner import make_plan
from reconciler.sim.common import Clock
from reconciler.units import MANUAL
from reconciler.venues import capabilities
from reconciler.venues.deribit import wire
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.helpers import sim_connections

HERE = Location("p.yaml", 1, 1)
SCOPES = [
    ("btc_usd", None),
    ("btc_usd", "Bot1"),
    ("eth_usd", None),
    ("eth_usd", "Bot2"),
    ("sol_usdc", None),
]

limit = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**7), places=4)
optional = st.one_of(st.none(), limit)


@st.composite
def configs(draw: Any) -> MmpConfig:
    limits = {
        "quantity_limit": draw(optional),
        "delta_limit": draw(optional),
        "vega_limit": draw(optional),
    }
    if all(v is None for v in limits.values()):
        limits["quantity_limit"] = draw(limit)
    return MmpConfig(
        window_ms=draw(st.integers(1, 3600)) * 1000,
        frozen_ms=draw(st.one_of(st.just(MANUAL), st.integers(1, 3600).map(lambda s: s * 1000))),
        max_quote_quantity=draw(limit),
        **limits,
    )


# per scope: (live config or None, frozen?, desired: config, None = absent, or "skip")
scope_states = st.tuples(
    st.one_of(st.none(), configs()), st.booleans(), st.one_of(st.just("skip"), st.none(), configs())
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scope_states, min_size=len(SCOPES), max_size=len(SCOPES)))
def test_apply_then_plan_is_empty_and_frozen_scopes_untouched(states: list[Any]) -> None:
    sim = DeribitSimulator(clock=Clock(1_700_000_000_000))
    desired = DesiredState(
        accounts={"main": AccountTarget("main", "deribit", "testnet", None, "MAIN", HERE)}
    )
    connections = sim_connections(sim, desired)
    frozen_before = {}
    for (index, group), (live, frozen, want) in zip(SCOPES, states, strict=True):
        key = ScopeKey("deribit", "main", index, group)
        if live is not None:
            sim.seed("id-main", wire.set_params(key, live))
            if frozen:
                sim.trigger("id-main", index, group)
                frozen_before[(index, group)] = dict(
                    sim.accounts["id-main"].configs[(index, group)]
                )
        if want != "skip":
            desired.scopes[key] = DesiredScope(key, want, HERE)

    async def go() -> None:
        plan = make_plan(desired, await connections.read(), capabilities())
        result = await apply_plan(plan, connections, Journal(None))
        assert result.exit_code == 0, [r.detail for r in result.results]
        again = make_plan(desired, await connections.read(), capabilities())
        assert not again.has_changes, [str(s.key) for s in again.writes]
        await connections.aclose()

    asyncio.run(go())
    account = sim.accounts["id-main"]
    for scope, config in frozen_before.items():
        assert scope in account.frozen_until, f"{scope} was unfrozen"
        assert account.configs[scope] == config, f"{scope} was written while frozen"
