"""The venues' push channels against their simulators served on loopback: Bullish's
private-data socket (outcomes by requestId, triggers, snapshots) and Deribit's WebSocket
(user.mmp_trigger), under every reading of what the docs leave open."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from reconciler.apply.push import open_channels
from reconciler.core.model import NOT_FROZEN, MmpConfig, ScopeKey
from reconciler.core.units import now
from reconciler.planning.planner import make_plan
from reconciler.simulators.server import serve
from reconciler.venues import capabilities
from reconciler.venues.base import Credentials
from reconciler.venues.bullish import pushwire
from reconciler.venues.bullish.client import BullishClient
from reconciler.venues.bullish.push import NOT_OK, BullishPush
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.simulator_push import Readings
from reconciler.venues.deribit.client import DeribitClient
from reconciler.venues.deribit.push import DeribitPush
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.live import IN_PROCESS
from reconciler.venues.push import ws_url
from tests.helpers import load, write_policy
from tests.venues import ROWS, client_of, connect_to

WAIT_S = 10
DERIBIT_POLICY = """
accounts:
  main:
    venue: deribit
    environment: testnet
    credentials: DERIBIT_MAIN
    defaults: {window: 1s, frozen: 30s}
    mmp:
      btc_usd:
        default: {quantity_limit: 5, max_quote_quantity: 2}
