"""OKX: the v5 signature (the vectors of more-venues.md 1.5, computed once from the recipe:
the docs publish no secret and signature pair), the wire (every value a string, removal by
timeInterval "0", both readings of mmpFrozenUntil), the simulator's strictness, the demo
header of `environment: testnet`, and the set limit paced by the client, not hit."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.core.errors import VenueAuthError, VenueRejected, VenueUnavailable
from reconciler.core.freezes import known, what_to_do, why_held
from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, now
from reconciler.policy.desired import AccountTarget, Location
from reconciler.policy.venue_rules import underlying_problem
from reconciler.venues import VENUES
from reconciler.venues.base import Credentials
from reconciler.venues.limiter import Limiter, Limits, WindowLimiter
from reconciler.venues.live import Connections, connect
from reconciler.venues.okx import wire
from reconciler.venues.okx.capabilities import CAPABILITIES
from reconciler.venues.okx.client import NOT_ENABLED, OkxClient
from reconciler.venues.okx.simulator import OkxSimulator

SET_BODY = '{"instFamily":"BTC-USD","timeInterval":"5000","frozenInterval":"2000","qtyLimit":"100"}'
VECTORS = [  # (method, path with query, body, OK-ACCESS-SIGN): secret test-secret, 1700000000000
    ("POST", wire.MMP_PATH, SET_BODY, "3S75lgOmt24sthKYMB83a3fdbfinlRwsdJzxi8/NH7s="),
    (
        "GET",
        wire.MMP_PATH + "?instFamily=BTC-USD",
        "",
        "1lxkeC1OQMAs5/bsDDlvb/D2HbH0NtkIYVAh206O7xo=",
    ),
]
BTC = ScopeKey("okx", "acct", "BTC-USD")
ETH = ScopeKey("okx", "acct", "ETH-USD")
CONFIG = MmpConfig(5000, 2000, quantity_limit=Decimal(100))


@pytest.mark.parametrize(("method", "path", "body", "expected"), VECTORS)
def test_the_signature_reproduces_the_recipes_vectors(
    method: str, path: str, body: str, expected: str
) -> None:
    stamp = wire.timestamp(1_700_000_000_000)
    assert stamp == "2023-11-14T22:13:20.000Z"
    assert wire.signature("test-secret", stamp, method, path, body) == expected


def test_every_value_is_a_string_and_manual_is_zero() -> None:
    body = wire.set_body(BTC, MmpConfig(1500, MANUAL, quantity_limit=Decimal("2.50")))
    assert body == {
        "instFamily": "BTC-USD",
        "timeInterval": "1500",
        "frozenInterval": "0",
        "qtyLimit": "2.5",
    }
    assert json.dumps(wire.set_body(BTC, CONFIG), separators=(",", ":")) == SET_BODY
    assert wire.remove_body(BTC, CONFIG)["timeInterval"] == "0"


def test_mmp_frozen_until_is_read_as_time_left_or_as_a_time() -> None:
    at = 1_800_000_000_000
    left = {"mmpFrozen": True, "mmpFrozenUntil": "1000"}
    epoch = {"mmpFrozen": True, "mmpFrozenUntil": str(at + 1000)}
    assert wire.freeze(left, 2000, at).until_ms == at + 1000
    assert wire.freeze(epoch, 2000, at).until_ms == at + 1000
    manual = wire.freeze({"mmpFrozen": True, "mmpFrozenUntil": ""}, 0, at)
    assert manual.frozen and manual.until_ms is None
    assert not wire.freeze({"mmpFrozen": False, "mmpFrozenUntil": ""}, 2000, at).frozen


AT = 1_800_000_000_000


@pytest.mark.parametrize("until", ["0", "", None, str(AT + 5000), "1000"])
def test_a_frozen_interval_of_0_is_a_freeze_until_a_reset_whatever_the_until(
    until: str | None,
) -> None:
    """Found by a red team: "0" read as the ms left said the freeze ended by itself now."""
    item = {"mmpFrozen": True, **({} if until is None else {"mmpFrozenUntil": until})}
    freeze = wire.freeze(item, 0, AT)
    assert freeze == FreezeState(True) and known(freeze) == "until manual reset"


@pytest.mark.parametrize(("until", "said"), [("", 'mmpFrozenUntil ""'), (None, "absent")])
def test_a_freeze_with_no_end_given_is_frozen_and_held(until: str | None, said: str) -> None:
    """Before, the whole account was unreadable. Frozen with its end unknown is the safe
    reading: held as any frozen scope (never written, so never a set that ends it), and
    every other family is read."""
    item = {"mmpFrozen": True, **({} if until is None else {"mmpFrozenUntil": until})}
    freeze = wire.freeze(item, 30_000, AT)
    assert freeze.frozen and freeze.holds_changes and freeze.until_ms is None
    assert said in known(freeze) and "frozen time is 30s" in known(freeze)
    assert "ends by itself" not in what_to_do(BTC, CAPABILITIES, freeze)


def test_an_end_already_past_is_never_said_as_one_to_come() -> None:
    freeze = wire.freeze({"mmpFrozen": True, "mmpFrozenUntil": str(AT - 5000)}, 30_000, AT)
    assert freeze.frozen and freeze.until_ms is None
    assert "the end it gave (2027-01-15T07:59:55Z) has passed" in known(freeze), known(freeze)
    todo = what_to_do(BTC, CAPABILITIES, freeze)
    assert "ends by itself" not in todo and "mmp unfreeze okx/acct/BTC-USD" in todo


# ---- the simulator ----------------------------------------------------------------------


def _signed(
    sim: OkxSimulator,
    method: str,
    path: str,
    body: str = "",
    *,
    key: str = "k",
    secret: str = "s",
    stamp_ms: int | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    stamp = wire.timestamp(now("ms") if stamp_ms is None else stamp_ms)
    sent = {
        "OK-ACCESS-KEY": key,
        "OK-ACCESS-PASSPHRASE": sim.accounts["k"].passphrase,
        "OK-ACCESS-TIMESTAMP": stamp,
        "OK-ACCESS-SIGN": wire.signature(secret, stamp, method, path, body),
        "Content-Type": "application/json",
        **(headers or {}),
    }
    response = sim(httpx.Request(method, "https://okx.test" + path, headers=sent, content=body))
    answer: dict[str, Any] = json.loads(response.content)
    answer["status"] = response.status_code
    return answer


@pytest.fixture
def sim() -> OkxSimulator:
    made = OkxSimulator()
    made.add_account("k", "s")
    return made


def test_the_simulator_takes_a_signed_set_and_echoes_it(sim: OkxSimulator) -> None:
    answer = _signed(sim, "POST", wire.MMP_PATH, SET_BODY)
    assert (answer["status"], answer["code"]) == (200, "0")
    assert answer["data"] == [json.loads(SET_BODY)]
    read = _signed(sim, "GET", wire.MMP_PATH + "?instFamily=BTC-USD")
    assert read["data"][0]["mmpFrozen"] is False and read["data"][0]["qtyLimit"] == "100"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret": "other"}, "50113"),
        ({"key": "nobody"}, "50111"),
        ({"stamp_ms": 1_700_000_000_000}, "50102"),
        ({"headers": {"OK-ACCESS-PASSPHRASE": "wrong"}}, "50105"),
        ({"headers": {"OK-ACCESS-TIMESTAMP": "1700000000"}}, "50112"),
        ({"headers": {"OK-ACCESS-SIGN": ""}}, "50106"),
    ],
)
def test_the_simulator_refuses_what_okx_refuses(
    sim: OkxSimulator, change: dict[str, Any], code: str
) -> None:
    answer = _signed(sim, "POST", wire.MMP_PATH, SET_BODY, **change)
    assert (answer["status"], answer["code"], answer["data"]) == (401, code, [])
    assert sim.accounts["k"].configs == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (SET_BODY.replace('"5000"', "5000"), "51000"),  # a number, not a string
        (SET_BODY.replace('"100"', '"0"'), "51000"),
        (SET_BODY.replace('"100"', '"1.125"'), "51000"),
        (SET_BODY.replace('"5000"', '"600001"'), "51000"),
        (SET_BODY.replace('"BTC-USD"', '"DOGE-USD"'), "51000"),
        (SET_BODY.replace(',"qtyLimit":"100"', ""), "50014"),
    ],
)
def test_the_simulator_checks_every_field(sim: OkxSimulator, body: str, code: str) -> None:
    answer = _signed(sim, "POST", wire.MMP_PATH, body)
    assert (answer["status"], answer["code"]) == (400, code)


@pytest.mark.parametrize(("http_429", "status"), [(False, 200), (True, 429)])
def test_a_third_set_within_10_s_is_refused_with_50011(http_429: bool, status: int) -> None:
    sim = OkxSimulator(rate_limit_429=http_429)
    sim.add_account("k", "s")
    codes = [_signed(sim, "POST", wire.MMP_PATH, SET_BODY) for _ in range(3)]
    assert [(c["status"], c["code"]) for c in codes] == [(200, "0"), (200, "0"), (status, "50011")]
    sim.clock.advance(10_000)
    assert _signed(sim, "POST", wire.MMP_PATH, SET_BODY)["code"] == "0"


def test_a_demo_key_needs_the_demo_header_and_a_live_key_refuses_it() -> None:
    sim = OkxSimulator()
    sim.add_account("k", "s", demo=True)
    assert _signed(sim, "GET", wire.MMP_PATH)["code"] == "50101"
    assert _signed(sim, "GET", wire.MMP_PATH, headers={"x-simulated-trading": "1"})["code"] == "0"
    sim.accounts["k"].demo = False
    assert _signed(sim, "GET", wire.MMP_PATH, headers={"x-simulated-trading": "1"})["code"] == (
        "50101"
    )


# ---- the client -------------------------------------------------------------------------


def _creds(sim: OkxSimulator) -> Credentials:
    return Credentials(
        {"API_KEY": "k", "API_SECRET": "s", "PASSPHRASE": sim.accounts["k"].passphrase}
    )


def _client(
    sim: OkxSimulator, handler: Callable[[httpx.Request], httpx.Response] | None = None
) -> OkxClient:
    transport = httpx.MockTransport(handler or sim)
    http = httpx.AsyncClient(base_url="https://okx.test", transport=transport)
    return OkxClient("acct", _creds(sim), http)


def _run(go: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(go())


@pytest.mark.parametrize("listed", [True, False])
def test_a_disabled_family_reads_as_no_config(sim: OkxSimulator, listed: bool) -> None:
    sim.lists_disabled = listed
    client = _client(sim)

    async def go() -> Any:
        await client.set_config(BTC, CONFIG)
        await client.remove_config(BTC, CONFIG)
        read = await client.read()
        await client.aclose()
        return read

    assert _run(go).scopes == ()
    assert sim.accounts["k"].configs["BTC-USD"]["timeInterval"] == "0"


def test_a_frozen_family_is_read_frozen_and_reset_unfreezes_it(sim: OkxSimulator) -> None:
    sim.seed("k", wire.set_body(BTC, CONFIG))
    until = sim.trigger("k", "BTC-USD")
    client = _client(sim)

    async def go() -> tuple[Any, Any]:
        frozen = await client.read()
        await client.reset(BTC)
        after = await client.read()
        await client.aclose()
        return frozen, after

    frozen, after = _run(go)
    assert frozen.scopes[0].freeze.frozen and frozen.scopes[0].config == CONFIG
    told = frozen.scopes[0].freeze.until_ms
    assert until is not None and told is not None and abs(told - until) < 1000  # read time
    assert not after.scopes[0].freeze.frozen and after.scopes[0].config == CONFIG


@pytest.mark.parametrize("ends", [False, True])
def test_what_a_set_does_to_a_freeze_is_a_reading(ends: bool) -> None:
    """Undocumented: the simulator keeps the freeze (default) or ends it (set-unfreezes);
    mmp claims neither (a frozen family is held: capabilities, set_unfreezes False, say only
    that the docs are silent) and the suite runs under both."""
    sim = OkxSimulator(set_unfreezes=ends)
    sim.add_account("k", "s")
    sim.seed("k", wire.set_body(BTC, CONFIG))
    sim.trigger("k", "BTC-USD")
    sim.seed("k", wire.set_body(BTC, CONFIG.with_changes(quantity_limit=Decimal(7))))
    assert sim.accounts["k"].configs["BTC-USD"]["mmpFrozen"] is not ends
    assert "does not document what a write does to a freeze" in why_held(CAPABILITIES)


def test_an_account_without_mmp_is_told_to_ask_okx(sim: OkxSimulator) -> None:
    sim.accounts["k"].mmp_enabled = False
    client = _client(sim)
    with pytest.raises(VenueRejected) as refused:
        _run(client.read)
    assert refused.value.code == "51035" and NOT_ENABLED in str(refused.value)


async def _read_closed(conns: Connections) -> None:
    try:
        await conns.read()
    finally:
        await conns.aclose()


def test_testnet_is_demo_trading_with_its_header() -> None:
    """environment: testnet sends x-simulated-trading: 1; production does not."""
    sim = OkxSimulator()
    sim.add_account("k", "s", demo=True)
    here = Location("p.yaml", 1, 1)
    for environment, works in (("testnet", True), ("production", False)):
        target = AccountTarget("acct", "okx", environment, None, "ACCT", here)
        conns = connect([target], VENUES, {"acct": _creds(sim)}, lambda _: httpx.MockTransport(sim))
        if works:
            asyncio.run(_read_closed(conns))
        else:
            with pytest.raises(VenueAuthError, match="demo keys go with environment: testnet"):
                asyncio.run(_read_closed(conns))


def test_sets_are_paced_two_per_ten_seconds_never_refused(sim: OkxSimulator) -> None:
    """The client's set window makes the third set wait; the simulator's clock moves with
    the wait (no real time passes), and it never answers 50011."""
    clock = [0]
    waits: list[int] = []

    async def sleep(ns: int) -> None:
        waits.append(ns)
        clock[0] += ns
        sim.clock.advance(ns // 1_000_000 + 1)

    refused: list[str] = []

    def watched(request: httpx.Request) -> httpx.Response:
        response = sim(request)
        refused.extend(["50011"] if b'"50011"' in response.content else [])
        return response

    client = _client(sim, watched)
    client._set = type(client._set)(  # the test's clock for its window
        _creds(sim),
        Limits(Limiter(5, 5), WindowLimiter(2, 10_000, clock_ns=lambda: clock[0], sleep_ns=sleep)),
        client._http.base_url,
    )

    async def go() -> None:
        for key in (BTC, ETH, BTC):
            await client.set_config(key, CONFIG)
        await client.aclose()

    _run(go)
    assert refused == [] and len(waits) == 1 and waits[0] >= 10_000 * 1_000_000 - 1
    assert sim.requests.count(f"POST {wire.MMP_PATH}") == 3


def test_a_family_answered_twice_is_a_malformed_answer(sim: OkxSimulator) -> None:
    sim.seed("k", wire.set_body(BTC, CONFIG))

    def twice(request: httpx.Request) -> httpx.Response:
        answer = json.loads(sim(request).content)
        answer["data"] = answer["data"] * 2
        return httpx.Response(200, content=json.dumps(answer).encode())

    client = _client(sim, twice)
    with pytest.raises(VenueUnavailable, match="names a family twice"):
        _run(client.read)


def test_names_outside_our_family_list_are_taken_when_well_formed_and_said_with_an() -> None:
    """The families are our assumption: a well-formed one is taken (OKX has SOL-USD live,
    say); a malformed one is refused with the form. And an okx, not a okx (red team 17)."""
    assert underlying_problem("SOL-USD", CAPABILITIES) == ""
    assert underlying_problem("btc-usd", CAPABILITIES) == (
        "`btc-usd` is not a well-formed okx underlying: an instrument family such as BTC-USD, "
        "in capital letters; did you mean `BTC-USD`?"
    )
    listed = dataclasses.replace(CAPABILITIES, names_assumed=None)  # a list of the venue's
    assert underlying_problem("SOL-USD", listed).startswith("`SOL-USD` is not an okx underlying")
