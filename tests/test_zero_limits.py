"""A live limit of "0" whose meaning the venue's docs leave open (red team of issue 19).

No venue mmp drives documents "0" as no limit: Binance's qtyLimit and deltaLimit must be
> 0 (its FAQ), Bullish's quantityLimit > 0 if set (its deltaLimit has no rule), Aevo's
amount_limit and delta_limit have no rule at all (seed-venues.md 2.2, 3.2, 4.2). A live "0"
is then no limit, or a limit of zero, the tightest there is: each simulator plays both
(`limit`, the default, and `none`). Under both, a change from it has no known direction:
`mmp plan` says so, the guardrails count it a loosening (say why, not "beyond any ratio"),
and heal leaves it; a policy without the limit matches a "0" the venue reports for a limit
never set (Bullish both, Aevo delta_limit), as a write without it reads back so."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from reconciler.core.model import NOT_FROZEN, LiveAccount, MmpConfig, ScopeKey
from reconciler.planning.heal import Why, select
from reconciler.planning.plan import Action, Direction, Step
from reconciler.planning.planner import make_plan
from reconciler.planning.render.text import render
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from tests.venues import ROWS, connect_to


class Zero(NamedTuple):
    venue: str
    field: str  # mmp's name
    wire: str  # the venue's, in the simulator's stored config
    switch: str  # the simulator's reading of a live "0"
    read_as: Decimal | None  # what mmp reads "0" as
    fill: tuple[Decimal, Decimal]  # (quantity, delta) of a fill only a limit of zero trips


SMALL_QUANTITY = (Decimal(1), Decimal(0))
SMALL_DELTA = (Decimal(1), Decimal(1))
ZEROS = (
    Zero("aevo", "quantity_limit", "amount_limit", "amount_zero", Decimal(0), SMALL_QUANTITY),
    Zero("aevo", "delta_limit", "delta_limit", "delta_zero", None, SMALL_DELTA),
    Zero("binance", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY),
    Zero("binance", "delta_limit", "deltaLimit", "delta_zero", Decimal(0), SMALL_DELTA),
    Zero("bullish", "quantity_limit", "quantityLimit", "quantity_zero", None, SMALL_QUANTITY),
    Zero("bullish", "delta_limit", "deltaLimit", "delta_zero", None, SMALL_DELTA),
)
CASES = [
    pytest.param(zero, reading, id=f"{zero.venue}-{zero.wire}-{reading}")
    for zero in ZEROS
    for reading in ("limit", "none")
]
UNDERLYING = {"aevo": "ETH", "binance": "BTCUSDT", "bullish": "BTC"}
SET = MmpConfig(3000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(5))
HEAL = guards.Guardrails.model_validate({"heal": {"enabled": True}})


def _key(venue: str) -> ScopeKey:
    return ScopeKey(venue, "acct", UNDERLYING[venue])


def _desired(venue: str, config: MmpConfig) -> DesiredState:
    where = Location("p", 1, 1)
    return DesiredState(
        accounts={"acct": AccountTarget("acct", venue, "testnet", None, "ACCT", where)},
        scopes={_key(venue): DesiredScope(_key(venue), config, where)},
    )


def _zeroed(zero: Zero, reading: str) -> tuple[Any, list[LiveAccount]]:
    """The venue holding SET with one limit at "0" (set elsewhere, or never set), under the
    reading; and mmp's read of it, known not frozen (Bullish's REST cannot tell)."""
    row = ROWS[zero.venue]
    sim = row.make(**{zero.switch: reading})
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, _key(zero.venue), SET)
    [account] = sim.accounts.values()
    account.configs[UNDERLYING[zero.venue]][zero.wire] = "0"
    read = asyncio.run(connect_to(sim, _desired(zero.venue, SET), {"acct": creds}).read())
    live = [dataclasses.replace(a, scopes=tuple(replace_freeze(s) for s in a.scopes)) for a in read]
    return sim, live


def replace_freeze(scope: Any) -> Any:
    return dataclasses.replace(scope, freeze=NOT_FROZEN)


def _step(live: list[LiveAccount], venue: str, desired: MmpConfig) -> Step:
    [step] = make_plan(_desired(venue, desired), live, capabilities()).steps
    return step


@pytest.mark.parametrize(("zero", "reading"), CASES)
def test_a_live_zero_limit_has_no_known_direction_under_either_reading(
    zero: Zero, reading: str
) -> None:
    sim, live = _zeroed(zero, reading)
    [scope] = live[0].scopes
    assert scope.config is not None
    assert scope.config.value(zero.field) == zero.read_as
    # putting the reviewed limit back: tightening if "0" is no limit, loosening if it is a
    # limit of zero; no one can say which
    step = _step(live, zero.venue, SET)
    assert step.action in (Action.UPDATE, Action.REPLACE)
    [change] = step.changes
    assert (change.field, change.direction) == (zero.field, Direction.UNKNOWN)
    assert change.note.startswith(f'{capabilities()[zero.venue].venue.title()} {zero.wire} "0"')
    assert step.loosening
    plan = make_plan(_desired(zero.venue, SET), live, capabilities())
    assert f"direction unknown ({change.note})" in render(plan)
    # the guardrails count it a loosening, and say why
    shown = "(none)" if zero.read_as is None else "0"
    trip = f"{_key(zero.venue)}: {zero.field} {shown} -> {SET.value(zero.field)}"
    assert guards.check(plan, guards.Guardrails()) == [f"{trip}: direction unknown ({change.note})"]
    # heal leaves it, and says why
    healing = select(plan, _desired(zero.venue, SET), HEAL, caps=capabilities())
    assert healing.healed == ()
    [left] = healing.left
    assert left.why is Why.UNKNOWN and change.note in left.detail
    # the venue's own truth: a fill only a limit of zero trips
    quantity, delta = zero.fill
    [key] = sim.accounts
    assert sim.fill(key, UNDERLYING[zero.venue], quantity=quantity, delta=delta) is (
        reading == "limit"
    )


NEVER_SET = [
    pytest.param(zero, reading, id=f"{zero.venue}-{zero.wire}-{reading}")
    for zero in ZEROS
    if zero.read_as is None
    for reading in ("limit", "none")
]


@pytest.mark.parametrize(("zero", "reading"), NEVER_SET)
def test_a_zero_the_venue_reports_for_a_limit_never_set_matches_a_policy_without_it(
    zero: Zero, reading: str
) -> None:
    """A write without the limit reads back "0": the policy matches it, under both readings
    (mmp cannot write anything else for "no such limit")."""
    _, live = _zeroed(zero, reading)
    without = SET.with_changes(**{zero.field: None})
    assert _step(live, zero.venue, without).action is Action.UNCHANGED


@pytest.mark.parametrize("zero", ZEROS, ids=lambda z: f"{z.venue}-{z.wire}")
def test_from_a_live_limit_other_than_zero_the_direction_is_known(zero: Zero) -> None:
    """Only the 0 is open: from 5 (or 10), lowering tightens and raising loosens."""
    row = ROWS[zero.venue]
    sim = row.make()
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, _key(zero.venue), SET)
    read = asyncio.run(connect_to(sim, _desired(zero.venue, SET), {"acct": creds}).read())
    live = [dataclasses.replace(a, scopes=tuple(replace_freeze(s) for s in a.scopes)) for a in read]
    had = SET.value(zero.field)
    assert isinstance(had, Decimal)
    for factor, way in ((Decimal("0.5"), Direction.TIGHTENING), (2, Direction.LOOSENING)):
        wanted = SET.with_changes(**{zero.field: had * factor})
        [change] = _step(live, zero.venue, wanted).changes
        assert change.direction is way


def test_the_red_teams_aevo_asset_with_both_limits_at_zero() -> None:
    """Aevo ETH live with amount_limit "0" and delta_limit "0" (no limits at all if 0 means
    none): heal left it as 'loosens quantity_limit 0 -> 1.25', and the guardrails called
    restoring it 'raised 0 -> 1.25 (from 0: beyond any ratio)'. Now both changes are
    direction unknown, said why."""
    row = ROWS["aevo"]
    sim = row.make()
    creds = row.credentials(sim, "acct")
    policy = MmpConfig(3000, 5000, quantity_limit=Decimal("1.25"), delta_limit=Decimal("0.5"))
    row.seed(sim, creds, _key("aevo"), policy)
    [account] = sim.accounts.values()
    account.configs["ETH"].update(amount_limit="0", delta_limit="0")
    read = asyncio.run(connect_to(sim, _desired("aevo", policy), {"acct": creds}).read())
    plan = make_plan(_desired("aevo", policy), read, capabilities())
    [step] = plan.steps
    assert [(c.field, c.direction) for c in step.changes] == [
        ("quantity_limit", Direction.UNKNOWN),
        ("delta_limit", Direction.UNKNOWN),
    ]
    trips = guards.check(plan, guards.Guardrails())
    assert trips and not any("beyond any ratio" in t for t in trips)
    assert all("direction unknown" in t for t in trips)
    [left] = select(plan, _desired("aevo", policy), HEAL, caps=capabilities()).left
    assert left.why is Why.UNKNOWN
    assert left.detail.startswith("direction unknown: quantity_limit 0 -> 1.25 (Aevo")
