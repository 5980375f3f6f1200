"""Binance eapi: published signature vectors, a strict simulator, the client against it, and
unit mistakes refused at validate time."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest

from reconciler.core.errors import (
    ConfigError,
    VenueAuthError,
    VenueError,
    VenueRateLimited,
    VenueRejected,
    VenueUnavailable,
)
from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL, loads_exact
from reconciler.simulators.common import Clock
from reconciler.venues.base import Credentials
from reconciler.venues.binance import wire
from reconciler.venues.binance.client import BinanceClient
from reconciler.venues.binance.simulator import DEFAULT_UNDERLYINGS, BinanceSimulator
from reconciler.venues.binance.wire import sign
from reconciler.venues.discovery import Discovered, Unlisted
from tests.helpers import load, write_policy

SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
NOW = 1_700_000_000_000
KEY = ScopeKey("binance", "mm", "BTCUSDT")
CONFIG = MmpConfig(3000, 300_000, quantity_limit=Decimal(2), delta_limit=Decimal("2.3"))


def test_binance_published_spot_vectors_reproduce() -> None:
    total = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(SPOT_SECRET, total) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )
    mixed = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
        "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    )
    assert sign(SPOT_SECRET, mixed) == (
        "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    )


def test_our_mmp_vector_through_the_client_encoding() -> None:
    params = [
        ("underlying", "BTCUSDT"),
        ("windowTimeInMilliseconds", "3000"),
        ("frozenTimeInMilliseconds", "300000"),
        ("qtyLimit", "2"),
        ("deltaLimit", "2.3"),
        ("recvWindow", "5000"),
        ("timestamp", "1499827319559"),
    ]
    assert sign(SPOT_SECRET, urlencode(params)) == (
        "3f52cc9e32689ef02dfe1b693091b8d95a974fb439fe2aebdfdf2a1254e71f56"
    )


@pytest.fixture
def sim() -> BinanceSimulator:
    sim = BinanceSimulator(clock=Clock(NOW))
    sim.add_account("key", "secret")
    return sim


def send(
    sim: BinanceSimulator,
    method: str,
    path: str,
    params: dict[str, Any],
    *,
    secret: str = "secret",
    key: str = "key",
    where: str = "body",
    timestamp: int = NOW,
    recv_window: int | None = None,
    tamper: bool = False,
) -> tuple[int, Any, httpx.Headers]:
    items = [*params.items(), ("timestamp", str(timestamp))]
    if recv_window is not None:
        items.append(("recvWindow", str(recv_window)))
    text = urlencode(items)
    signature = sign(secret, text)
    if tamper:
        text = text.replace("BTCUSDT", "ETHUSDT")
    text += f"&signature={signature}"
    headers = {"X-MBX-APIKEY": key} if key else {}
    if method == "GET" or where == "query":
        request = httpx.Request(method, f"https://eapi/{path}?{text}", headers=headers)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = httpx.Request(
            method, f"https://eapi/{path}", content=text.encode(), headers=headers
        )
    response = sim(request)
    return response.status_code, loads_exact(response.content), response.headers


SET = {
    "underlying": "BTCUSDT",
    "windowTimeInMilliseconds": "3000",
    "frozenTimeInMilliseconds": "300000",
    "qtyLimit": "2",
    "deltaLimit": "2.3",
}


def test_set_and_get_answer_limits_as_strings(sim: BinanceSimulator) -> None:
    status, body, headers = send(sim, "POST", "eapi/v1/mmpSet", SET)
    assert status == 200 and body["qtyLimit"] == "2" and body["deltaLimit"] == "2.3"
    _, got, headers = send(sim, "GET", "eapi/v1/mmp", {"underlying": "BTCUSDT"})
    assert got == {
        "underlyingId": 2,
        "underlying": "BTCUSDT",
        "windowTimeInMilliseconds": 3000,
        "frozenTimeInMilliseconds": 300000,
        "qtyLimit": "2",
        "deltaLimit": "2.3",
        "lastTriggerTime": 0,
    }
    assert headers["X-MBX-USED-WEIGHT-1M"] == "2"


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"secret": "wrong"}, 400, -1022),
        ({"tamper": True}, 400, -1022),
        ({"timestamp": NOW - 6000}, 400, -1021),
        ({"timestamp": NOW + 1000}, 400, -1021),
        ({"recv_window": 60000}, 400, -1131),
        ({"key": ""}, 401, -2014),
        ({"key": "unknown"}, 401, -2015),
    ],
)
def test_auth_and_timing_refused(
    sim: BinanceSimulator, kwargs: dict[str, Any], status: int, code: int
) -> None:
    got = send(sim, "POST", "eapi/v1/mmpSet", SET, **kwargs)
    assert (got[0], got[1]["code"]) == (status, code)
    assert sim.accounts["key"].configs == {}


def test_signature_may_sit_in_the_query_of_a_post(sim: BinanceSimulator) -> None:
    assert send(sim, "POST", "eapi/v1/mmpSet", SET, where="query")[0] == 200


def test_json_body_is_not_accepted(sim: BinanceSimulator) -> None:
    request = httpx.Request(
        "POST", "https://eapi/eapi/v1/mmpSet", json=SET, headers={"X-MBX-APIKEY": "key"}
    )
    assert loads_exact(sim(request).content)["code"] == -1102


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"underlying": "BTCUSDX"}, -1128),
        ({"windowTimeInMilliseconds": "0"}, -1130),
        ({"windowTimeInMilliseconds": "5001"}, -1130),
        ({"windowTimeInMilliseconds": "1.5"}, -1130),
        ({"frozenTimeInMilliseconds": "-1"}, -1130),
        ({"qtyLimit": "0"}, -1130),
        ({"deltaLimit": "abc"}, -1130),
        ({"qtyLimit": "0.000000001"}, -1111),
        ({"deltaLimit": ""}, -1102),
        ({"extra": "1"}, -1104),
    ],
)
def test_bounds_enforced_with_binance_codes(
    sim: BinanceSimulator, change: dict[str, str], code: int
) -> None:
    assert send(sim, "POST", "eapi/v1/mmpSet", {**SET, **change})[1]["code"] == code


def test_not_a_market_maker(sim: BinanceSimulator) -> None:
    sim.accounts["key"].market_maker = False
    assert send(sim, "GET", "eapi/v1/mmp", {"underlying": "BTCUSDT"})[1]["code"] == -1002


def test_weight_429_then_418(sim: BinanceSimulator) -> None:
    sim.weight_limit, sim.ban_after = 3, 2
    statuses = [send(sim, "GET", "eapi/v1/mmp", {"underlying": "BTCUSDT"})[0] for _ in range(7)]
    assert statuses == [200, 200, 200, 429, 429, 418, 418]
    _, body, headers = send(sim, "GET", "eapi/v1/mmp", {"underlying": "BTCUSDT"})
    assert body["code"] == -1003 and headers["Retry-After"] == "120"
    sim.clock.advance(120_000)
    later = send(sim, "GET", "eapi/v1/mmp", {"underlying": "BTCUSDT"}, timestamp=NOW + 120_000)
    assert later[0] == 200


# Binance does not say whether mmpReset leaves lastTriggerTime as it was (seed-venues.md 2.8):
# the simulator reads it either way (`reset_keeps_trigger_time`; kept by default)
READINGS = pytest.mark.parametrize("keeps", [True, False], ids=["trigger-kept", "trigger-zeroed"])


@READINGS
def test_a_reset_ends_the_freeze_and_keeps_or_zeroes_the_trigger_time(keeps: bool) -> None:
    sim = BinanceSimulator(clock=Clock(NOW), reset_keeps_trigger_time=keeps)
    sim.add_account("key", "secret")
    send(sim, "POST", "eapi/v1/mmpSet", {**SET, "frozenTimeInMilliseconds": "0"})
    at = sim.trigger("key", "BTCUSDT")
    assert sim.is_frozen("key", "BTCUSDT")  # manual: until a reset
    answer = send(sim, "POST", "eapi/v1/mmpReset", {"underlying": "BTCUSDT"})[1]
    assert answer["lastTriggerTime"] == (at if keeps else 0)
    assert not sim.is_frozen("key", "BTCUSDT")  # the venue's truth, whatever it shows


def test_the_default_reading_keeps_the_trigger_time() -> None:
    """The reading under which a read cannot show a reset is the default: the stricter one."""
    assert BinanceSimulator().reset_keeps_trigger_time


def client(
    sim: Any, secret: str = "secret", key: str = "key", shared: Discovered | None = None
) -> BinanceClient:
    """A client of the simulator's account `key` (made where it is new)."""
    if isinstance(sim, BinanceSimulator) and key not in sim.accounts:
        sim.add_account(key, "secret")
    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(sim)
    )
    creds = Credentials({"API_KEY": key, "API_SECRET": secret})
    return BinanceClient("mm", creds, http, None, shared)


