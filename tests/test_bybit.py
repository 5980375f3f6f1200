"""Bybit options MMP (v5): signing vectors, the strict simulator, the client against it, and
what a policy cannot say on Bybit, refused at validate time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.core.errors import (
    ConfigError,
    VenueAuthError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.core.freezes import known, what_to_do
from reconciler.core.model import FreezeState, LiveAccount, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, dumps_exact, loads_exact
from reconciler.simulators.common import Clock
from reconciler.venues.base import Credentials
from reconciler.venues.bybit import wire
from reconciler.venues.bybit.capabilities import CAPABILITIES
from reconciler.venues.bybit.client import ASK, BybitClient
from reconciler.venues.bybit.simulator import MODIFY, RESET, STATE, BybitSimulator
from tests.helpers import load, write_policy

KEY = ScopeKey("bybit", "mm", "ETH")
CONFIG = MmpConfig(
    5000,
    100_000,
    quantity_limit=Decimal(50),
    delta_limit=Decimal(20),
    vega_limit=Decimal("1000.5"),
)
Handler = Callable[[httpx.Request], httpx.Response]


# ---- signing: vectors computed once from the documented recipe (the docs publish none
# with their secret), key test-api-key, secret test-secret, ts 1700000000000, recv 5000 ---


def test_a_modify_is_signed_over_timestamp_key_recv_window_and_the_raw_body() -> None:
    body = dumps_exact(
        {
            "baseCoin": "ETH",
            "window": "5000",
            "frozenPeriod": "100000",
            "qtyLimit": "50",
            "deltaLimit": "20",
        }
    )
    signed = wire.payload("1700000000000", "test-api-key", "5000", body)
    assert signed == (
        '1700000000000test-api-key5000{"baseCoin":"ETH","window":"5000",'
        '"frozenPeriod":"100000","qtyLimit":"50","deltaLimit":"20"}'
    )
    assert (
        wire.sign("test-secret", signed)
        == "279f68427391d9e731a4648316886ca4443c5f17c3b7cb46754dfab6849095f6"
    )


def test_a_state_read_is_signed_over_its_query_string() -> None:
    signed = wire.payload("1700000000000", "test-api-key", "5000", "baseCoin=ETH")
    assert (
        wire.sign("test-secret", signed)
        == "f2d8d7ad46ffa186902cce1ee0772c7e49b46e2781c0e698f5243a43d3067e5a"
    )


def test_a_set_sends_every_value_as_a_string_and_vega_limit_always() -> None:
    assert wire.set_body(KEY, CONFIG) == {
        "baseCoin": "ETH",
        "window": "5000",
        "frozenPeriod": "100000",
        "qtyLimit": "50",
        "deltaLimit": "20",
        "vegaLimit": "1000.5",
    }
    manual = MmpConfig(1, MANUAL, Decimal("0.01"), Decimal(1), Decimal(2))
    assert wire.set_body(KEY, manual)["frozenPeriod"] == "0"


# ---- the client against the simulator -------------------------------------------------


def client(app: Handler, key: str = "key-mm") -> BybitClient:
    http = httpx.AsyncClient(base_url="https://api.bybit.test", transport=httpx.MockTransport(app))
    return BybitClient("mm", Credentials({"API_KEY": key, "API_SECRET": "pw"}), http)


def simulator(**switches: Any) -> BybitSimulator:
    sim = BybitSimulator(**switches)
    sim.add_account("key-mm", "pw")
    return sim


def run(app: Handler, call: Callable[[BybitClient], Any]) -> Any:
    async def go() -> Any:
        c = client(app)
        try:
            return await call(c)
        finally:
            await c.aclose()

    return asyncio.run(go())


def read(app: Handler) -> LiveAccount:
    result: LiveAccount = run(app, lambda c: c.read())
    return result


def test_a_set_reads_back_exactly_and_each_coin_is_read_alone() -> None:
    sim = simulator()
    run(sim, lambda c: c.set_config(KEY, CONFIG))
    live = read(sim)
    assert [(s.key, s.config) for s in live.scopes] == [(KEY, CONFIG)]
    assert sorted(r for r in sim.requests if r.startswith("GET")) == [f"GET {STATE}"] * 3


def test_a_freeze_is_told_with_its_end_and_a_stale_end_is_ignored() -> None:
    sim = simulator()
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))
    at = sim.trigger("key-mm", "ETH")
    assert read(sim).scopes[0].freeze == FreezeState(True, at + 100_000)
    ended = sim.clock.now_ms() - 1
    sim.accounts["key-mm"].frozen["ETH"] = ended  # the freeze ended: mmpFrozenUntil says when
    assert read(sim).scopes[0].freeze == FreezeState(False)


def answering(mutate: Callable[[dict[str, Any]], None]) -> Handler:
    """The simulator, its ETH state item changed by `mutate` (an answer the docs allow)."""
    sim = simulator()
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))

    def handler(request: httpx.Request) -> httpx.Response:
        response = sim(request)
        if request.url.params.get("baseCoin") != "ETH":
            return response
        body = loads_exact(response.content)
        mutate(body["result"]["result"][0])
        return httpx.Response(200, content=dumps_exact(body).encode())

    return handler


@pytest.mark.parametrize(
    ("until", "said"),
    [
        ("1000", "the end it gave (1970-01-01T00:00:01Z) has passed"),  # never "ends at 1970"
        ("", 'gives no end (mmpFrozenUntil ""), though its frozen time is 100s'),
        ("0", 'gives no end (mmpFrozenUntil "0"), though its frozen time is 100s'),
    ],
)
def test_a_freeze_with_no_end_ahead_is_frozen_and_says_what_is_known(until: str, said: str) -> None:
    """Found by a red team: "" made the account unreadable; a past end was told as the
    time the freeze ends by itself. Frozen, held, and what is known said."""
    live = read(answering(lambda item: item.update(mmpFrozen=True, mmpFrozenUntil=until)))
    freeze = live.scopes[0].freeze
    assert freeze.frozen and freeze.holds_changes and freeze.until_ms is None
    assert said in known(freeze), known(freeze)
    assert "ends by itself" not in what_to_do(KEY, CAPABILITIES, freeze)


def test_a_state_without_vega_limit_is_an_error_naming_the_coin() -> None:
    """The docs list vegaLimit in every coin's state, 500000 by default: its absence is no
    documented 'no vega limit', so the coin's config is not guessed."""
    with pytest.raises(VenueUnavailable) as info:
        run(answering(lambda item: item.pop("vegaLimit")), lambda c: c.read(frozenset({"ETH"})))
    assert str(info.value).startswith(f"bybit/mm/ETH: malformed answer to GET {STATE}: ")
    assert "vegaLimit is missing" in str(info.value) and "vega limit is unknown" in str(info.value)


