"""The planner: actions, held frozen scopes, unmanaged scopes, filters, order, direction."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.plan import Action, Direction, Plan
from reconciler.planning.planner import Filters, direction, field_changes, make_plan
from reconciler.policy.desired import DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from reconciler.venues.base import Undocumented

HERE = Location("p.yaml", 1, 1)
A = MmpConfig(1000, 30_000, quantity_limit=Decimal(5), max_quote_quantity=Decimal(2))
B = MmpConfig(1000, 30_000, quantity_limit=Decimal(4), max_quote_quantity=Decimal(2))


def key(underlying: str = "btc_usd", account: str = "main", group: str | None = None) -> ScopeKey:
    return ScopeKey("deribit", account, underlying, group)


def plan_for(
    desired: dict[ScopeKey, MmpConfig | None],
    live: list[LiveScope],
    filters: Filters | None = None,
    absent: tuple[str, ...] = (),
) -> Plan:
    state = DesiredState(
        scopes={k: DesiredScope(k, c, HERE) for k, c in desired.items()},
        absent_underlyings={("main", u): HERE for u in absent},
    )
    accounts = sorted({k.account for k in desired} | {s.key.account for s in live})
    live_accounts = [
        LiveAccount("deribit", a, tuple(s for s in live if s.key.account == a)) for a in accounts
    ]
    return make_plan(state, live_accounts, capabilities(), filters or Filters())


def actions(plan: Plan) -> dict[str, str]:
    return {str(s.key): s.action.value for s in plan.steps}


def test_each_action() -> None:
    plan = plan_for(
        {key(): A, key("eth_usd"): A, key("sol_usdc"): None, key("ada_usdc"): A},
        [
            LiveScope(key(), B),
            LiveScope(key("sol_usdc"), A),
            LiveScope(key("ada_usdc"), A),
            LiveScope(key("xrp_usdc"), A),
        ],
    )
    assert actions(plan) == {
        "deribit/main/eth_usd": "create",
        "deribit/main/btc_usd": "update",
        "deribit/main/sol_usdc": "remove",
        "deribit/main/xrp_usdc": "unmanaged",
        "deribit/main/ada_usdc": "unchanged",
    }
    assert [s.action for s in plan.steps] == [
        Action.CREATE,
        Action.UPDATE,
        Action.REMOVE,
        Action.UNMANAGED,
        Action.UNCHANGED,
    ]


def test_frozen_scope_is_held_whatever_the_write() -> None:
    frozen = FreezeState(True, None)
    plan = plan_for(
        {key(): A, key("eth_usd"): None, key("sol_usdc"): A},
        [
            LiveScope(key(), B, frozen),
            LiveScope(key("eth_usd"), A, frozen),
            LiveScope(key("sol_usdc"), None, frozen),
        ],
    )
    held = {str(s.key): s.held_action for s in plan.steps if s.action is Action.HELD}
    assert held == {
        "deribit/main/btc_usd": Action.UPDATE,
        "deribit/main/eth_usd": Action.REMOVE,
        "deribit/main/sol_usdc": Action.CREATE,
    }
    assert not plan.has_changes


def test_absent_underlying_removes_every_group_but_nothing_else() -> None:
    live = [
        LiveScope(key("eth_usd"), A),
        LiveScope(key("eth_usd", group="Bot"), A),
        LiveScope(key("btc_usd", group="Bot2"), A),
    ]
    plan = plan_for({}, live, absent=("eth_usd",))
    assert actions(plan) == {
        "deribit/main/eth_usd": "remove",
        "deribit/main/eth_usd/Bot": "remove",
        "deribit/main/btc_usd/Bot2": "unmanaged",
    }


def test_filtered_run_never_removes_and_says_so() -> None:
    plan = plan_for(
        {key(): A, key("eth_usd"): None},
        [LiveScope(key("eth_usd"), A)],
        Filters(accounts=frozenset({"main"})),
    )
    assert actions(plan) == {"deribit/main/btc_usd": "create"}
    assert plan.notes[0].startswith("filtered run")
    assert "deribit/main/eth_usd" in plan.notes[1]
    assert plan.filters == {"account": ["main"]}


def test_underlying_filter() -> None:
    plan = plan_for({key(): A, key("eth_usd"): A}, [], Filters(underlyings=frozenset({"eth_usd"})))
    assert actions(plan) == {"deribit/main/eth_usd": "create"}


def test_equal_decimals_are_unchanged() -> None:
    live = MmpConfig(
        1000, 30_000, quantity_limit=Decimal("5.00"), max_quote_quantity=Decimal("2.0")
    )
    assert actions(plan_for({key(): A}, [LiveScope(key(), live)])) == {
        "deribit/main/btc_usd": "unchanged"
    }


def test_fingerprint_follows_live_state_only() -> None:
    one = plan_for({key(): A}, [LiveScope(key(), B)])
    two = plan_for({key(): B}, [LiveScope(key(), B)])
    moved = plan_for({key(): A}, [LiveScope(key(), A)])
    frozen = plan_for({key(): A}, [LiveScope(key(), B, FreezeState(True, 5))])
    assert one.fingerprint == two.fingerprint
    assert len({one.fingerprint, moved.fingerprint, frozen.fingerprint}) == 3


def test_plan_round_trips_through_data() -> None:
    plan = plan_for({key(): A, key("eth_usd"): A}, [LiveScope(key(), B, FreezeState(True, None))])
    assert Plan.from_data(plan.to_data()) == plan


def test_direction_rules() -> None:
    assert direction("window", 1000, 2000) is Direction.TIGHTENING
    assert direction("window", 2000, 1000) is Direction.LOOSENING
    assert direction("frozen", 30_000, MANUAL) is Direction.TIGHTENING
    assert direction("frozen", MANUAL, 30_000) is Direction.LOOSENING
    assert direction("quantity_limit", Decimal(5), Decimal(4)) is Direction.TIGHTENING
    assert direction("quantity_limit", None, Decimal(4)) is Direction.TIGHTENING
    assert direction("quantity_limit", Decimal(4), None) is Direction.LOOSENING


ZERO_OPEN: Undocumented = {"quantity_limit": {Decimal(0): "q 0 is undocumented", None: "q unset"}}


def test_a_change_from_a_live_zero_of_undocumented_meaning_has_no_direction() -> None:
    """From a 0 the venue's docs leave open (`undocumented`), or from a limit a live config
    lacks where the map lists None (the venue reports one never set as that 0): direction
    unknown, said why. A create, a field the map does not name, and a venue without the map
    keep their way."""
    live = MmpConfig(1000, 1000, quantity_limit=Decimal(0), delta_limit=Decimal(2))
    wanted = MmpConfig(1000, 1000, quantity_limit=Decimal(3), delta_limit=Decimal(1))
    for before, note in (
        (live, "q 0 is undocumented"),
        (live.with_changes(quantity_limit=None), "q unset"),
    ):
        quantity, delta = field_changes(before, wanted, ZERO_OPEN)
        assert (quantity.direction, quantity.note) == (Direction.UNKNOWN, note)
        assert delta.direction is Direction.TIGHTENING
        assert field_changes(before, wanted)[0].direction is not Direction.UNKNOWN
    created = field_changes(None, wanted, ZERO_OPEN)
    assert {c.direction for c in created} == {Direction.TIGHTENING}
    window_only = field_changes(live.with_changes(window_ms=2000), live, ZERO_OPEN)
    assert [c.direction for c in window_only] == [Direction.LOOSENING]


def test_a_limit_a_live_config_lacks_is_looked_up_as_none_not_as_zero() -> None:
    """Only a None key marks a limit added to a live config lacking it: a map with a live 0
    alone (Deribit's, which omits a limit never set) leaves the addition tightening, and a
    map with None alone leaves a change from a live 0 its direction."""
    live = MmpConfig(1000, 1000, quantity_limit=None)
    wanted = live.with_changes(quantity_limit=Decimal(3))
    for zero in (0, Decimal(0)):
        [added] = field_changes(live, wanted, {"quantity_limit": {zero: "q 0"}})
        assert (added.direction, added.note) == (Direction.TIGHTENING, "")
    unset_only: Undocumented = {"quantity_limit": {None: "q unset"}}
    [raised] = field_changes(live.with_changes(quantity_limit=Decimal(0)), wanted, unset_only)
    assert (raised.direction, raised.note) == (Direction.LOOSENING, "")


limits = st.one_of(
    st.none(), st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)
)
configs = st.builds(
    MmpConfig,
    window_ms=st.integers(1, 3600).map(lambda s: s * 1000),
    frozen_ms=st.one_of(st.just(MANUAL), st.integers(1, 3600).map(lambda s: s * 1000)),
    quantity_limit=limits,
    delta_limit=limits,
    vega_limit=limits,
    max_quote_quantity=limits,
)


@given(configs, configs)
def test_a_change_and_its_reverse_have_opposite_directions(a: MmpConfig, b: MmpConfig) -> None:
    forward = plan_for({key(): b}, [LiveScope(key(), a)])
    backward = plan_for({key(): a}, [LiveScope(key(), b)])
    if a == b:
        assert not forward.has_changes and not backward.has_changes
        return
    there = {c.field: c.direction for c in forward.steps[0].changes}
    back = {c.field: c.direction for c in backward.steps[0].changes}
    assert there.keys() == back.keys() and there
    for name, way in there.items():
        assert way is not back[name], name


@given(
    st.lists(st.sampled_from(["btc_usd", "eth_usd", "sol_usdc", "ada_usdc"]), unique=True), configs
)
def test_order_is_deterministic(underlyings: list[str], config: MmpConfig) -> None:
    desired: dict[ScopeKey, MmpConfig | None] = {key(u): config for u in underlyings}
    live = [LiveScope(key(u), A) for u in reversed(underlyings)]
    first = plan_for(desired, live)
    again = plan_for(dict(reversed(list(desired.items()))), list(reversed(live)))
    assert first == again
