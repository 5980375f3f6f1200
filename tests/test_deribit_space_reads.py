"""Deribit's reads of one scope (apply's check before a write and its read-back) read only
that scope's config space: a Block RFQ scope's with block_rfq: true alone, an order/quote
scope's without, two requests instead of four (issue 17 item 6: the benchmark desk's
Deribit accounts declare both spaces, and every such read had cost both). A whole read
still reads both. What a one-space read leaves out is never taken for "no config": the next
step's check in the other space reads again."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Journal
from reconciler.apply.writes import Outcome
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from reconciler.venues.base import Credentials
from reconciler.venues.deribit import wire
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.helpers import SECRET, deribit_client
from tests.venues import connect_to

HERE = Location("p.yaml", 1, 1)
ORDERS_BTC = ScopeKey("deribit", "acct", "btc_usd")
RFQ_BTC = ScopeKey("deribit", "acct", "block_rfq:btc_usd")
ORDERS = MmpConfig(1000, 30_000, quantity_limit=Decimal(3), max_quote_quantity=Decimal("2.5"))
RFQ = MmpConfig(5000, MANUAL, quantity_limit=Decimal(100), max_quote_quantity=Decimal(50))
READS = frozenset({"private/get_mmp_config", "private/get_mmp_status"})
Sent = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def sim() -> DeribitSimulator:
    sim = DeribitSimulator()
    sim.add_account("id-acct", SECRET)
    return sim


def _recording(sim: DeribitSimulator) -> Sent:
    sent: Sent = []
    sim.before_request = lambda method, params: sent.append((method, dict(params)))
    return sent


def _reads(sent: Sent) -> list[tuple[str, bool]]:
    """Each read sent: (method, whether with block_rfq: true)."""
    return sorted((m, bool(p.get("block_rfq"))) for m, p in sent if m in READS)


BOTH = [
    ("private/get_mmp_config", False),
    ("private/get_mmp_config", True),
    ("private/get_mmp_status", False),
    ("private/get_mmp_status", True),
]
ORDER_SPACE = [("private/get_mmp_config", False), ("private/get_mmp_status", False)]
RFQ_SPACE = [("private/get_mmp_config", True), ("private/get_mmp_status", True)]


@pytest.mark.parametrize(
    ("only", "expected", "keys"),
    [
        (frozenset({"btc_usd"}), ORDER_SPACE, {ORDERS_BTC}),
        (frozenset({"block_rfq:btc_usd"}), RFQ_SPACE, {RFQ_BTC}),
        (frozenset({"btc_usd", "block_rfq:btc_usd"}), BOTH, {ORDERS_BTC, RFQ_BTC}),
        (None, BOTH, {ORDERS_BTC, RFQ_BTC}),
    ],
)
def test_a_read_of_one_scope_reads_its_space_only(
    sim: DeribitSimulator,
    only: frozenset[str] | None,
    expected: list[tuple[str, bool]],
    keys: set[ScopeKey],
) -> None:
    sim.seed("id-acct", wire.set_params(ORDERS_BTC, ORDERS))
    sim.seed("id-acct", wire.set_params(RFQ_BTC, RFQ))
    client = deribit_client(sim)
    declared = frozenset({"btc_usd", "block_rfq:btc_usd"})  # the account declares both
    sent = _recording(sim)
    account = asyncio.run(client.read(declared, only=only))
    assert _reads(sent) == expected
    assert {scope.key for scope in account.scopes} == keys


def _desired(orders: MmpConfig, rfq: MmpConfig) -> DesiredState:
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", "deribit", "testnet", None, "ACCT", HERE)}
    )
    for key, config in ((ORDERS_BTC, orders), (RFQ_BTC, rfq)):
        desired.scopes[key] = DesiredScope(key, config, HERE)
    desired.spaces["acct"] = {"block_rfq"}
    return desired


def _apply(sim: DeribitSimulator, desired: DesiredState) -> tuple[dict[ScopeKey, Outcome], Sent]:
    """Plan and apply `desired`; each step's outcome, and what was sent after the plan's read
    (apply's own whole read, its checks, writes and read-backs)."""
    creds = {"acct": Credentials({"CLIENT_ID": "id-acct", "CLIENT_SECRET": SECRET})}

    async def go() -> tuple[dict[ScopeKey, Outcome], Sent]:
        conns = connect_to(sim, desired, creds)
        plan = make_plan(desired, await conns.read(), capabilities())
        sent = _recording(sim)
        result = await apply_plan(plan, conns, Journal(None))
        await conns.aclose()
        return {r.step.key: r.outcome for r in result.results}, sent

    return asyncio.run(go())


def _after_writes(sent: Sent) -> list[list[tuple[str, bool]]]:
    """The reads sent after each write, up to the next one (the read-back, and the next
    step's check where it reads)."""
    chunks: list[Sent] = []
    for method, params in sent:
        if method == "private/set_mmp_config":
            chunks.append([])
        elif chunks:
            chunks[-1].append((method, params))
    return [_reads(chunk) for chunk in chunks]


@pytest.mark.usefixtures("virtual_time")  # Deribit's pacing passes at once (tests/clock.py)
@pytest.mark.parametrize(
    ("drifted", "expected"),
    [(ORDERS_BTC, ORDER_SPACE), (RFQ_BTC, RFQ_SPACE)],
)
def test_a_write_reads_back_its_own_space_only(
    sim: DeribitSimulator, drifted: ScopeKey, expected: list[tuple[str, bool]]
) -> None:
    """One write in one space: apply reads the account whole once (both spaces), then the
    write's read-back reads its own space: 2 requests, not 4."""
    looser = {ORDERS_BTC: ORDERS.with_changes(quantity_limit=Decimal(6)), RFQ_BTC: RFQ}
    if drifted == RFQ_BTC:
        looser = {ORDERS_BTC: ORDERS, RFQ_BTC: RFQ.with_changes(quantity_limit=Decimal(200))}
    for key, config in looser.items():
        sim.seed("id-acct", wire.set_params(key, config))
    outcomes, sent = _apply(sim, _desired(ORDERS, RFQ))
    assert outcomes == {drifted: Outcome.APPLIED}
    writes = [p for m, p in sent if m == "private/set_mmp_config"]
    assert [bool(p.get("block_rfq")) for p in writes] == [drifted == RFQ_BTC]
    assert _after_writes(sent) == [expected]
    assert len([m for m, _ in sent if m in READS]) == len(BOTH) + len(expected)


@pytest.mark.usefixtures("virtual_time")
def test_a_read_back_of_one_space_is_not_the_other_spaces_check(sim: DeribitSimulator) -> None:
    """A write in each space of one account, one after the other: the Block RFQ write's
    read-back (fresh, and no write sent since) shows no order scope, as it read none; the
    order step's check reads its own space instead of finding its scope gone (which had
    held it as moved since the plan)."""
    sim.seed("id-acct", wire.set_params(ORDERS_BTC, ORDERS.with_changes(quantity_limit=Decimal(6))))
    sim.seed("id-acct", wire.set_params(RFQ_BTC, RFQ.with_changes(quantity_limit=Decimal(200))))
    outcomes, sent = _apply(sim, _desired(ORDERS, RFQ))
    assert outcomes == {RFQ_BTC: Outcome.APPLIED, ORDERS_BTC: Outcome.APPLIED}
    # after the Block RFQ write: its read-back, then the order step's check; after the
    # order write: its read-back
    assert _after_writes(sent) == [sorted(RFQ_SPACE + ORDER_SPACE), ORDER_SPACE]
    account = sim.accounts["id-acct"]
    assert account.configs[("btc_usd", None)]["quantity_limit"] == 3
    assert account.rfq_configs["btc_usd"]["quantity_limit"] == 100