@pytest.mark.parametrize(
    "mutate",
    [lambda item: item.pop("vegaLimit"), lambda item: item.update(qtyLimit="-1")],
)
def test_a_coin_the_policies_do_not_declare_that_cannot_be_read_is_a_note(
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    """mmp reads every base coin it knows of, to show configs the policies do not manage;
    one of those it cannot read stops nothing (red team 17: an undeclared SOL's answer failed
    every plan of the account), and is said, never silently dropped."""
    live = run(answering(mutate), lambda c: c.read(frozenset({"BTC"})))
    assert [n.split(" (")[0] for n in live.notes] == ["bybit/mm/ETH"]
    assert "(not in the policies) could not be read, so any MMP config there" in live.notes[0]
    assert "malformed answer" in live.notes[0]


def test_an_unknown_coin_the_policies_declare_is_an_error_naming_it() -> None:
    sim = simulator()
    with pytest.raises(VenueRejected) as info:
        run(sim, lambda c: c.read(frozenset({"XRP"})))
    assert str(info.value).startswith("bybit/mm/XRP: ")


@pytest.mark.parametrize("ends", [False, True])
def test_what_a_modify_does_to_a_freeze_is_a_reading(ends: bool) -> None:
    """Undocumented: the simulator keeps the freeze (default) or ends it (set-unfreezes);
    mmp holds a frozen coin either way, and the suite runs under both."""
    sim = simulator(set_unfreezes=ends)
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))
    sim.trigger("key-mm", "ETH")
    run(sim, lambda c: c.set_config(KEY, CONFIG.with_changes(quantity_limit=Decimal(7))))
    assert read(sim).scopes[0].freeze.frozen is not ends


