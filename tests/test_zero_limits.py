"""A live limit of "0" whose meaning the venue's docs leave open (red team of issue 19).

No venue mmp drives documents "0" as no limit: Binance's qtyLimit and deltaLimit must be
> 0 (its FAQ), Bullish's quantityLimit > 0 if set (its deltaLimit has no rule), Aevo's
amount_limit and delta_limit have no rule at all (seed-venues.md 2.2, 3.2, 4.2); Deribit's
quantity, delta and vega limits are positive, its max_quote_quantity has no rule, Block
RFQ's trade_count_limit is 1..1000 (1.2); OKX's qtyLimit must be > 0 (more-venues.md 1.3);
Bybit's qtyLimit, deltaLimit and vegaLimit are positive (2.3). A live "0" is then no limit,
or a limit of zero, the tightest there is: each simulator plays both (`limit`, the default,
and `none`). Under both, it is read (never a failed read: OKX's failed the account), a
change from it has no known direction: `mmp plan` says so, the guardrails count it a
loosening (say why, not "beyond any ratio"), and heal leaves it; a policy without the limit
matches a "0" the venue reports for a limit never set (Bullish both, Aevo delta_limit), as
a write without it reads back so. Deribit omits a limit never set: adding one still
tightens."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from reconciler.core.model import NOT_FROZEN, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.planning.heal import Why, select
from reconciler.planning.plan import Action, Direction, Step
from reconciler.planning.planner import make_plan
from reconciler.planning.render.text import render
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from reconciler.venues.deribit import wire as deribit_wire
from reconciler.venues.okx import wire as okx_wire
from tests.venue_limits import Zero
from tests.venues import ROWS, connect_to

ZEROS = tuple(zero for row in ROWS.values() for zero in row.zeros)
CASES = [
    pytest.param(zero, reading, id=f"{zero.venue}-{zero.wire}-{reading}")
    for zero in ZEROS
    for reading in ("limit", "none")
]
# the reviewed config of a scope: each limit its venue's docs give it, at these
REVIEWED = MmpConfig(3000, 5000)
LIMITS = {
    "quantity_limit": Decimal(10),
    "delta_limit": Decimal(5),
    "vega_limit": Decimal(7),
    "max_quote_quantity": Decimal(25),
    "trade_count_limit": Decimal(20),
}
HEAL = guards.Guardrails.model_validate({"heal": {"enabled": True}})


def _reviewed(key: ScopeKey) -> MmpConfig:
    limits = ROWS[key.venue].limits_of(key.underlying)
    return REVIEWED.with_changes(**{name: LIMITS[name] for name in limits})


def _set(zero: Zero) -> MmpConfig:
    return _reviewed(_key(zero))


def _key(zero: Zero) -> ScopeKey:
    return ScopeKey(zero.venue, "acct", zero.underlying)


def _at(venue: str, underlying: str) -> ScopeKey:
    return ScopeKey(venue, "acct", underlying)


def _desired(key: ScopeKey, config: MmpConfig) -> DesiredState:
    where = Location("p", 1, 1)
    return DesiredState(
        accounts={"acct": AccountTarget("acct", key.venue, "testnet", None, "ACCT", where)},
        scopes={key: DesiredScope(key, config, where)},
    )


def _stored(sim: Any, key: ScopeKey) -> tuple[dict[str, Any], object]:
    """The simulator's stored config of the scope, and how it holds a 0 (Deribit: a
    number; the others: the wire's string)."""
    [account] = sim.accounts.values()
    if key.venue != "deribit":
        return account.configs[key.underlying], "0"
    if key.underlying.startswith("block_rfq:"):
        return account.rfq_configs[key.underlying.split(":")[1]], 0
    return account.configs[(key.underlying, None)], Decimal(0)


def _read(sim: Any, creds: Any, key: ScopeKey, config: MmpConfig) -> list[LiveAccount]:
    """mmp's read of the venue, known not frozen (Bullish's REST cannot tell)."""
    read = asyncio.run(connect_to(sim, _desired(key, config), {"acct": creds}).read())
    return [dataclasses.replace(a, scopes=tuple(replace_freeze(s) for s in a.scopes)) for a in read]


def _zeroed(zero: Zero, reading: str) -> tuple[Any, list[LiveAccount]]:
    """The venue holding its SET with one limit at "0" (set elsewhere, or never set), under
    the reading; and mmp's read of it."""
    sim, creds = _holding_zero(zero, reading)
    return sim, _read(sim, creds, _key(zero), _set(zero))


def _holding_zero(zero: Zero, reading: str) -> tuple[Any, Any]:
    """The venue holding its SET with one limit at "0", and the account's credentials."""
    row, key = ROWS[zero.venue], _key(zero)
    sim = row.make(**{zero.switch: reading})
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, key, _set(zero))
    stored, zero_as = _stored(sim, key)
    stored[zero.wire] = zero_as
    return sim, creds


def replace_freeze(scope: Any) -> Any:
    return dataclasses.replace(scope, freeze=NOT_FROZEN)