@READINGS
def test_client_set_read_and_freeze(keeps: bool) -> None:
    sim = BinanceSimulator(reset_keeps_trigger_time=keeps)  # real clock: the client signs
    sim.add_account("key", "secret")  # with this machine's time
    venue = client(sim)

    async def go() -> None:
        await venue.set_config(KEY, CONFIG)
        live = await venue.read()
        assert [(s.key, s.config) for s in live.scopes] == [(KEY, CONFIG)]
        triggered_at = sim.trigger("key", "BTCUSDT")
        frozen = (await venue.read()).scopes[0].freeze
        assert frozen.frozen and frozen.until_ms is not None  # a timed freeze: known
        assert frozen.last_trigger_ms == triggered_at  # what `mmp status` shows
        sim.seed("key", {**SET, "frozenTimeInMilliseconds": "0"})
        manual = (await venue.read()).scopes[0].freeze
        # manual: frozen until a reset, which Binance's answer may not show: unknown, said why
        assert not manual.frozen and manual.last_trigger_ms == triggered_at
        assert "Binance does not report resets" in manual.unknown
        await venue.reset(KEY)
        after = (await venue.read()).scopes[0].freeze
        assert not sim.is_frozen("key", "BTCUSDT")
        if keeps:  # the answer is as before the reset: still unknown, never "frozen forever"
            assert after == manual
        else:  # zeroed: the reset shows, and the state is known
            assert after == FreezeState(False)

    asyncio.run(go())
    # every underlying known, one signed GET each: no read-all exists
    assert sim.requests.count("GET /eapi/v1/mmp") == 6 * 4