def test_a_freeze_until_a_reset_has_no_end_and_the_reset_ends_it() -> None:
    sim = simulator()
    sim.seed("key-mm", wire.set_body(KEY, MmpConfig(1000, MANUAL, *[Decimal(1)] * 3)))
    sim.trigger("key-mm", "ETH")
    assert read(sim).scopes[0].freeze == FreezeState(True)
    run(sim, lambda c: c.reset(KEY))
    assert read(sim).scopes[0].freeze == FreezeState(False)
    assert read(sim).scopes[0].config is not None  # the reset keeps the config


def test_mmp_not_enabled_is_said_on_the_read_before_any_write() -> None:
    sim = simulator()
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))
    sim.accounts["key-mm"].mmp_enabled = False
    with pytest.raises(VenueRejected) as info:
        run(sim, lambda c: c.read(frozenset({"ETH"})))
    assert str(info.value) == (
        f"bybit/mm: GET {STATE}: mmpEnabled: false for ETH, which the policies declare "
        "(Bybit has not enabled MMP for ETH on this account: ask Bybit to enable it "
        "(financial.inst@bybit.com or your business manager), or take the coin out of the "
        "policies; nothing was written)"
    )
    assert not any(r.startswith("POST") for r in sim.requests)


@pytest.mark.parametrize("code", [False, True], ids=["mmpEnabled-false", "110065"])
def test_mmp_is_enabled_coin_by_coin(code: bool) -> None:
    """mmpEnabled is a field of each coin's item: a coin Bybit has not enabled is no config
    where the policies do not declare it, and an error naming it (not the account) where
    they do (found by a red team: an undeclared coin made the whole account unreadable)."""
    sim = simulator(not_enabled_110065=code)
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))
    sim.accounts["key-mm"].coins_off.add("SOL")
    live = run(sim, lambda c: c.read(frozenset({"ETH"})))
    assert [(s.key, s.config) for s in live.scopes] == [(KEY, CONFIG)]
    with pytest.raises(VenueRejected) as info:
        run(sim, lambda c: c.read(frozenset({"ETH", "SOL"})))
    said = str(info.value)
    assert "for this account" not in info.value.hint, said  # the venue may say so, not we
    assert "Bybit has not enabled MMP for SOL on this account: ask Bybit" in said
    assert info.value.code == (110065 if code else None)
    with pytest.raises(VenueRejected) as refused:  # and a write of it is refused, as Bybit does
        run(sim, lambda c: c.set_config(ScopeKey("bybit", "mm", "SOL"), CONFIG))
    assert refused.value.code == 110065


@pytest.mark.parametrize("call", ["set", "reset"])
def test_a_write_refused_with_110065_says_whom_to_ask(call: str) -> None:
    sim = simulator()
    sim.accounts["key-mm"].mmp_enabled = False
    with pytest.raises(VenueRejected) as info:
        run(sim, lambda c: c.set_config(KEY, CONFIG) if call == "set" else c.reset(KEY))
    assert info.value.code == 110065
    assert ASK in str(info.value)


def test_the_reading_where_the_state_read_refuses_an_account_without_mmp() -> None:
    sim = simulator(not_enabled_110065=True)
    sim.accounts["key-mm"].mmp_enabled = False
    with pytest.raises(VenueRejected) as info:
        run(sim, lambda c: c.read(frozenset({"ETH"})))
    assert info.value.code == 110065 and "ask Bybit" in str(info.value)
    assert read(sim).scopes == ()  # no coin declared: nothing to protect, nothing said


def test_the_reading_where_a_coin_never_configured_is_refused_with_110062() -> None:
    sim = simulator(unconfigured_110062=True)
    sim.seed("key-mm", wire.set_body(KEY, CONFIG))
    assert [s.key.underlying for s in read(sim).scopes] == ["ETH"]


def test_removal_is_refused_saying_bybit_has_none() -> None:
    with pytest.raises(VenueRejected, match="Bybit has no way to remove an MMP config"):
        run(simulator(), lambda c: c.remove_config(KEY, CONFIG))