def _step(live: list[LiveAccount], key: ScopeKey, desired: MmpConfig) -> Step:
    [step] = make_plan(_desired(key, desired), live, capabilities()).steps
    return step


@pytest.mark.parametrize(("zero", "reading"), CASES)
def test_a_live_zero_limit_has_no_known_direction_under_either_reading(
    zero: Zero, reading: str
) -> None:
    sim, live = _zeroed(zero, reading)
    key, reviewed = _key(zero), _set(zero)
    [scope] = live[0].scopes
    assert scope.config is not None
    assert scope.config.value(zero.field) == zero.read_as
    # putting the reviewed limit back: tightening if "0" is no limit, loosening if it is a
    # limit of zero; no one can say which
    step = _step(live, key, reviewed)
    assert step.action in (Action.UPDATE, Action.REPLACE)
    [change] = step.changes
    assert (change.field, change.direction) == (zero.field, Direction.UNKNOWN)
    name = ROWS[zero.venue].notes_name
    assert change.note.startswith(f'{name} {zero.wire} "0" is undocumented')
    assert step.loosening
    plan = make_plan(_desired(key, reviewed), live, capabilities())
    assert f"direction unknown ({change.note})" in render(plan)
    # the guardrails count it a loosening, and say why
    shown = "(none)" if zero.read_as is None else "0"
    trip = f"{key}: {zero.field} {shown} -> {reviewed.value(zero.field)}"
    assert guards.check(plan, guards.Guardrails()) == [f"{trip}: direction unknown ({change.note})"]
    # heal leaves it, and says why
    healing = select(plan, _desired(key, reviewed), HEAL, caps=capabilities())
    assert healing.healed == ()
    [left] = healing.left
    assert left.why is Why.UNKNOWN and change.note in left.detail
    # the venue's own truth: a fill only a limit of zero trips (a quote only it refuses)
    [account] = sim.accounts
    assert zero.acts(sim, account, zero.underlying) is (reading == "limit")


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
    without = _set(zero).with_changes(**{zero.field: None})
    assert _step(live, _key(zero), without).action is Action.UNCHANGED


@pytest.mark.parametrize("zero", ZEROS, ids=lambda z: f"{z.venue}-{z.wire}")
def test_from_a_live_limit_other_than_zero_the_direction_is_known(zero: Zero) -> None:
    """Only the 0 is open: from 5 (or 10, 20, 25), lowering tightens and raising loosens."""
    row, key, reviewed = ROWS[zero.venue], _key(zero), _set(zero)
    sim = row.make()
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, key, reviewed)
    live = _read(sim, creds, key, reviewed)
    had = reviewed.value(zero.field)
    assert isinstance(had, Decimal)
    for factor, way in ((Decimal("0.5"), Direction.TIGHTENING), (2, Direction.LOOSENING)):
        wanted = reviewed.with_changes(**{zero.field: had * factor})
        [change] = _step(live, key, wanted).changes
        assert change.direction is way


# what a limit a live config lacks stands for (tests/venue_limits.py Limit.none_is): a limit
# the venue omits when never set (adding one tightens), or a "0" it reports for one never
# set, read as none (adding one: direction unknown); "" where the venue always reports it
LACKING = {"never set": Direction.TIGHTENING, "0": Direction.UNKNOWN}


@pytest.mark.parametrize("zero", ZEROS, ids=lambda z: f"{z.venue}-{z.wire}")
def test_the_planners_direction_from_a_value_a_zero_and_a_limit_the_config_lacks(
    zero: Zero,
) -> None:
    """The planner alone, on a live config it is given, for a tighter and a looser reviewed
    limit: from a value, known; from a live 0, unknown; from a limit the live config lacks,
    as the venue's docs make it (LACKING). The venue's `undocumented` lists a limit lacking
    under None, never under 0: Deribit's lists its live 0 (a Decimal 0, equal to the int 0),
    so a planner looking a lacking limit up as 0 again would call adding one unknown there."""
    had = _set(zero).value(zero.field)
    assert isinstance(had, Decimal)
    assert _ways(zero, had) == (Direction.TIGHTENING, Direction.LOOSENING)
    if zero.read_as is not None:
        assert _ways(zero, zero.read_as) == (Direction.UNKNOWN, Direction.UNKNOWN)
    lacking = LACKING.get(ROWS[zero.venue].limits_of(zero.underlying)[zero.field].none_is)
    if lacking is not None:
        assert _ways(zero, None) == (lacking, lacking)


def _ways(zero: Zero, live: Decimal | None) -> tuple[Direction, ...]:
    """The planner's direction for a tighter, then a looser reviewed limit (half, double),
    from the reviewed config holding `live` for it (None: lacking it)."""
    key, reviewed = _key(zero), _set(zero)
    had = reviewed.value(zero.field)
    assert isinstance(had, Decimal)
    scope = LiveScope(key, reviewed.with_changes(**{zero.field: live}), NOT_FROZEN)
    return tuple(
        change.direction
        for wanted in (had / 2, had * 2)
        for change in _step(
            [LiveAccount(key.venue, "acct", (scope,))],
            key,
            reviewed.with_changes(**{zero.field: wanted}),
        ).changes
    )