def test_client_reads_every_listed_underlying_and_refuses_one_not_listed() -> None:
    """exchangeInfo lists the underlyings (once): each is read, ADAUSDT too when listed;
    a declared one it does not list is refused before any MMP read, with did-you-mean."""
    sim = BinanceSimulator(underlyings=[*DEFAULT_UNDERLYINGS, "ADAUSDT"])
    sim.add_account("key", "secret")
    sim.seed("key", {**SET, "underlying": "ADAUSDT"})
    live = asyncio.run(client(sim).read(frozenset({"BTCUSDT"})))
    assert [s.key.underlying for s in live.scopes] == ["ADAUSDT"]
    assert sim.requests.count("GET /eapi/v1/exchangeInfo") == 1
    assert sim.requests.count("GET /eapi/v1/mmp") == 7
    sim.requests.clear()
    with pytest.raises(Unlisted) as info:
        asyncio.run(client(sim).read(frozenset({"ADAUSD", "ETHUSDT"})))
    assert str(info.value) == (
        "binance/mm: binance has no underlying `ADAUSD`; did you mean `ADAUSDT`? (GET "
        "/eapi/v1/exchangeInfo at eapi.binance.com lists 7: ADAUSDT, BNBUSDT, BTCUSDT, "
        "DOGEUSDT, ETHUSDT, SOLUSDT, XRPUSDT)"
    )
    assert sim.requests == ["GET /eapi/v1/exchangeInfo"]


def test_accounts_of_one_endpoint_ask_for_the_list_once() -> None:
    sim = BinanceSimulator()
    shared = Discovered()

    async def go() -> None:
        clients = [client(sim, key=f"k{i}", shared=shared) for i in range(3)]
        await asyncio.gather(*(c.read() for c in clients))

    asyncio.run(go())
    assert sim.requests.count("GET /eapi/v1/exchangeInfo") == 1
    assert sim.requests.count("GET /eapi/v1/mmp") == 3 * 6


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"optionSymbols": []}, "optionContracts is missing"),
        ({"optionContracts": [{"underlying": ""}]}, "underlying is not a non-empty string"),
        ({"optionContracts": [{"baseAsset": "BTC"}]}, "underlying is missing"),
        ({"optionContracts": []}, "optionContracts lists no underlying"),
        ([], "the answer is not an object"),
    ],
)
def test_exchange_info_refused_when_malformed(answer: Any, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        wire.underlyings_from_wire(answer)


def test_exchange_info_parses_the_documented_answer() -> None:
    info = BinanceSimulator(underlyings=["BTCUSDT", "ETHUSDT"])._exchange_info()
    assert set(info) == {
        "timezone",
        "serverTime",
        "optionContracts",
        "optionAssets",
        "optionSymbols",
        "rateLimits",
    }
    assert wire.underlyings_from_wire(info) == {"BTCUSDT", "ETHUSDT"}
    extra = {**info, "optionSymbols": [*info["optionSymbols"], {"underlying": "XRPUSDT"}]}
    assert wire.underlyings_from_wire(extra) == {"BTCUSDT", "ETHUSDT", "XRPUSDT"}


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (500, {"code": -1000, "msg": "Internal error"}, "Internal error"),
        (200, {"optionContracts": "BTCUSDT"}, "malformed answer to GET /eapi/v1/exchangeInfo"),
    ],
)
def test_a_failed_listing_is_an_error_that_says_so(status: int, body: Any, said: str) -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(status, json=body)

    with pytest.raises(VenueError) as info:
        asyncio.run(client(answer).read(frozenset({"BTCUSDT"})))
    text = str(info.value)
    assert "GET /eapi/v1/exchangeInfo, the list of binance's underlyings" in text
    assert said in text and "keeps no list of its own to fall back on" in text
    assert sent == ["/eapi/v1/exchangeInfo"]  # no underlying read from a list of ours