"""
BTC = ScopeKey("bullish", "bx", "BTC")
CONFIG = MmpConfig(10_000, 5_000, quantity_limit=Decimal("2.5"))
TRIGGER_TOPICS = ("mmpTriggered", "mmpTrigger", "both")
ENVELOPES = ("bare", "documented")


@dataclass
class Bullish:
    sim: BullishSimulator
    url: str
    creds: Credentials

    def seed(self, key: ScopeKey, config: MmpConfig) -> None:
        with self.sim._lock:
            ROWS["bullish"].seed(self.sim, self.creds, key, config)

    def trigger(self, key: ScopeKey) -> None:
        with self.sim._lock:
            self.sim.trigger(self.creds["PUBLIC_KEY"], key.underlying, until_ms=now("ms") + 5000)


@contextmanager
def bullish(readings: Readings | None = None, *, delay_ms: int = 50) -> Iterator[Bullish]:
    sim = BullishSimulator(apply_delay_ms=delay_ms, ws=readings)
    creds = ROWS["bullish"].credentials(sim, "bx")
    with serve(sim, push=sim.ws) as url:
        yield Bullish(sim, url, creds)


def run_with(desk: Bullish, body: Callable[[BullishClient, BullishPush], Awaitable[None]]) -> None:
    async def main() -> None:
        http = httpx.AsyncClient(base_url=desk.url)
        client = client_of("bullish", "bx", desk.creds, http)
        assert isinstance(client, BullishClient)
        push = client.attach_push(desk.url)
        try:
            await body(client, push)
        finally:
            await client.aclose()

    asyncio.run(main())


async def until(check: Callable[[], bool]) -> None:
    """Wait (bounded) until check() holds: the venue pushes in its own time."""
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "the push never came"
        await asyncio.sleep(0.01)


# ---- Bullish: outcomes -------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_bullish_outcome_of_an_applied_set_is_pushed(envelope: str) -> None:
    with bullish(Readings(envelope=envelope)) as desk:

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()  # opens the socket
            assert push.down == "" and push.since_ns is not None
            await client.set_config(BTC, CONFIG)
            said = await asyncio.wait_for(push.outcome(BTC), WAIT_S)
            assert said is not None and said.applied
            assert said.reason == "mmpRequest CLOSED: Ok"

        run_with(desk, body)


@pytest.mark.parametrize("status", ["CLOSED", "REJECTED"])
def test_bullish_rejection_is_pushed_with_the_venues_reason(status: str) -> None:
    with bullish(Readings(rejection_status=status)) as desk:
        desk.seed(BTC, CONFIG)  # a set while configured is rejected by the venue

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            await client.set_config(BTC, CONFIG.with_changes(quantity_limit=Decimal(1)))
            said = await asyncio.wait_for(push.outcome(BTC), WAIT_S)
            assert said is not None and not said.applied
            words = f"mmpRequest {status}: MMP config already exists; reset it first"
            assert said.reason == words + (NOT_OK if status == "CLOSED" else "")

        run_with(desk, body)


def test_bullish_outcome_pushed_before_the_acknowledgement_is_still_matched() -> None:
    with bullish(delay_ms=0) as desk:  # settled, and published, before the ack is answered

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            await client.reset(BTC)
            said = await asyncio.wait_for(push.outcome(BTC), WAIT_S)
            assert said is not None and said.applied

        run_with(desk, body)


def test_bullish_a_dropped_command_is_never_final() -> None:
    """An OPEN status is not an outcome: the channel keeps waiting (REST settles it)."""
    with bullish() as desk:
        desk.sim.drop_next_sets = 1

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            await client.set_config(BTC, CONFIG)
            await until(lambda: len(desk.sim.outcomes) == 1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(push.outcome(BTC), 0.3)

        run_with(desk, body)


def test_bullish_outcome_is_none_once_the_socket_is_gone() -> None:
    with bullish(delay_ms=60_000) as desk:  # never due while the test runs

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            await client.set_config(BTC, CONFIG)
            waiting = asyncio.ensure_future(push.outcome(BTC))
            for session in list(desk.sim.ws.sessions):
                session.socket.close(1011, "gone")
            assert await asyncio.wait_for(waiting, WAIT_S) is None
            assert "closed by the venue" in push.down

        run_with(desk, body)


# ---- Bullish: triggers and snapshots -------------------------------------------------------


@pytest.mark.parametrize("topic", TRIGGER_TOPICS)
@pytest.mark.parametrize("envelope", ENVELOPES)
def test_bullish_trigger_is_pushed_whatever_the_topics_name(topic: str, envelope: str) -> None:
    with bullish(Readings(trigger_topic=topic, envelope=envelope)) as desk:
        desk.seed(BTC, CONFIG)

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            taken = {"both": pushwire.TRIGGER_TOPICS}.get(topic, (topic,))
            assert push.trigger_topics == taken
            opened = time.monotonic_ns()
            desk.trigger(BTC)
            await until(lambda: push.frozen(BTC, opened) is not None)
            freeze = push.frozen(BTC, opened)
            assert freeze is not None and freeze.frozen and freeze.until_ms is not None
            assert freeze.until_ms > now("ms")  # frozenUntil: 5 s after the trigger
            assert push.frozen(ScopeKey("bullish", "bx", "ETH"), opened) is None
            assert len(push._triggers.pushed) == 1  # heard once, whatever the topics

        run_with(desk, body)


@pytest.mark.parametrize("snapshots", [False, True])
def test_bullish_what_the_socket_tells_at_subscription(snapshots: bool) -> None:
    """With a snapshot, a freeze from before the subscription is known, and so is every
    other underlying's not being frozen; without one, the socket tells nothing of either."""
    eth = ScopeKey("bullish", "bx", "ETH")
    with bullish(Readings(snapshots=snapshots)) as desk:
        desk.seed(BTC, CONFIG)
        desk.seed(eth, CONFIG)
        desk.trigger(BTC)  # before anyone subscribed

        async def body(client: BullishClient, push: BullishPush) -> None:
            scopes = (await client.read()).by_key()  # what plan and status read
            told = push.told()
            if not snapshots:
                assert told is None or ("BTC" not in told and "ETH" not in told)
                assert scopes[BTC].freeze.unknown and scopes[eth].freeze.unknown
                return
            assert told is not None
            assert told["BTC"].frozen and told["BTC"].until_ms is not None
            assert told["ETH"] == NOT_FROZEN
            assert scopes[BTC].freeze == told["BTC"] and scopes[eth].freeze == NOT_FROZEN

        run_with(desk, body)


