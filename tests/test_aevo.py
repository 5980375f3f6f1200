"""Aevo: signing vectors, a strict simulator, the client in both auth modes, exact amounts;
the assets as GET /assets lists them; the signed path under either reading of the query."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from reconciler.core.errors import ConfigError, VenueAuthError, VenueRejected, VenueUnavailable
from reconciler.core.model import FreezeState, MmpConfig, ScopeKey
from reconciler.core.units import dumps_exact, loads_exact
from reconciler.simulators.common import Clock
from reconciler.venues.aevo import wire
from reconciler.venues.aevo.client import AevoClient, AevoEndpoint
from reconciler.venues.aevo.simulator import DEFAULT_ASSETS, AevoSimulator
from reconciler.venues.base import Credentials
from reconciler.venues.discovery import Unlisted
from reconciler.venues.http import rate_limit_wait_ms
from tests.helpers import load, write_policy

NOW_NS = 1_700_000_000_000 * 1_000_000
KEY = ScopeKey("aevo", "mm", "ETH")
BODY = {
    "interval": 30,
    "frozen": 30,
    "amount_limit": "1000000",
    "delta_limit": Decimal("0.1"),
    "asset": "ETH",
}


def test_signature_vectors() -> None:
    ts = "1673425955575713842"
    assert wire.signature("SECRET", "API_KEY", ts, "GET", "/account", "") == (
        "5246ea90806c2186809f8f1f4e080881b5c2508564b5003998fe15b2a75466c4"
    )
    assert dumps_exact(BODY) == (
        '{"interval":30,"frozen":30,"amount_limit":"1000000","delta_limit":0.1,"asset":"ETH"}'
    )
    assert wire.signature("SECRET", "API_KEY", ts, "POST", "/mmp", dumps_exact(BODY)) == (
        "b7cfcfd16e0d3687e402144a1955046ad7fe118ce279d6a5345ddc30c2c20f7b"
    )


@pytest.mark.parametrize("text", ["1", "0.000001", "1.25", "123456.789012", "0.1"])
def test_amount_limit_is_exact_both_ways(text: str) -> None:
    quantity = Decimal(text)
    assert wire.amount_from_wire(wire.amount_to_wire(quantity)) == quantity
    assert wire.amount_to_wire(Decimal("1.25")) == "1250000"


READINGS = pytest.mark.parametrize("sign_query", [False, True], ids=["path-only", "with-query"])
"""Whether the venue signs a GET's query string: not documented, so every client test runs
under both readings the simulator can verify."""


@pytest.fixture(params=[False, True], ids=["path-only", "with-query"])
def sim(request: pytest.FixtureRequest) -> AevoSimulator:
    sim = AevoSimulator(clock=Clock(NOW_NS // 1_000_000), sign_query=request.param)
    sim.add_account("key", "secret")
    return sim


def send(
    sim: AevoSimulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    ts: int = NOW_NS,
    secret: str = "secret",
    other_reading: bool = False,
    raw: bytes | None = None,
) -> tuple[int, Any, httpx.Headers]:
    """Signed as the simulator reads a signed path, or (`other_reading`) the other way."""
    content = raw if raw is not None else (b"" if body is None else dumps_exact(body).encode())
    query = sim.sign_query != other_reading
    signed = wire.signed_path(path.encode(), b"", query=query)
    sig = wire.signature(secret, "key", str(ts), method, signed, content.decode())
    headers = {"AEVO-KEY": "key", "AEVO-TIMESTAMP": str(ts), "AEVO-SIGNATURE": sig}
    response = sim(httpx.Request(method, f"https://aevo{path}", content=content, headers=headers))
    return response.status_code, loads_exact(response.content), response.headers


def test_post_then_get_answers_strings(sim: AevoSimulator) -> None:
    assert send(sim, "POST", "/mmp", BODY)[:2] == (200, {"success": True})
    status, got, _ = send(sim, "GET", "/mmp?asset=ETH")
    assert status == 200
    assert got == {
        "enabled": True,
        "triggered": False,
        "asset": "ETH",
        "interval": "30",
        "frozen": "30",
        "frozen_end_time": "0",
        "amount_limit": "1000000",
        "delta_limit": "0.1",
        "amount_change": "0",
        "delta_change": "0",
    }


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"secret": "wrong"}, 401),
        ({"ts": NOW_NS - 31 * 10**9}, 401),
        ({"other_reading": True}, 401),  # with the query where it is read without, or not
    ],
)
def test_auth_refused(sim: AevoSimulator, kwargs: dict[str, Any], status: int) -> None:
    got = send(sim, "GET", "/mmp?asset=ETH", **kwargs)
    assert got[:2] == (status, {"error": "UNAUTHORIZED"})


def test_signature_covers_the_raw_body(sim: AevoSimulator) -> None:
    body = dumps_exact(BODY).encode()
    sig = wire.signature("secret", "key", str(NOW_NS), "POST", "/mmp", body.decode())
    spaced = body.replace(b",", b", ")  # same JSON, other bytes
    response = sim(
        httpx.Request(
            "POST",
            "https://aevo/mmp",
            content=spaced,
            headers={"AEVO-KEY": "key", "AEVO-TIMESTAMP": str(NOW_NS), "AEVO-SIGNATURE": sig},
        )
    )
    assert response.status_code == 401


def test_query_reading_is_switchable(sim: AevoSimulator) -> None:
    sim.sign_query = not sim.sign_query
    assert send(sim, "GET", "/mmp?asset=ETH")[0] == 200
    assert send(sim, "GET", "/mmp?asset=ETH", other_reading=True)[0] == 401


def test_the_default_reading_is_the_one_the_client_does_not_try_first() -> None:
    assert AevoSimulator().sign_query is False
    assert wire.signed_path(b"/mmp?asset=ETH", b"") == "/mmp?asset=ETH"  # the first try
    assert wire.signed_path(b"/mmp?asset=ETH", b"", query=False) == "/mmp"
    assert wire.signed_path(b"/aevo/mmp?asset=ETH", b"/aevo", query=False) == "/mmp"


@pytest.mark.parametrize(
    "change",
    [
        {"interval": "30"},
        {"interval": 3601},
        {"frozen": -1},
        {"amount_limit": 1000000},
        {"amount_limit": "1.5"},
        {"amount_limit": "0"},
        {"delta_limit": "0.1"},
        {"delta_limit": Decimal("0.0000001")},
        {"asset": "DOGE"},
        {"extra": 1},
    ],
)
def test_bounds_and_types_enforced(sim: AevoSimulator, change: dict[str, Any]) -> None:
    got = send(sim, "POST", "/mmp", {**BODY, **change})
    assert got[:2] == (400, {"error": "ERR_MALFORMED_REQUEST"})
    assert sim.accounts["key"].configs == {}


def test_malformed_json(sim: AevoSimulator) -> None:
    assert send(sim, "POST", "/mmp", raw=b"{nope")[1] == {"error": "ERR_MALFORMED_REQUEST"}


def test_rate_limit_answers_in_nanoseconds(sim: AevoSimulator) -> None:
    statuses = [send(sim, "GET", "/mmp?asset=ETH") for _ in range(21)]
    status, body, headers = statuses[-1]
    assert [s[0] for s in statuses[:20]] == [200] * 20 and status == 429
    assert body == {"error": "RATE_LIMIT_EXCEEDED", "retry_after": "100000000"}
    assert headers["X-RETRY-AFTER"] == "100000000"
    assert rate_limit_wait_ms(httpx.Response(429, headers=headers)) == 100


def test_trigger_thaw_reset_and_disable(sim: AevoSimulator) -> None:
    send(sim, "POST", "/mmp", BODY)
    end = sim.trigger("key", "ETH")
    got = send(sim, "GET", "/mmp?asset=ETH")[1]
    assert got["triggered"] is True and got["frozen_end_time"] == str(end)
    sim.clock.advance(30_000)
    later = send(sim, "GET", "/mmp?asset=ETH", ts=NOW_NS + 30 * 10**9)[1]
    assert later["triggered"] is False
    sim.trigger("key", "ETH")
    send(sim, "POST", "/reset-mmp", {"asset": "ETH"}, ts=NOW_NS + 30 * 10**9)
    assert not sim.accounts["key"].configs["ETH"]["triggered"]
    send(sim, "POST", "/mmp", {**BODY, "interval": 0}, ts=NOW_NS + 30 * 10**9)
    assert sim.accounts["key"].configs == {}


def client(
    sim: Any,
    mode: Literal["hmac", "key"] = "hmac",
    secret: str = "secret",
    shared: AevoEndpoint | None = None,
    account: str = "mm",
    key: str = "key",
) -> AevoClient:
    """A client of `account`, with the simulator's account `key` (made where it is new)."""
    simulator = sim.sim if isinstance(sim, Statuses) else sim
    if key not in simulator.accounts:
        simulator.add_account(key, "secret")
    http = httpx.AsyncClient(base_url="https://api.aevo.xyz", transport=httpx.MockTransport(sim))
    creds = Credentials({"API_KEY": key, "API_SECRET": secret})
    return AevoClient(account, creds, http, None, shared, auth_mode=mode)