def test_a_failed_read_ends_the_requests_still_under_way() -> None:
    """One underlying refused while the others wait on the venue: they are cancelled and
    over before the error is raised, so no connection is left open when the client closes."""
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    waiting: list[str] = []
    ended: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["underlying"] == "ADAUSDT":  # asked for by name (`only`)
            await asyncio.sleep(0.01)
            return sim(request)  # -1128: not an options underlying
        waiting.append(request.url.params["underlying"])
        try:
            await asyncio.sleep(10)
        finally:
            ended.append(request.url.params["underlying"])
        return sim(request)

    async def go() -> None:
        http = httpx.AsyncClient(
            base_url="https://eapi.binance.com", transport=httpx.MockTransport(handler)
        )
        venue = BinanceClient("mm", Credentials({"API_KEY": "key", "API_SECRET": "secret"}), http)
        with pytest.raises(VenueRejected, match="-1128"):
            await venue.read(only=frozenset({"ADAUSDT", *DEFAULT_UNDERLYINGS}))
        assert len(waiting) == 6 and sorted(ended) == sorted(waiting)
        await venue.aclose()

    asyncio.run(asyncio.wait_for(go(), timeout=5))


def test_client_errors_are_typed_and_named() -> None:
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    with pytest.raises(VenueAuthError) as info:
        asyncio.run(client(sim, secret="wrong").read())
    assert "venue error -1022" in str(info.value) and "API_SECRET" in str(info.value)
    sim.weight_limit, sim.ban_after = 0, 0
    with pytest.raises(VenueRateLimited):
        asyncio.run(client(sim).read())
    with pytest.raises(VenueRejected, match="no way to remove"):
        asyncio.run(client(sim).remove_config(KEY, CONFIG))


HEADER = """
accounts:
  mm:
    venue: binance
    environment: production
    credentials: BINANCE_MM
    mmp:
      BTCUSDT:
"""


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "window: 3\n        frozen: 5m\n        quantity_limit: 1\n        delta_limit: 1",
            "policies/desk.yaml:8:17: window: duration 3 has no unit: write 3s or 3ms",
        ),
        (
            "window: 6s\n        frozen: 5m\n        quantity_limit: 1\n        delta_limit: 1",
            "policies/desk.yaml:8:17: window 6s is above binance's maximum of 5s",
        ),
        (
            "window: 1s\n        frozen: 5m\n"
            "        quantity_limit: 0.123456789\n        delta_limit: 1",
            "policies/desk.yaml:10:25: quantity_limit 0.123456789 has 9 decimal places; "
            "binance keeps at most 8",
        ),
        (
            "window: 1s\n        frozen: 5m\n        quantity_limit: 1\n        delta_limit: 1\n"
            "        vega_limit: 3",
            "policies/desk.yaml:12:9: binance does not support `vega_limit`",
        ),
        (
            "window: 1s\n        frozen: 5m\n        quantity_limit: 1",
            "policies/desk.yaml:7:7: binance requires `delta_limit`",
        ),
    ],
)
def test_unit_mistakes_refused_before_any_request(in_tmp: Path, fields: str, expected: str) -> None:
    write_policy(in_tmp, HEADER + "        " + fields + "\n")
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert any(str(p).startswith(expected) for p in info.value.problems), info.value.problems


def test_absent_is_refused_on_binance(in_tmp: Path) -> None:
    write_policy(in_tmp, HEADER.replace("      BTCUSDT:\n", "      BTCUSDT: absent\n"))
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:16: binance has no way to remove an MMP config, so `absent` "
        "cannot be applied; set the limits you want instead"
    ]