def test_bullish_socket_refused_for_a_bad_cookie_says_why() -> None:
    with bullish() as desk:

        async def body(client: BullishClient, push: BullishPush) -> None:
            async def bad() -> str:
                return "not.a.jwt"

            push._jwt = bad
            await client.read()
            assert "HTTP 401" in push.down
            with pytest.raises(KeyError):
                (push.told() or {})["BTC"]

        run_with(desk, body)


def test_bullish_simulator_is_strict_about_commands_and_hangs_up_when_idle() -> None:
    with bullish(Readings(idle_ms=200)) as desk:

        async def main() -> None:
            token = await _token(desk)
            url = ws_url(desk.url, pushwire.PRIVATE_DATA_PATH)
            headers = {"Cookie": f"JWT_COOKIE={token}"}
            async with ws_connect(url, additional_headers=headers) as ws:
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "subscribe", "id": 1}))
                answer = json.loads(await ws.recv())
                assert answer["error"]["errorCodeName"] == "INVALID_REQUEST"
                no_account = pushwire.command("subscribe", {"topic": "mmpRequest"}, "2")
                await ws.send(no_account)  # connected without the query, and none in params
                assert json.loads(await ws.recv())["error"]["errorCode"] == "2010"
                with pytest.raises(ConnectionClosed) as closed:  # nothing more said: hung up
                    await asyncio.wait_for(ws.recv(), WAIT_S)
                assert closed.value.rcvd is not None and closed.value.rcvd.reason == "idle"

        asyncio.run(main())


def test_bullish_keepalive_keeps_the_socket_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pushwire, "KEEPALIVE_MS", 20)
    with bullish(Readings(idle_ms=1_000)) as desk:

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            session = desk.sim.ws.sessions[0]
            pings = [m for m in session.messages if m.get("method") == "keepalivePing"]
            await until(
                lambda: sum(m.get("method") == "keepalivePing" for m in session.messages) > 3
            )
            assert pings and push.down == ""

        run_with(desk, body)


def test_bullish_eleventh_socket_of_a_key_is_refused() -> None:
    with bullish() as desk:

        async def main() -> None:
            token = await _token(desk)
            url = ws_url(desk.url, pushwire.PRIVATE_DATA_PATH)
            headers = {"Cookie": f"JWT_COOKIE={token}"}
            sockets = [await ws_connect(url, additional_headers=headers) for _ in range(10)]
            with pytest.raises(InvalidStatus):
                await ws_connect(url, additional_headers=headers)
            for ws in sockets:
                await ws.close()

        asyncio.run(main())


async def _token(desk: Bullish) -> str:
    http = httpx.AsyncClient(base_url=desk.url)
    client = client_of("bullish", "bx", desk.creds, http)
    assert isinstance(client, BullishClient)
    try:
        return await client._jwt()
    finally:
        await client.aclose()


def test_bullish_unreadable_push_takes_the_channel_down() -> None:
    """A message that cannot be read may have been a freeze: the channel is not trusted."""
    with bullish() as desk:

        async def body(client: BullishClient, push: BullishPush) -> None:
            await client.read()
            bad = {"type": "update", "dataType": "V1TAMMPTrigger", "data": [{"x": 1}]}
            desk.sim.ws.sessions[0].socket.send(json.dumps(bad))
            await until(lambda: push.down != "")
            assert "could not be read" in push.down

        run_with(desk, body)