@READINGS
@pytest.mark.parametrize("mode", ["hmac", "key"])
def test_client_round_trip_in_both_auth_modes(
    mode: Literal["hmac", "key"], sign_query: bool
) -> None:
    sim = AevoSimulator(sign_query=sign_query)
    sim.add_account("key", "secret")
    venue = client(sim, mode)
    config = MmpConfig(
        10_000, "manual", quantity_limit=Decimal("0.000001"), delta_limit=Decimal("0.1")
    )

    async def go() -> None:
        await venue.set_config(KEY, config)
        assert [(s.key, s.config) for s in (await venue.read()).scopes] == [(KEY, config)]
        sim.trigger("key", "ETH")
        assert (await venue.read()).scopes[0].freeze == FreezeState(True, None)
        await venue.reset(KEY)
        await venue.remove_config(KEY, config)
        assert (await venue.read()).scopes == ()

    asyncio.run(go())
    assert sim.accounts["key"].configs == {}


def test_frozen_end_time_nanoseconds_become_milliseconds() -> None:
    scope = wire.live_scope(
        "mm",
        {
            "asset": "ETH",
            "enabled": True,
            "triggered": True,
            "interval": "30",
            "frozen": "30",
            "frozen_end_time": "1683697928273737203",
            "amount_limit": "1000000",
            "delta_limit": "0",
        },
    )
    assert scope.freeze == FreezeState(True, 1683697928273)
    assert scope.config is not None and scope.config.delta_limit is None


