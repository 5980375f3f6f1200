"""Deribit Block RFQ MMP (issue 17, item 3): its own scopes, never mixed with order/quote MMP.

A `block_rfq` section of a Deribit account declares scopes keyed `block_rfq:<index>` (or
`block_rfq:all`, where trade_count_limit lives). They are read with block_rfq: true (on every
account: tests/test_block_rfq_desk.py), written, removed and reset with it, and need the
API key's block_rfq scope; the strict simulator refuses a key without it with Deribit's own
13021.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Journal
from reconciler.commands.importer import import_live
from reconciler.commands.unfreeze import unfreeze
from reconciler.core.errors import ConfigError, VenueAuthError
from reconciler.core.mmpfields import TRADE_COUNT_LIMIT
from reconciler.core.model import (
    LiveAccount,
    LiveScope,
    MmpConfig,
    ScopeKey,
    in_space,
    scope_digest,
    split_space,
)
from reconciler.core.units import MANUAL, dumps_exact, loads_exact
from reconciler.planning.plan import Action
from reconciler.planning.planner import make_plan
from reconciler.policy import guards
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from reconciler.venues.answers import Malformed
from reconciler.venues.base import Credentials
from reconciler.venues.deribit import wire
from reconciler.venues.deribit.capabilities import INDEX_NAMES
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.helpers import SECRET, deribit_client, load, write_policy
from tests.venues import connect_to

T = TypeVar("T")
HERE = Location("p.yaml", 1, 1)
ALL = ScopeKey("deribit", "acct", "block_rfq:all")
RFQ_BTC = ScopeKey("deribit", "acct", "block_rfq:btc_usd")
ORDERS_BTC = ScopeKey("deribit", "acct", "btc_usd")
COUNTS = MmpConfig(10_000, 30_000, max_quote_quantity=Decimal(25), trade_count_limit=Decimal(20))
RFQ = MmpConfig(5000, MANUAL, quantity_limit=Decimal(100), max_quote_quantity=Decimal(50))
ORDERS = MmpConfig(1000, 30_000, quantity_limit=Decimal(3), max_quote_quantity=Decimal("2.5"))


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def sim() -> DeribitSimulator:
    return DeribitSimulator()


# ---- the scope key ----------------------------------------------------------------------


def test_a_block_rfq_scope_prints_apart_from_every_order_scope() -> None:
    assert str(ALL) == "deribit/acct/block_rfq:all"
    assert split_space(ALL.underlying) == ("block_rfq", "all")
    assert split_space("btc_usd") == (None, "btc_usd")
    assert in_space(None, "btc_usd") == "btc_usd"
    # no Deribit index spells the separator, and a group comes after a `/`: an order or
    # mass-quote scope can never print as a Block RFQ one
    assert not [name for name in INDEX_NAMES if ":" in name]
    assert str(ScopeKey("deribit", "acct", "btc_usd", "block_rfq:all")) != str(ALL)


# ---- the field --------------------------------------------------------------------------


def test_trade_count_limit_is_a_limit_lower_is_tighter() -> None:
    assert TRADE_COUNT_LIMIT.tightens(Decimal(50), Decimal(20))
    assert not TRADE_COUNT_LIMIT.tightens(Decimal(20), Decimal(50))
    assert TRADE_COUNT_LIMIT.tightens(None, Decimal(20))
    assert not TRADE_COUNT_LIMIT.tightens(Decimal(20), None)
    assert TRADE_COUNT_LIMIT.show(Decimal(20)) == "20"
    assert TRADE_COUNT_LIMIT.policy_value(Decimal(20)) == 20


def test_a_config_without_a_trade_count_reads_and_digests_as_before() -> None:
    """The field is rare: left out of data and digests while unset, so saved plans, journals
    and fingerprints of every other config are unchanged."""
    assert "trade_count_limit" not in ORDERS.to_data()
    assert COUNTS.to_data()["trade_count_limit"] == "20"
    assert MmpConfig.from_data(COUNTS.to_data()) == COUNTS
    assert MmpConfig.from_data(ORDERS.to_data()) == ORDERS
    before = scope_digest(LiveScope(ORDERS_BTC, ORDERS))
    assert before == scope_digest(LiveScope(ORDERS_BTC, MmpConfig.from_data(ORDERS.to_data())))
    counted = scope_digest(LiveScope(ALL, COUNTS))
    assert counted != scope_digest(LiveScope(ALL, COUNTS.with_changes(trade_count_limit=None)))


# ---- the policy -------------------------------------------------------------------------

ACCOUNT = """
accounts:
  main:
    venue: deribit
    environment: testnet
    credentials: MAIN
    defaults: {window: 1s, frozen: 30s, max_quote_quantity: 25}
    mmp:
      btc_usd:
        default: {quantity_limit: 50}