def test_vega_limit_omitted_restores_the_default_or_keeps_it_by_the_reading() -> None:
    body = {k: v for k, v in wire.set_body(KEY, CONFIG).items() if k != "vegaLimit"}
    for kept, expected in ((False, "500000"), (True, "1000.5")):
        sim = simulator(vega_omitted_kept=kept)
        sim.seed("key-mm", wire.set_body(KEY, CONFIG))
        sim.seed("key-mm", body)
        assert sim.accounts["key-mm"].configs["ETH"]["vegaLimit"] == expected


# ---- the simulator is as strict as the venue ------------------------------------------


def post(sim: BybitSimulator, path: str, body: dict[str, Any], **headers: str) -> Any:
    """A POST signed as the docs say, with `headers` overriding the signed ones."""
    raw = dumps_exact(body)
    stamp, recv = str(sim.clock.now_ms()), "5000"
    sent = {
        "X-BAPI-API-KEY": "key-mm",
        "X-BAPI-TIMESTAMP": stamp,
        "X-BAPI-RECV-WINDOW": recv,
        "X-BAPI-SIGN": wire.sign("pw", wire.payload(stamp, "key-mm", recv, raw)),
        "Content-Type": "application/json",
        **headers,
    }
    response = sim(httpx.Request("POST", f"https://x{path}", content=raw, headers=sent))
    assert response.status_code == 200
    return loads_exact(response.content)


def refused(sim: BybitSimulator, body: dict[str, Any], **headers: str) -> tuple[int, str]:
    answer = post(sim, MODIFY, body, **headers)
    return answer["retCode"], answer["retMsg"]


GOOD = wire.set_body(KEY, CONFIG)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"window": "5001"}, 10001),  # above our assumed range
        ({"window": "0"}, 10001),
        ({"frozenPeriod": "3600001"}, 10001),
        ({"qtyLimit": "0.001"}, 10001),  # 2 decimals at most
        ({"deltaLimit": "-1"}, 10001),
        ({"vegaLimit": "0"}, 10001),
        ({"baseCoin": "eth"}, 10001),  # upper case only
        ({"window": 5000}, 10001),  # every value a string
        ({"extra": "1"}, 10001),
    ],
)
def test_the_simulator_refuses_what_bybit_refuses(change: dict[str, Any], code: int) -> None:
    sim = simulator()
    assert refused(sim, {**GOOD, **change})[0] == code
    assert "ETH" not in sim.accounts["key-mm"].configs


def test_the_open_ranges_reading_takes_a_longer_window() -> None:
    sim = simulator(open_ranges=True)
    assert refused(sim, {**GOOD, "window": "60000", "frozenPeriod": "86400000"})[0] == 0


def test_signature_key_and_timestamp_are_checked() -> None:
    sim = simulator(clock=Clock(fixed_ms=1_700_000_000_000))  # the window's edges exactly
    assert refused(sim, GOOD, **{"X-BAPI-SIGN": "0" * 64})[0] == 10004
    assert refused(sim, GOOD, **{"X-BAPI-API-KEY": "nobody"})[0] == 10003
    late = str(sim.clock.now_ms() - 5001)
    assert refused(sim, GOOD, **{"X-BAPI-TIMESTAMP": late})[0] == 10002
    early = str(sim.clock.now_ms() + 1000)
    assert refused(sim, GOOD, **{"X-BAPI-TIMESTAMP": early})[0] == 10002


def test_the_body_signed_must_be_the_body_sent() -> None:
    sim = simulator()
    stamp = str(sim.clock.now_ms())
    other = dumps_exact({**GOOD, "qtyLimit": "5"})
    signature = wire.sign("pw", wire.payload(stamp, "key-mm", "5000", other))
    assert refused(sim, GOOD, **{"X-BAPI-SIGN": signature, "X-BAPI-TIMESTAMP": stamp})[0] == 10004


def test_its_rate_limit_is_its_own_answer() -> None:
    sim = simulator()
    codes = [post(sim, RESET, {"baseCoin": "ETH"})["retCode"] for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 10006]