@pytest.mark.parametrize("field", ["quantity_limit", "delta_limit", "vega_limit"])
def test_a_limit_added_where_deribit_omits_one_still_tightens(field: str) -> None:
    """Deribit omits a limit never set (no limit: seed-venues.md 1.2), unlike a "0" it
    reports: adding one tightens, and heal heals it."""
    row, key = ROWS["deribit"], _at("deribit", "btc_usd")
    reviewed = _reviewed(key)
    without = reviewed.with_changes(**{field: None})
    sim = row.make()
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, key, without)
    live = _read(sim, creds, key, reviewed)
    [scope] = live[0].scopes
    assert scope.config is not None and scope.config.value(field) is None
    step = _step(live, key, reviewed)
    assert [(c.field, c.direction) for c in step.changes] == [(field, Direction.TIGHTENING)]
    plan = make_plan(_desired(key, reviewed), live, capabilities())
    healing = select(plan, _desired(key, reviewed), HEAL, caps=capabilities())
    assert [h.step.key for h in healing.healed] == [key]


def test_okx_reads_an_account_with_a_live_qtylimit_of_zero() -> None:
    """A live qtyLimit "0" with timeInterval above 0 failed OKX's read as malformed ('is not
    above 0'): every plan, apply and status of the account. It is read, next to the
    account's other families."""
    row, key = ROWS["okx"], _at("okx", "BTC-USD")
    sim = row.make()
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, key, _reviewed(key))
    row.seed(sim, creds, _at("okx", "ETH-USD"), _reviewed(key))
    stored, zero_as = _stored(sim, key)
    stored["qtyLimit"] = zero_as
    [account] = _read(sim, creds, key, _reviewed(key))
    limits = {s.key.underlying: s.config and s.config.quantity_limit for s in account.scopes}
    assert limits == {"BTC-USD": Decimal(0), "ETH-USD": Decimal(10)}


def test_the_red_teams_aevo_asset_with_both_limits_at_zero() -> None:
    """Aevo ETH live with amount_limit "0" and delta_limit "0" (no limits at all if 0 means
    none): heal left it as 'loosens quantity_limit 0 -> 1.25', and the guardrails called
    restoring it 'raised 0 -> 1.25 (from 0: beyond any ratio)'. Now both changes are
    direction unknown, said why."""
    row = ROWS["aevo"]
    sim = row.make()
    creds = row.credentials(sim, "acct")
    policy = MmpConfig(3000, 5000, quantity_limit=Decimal("1.25"), delta_limit=Decimal("0.5"))
    row.seed(sim, creds, _at("aevo", "ETH"), policy)
    [account] = sim.accounts.values()
    account.configs["ETH"].update(amount_limit="0", delta_limit="0")
    desired = _desired(_at("aevo", "ETH"), policy)
    read = asyncio.run(connect_to(sim, desired, {"acct": creds}).read())
    plan = make_plan(desired, read, capabilities())
    [step] = plan.steps
    assert [(c.field, c.direction) for c in step.changes] == [
        ("quantity_limit", Direction.UNKNOWN),
        ("delta_limit", Direction.UNKNOWN),
    ]
    trips = guards.check(plan, guards.Guardrails())
    assert trips and not any("beyond any ratio" in t for t in trips)
    assert all("direction unknown" in t for t in trips)
    [left] = select(plan, desired, HEAL, caps=capabilities()).left
    assert left.why is Why.UNKNOWN
    assert left.detail.startswith("direction unknown: quantity_limit 0 -> 1.25 (Aevo")


REMOVABLE = [z for z in ZEROS if z.venue in ("okx", "deribit")]


@pytest.mark.parametrize("zero", REMOVABLE, ids=lambda z: f"{z.venue}-{z.wire}")
def test_a_scope_with_a_live_zero_can_be_removed(zero: Zero) -> None:
    """A removal repeats the old config, which a set may not carry with a 0 (the docs:
    positive): it carries 1 in its place, the venue takes it, and the scope has no config."""
    sim, creds = _holding_zero(zero, "limit")
    key = _key(zero)
    [scope] = _read(sim, creds, key, _set(zero))[0].scopes
    assert scope.config is not None
    [account] = sim.accounts
    if zero.venue == "okx":
        body = okx_wire.remove_body(key, scope.config)
        assert body["timeInterval"] == "0" and body["qtyLimit"] == "1"
        sim.seed(account, body)
    else:
        params = deribit_wire.remove_params(key, scope.config)
        assert params["interval"] == 0 and params[zero.field] == 1
        sim.seed(account, params)
    [after] = _read(sim, creds, key, _set(zero))
    assert [s.config for s in after.scopes if s.key == key] in ([], [None])