# ---- Deribit -----------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["minimal", "full"])
def test_deribit_trigger_is_pushed_on_the_index_channel(payload: str) -> None:
    """Full: the frozen group only; minimal: which group froze is not said, so every scope
    of the index is frozen for apply."""
    sim = DeribitSimulator(trigger_payload=payload)
    creds = ROWS["deribit"].credentials(sim, "db")
    group, default = (
        ScopeKey("deribit", "db", "btc_usd", "Bot1"),
        ScopeKey("deribit", "db", "btc_usd"),
    )
    other = ScopeKey("deribit", "db", "eth_usd")
    with serve(sim, push=sim.ws) as url:
        for key in (group, default, other):
            with sim._lock:
                ROWS["deribit"].seed(sim, creds, key, ROWS["deribit"].sample(1))

        async def main() -> None:
            http = httpx.AsyncClient(base_url=url)
            client = client_of("deribit", "db", creds, http)
            assert isinstance(client, DeribitClient)
            push = DeribitPush(client.where, client.credentials, url, client.request_slot)
            try:
                await push.open(frozenset({"btc_usd", "eth_usd"}))
                assert push.down == ""
                before = time.monotonic_ns()
                with sim._lock:
                    sim.trigger(creds["CLIENT_ID"], "btc_usd", "Bot1")
                await until(lambda: push.frozen(group, before) is not None)
                assert (push.frozen(default, before) is not None) is (payload == "minimal")
                assert push.frozen(other, before) is None
                # a read begun after the push shows the freeze itself: nothing more to add
                assert push.frozen(group, time.monotonic_ns()) is None
            finally:
                await push.aclose()
                await client.aclose()

        asyncio.run(main())


def test_deribit_socket_with_refused_credentials_says_why() -> None:
    sim = DeribitSimulator()
    ROWS["deribit"].credentials(sim, "db")
    bad = Credentials({"CLIENT_ID": "id-db", "CLIENT_SECRET": "wrong"})
    with serve(sim, push=sim.ws) as url:

        async def main() -> None:
            push = DeribitPush("deribit/db", bad, url, _no_limit)
            await push.open(frozenset({"btc_usd"}))
            assert "13004" in push.down and "wrong" not in push.down

        asyncio.run(main())


@asynccontextmanager
async def _no_limit() -> AsyncIterator[None]:
    yield


def test_ws_url_keeps_a_gateways_path() -> None:
    assert ws_url("https://gw.example/bx/", "/trading-api/v1/private-data", {"a": "1"}) == (
        "wss://gw.example/bx/trading-api/v1/private-data?a=1"
    )
    assert ws_url("http://127.0.0.1:8080", "/ws/api/v2") == "ws://127.0.0.1:8080/ws/api/v2"