"""


def _problems(tmp_path: Path, section: str) -> str:
    write_policy(tmp_path, ACCOUNT + section)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    return str(caught.value)


def test_a_block_rfq_section_declares_its_own_scopes(tmp_path: Path) -> None:
    write_policy(
        tmp_path,
        ACCOUNT
        + """
    block_rfq:
      all: {window: 10s, frozen: 30s, trade_count_limit: 20, max_quote_quantity: 25}
      btc_usd: {window: 5s, frozen: manual, quantity_limit: 100, max_quote_quantity: 50}
      eth_usd: absent
""",
    )
    desired = load(tmp_path)
    keys = {str(k): s.config for k, s in desired.scopes.items()}
    assert keys["deribit/main/block_rfq:all"] == COUNTS
    assert keys["deribit/main/block_rfq:btc_usd"] == RFQ
    assert keys["deribit/main/block_rfq:eth_usd"] is None  # a removal of its own
    assert keys["deribit/main/btc_usd"] is not None  # the order scope, apart
    assert desired.declared_underlyings()["main"] >= {"block_rfq:all", "block_rfq:"}


def test_an_empty_block_rfq_section_still_reads_the_space(tmp_path: Path) -> None:
    write_policy(tmp_path, ACCOUNT + "    block_rfq:\n")
    assert "block_rfq:" in load(tmp_path).declared_underlyings()["main"]


@pytest.mark.parametrize(
    ("section", "said"),
    [
        # the bounds of trade_count_limit: whole trades, 1 to 1000
        (
            "all: {window: 1s, frozen: 1s, trade_count_limit: 0, max_quote_quantity: 1}",
            "at least 1",
        ),
        ("all: {window: 1s, frozen: 1s, trade_count_limit: 1001, max_quote_quantity: 1}", "1000"),
        (
            "all: {window: 1s, frozen: 1s, trade_count_limit: 2.5, max_quote_quantity: 1}",
            "trade_count_limit 2.5 is not a whole number; deribit takes whole numbers only",
        ),
        # `all` takes the trade count only (and the max quote quantity, required everywhere)
        (
            "all: {window: 1s, frozen: 1s, quantity_limit: 5, max_quote_quantity: 1}",
            "does not support `quantity_limit`",
        ),
        ("all: {window: 1s, frozen: 1s, max_quote_quantity: 1}", "trade_count_limit"),
        # a trade count only on `all`
        (
            "btc_usd: {window: 1s, frozen: 1s, trade_count_limit: 5, max_quote_quantity: 1}",
            "; `trade_count_limit` is taken on `all` only",
        ),
        # the account's defaults are its order/quote MMP's: they do not fill a Block RFQ scope
        (
            "btc_usd: {quantity_limit: 5, max_quote_quantity: 1}",
            "`window` is required (set it here)",
        ),
        # no mass-quote groups in Block RFQ
        ("btc_usd: {Bot1: {window: 1s, frozen: 1s, quantity_limit: 5}}", "have no groups"),
        ("nope_usd: {window: 1s, frozen: 1s, quantity_limit: 5}", "not a deribit underlying"),
    ],
)
def test_block_rfq_rules(tmp_path: Path, section: str, said: str) -> None:
    assert said in _problems(tmp_path, f"    block_rfq:\n      {section}\n")


def test_trade_count_limit_is_refused_on_order_scopes(tmp_path: Path) -> None:
    text = ACCOUNT.replace("{quantity_limit: 50}", "{quantity_limit: 50, trade_count_limit: 5}")
    write_policy(tmp_path, text)
    with pytest.raises(ConfigError, match="does not support `trade_count_limit`"):
        load(tmp_path)


def test_block_rfq_on_another_venue_is_refused(tmp_path: Path) -> None:
    write_policy(
        tmp_path,
        """