def test_a_request_is_signed_when_the_limiter_lets_it_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Waiting for a rate-limit window must not leave a stale timestamp in the signature
    (Binance refuses it with -1021 once it is older than recvWindow)."""
    from reconciler.venues.binance import client as binance_client

    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    events: list[str] = []

    class Gate:
        async def acquire(self) -> None:
            events.append("granted")

        def release(self) -> None:
            events.append("answered")

    real_now = binance_client._now_ms

    def stamped() -> int:
        events.append("signed")
        return real_now()

    monkeypatch.setattr(binance_client, "_now_ms", stamped)
    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(sim)
    )
    venue = BinanceClient(
        "mm", Credentials({"API_KEY": "key", "API_SECRET": "secret"}), http, Gate()
    )
    asyncio.run(venue.set_config(KEY, CONFIG))
    assert events[:3] == ["granted", "signed", "answered"]


def test_a_request_that_arrived_too_late_is_signed_again_and_resent() -> None:
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    stamps: list[str] = []

    def stalls_once(request: httpx.Request) -> httpx.Response:
        stamps.append(dict(parse_qsl(request.content.decode()))["timestamp"])
        if len(stamps) == 1:  # as if it sat in a queue past recvWindow
            body = {
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
            }
            return httpx.Response(400, json=body)
        return sim(request)

    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(stalls_once)
    )
    venue = BinanceClient("mm", Credentials({"API_KEY": "key", "API_SECRET": "secret"}), http)
    asyncio.run(venue.set_config(KEY, CONFIG))
    assert len(stamps) == 2 and sim.accounts["key"].configs["BTCUSDT"]


def refusing(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> tuple[BinanceClient, list[httpx.Request]]:
    """A client whose venue answers every request with `status` and `body`."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=body, headers=headers)

    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(handler)
    )
    creds = Credentials({"API_KEY": "key", "API_SECRET": "secret"})
    return BinanceClient("mm", creds, http), seen


def test_a_request_still_late_after_two_fresh_signatures_names_the_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """-1021 is resent signed afresh at most twice (three sends), then reported with the
    clock to check; each send carries a new timestamp and a signature of it."""
    from reconciler.venues.binance import client as binance_client

    stamps = iter(range(NOW, NOW + 10))
    monkeypatch.setattr(binance_client, "_now_ms", lambda: next(stamps))
    late = b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'
    venue, seen = refusing(400, late)
    with pytest.raises(VenueAuthError) as info:
        asyncio.run(venue.set_config(KEY, CONFIG))
    sent = [dict(parse_qsl(r.content.decode())) for r in seen]
    assert [s["timestamp"] for s in sent] == [str(NOW), str(NOW + 1), str(NOW + 2)]
    assert len({s["signature"] for s in sent}) == 3
    assert info.value.code == -1021 and "check this machine's clock" in str(info.value)


def test_the_auth_signs_the_published_mmp_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    """What leaves is the unsigned form, recvWindow, the timestamp and the signature last:
    byte for byte the string of our MMP vector (seed-venues.md 2.4)."""
    from reconciler.venues.binance import client as binance_client

    monkeypatch.setattr(binance_client, "_now_ms", lambda: 1499827319559)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=SET | {"windowTimeInMilliseconds": 3000})

    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(handler)
    )
    venue = BinanceClient("mm", Credentials({"API_KEY": "k", "API_SECRET": SPOT_SECRET}), http)
    with pytest.raises(VenueError):  # the canned answer is no MMP object; only the request counts
        asyncio.run(venue.set_config(KEY, CONFIG))
    [request] = seen
    assert request.content.decode() == (
        "underlying=BTCUSDT&windowTimeInMilliseconds=3000&frozenTimeInMilliseconds=300000"
        "&qtyLimit=2&deltaLimit=2.3&recvWindow=5000&timestamp=1499827319559"
        "&signature=3f52cc9e32689ef02dfe1b693091b8d95a974fb439fe2aebdfdf2a1254e71f56"
    )
    assert request.headers["X-MBX-APIKEY"] == "k"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert int(request.headers["Content-Length"]) == len(request.content)
    assert request.url.query == b""


def test_what_is_signed_is_what_is_sent_even_for_odd_characters() -> None:
    """An underlying that needs escaping (a typo in a policy) is refused for what it is
    (-1128), never for a signature over other bytes than those sent (-1022)."""
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    odd = "BTC USDT/é+%&="
    with pytest.raises(VenueRejected, match="-1128"):
        asyncio.run(client(sim).read(only=frozenset({odd})))
    with pytest.raises(VenueRejected, match="-1128"):
        asyncio.run(client(sim).reset(ScopeKey("binance", "mm", odd)))