def test_in_process_venues_have_no_push_channel_and_apply_says_so(
    in_tmp: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--sandbox (and the in-process tests) answer through an httpx transport: there is no
    socket, so apply reads only, and -v says why."""
    # caplog hears the "mmp" logger only while it propagates, which `mmp` run in this process
    # by an earlier test turns off (console.configure): the test failed after any such one
    monkeypatch.setattr(logging.getLogger("mmp"), "propagate", True)
    write_policy(in_tmp, DERIBIT_POLICY)
    desired = load(in_tmp)
    sim = DeribitSimulator()
    sim.add_account("id-main", "pw")
    sim.seed(
        "id-main",
        {
            "index_name": "btc_usd",
            "interval": 1,
            "frozen_time": 30,
            "quantity_limit": Decimal(9),
            "max_quote_quantity": Decimal(2),
        },
    )
    creds = {"main": Credentials({"CLIENT_ID": "id-main", "CLIENT_SECRET": "pw"})}
    connections = connect_to(sim, desired, creds)
    assert connections.pushes == {} and connections.push_notes == {"main": IN_PROCESS}

    async def go() -> dict[str, str]:
        try:
            plan = make_plan(desired, await connections.read(), capabilities())
            with caplog.at_level(logging.INFO, logger="mmp"):
                return await open_channels(connections, plan)
        finally:
            await connections.aclose()

    assert asyncio.run(go()) == {"main": IN_PROCESS}
    assert f"deribit/main: no push channel ({IN_PROCESS})" in caplog.text


@pytest.mark.parametrize(
    ("status", "reason", "applied"),
    [
        ("CLOSED", "Ok", True),
        ("CLOSED", "OK", True),  # the docs give "Ok" as an example only (red team)
        ("closed", " ok ", True),
        ("CLOSED", "MMP config already exists; reset it first", False),
        ("REJECTED", "Ok", False),
        ("FAILED", "", False),
    ],
)
def test_bullish_an_outcome_is_applied_only_as_closed_ok_in_any_case(
    status: str, reason: str, applied: bool
) -> None:
    item = {"requestId": "7", "status": status, "statusReason": reason, "isReset": "false"}
    assert pushwire.request_status(item).applied is applied


@pytest.mark.parametrize("payload", ["minimal", "full"])
@pytest.mark.parametrize("space", ["order", "block_rfq"])
def test_deribit_a_trigger_holds_the_scopes_it_may_be_of(payload: str, space: str) -> None:
    """Block RFQ scopes are watched on their index's channel (found by a red team: their
    triggers were dropped, and apply's set ended a freeze). The minimal payload does not say
    the space, so a trigger of either holds the index's order scopes and its Block RFQ
    scope alike; the full one says which (block_rfq), and holds that space's only."""
    sim = DeribitSimulator(trigger_payload=payload)
    creds = ROWS["deribit"].credentials(sim, "db")
    order, rfq = (
        ScopeKey("deribit", "db", "btc_usd"),
        ScopeKey("deribit", "db", "block_rfq:btc_usd"),
    )
    other = ScopeKey("deribit", "db", "block_rfq:eth_usd")
    tripped = rfq if space == "block_rfq" else order
    with serve(sim, push=sim.ws) as url:
        for key in (order, rfq, other):
            with sim._lock:
                ROWS["deribit"].seed(sim, creds, key, ROWS["deribit"].sample(1))

        async def main() -> None:
            push = DeribitPush("deribit/db", creds, url, _no_limit)
            try:
                await push.open(frozenset({rfq.underlying, other.underlying}))
                assert push.down == "" and push.uncovered == {}
                before = time.monotonic_ns()
                with sim._lock:
                    ROWS["deribit"].trigger(sim, creds, tripped)
                await until(lambda: push.frozen(tripped, before) is not None)
                untold = payload == "minimal"
                assert (push.frozen(order, before) is not None) is (tripped == order or untold)
                assert (push.frozen(rfq, before) is not None) is (tripped == rfq or untold)
                assert push.frozen(other, before) is None
            finally:
                await push.aclose()

        asyncio.run(main())


@pytest.mark.parametrize("channel", [False, True])
def test_deribit_block_rfq_all_is_watched_where_deribit_has_a_channel(channel: bool) -> None:
    """The docs name no channel for Block RFQ's `all`: where user.mmp_trigger.all is refused
    the index channels stay open and the channel says block_rfq:all is not covered."""
    sim = DeribitSimulator(trigger_all_channel=channel)
    creds = ROWS["deribit"].credentials(sim, "db")
    rfq_all = ScopeKey("deribit", "db", "block_rfq:all")
    config = MmpConfig(5000, 30_000, max_quote_quantity=Decimal(5), trade_count_limit=Decimal(9))
    with serve(sim, push=sim.ws) as url:
        with sim._lock:
            ROWS["deribit"].seed(sim, creds, rfq_all, config)

        async def main() -> None:
            push = DeribitPush("deribit/db", creds, url, _no_limit)
            try:
                await push.open(frozenset({"btc_usd", "block_rfq:all"}))
                assert push.down == ""
                if not channel:
                    assert list(push.uncovered) == ["block_rfq:all"]
                    assert (
                        "user.mmp_trigger.all: private/subscribe refused"
                        in push.uncovered["block_rfq:all"]
                    )
                    await push.open(frozenset({"block_rfq:all"}))  # not asked for again
                    with sim._lock:
                        (session,) = sim.ws.sessions
                        asked = [m for m in session.messages if m["method"] == "private/subscribe"]
                    assert [m["params"]["channels"] for m in asked] == [
                        ["user.mmp_trigger.btc_usd"],
                        ["user.mmp_trigger.all"],
                    ]
                    return
                assert push.uncovered == {}
                before = time.monotonic_ns()
                with sim._lock:
                    ROWS["deribit"].trigger(sim, creds, rfq_all)
                await until(lambda: push.frozen(rfq_all, before) is not None)
            finally:
                await push.aclose()

        asyncio.run(main())