accounts:
  bin:
    venue: binance
    environment: testnet
    credentials: BIN
    block_rfq:
      all: {window: 1s, frozen: 1s, trade_count_limit: 5}
""",
    )
    with pytest.raises(ConfigError, match="binance has no `block_rfq` MMP"):
        load(tmp_path)


# ---- the simulator's own rules ----------------------------------------------------------


def _rpc(sim: DeribitSimulator, method: str, params: dict[str, Any]) -> dict[str, Any]:
    token = base64.b64encode(f"id-acct:{SECRET}".encode()).decode()
    body = dumps_exact({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = httpx.Request(
        "POST",
        f"https://test.deribit.com/api/v2/{method}",
        content=body.encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    answer: dict[str, Any] = loads_exact(sim(request).content)
    return answer


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"index_name": "all", "trade_count_limit": 1001}, "trade_count_limit"),
        ({"index_name": "all", "trade_count_limit": 0}, "trade_count_limit"),
        (
            {"index_name": "btc_usd", "trade_count_limit": 5, "quantity_limit": 1},
            "trade_count_limit",
        ),
        ({"index_name": "all", "trade_count_limit": 5, "quantity_limit": 1}, "quantity_limit"),
        ({"index_name": "all", "trade_count_limit": 5, "mmp_group": "g"}, "mmp_group"),
    ],
)
def test_the_simulator_keeps_block_rfq_bounds(
    sim: DeribitSimulator, params: dict[str, Any], param: str
) -> None:
    sim.add_account("id-acct", SECRET)
    sent = {"block_rfq": True, "interval": 1, "frozen_time": 1, "max_quote_quantity": 1, **params}
    error = _rpc(sim, "private/set_mmp_config", sent)["error"]
    assert (error["code"], error["data"]["param"]) == (-32602, param)


def test_the_simulator_takes_a_trade_count_only_in_block_rfq(sim: DeribitSimulator) -> None:
    sim.add_account("id-acct", SECRET)
    sent = {"index_name": "btc_usd", "interval": 1, "frozen_time": 1, "trade_count_limit": 5}
    error = _rpc(sim, "private/set_mmp_config", {**sent, "max_quote_quantity": 1})["error"]
    assert error["data"]["param"] == "trade_count_limit"
    regular = {"index_name": "all", "interval": 1, "frozen_time": 1, "quantity_limit": 1}
    error = _rpc(sim, "private/set_mmp_config", {**regular, "max_quote_quantity": 1})["error"]
    assert error["data"]["param"] == "index_name"  # `all` is Block RFQ's only


@pytest.mark.parametrize(
    "method", ["private/get_mmp_config", "private/get_mmp_status", "private/reset_mmp"]
)
def test_a_key_without_the_block_rfq_scope_is_refused_as_deribit_does(
    sim: DeribitSimulator, method: str
) -> None:
    sim.add_account("id-acct", SECRET, block_rfq_scope=False)
    answer = _rpc(sim, method, {"index_name": "all", "block_rfq": True})
    assert answer["error"] == {"code": 13021, "message": "forbidden"}
    assert "result" in _rpc(sim, "private/get_mmp_config", {})  # order MMP: still taken


# ---- the client -------------------------------------------------------------------------


def test_read_write_remove_each_space_on_its_own(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)
    named = frozenset({"block_rfq:"})

    async def go() -> None:
        await client.set_config(ORDERS_BTC, ORDERS)
        await client.set_config(RFQ_BTC, RFQ)
        await client.set_config(ALL, COUNTS)
        live = {s.key: s.config for s in (await client.read(named)).scopes}
        assert live == {ORDERS_BTC: ORDERS, RFQ_BTC: RFQ, ALL: COUNTS}
        # an account without a block_rfq section is read there too (its live Block RFQ
        # scopes are reported, unmanaged); a read-back of an order scope of it is not
        assert {s.key for s in (await client.read()).scopes} == {ORDERS_BTC, RFQ_BTC, ALL}
        only = frozenset({"btc_usd"})
        assert {s.key for s in (await client.read(only=only)).scopes} == {ORDERS_BTC}
        await client.remove_config(RFQ_BTC, RFQ)
        live = {s.key: s.config for s in (await client.read(named)).scopes}
        assert live == {ORDERS_BTC: ORDERS, ALL: COUNTS}

    run(go())
    account = sim.accounts["id-acct"]
    assert account.configs[("btc_usd", None)]["quantity_limit"] == 3  # untouched
    assert account.rfq_configs["all"]["trade_count_limit"] == 20  # an integer on the wire
    assert isinstance(account.rfq_configs["all"]["trade_count_limit"], int)


def test_a_block_rfq_freeze_is_its_own_and_reset_with_block_rfq(sim: DeribitSimulator) -> None:
    client = deribit_client(sim)
    named = frozenset({"block_rfq:"})

    async def go() -> None:
        await client.set_config(ORDERS_BTC, ORDERS)
        await client.set_config(ALL, COUNTS)
        sim.trigger("id-acct", "all", block_rfq=True)
        live = {s.key: s.freeze.frozen for s in (await client.read(named)).scopes}
        assert live == {ORDERS_BTC: False, ALL: True}
        await client.reset(ALL)
        live = {s.key: s.freeze.frozen for s in (await client.read(named)).scopes}
        assert live == {ORDERS_BTC: False, ALL: False}

    run(go())


def test_a_status_that_lists_both_spaces_is_filed_by_each_items_flag() -> None:
    """Under the reading where get_mmp_status ignores block_rfq and lists every freeze, each
    item flagged: an order or mass-quote freeze is never filed as a Block RFQ one (found by
    a red team: the Block RFQ read froze block_rfq:btc_usd and made up block_rfq:btc_usd/Bot7)."""
    sim = DeribitSimulator(status_lists_all=True)
    client = deribit_client(sim)

    async def go() -> None:
        await client.set_config(ORDERS_BTC, ORDERS)
        await client.set_config(ScopeKey("deribit", "acct", "btc_usd", "Bot7"), ORDERS)
        await client.set_config(RFQ_BTC, RFQ)
        await client.set_config(ALL, COUNTS)
        sim.trigger("id-acct", "btc_usd", "Bot7")
        sim.trigger("id-acct", "btc_usd")
        sim.trigger("id-acct", "all", block_rfq=True)
        live = {
            str(s.key): (s.config is not None, s.freeze.frozen)
            for s in (await client.read(frozenset({"block_rfq:"}))).scopes
        }
        assert live == {
            "deribit/acct/block_rfq:all": (True, True),
            "deribit/acct/block_rfq:btc_usd": (True, False),
            "deribit/acct/btc_usd": (True, True),
            "deribit/acct/btc_usd/Bot7": (True, True),
        }

    run(go())


def test_a_key_without_the_scope_is_explained(sim: DeribitSimulator) -> None:
    sim.add_account("id-acct", SECRET, block_rfq_scope=False)
    client = deribit_client(sim)
    with pytest.raises(VenueAuthError) as caught:
        run(client.read(frozenset({"block_rfq:all"})))
    text = str(caught.value)
    assert "forbidden" in text
    assert "block_rfq:read_write" in text and "trade:read_write does not cover it" in text
    assert "deribit/acct/block_rfq" in text  # where: the account's Block RFQ MMP
    assert run(client.read()).scopes == ()  # order MMP still read


# ---- plan, apply, hold, unfreeze --------------------------------------------------------


def _desired(**configs: MmpConfig | None) -> DesiredState:
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", "deribit", "testnet", None, "ACCT", HERE)}
    )
    for underlying, config in configs.items():
        key = ScopeKey("deribit", "acct", in_space("block_rfq", underlying))
        desired.scopes[key] = DesiredScope(key, config, HERE)
    desired.spaces["acct"] = {"block_rfq"}
    return desired


@pytest.mark.usefixtures("virtual_time")  # Deribit's pacing passes at once (tests/clock.py)
def test_lifecycle_of_block_rfq_all(sim: DeribitSimulator) -> None:
    """Create, tighten, hold while frozen, unfreeze (reset_mmp with block_rfq: true), write,
    remove: the order scope on the same venue account is never touched."""
    sim.add_account("id-acct", SECRET)
    sim.seed("id-acct", _wire(ORDERS_BTC, ORDERS))
    creds = {"acct": _creds()}
    caps = capabilities()
    sent: list[tuple[str, dict[str, Any]]] = []
    sim.before_request = lambda method, params: sent.append((method, params))
    tighter = COUNTS.with_changes(trade_count_limit=Decimal(5))

    async def go() -> None:
        desired = _desired(all=COUNTS)
        conns = connect_to(sim, desired, creds)
        plan = make_plan(desired, await conns.read(), caps)
        actions = {str(s.key): s.action for s in plan.steps}
        assert actions == {
            "deribit/acct/block_rfq:all": Action.CREATE,
            "deribit/acct/btc_usd": Action.UNMANAGED,
        }
        assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
        sim.trigger("id-acct", "all", block_rfq=True)
        changed = _desired(all=tighter)
        plan = make_plan(changed, await conns.read(), caps)
        step = next(s for s in plan.steps if s.key == ALL)
        assert step.action is Action.HELD
        assert [(c.field, c.direction.value) for c in step.changes] == [
            ("trade_count_limit", "tightening")
        ]
        said = await unfreeze(ALL, "checked", conns, Journal(None))
        assert "block_rfq:all" in said
        plan = make_plan(changed, await conns.read(), caps)
        assert [s.action for s in plan.steps if s.key == ALL] == [Action.UPDATE]
        assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
        removal = make_plan(_desired(all=None), await conns.read(), caps)
        assert [s.action for s in removal.steps if s.key == ALL] == [Action.REMOVE]
        assert (await apply_plan(removal, conns, Journal(None))).exit_code == 0
        await conns.aclose()

    run(go())
    resets = [params for method, params in sent if method == "private/reset_mmp"]
    assert resets == [{"index_name": "all", "block_rfq": True}]
    sets = [params for method, params in sent if method == "private/set_mmp_config"]
    assert sets and all(params["block_rfq"] is True for params in sets)
    assert sets[-1]["interval"] == 0  # the removal, of the Block RFQ config only
    assert "all" not in sim.accounts["id-acct"].rfq_configs  # removed
    assert sim.accounts["id-acct"].configs[("btc_usd", None)]["quantity_limit"] == 3


def _creds() -> Credentials:
    return Credentials({"CLIENT_ID": "id-acct", "CLIENT_SECRET": SECRET})


_COUNTS = st.builds(
    lambda window, frozen, count: MmpConfig(
        window * 1000, frozen, max_quote_quantity=Decimal(25), trade_count_limit=Decimal(count)
    ),
    st.integers(1, 3600),
    st.one_of(st.just(MANUAL), st.integers(1, 3600).map(lambda s: s * 1000)),
    st.integers(1, 1000),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(live=st.one_of(st.none(), _COUNTS), wanted=st.one_of(st.none(), _COUNTS))
def test_block_rfq_all_converges(live: MmpConfig | None, wanted: MmpConfig | None) -> None:
    """From any live trade-count config (or none) to any wanted one (or its removal): one
    apply, then nothing to change."""
    sim = DeribitSimulator()
    sim.add_account("id-acct", SECRET)
    if live is not None:
        sim.seed("id-acct", _wire(ALL, live))
    desired = _desired(all=wanted)
    conns = connect_to(sim, desired, {"acct": _creds()})

    async def go() -> None:
        plan = make_plan(desired, await conns.read(), capabilities())
        assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
        again = make_plan(desired, await conns.read(), capabilities())
        assert not again.has_changes
        await conns.aclose()

    run(go())
    stored = sim.accounts["id-acct"].rfq_configs.get("all")
    assert (stored is None) == (wanted is None)


def _wire(key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    return wire.set_params(key, config)


# ---- guardrails -------------------------------------------------------------------------


def _plan(live: MmpConfig, wanted: MmpConfig) -> Any:
    desired = _desired(all=wanted)
    account = LiveAccount("deribit", "acct", (LiveScope(ALL, live),))
    return make_plan(desired, [account], capabilities()), desired


def test_a_trade_count_is_guarded_like_any_limit() -> None:
    """Raised more than the ratio is a loosening; above a ceiling is refused; lowered is
    neither."""
    rules = guards.Guardrails.model_validate(
        {
            "venues": {"deribit": {"trade_count_limit": {"max": 100}}},
            "loosening": {"limit_ratio": Decimal("1.5")},
        }
    )
    looser, desired = _plan(COUNTS, COUNTS.with_changes(trade_count_limit=Decimal(50)))
    trips = guards.check(looser, rules, desired)
    assert any("trade_count_limit" in t and "block_rfq:all" in t for t in trips), trips
    over, desired = _plan(COUNTS, COUNTS.with_changes(trade_count_limit=Decimal(200)))
    assert any("100" in t for t in guards.check(over, rules, desired))
    tighter, desired = _plan(COUNTS, COUNTS.with_changes(trade_count_limit=Decimal(5)))
    assert guards.check(tighter, rules, desired) == []


# ---- import -----------------------------------------------------------------------------


def test_import_writes_a_block_rfq_section(tmp_path: Path) -> None:
    """An account with an empty `block_rfq:` section: its Block RFQ configs are read and
    written there, apart from `mmp:`, with no defaults taken from the account's."""
    write_policy(tmp_path, ACCOUNT + "    block_rfq:\n")
    desired = load(tmp_path)
    main = ScopeKey("deribit", "main", "btc_usd")
    live = LiveAccount(
        "deribit",
        "main",
        (
            LiveScope(
                main,
                MmpConfig(1000, 30_000, quantity_limit=Decimal(50), max_quote_quantity=Decimal(25)),
            ),
            LiveScope(ScopeKey("deribit", "main", "block_rfq:all"), COUNTS),
        ),
    )
    (result,) = import_live(desired, [live], capabilities())
    assert result.added == [ScopeKey("deribit", "main", "block_rfq:all")]
    tail = result.after.split("    block_rfq:\n", 1)[1]
    assert tail.splitlines() == [
        "      all:",
        "        window: 10s",
        "        frozen: 30s",
        "        max_quote_quantity: 25",
        "        trade_count_limit: 20",
    ]