@READINGS
def test_client_errors(sign_query: bool) -> None:
    sim = AevoSimulator(sign_query=sign_query)
    sim.add_account("key", "secret")
    with pytest.raises(VenueAuthError, match="UNAUTHORIZED"):
        asyncio.run(client(sim, secret="wrong").read())
    with pytest.raises(VenueRejected, match="ERR_MALFORMED_REQUEST"):
        asyncio.run(client(sim).read(only=frozenset({"DOGE"})))  # not listed: the venue refuses


def test_precision_refused_at_validate_time(in_tmp: Path) -> None:
    write_policy(
        in_tmp,
        """
        accounts:
          mm:
            venue: aevo
            environment: production
            credentials: AEVO_MM
            mmp:
              ETH: {window: 1500ms, frozen: 30s, quantity_limit: 0.0000001}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load(in_tmp)
    assert [str(p) for p in info.value.problems] == [
        "policies/desk.yaml:7:21: window 1500ms cannot be expressed on aevo, which takes "
        "window in whole seconds; refusing to round it",
        "policies/desk.yaml:7:58: quantity_limit 0.0000001 has 7 decimal places; aevo keeps at "
        "most 6, and we never round a limit",
    ]


class SlowSlot:
    """A rate limit whose every slot comes a minute late, on the simulator's clock."""

    def __init__(self, sim: AevoSimulator) -> None:
        self.sim = sim

    async def acquire(self) -> None:
        self.sim.clock.advance(60_000)

    def release(self) -> None:
        pass


def test_signed_when_it_leaves_not_when_it_was_made(
    sim: AevoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that waits past the 30 s the venue allows for its slot still arrives with a
    fresh timestamp: it is signed after the wait, over the exact body sent."""
    monkeypatch.setattr(
        "reconciler.venues.aevo.client.time_ns", lambda: sim.clock.now_ms() * 1_000_000
    )
    http = httpx.AsyncClient(base_url="https://api.aevo.xyz", transport=httpx.MockTransport(sim))
    creds = Credentials({"API_KEY": "key", "API_SECRET": "secret"})
    venue = AevoClient("mm", creds, http, SlowSlot(sim))
    config = MmpConfig(30_000, 30_000, quantity_limit=Decimal(1), delta_limit=Decimal("0.1"))
    asyncio.run(venue.set_config(KEY, config))
    assert sim.accounts["key"].configs["ETH"]["amount_limit"] == "1000000"


class Recording:
    """Hands each request on to `answer` and keeps a copy of what was sent (a request sent
    again is the same object, signed afresh)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        copy = httpx.Request(
            request.method, request.url, headers=request.headers.copy(), content=request.content
        )
        self.sent.append(copy)
        return self.answer(request)  # type: ignore[no-any-return]


def _venue(answer: Any, base_url: str = "https://api.aevo.xyz", mode: Any = "hmac") -> Any:
    http = httpx.AsyncClient(base_url=base_url, transport=httpx.MockTransport(answer))
    creds = Credentials({"API_KEY": "key", "API_SECRET": "secret"})
    return AevoClient("mm", creds, http, auth_mode=mode)


@READINGS
@pytest.mark.parametrize("mode", ["hmac", "key"])
def test_the_secret_leaves_only_in_key_mode(mode: str, sign_query: bool) -> None:
    sim = AevoSimulator(sign_query=sign_query)
    sim.add_account("key", "secret")
    recording = Recording(sim)
    asyncio.run(_venue(recording, mode=mode).read(only=frozenset({"ETH"})))
    sent = recording.sent[-1]  # hmac under the path-only reading: after one 401
    assert sent.headers["AEVO-KEY"] == "key"
    if mode == "key":
        assert sent.headers["AEVO-SECRET"] == "secret" and "AEVO-SIGNATURE" not in sent.headers
    else:
        assert "AEVO-SECRET" not in sent.headers and "secret" not in str(sent.headers.raw)
        assert sent.headers["AEVO-TIMESTAMP"].isdigit()


@READINGS
def test_the_signed_path_is_the_one_after_the_base_url(sign_query: bool) -> None:
    """As before the port: a base URL with a path of its own (a proxy) signs /mmp?asset=...
    (or /mmp, the venue's other reading), after the proxy's own path."""
    sim = AevoSimulator(sign_query=sign_query)
    sim.add_account("key", "secret")

    def proxy(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path.startswith((b"/aevo/mmp", b"/aevo/assets"))
        inner = request.url.copy_with(raw_path=request.url.raw_path[len(b"/aevo") :])
        return sim(httpx.Request(request.method, inner, headers=request.headers, content=b""))

    scopes = asyncio.run(_venue(proxy, "https://proxy.test/aevo/").read()).scopes
    assert scopes == ()
    refused = 0 if sign_query else 1  # the first try signs the query
    assert sim.requests == ["GET /assets"] + ["GET /mmp"] * (len(DEFAULT_ASSETS) + refused)


def test_a_rate_limited_write_is_sent_again_signed_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """429 RATE_LIMIT_EXCEEDED was not processed: the write goes again after X-RETRY-AFTER
    (nanoseconds), with a new timestamp and signature."""
    sim = AevoSimulator()
    sim.add_account("key", "secret")
    ticks = iter(range(NOW_NS, NOW_NS + 10**9, 10**6))
    monkeypatch.setattr("reconciler.venues.aevo.client.time_ns", lambda: next(ticks))
    monkeypatch.setattr(sim, "clock", Clock(NOW_NS // 1_000_000))
    refused = False

    def once_limited(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        if refused:
            return sim(request)
        refused = True
        body = {"error": "RATE_LIMIT_EXCEEDED", "retry_after": "1000000"}
        return httpx.Response(429, json=body, headers={"X-RETRY-AFTER": "1000000"})

    recording = Recording(once_limited)
    config = MmpConfig(30_000, "manual", quantity_limit=Decimal("1.5"))
    asyncio.run(_venue(recording).set_config(KEY, config))
    first, second = (r.headers for r in recording.sent)
    assert first["AEVO-TIMESTAMP"] != second["AEVO-TIMESTAMP"]
    assert first["AEVO-SIGNATURE"] != second["AEVO-SIGNATURE"]
    assert sim.accounts["key"].configs["ETH"]["frozen"] == "0"


def _answering(status: int, body: Any) -> Recording:
    return Recording(lambda request: httpx.Response(status, json=body))


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (401, {"error": "UNAUTHORIZED"}, VenueAuthError, "check the API_KEY and API_SECRET"),
        (400, {"error": "ERR_MALFORMED_REQUEST"}, VenueRejected, "/mmp: ERR_MALFORMED_REQUEST"),
        (500, {"error": "INTERNAL_ERROR"}, VenueUnavailable, "INTERNAL_ERROR (HTTP 500)"),
        (403, {}, VenueAuthError, "/mmp: Forbidden"),
    ],
)
def test_refusals_are_sent_once_and_become_our_errors(
    status: int, body: Any, error: type[Exception], words: str
) -> None:
    """No session, so nothing to log in again for; a write is never sent twice."""
    recording = _answering(status, body)
    config = MmpConfig(30_000, 30_000, quantity_limit=Decimal(1))
    with pytest.raises(error) as info:
        asyncio.run(_venue(recording).set_config(KEY, config))
    assert type(info.value) is error and words in str(info.value)
    assert str(info.value).startswith("aevo/mm/ETH: ")
    assert len(recording.sent) == 1


# ---- the assets as the venue lists them (GET /assets) --------------------------------------

DOGE = {"asset": "DOGE", "interval": 10, "frozen": 60, "amount_limit": "500000000"}


@pytest.mark.parametrize(
    ("answer", "names"),
    [(["ETH", "BTC"], {"ETH", "BTC"}), (["ETH", "ETH", "1000PEPE"], {"ETH", "1000PEPE"})],
)
def test_assets_parse(answer: Any, names: set[str]) -> None:
    assert wire.assets_from_wire(answer) == names


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"assets": ["ETH"]}, "the answer is not an array of asset names (it is an object)"),
        (["ETH", 1], "asset is not a non-empty string"),
        (["ETH", ""], "asset is not a non-empty string"),
        ([], "the answer lists no asset"),
    ],
)
def test_assets_refused_when_malformed(answer: Any, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        wire.assets_from_wire(answer)


@READINGS
def test_every_listed_asset_is_read_and_the_list_asked_once_per_endpoint(sign_query: bool) -> None:
    """A DOGE config, outside the assets mmp once knew, is read; two accounts of one
    endpoint ask for the list once."""
    sim = AevoSimulator(sign_query=sign_query, assets=["BTC", "ETH", "SOL", "DOGE"])
    sim.add_account("key", "secret")
    sim.seed("key", DOGE)
    shared = AevoEndpoint()

    async def go() -> list[ScopeKey]:
        first, second = client(sim, shared=shared), client(sim, shared=shared, account="mm2")
        found = await asyncio.gather(first.read(), second.read())
        return [scope.key for account in found for scope in account.scopes]

    assert asyncio.run(go()) == [ScopeKey("aevo", "mm", "DOGE"), ScopeKey("aevo", "mm2", "DOGE")]
    assert sim.requests.count("GET /assets") == 1
    assert sim.requests.count("GET /mmp") == 8 + (0 if sign_query else 1)  # one 401 at most


def test_a_declared_asset_the_venue_does_not_list_is_refused_before_any_read() -> None:
    sim = AevoSimulator(assets=["BTC", "DOGE"])
    sim.add_account("key", "secret")
    with pytest.raises(Unlisted) as info:
        asyncio.run(client(sim).read(frozenset({"DOGX", "BTC", "btc"})))
    assert str(info.value) == (
        "aevo/mm: aevo has no underlying `DOGX`; did you mean `DOGE`? (GET /assets at "
        "api.aevo.xyz lists 2: BTC, DOGE)\n"
        "aevo/mm: aevo has no underlying `btc`; did you mean `BTC`? (GET /assets at "
        "api.aevo.xyz lists 2: BTC, DOGE)"
    )
    assert sim.requests == ["GET /assets"]


@pytest.mark.parametrize(
    ("status", "body", "error", "said"),
    [
        (500, {"error": "INTERNAL_ERROR"}, VenueUnavailable, "INTERNAL_ERROR (HTTP 500)"),
        (200, {"assets": "ETH"}, VenueUnavailable, "malformed answer to GET /assets"),
        (200, [], VenueUnavailable, "the answer lists no asset"),
    ],
)
def test_a_failed_listing_is_an_error_that_says_so(
    status: int, body: Any, error: type[Exception], said: str
) -> None:
    """Nothing falls back to a list of ours: no asset is read."""
    recording = _answering(status, body)
    with pytest.raises(error) as info:
        asyncio.run(_venue(recording).read(frozenset({"ETH"})))
    text = str(info.value)
    assert text.startswith("aevo/mm: ")
    assert "GET /assets, the list of aevo's underlyings (asked once per run), failed" in text
    assert said in text and "keeps no list of its own to fall back on" in text
    assert [r.url.path for r in recording.sent] == ["/assets"]


# ---- the signed path: with the query first, then once without, kept per endpoint -----------


class Statuses:
    """The simulator, keeping (path, status) of every answer."""

    def __init__(self, sim: AevoSimulator) -> None:
        self.sim = sim
        self.seen: list[tuple[str, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = self.sim(request)
        self.seen.append((f"{request.method} {request.url.path}", response.status_code))
        return response


@READINGS
def test_the_reading_that_worked_is_kept_for_the_endpoint(
    sign_query: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """One 401 at most per endpoint and run, however many assets and accounts read at
    once; the reading kept is said (at -v: the mmp logger at INFO) and handed to the
    journal (AevoEndpoint.learned)."""
    sim = AevoSimulator(sign_query=sign_query, assets=[f"A{i}" for i in range(5)])
    answers = Statuses(sim)
    shared = AevoEndpoint()

    async def go() -> None:
        clients = [client(answers, shared=shared, account=f"mm{i}", key=f"k{i}") for i in range(3)]
        await asyncio.gather(*(c.read() for c in clients))
        await clients[0].read()

    with caplog.at_level("INFO", logger="mmp"):
        asyncio.run(go())
    refused = [seen for seen in answers.seen if seen[1] == 401]
    assert refused == ([] if sign_query else [("GET /mmp", 401)])
    assert {status for _, status in answers.seen} == ({200} if sign_query else {200, 401})
    assert shared.signing.kept("GET /mmp") is sign_query
    reading = "with its query string" if sign_query else "without its query string"
    [note] = shared.learned()
    assert note["request"] == "GET /mmp" and note["signed"] == reading
    assert note["endpoint"] == "api.aevo.xyz" and note["venue"] == "aevo"
    said = [r.getMessage() for r in caplog.records if "signed over its path" in r.getMessage()]
    assert said == [
        f"aevo api.aevo.xyz: GET /mmp is signed over its path {reading} ({note['why']}); "
        "kept for this endpoint"
    ]


class InFlight:
    """The simulator behind an asynchronous network: each GET /mmp is held while the event
    loop runs everything else that is ready, so requests sent side by side are held at once;
    `most` is how many were."""

    def __init__(self, sim: AevoSimulator) -> None:
        self.sim = sim
        self.held = self.most = 0
        self.statuses: list[int] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/mmp":
            self.held += 1
            self.most = max(self.most, self.held)
            for _ in range(50):
                await asyncio.sleep(0)
            self.held -= 1
        response = self.sim(request)
        self.statuses.append(response.status_code)
        return response


@READINGS
def test_once_a_reading_is_kept_the_reads_waiting_for_it_go_side_by_side(
    sign_query: bool,
) -> None:
    """One request finds the reading while the others wait; then they are all sent at once,
    not one after the other under the lock (a round trip each: 17 on the benchmark desk's
    100 scopes, half its plan)."""
    assets = [f"A{i}" for i in range(6)]
    sim = AevoSimulator(sign_query=sign_query, assets=assets)
    sim.add_account("key", "secret")
    network = InFlight(sim)
    asyncio.run(_venue(network).read())
    assert network.statuses.count(200) == 1 + len(assets)  # GET /assets, then each
    assert network.most == len(assets) - 1  # all but the one that found the reading


@READINGS
def test_a_key_refused_both_ways_is_refused_and_nothing_is_kept(sign_query: bool) -> None:
    sim = AevoSimulator(sign_query=sign_query)
    sim.add_account("key", "secret")
    answers = Statuses(sim)
    shared = AevoEndpoint()
    with pytest.raises(VenueAuthError, match="UNAUTHORIZED"):
        asyncio.run(client(answers, secret="wrong", shared=shared).read(only=frozenset({"ETH"})))
    assert answers.seen == [("GET /mmp", 401), ("GET /mmp", 401)]  # tried once the other way
    assert shared.signing.kept("GET /mmp") is None and shared.learned() == []


def test_a_write_is_never_sent_the_other_way() -> None:
    """Only a signed GET with a query has two readings: a POST's 401 is sent once."""
    recording = _answering(401, {"error": "UNAUTHORIZED"})
    with pytest.raises(VenueAuthError):
        asyncio.run(_venue(recording).reset(KEY))
    assert len(recording.sent) == 1


def test_once_kept_a_401_is_the_venues_answer() -> None:
    """After a reading worked, a later 401 (a key revoked mid-run) is not tried again."""
    sim = AevoSimulator()
    sim.add_account("key", "secret")
    answers = Statuses(sim)
    venue = client(answers)
    asyncio.run(venue.read(only=frozenset({"ETH"})))
    sim.accounts["key"].secret = "revoked"
    with pytest.raises(VenueAuthError):
        asyncio.run(venue.read(only=frozenset({"ETH"})))
    assert [status for _, status in answers.seen] == [401, 200, 401]
