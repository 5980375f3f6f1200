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
from collections.abc import Callable
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
from reconciler.venues.deribit import wire as deribit_wire
from reconciler.venues.okx import wire as okx_wire
from tests.venues import ROWS, connect_to


class Zero(NamedTuple):
    venue: str
    field: str  # mmp's name
    wire: str  # the venue's, in the simulator's stored config
    switch: str  # the simulator's reading of a live "0"
    read_as: Decimal | None  # what mmp reads "0" as
    # the venue's own truth (sim, key, underlying): True where only a limit of zero acts
    # (a fill trips it, a quote does not fit under it)
    acts: Callable[[Any, str, str], bool]
    underlying: str = ""  # the scope's, where not UNDERLYING[venue]


def _fill(**amounts: Any) -> Callable[[Any, str, str], bool]:
    return lambda sim, key, underlying: bool(sim.fill(key, underlying, **amounts))


SMALL_QUANTITY = _fill(quantity=Decimal(1), delta=Decimal(0))
SMALL_DELTA = _fill(quantity=Decimal(1), delta=Decimal(1))
SMALL_VEGA = _fill(quantity=Decimal(1), delta=Decimal(1), vega=Decimal(1))
RFQ_ALL = "block_rfq:all"
ZEROS = (
    Zero("aevo", "quantity_limit", "amount_limit", "amount_zero", Decimal(0), SMALL_QUANTITY),
    Zero("aevo", "delta_limit", "delta_limit", "delta_zero", None, SMALL_DELTA),
    Zero("binance", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY),
    Zero("binance", "delta_limit", "deltaLimit", "delta_zero", Decimal(0), SMALL_DELTA),
    Zero("bullish", "quantity_limit", "quantityLimit", "quantity_zero", None, SMALL_QUANTITY),
    Zero("bullish", "delta_limit", "deltaLimit", "delta_zero", None, SMALL_DELTA),
    Zero("okx", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY),
    Zero("bybit", "quantity_limit", "qtyLimit", "qty_zero", Decimal(0), SMALL_QUANTITY),
    Zero("bybit", "delta_limit", "deltaLimit", "delta_zero", Decimal(0), SMALL_DELTA),
    Zero("bybit", "vega_limit", "vegaLimit", "vega_zero", Decimal(0), SMALL_VEGA),
    *[
        Zero("deribit", name, name, switch, Decimal(0), fill)
        for name, switch, fill in (
            ("quantity_limit", "quantity_zero", SMALL_QUANTITY),
            ("delta_limit", "delta_zero", SMALL_DELTA),
            ("vega_limit", "vega_zero", SMALL_VEGA),
        )
    ],
    Zero(
        "deribit",
        "max_quote_quantity",
        "max_quote_quantity",
        "quote_zero",
        Decimal(0),
        lambda sim, key, underlying: not sim.quote_fits(key, underlying, Decimal(1)),
    ),
    Zero(
        "deribit",
        "trade_count_limit",
        "trade_count_limit",
        "trade_count_zero",
        Decimal(0),
        lambda sim, key, _: bool(sim.fill(key, "all", quantity=Decimal(0), block_rfq=True)),
        RFQ_ALL,
    ),
)
CASES = [
    pytest.param(zero, reading, id=f"{zero.venue}-{zero.wire}-{reading}")
    for zero in ZEROS
    for reading in ("limit", "none")
]
UNDERLYING = {
    "aevo": "ETH",
    "binance": "BTCUSDT",
    "bullish": "BTC",
    "okx": "BTC-USD",
    "bybit": "BTC",
    "deribit": "btc_usd",
}
NAMES = {"okx": "OKX"}  # the venue as its notes spell it, where not title case
SET = MmpConfig(3000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(5))
SETS = {  # the reviewed config, where not SET: each venue's required limits
    "okx": MmpConfig(3000, 5000, quantity_limit=Decimal(10)),
    "bybit": SET.with_changes(vega_limit=Decimal(7)),
    "deribit": SET.with_changes(vega_limit=Decimal(7), max_quote_quantity=Decimal(25)),
    RFQ_ALL: MmpConfig(3000, 5000, max_quote_quantity=Decimal(25), trade_count_limit=Decimal(20)),
}
HEAL = guards.Guardrails.model_validate({"heal": {"enabled": True}})


def _underlying(zero: Zero) -> str:
    return zero.underlying or UNDERLYING[zero.venue]


def _set(zero: Zero) -> MmpConfig:
    return SETS.get(zero.underlying, SETS.get(zero.venue, SET))


def _key(venue: str, underlying: str = "") -> ScopeKey:
    return ScopeKey(venue, "acct", underlying or UNDERLYING[venue])


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
    return sim, _read(sim, creds, _key(zero.venue, zero.underlying), _set(zero))


def _holding_zero(zero: Zero, reading: str) -> tuple[Any, Any]:
    """The venue holding its SET with one limit at "0", and the account's credentials."""
    row, key = ROWS[zero.venue], _key(zero.venue, zero.underlying)
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
    key, reviewed = _key(zero.venue, zero.underlying), _set(zero)
    [scope] = live[0].scopes
    assert scope.config is not None
    assert scope.config.value(zero.field) == zero.read_as
    # putting the reviewed limit back: tightening if "0" is no limit, loosening if it is a
    # limit of zero; no one can say which
    step = _step(live, key, reviewed)
    assert step.action in (Action.UPDATE, Action.REPLACE)
    [change] = step.changes
    assert (change.field, change.direction) == (zero.field, Direction.UNKNOWN)
    name = NAMES.get(zero.venue, zero.venue.title())
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
    assert zero.acts(sim, account, _underlying(zero)) is (reading == "limit")


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
    assert _step(live, _key(zero.venue), without).action is Action.UNCHANGED


@pytest.mark.parametrize("zero", ZEROS, ids=lambda z: f"{z.venue}-{z.wire}")
def test_from_a_live_limit_other_than_zero_the_direction_is_known(zero: Zero) -> None:
    """Only the 0 is open: from 5 (or 10, 20, 25), lowering tightens and raising loosens."""
    row, key, reviewed = ROWS[zero.venue], _key(zero.venue, zero.underlying), _set(zero)
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


@pytest.mark.parametrize("field", ["quantity_limit", "delta_limit", "vega_limit"])
def test_a_limit_added_where_deribit_omits_one_still_tightens(field: str) -> None:
    """Deribit omits a limit never set (no limit: seed-venues.md 1.2), unlike a "0" it
    reports: adding one tightens, and heal heals it."""
    row, key = ROWS["deribit"], _key("deribit")
    reviewed = SETS["deribit"]
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
    row, key = ROWS["okx"], _key("okx")
    sim = row.make()
    creds = row.credentials(sim, "acct")
    row.seed(sim, creds, key, SETS["okx"])
    row.seed(sim, creds, _key("okx", "ETH-USD"), SETS["okx"])
    stored, zero_as = _stored(sim, key)
    stored["qtyLimit"] = zero_as
    [account] = _read(sim, creds, key, SETS["okx"])
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
    row.seed(sim, creds, _key("aevo"), policy)
    [account] = sim.accounts.values()
    account.configs["ETH"].update(amount_limit="0", delta_limit="0")
    desired = _desired(_key("aevo"), policy)
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
    key = _key(zero.venue, zero.underlying)
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