def test_manual_freeze_is_the_venues_zero_both_ways() -> None:
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    manual = CONFIG.with_changes(frozen_ms=MANUAL, window_ms=1)

    async def go() -> None:
        await client(sim).set_config(KEY, manual)
        assert sim.accounts["key"].configs["BTCUSDT"]["frozenTimeInMilliseconds"] == 0
        assert sim.accounts["key"].configs["BTCUSDT"]["windowTimeInMilliseconds"] == 1
        assert (await client(sim).read(only=frozenset({"BTCUSDT"}))).scopes[0].config == manual

    asyncio.run(go())


def test_a_negative_frozen_time_is_a_malformed_answer() -> None:
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    sim.seed("key", {**SET, "frozenTimeInMilliseconds": "0"})
    sim.accounts["key"].configs["BTCUSDT"]["frozenTimeInMilliseconds"] = -1
    with pytest.raises(VenueUnavailable, match="malformed answer to GET /eapi/v1/mmp"):
        asyncio.run(client(sim).read(only=frozenset({"BTCUSDT"})))


BANNED = b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1."}'
UNKNOWN = b'{"code":-1000,"msg":"Unknown error, please check your request or try again later."}'


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "words"),
    [
        (418, BANNED, {"Retry-After": "120"}, VenueRateLimited, "stop and wait 120 s"),
        (418, b"<html>banned</html>", {}, VenueRateLimited, "wait until the ban ends"),
        (503, UNKNOWN, {}, VenueUnavailable, "Unknown error, please check"),
        (503, b"<html>down</html>", {}, VenueUnavailable, "(HTTP 503)"),
        (500, b'{"code":-1130,"msg":"x"}', {}, VenueUnavailable, "venue error -1130"),
        (403, b'{"code":-1000,"msg":"WAF"}', {}, VenueRejected, "web application firewall"),
        (401, b'{"code":-2015,"msg":"Invalid"}', {}, VenueAuthError, "options trading permission"),
        (400, b'{"code":-1002,"msg":"no"}', {}, VenueAuthError, "options market maker"),
        (400, b'{"code":-1130,"msg":"bad"}', {}, VenueRejected, "venue error -1130: "),
        (200, b'{"code":-1008,"msg":"busy"}', {}, VenueRateLimited, "weight limit reached"),
    ],
)
def test_a_write_refused_is_sent_once_and_named(
    status: int,
    body: bytes,
    headers: dict[str, str],
    error: type[VenueError],
    words: str,
) -> None:
    """A ban is a rate limit never waited out here; a 503 may have been applied (its outcome
    is unknown); a 403 is Binance's firewall, not the key; no refusal is sent twice."""
    venue, seen = refusing(status, body, headers)
    with pytest.raises(VenueError) as info:
        asyncio.run(venue.set_config(KEY, CONFIG))
    assert type(info.value) is error and words in str(info.value), str(info.value)
    assert info.value.where == "binance/mm/BTCUSDT" and "/eapi/v1/mmpSet: " in str(info.value)
    assert len(seen) == 1
    if error is VenueUnavailable:
        assert info.value.retryable and getattr(info.value, "maybe_applied", False)


def test_a_banned_read_is_not_retried_but_a_429_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.venues.http.BACKOFF_MS", 1)
    venue, seen = refusing(418, BANNED, {"Retry-After": "120"})
    with pytest.raises(VenueRateLimited):
        asyncio.run(venue.read(only=frozenset({"BTCUSDT"})))
    assert len(seen) == 1
    sim = BinanceSimulator()
    sim.add_account("key", "secret")
    limited = iter([True, True])

    def twice_429(request: httpx.Request) -> httpx.Response:
        if next(limited, False):
            body = {"code": -1008, "msg": "Too much request weight used"}
            return httpx.Response(429, json=body, headers={"Retry-After": "0"})
        return sim(request)

    http = httpx.AsyncClient(
        base_url="https://eapi.binance.com", transport=httpx.MockTransport(twice_429)
    )
    venue = BinanceClient("mm", Credentials({"API_KEY": "key", "API_SECRET": "secret"}), http)
    asyncio.run(venue.set_config(KEY, CONFIG))  # a write too: a 429 did nothing
    assert sim.requests == ["POST /eapi/v1/mmpSet"]