# ---- what the client does with Bybit's refusals -----------------------------------------


def test_a_10006_is_waited_out_and_sent_again() -> None:
    sim = simulator()
    left = [1]

    def limited(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and left[0]:
            left[0] -= 1
            body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}}
            reset_at = str(sim.clock.now_ms() + 20)
            headers = {"X-Bapi-Limit-Reset-Timestamp": reset_at}
            return httpx.Response(200, json=body, headers=headers)
        return sim(request)

    run(limited, lambda c: c.set_config(KEY, CONFIG))
    assert sim.accounts["key-mm"].configs["ETH"]["qtyLimit"] == "50"


def test_the_venues_own_10006_is_waited_out_until_its_reset() -> None:
    """Another client of the same UID spent this second's modifies: the simulator answers
    the set 10006 with X-Bapi-Limit-Reset-Timestamp; the shared retry policy sends it again
    no earlier than that (on the venue's clock), and the venue takes it."""
    sim = simulator()
    assert [refused(sim, GOOD)[0] for _ in range(5)] == [0] * 5  # the second's allowance
    said: list[tuple[int, int, str]] = []  # (retCode, venue's clock at arrival, reset at)

    def watched(request: httpx.Request) -> httpx.Response:
        arrived = sim.clock.now_ms()
        response = sim(request)
        if request.url.path == MODIFY:
            reset_at = response.headers["X-Bapi-Limit-Reset-Timestamp"]
            said.append((loads_exact(response.content)["retCode"], arrived, reset_at))
        return response

    run(watched, lambda c: c.set_config(KEY, CONFIG))
    assert [code for code, _, _ in said] == [10006, 0]
    assert said[1][1] >= int(said[0][2])  # not sent again before the venue's reset
    assert sim.accounts["key-mm"].configs["ETH"]["qtyLimit"] == "50"


def test_an_ip_ban_is_a_rate_limit_never_a_key_problem() -> None:
    def banned(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="access too frequent")

    with pytest.raises(VenueRateLimited) as info:
        read(banned)
    assert "600 requests in 5 s" in str(info.value)


def test_a_stale_timestamp_is_signed_afresh_then_named_as_the_clock() -> None:
    sim = simulator()
    sim.clock.advance(60_000)  # this machine's clock is a minute behind Bybit's
    with pytest.raises(VenueAuthError) as info:
        run(sim, lambda c: c.read(only=frozenset({"ETH"})))
    assert info.value.code == 10002 and "clock" in str(info.value)
    assert len(sim.requests) == 3  # the request, and twice signed afresh


# ---- what a policy cannot say on Bybit --------------------------------------------------

HEADER = """
accounts:
  mm:
    venue: bybit
    environment: production
    credentials: BYBIT_MM
    mmp:
      ETH:
"""


def test_absent_is_refused_on_bybit(in_tmp: Path) -> None:
    write_policy(in_tmp, HEADER.replace("      ETH:\n", "      ETH: absent\n"))
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:12: bybit has no way to remove an MMP config, so `absent` "
        "cannot be applied; set the limits you want instead"
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("window: 1s, frozen: 1s, quantity_limit: 1, delta_limit: 1", "vega_limit"),
        # 5 s is our assumption (no range is documented): a longer window is Bybit's to
        # refuse at apply (its 10001, as the simulator does under its default reading)
        ("window: 6s, frozen: 2h, quantity_limit: 1, delta_limit: 1, vega_limit: 1", ""),
        (
            "window: 1s, frozen: 1s, quantity_limit: 1.001, delta_limit: 1, vega_limit: 1",
            "quantity_limit",
        ),
        ("window: 1s, frozen: 1s, quantity_limit: 1, delta_limit: 1, vega_limit: 1", ""),
    ],
)
def test_what_bybit_cannot_express_is_refused_at_validate(
    in_tmp: Path, fields: str, expected: str
) -> None:
    write_policy(in_tmp, HEADER.replace("      ETH:\n", f"      ETH: {{{fields}}}\n"))
    if not expected:
        assert load(in_tmp).scopes
        return
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert any(expected in str(p) for p in info.value.problems), info.value.problems