@pytest.mark.parametrize(
    ("key", "echo", "taken"),
    [
        (RFQ_BTC, {"block_rfq": True}, True),
        (RFQ_BTC, {}, True),  # block_rfq is optional in a config (seed-venues 1.2)
        (RFQ_BTC, {"block_rfq": False}, False),
        (ORDERS_BTC, {"block_rfq": True}, False),
        (ORDERS_BTC, {"block_rfq": False}, True),
    ],
)
def test_a_set_answer_of_the_other_space_is_not_taken(
    key: ScopeKey, echo: dict[str, Any], taken: bool
) -> None:
    """A set answered with a config of the other space did not set the scope asked for."""
    answer = {"index_name": "btc_usd", "interval": 5, "frozen_time": 0, **echo}
    if taken:
        wire.check_set_answer(key, answer)
    else:
        with pytest.raises(Malformed, match=r"block_rfq says .* MMP in an answer about"):
            wire.check_set_answer(key, answer)


def test_the_rules_of_block_rfq_all_are_named_as_its_own(tmp_path: Path) -> None:
    """Found by a red team: 'deribit does not support `quantity_limit`' (Deribit's order
    scopes do)."""
    section = "all: {window: 1s, frozen: 1s, quantity_limit: 5, max_quote_quantity: 1}"
    said = _problems(tmp_path, f"    block_rfq:\n      {section}\n")
    assert "deribit Block RFQ's `all` scope does not support `quantity_limit`" in said, said


def test_a_shown_config_is_in_policy_units() -> None:
    assert COUNTS.shown() == ("window 10s, frozen 30s, max_quote_quantity 25, trade_count_limit 20")
    assert RFQ.shown() == "window 5s, frozen manual, quantity_limit 100, max_quote_quantity 50"
