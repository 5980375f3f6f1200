"""benchmarks/latency.py, the network the benchmarks put between mmp and the simulators: a
push channel behind it carries every message, in order both ways, and counts what it
carried; a handshake it refuses, or that reaches a simulator serving no channel, is counted
as refused. benchmarks/desk.py's generated desk holds every venue and Deribit's Block RFQ
scopes as its policies say, and benchmarks/floor.py counts what they and OKX's windows
cost."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from benchmarks.desk import Desk, desk
from benchmarks.floor import apply_floor, plan_floor
from benchmarks.latency import DelayedPush, Traffic, delayed_http
from benchmarks.mmp_timed import _split
from reconciler.policy.validate import load_desired
from reconciler.simulators.server import serve
from reconciler.simulators.websocket import Session, Socket
from reconciler.venues import VENUES, capabilities

RTT_MS = 4


class _Echo:
    """A PushApp that accepts /ws only and sends back every message it hears."""

    def refuse(self, request: httpx.Request) -> httpx.Response | None:
        return None if request.url.path == "/ws" else httpx.Response(404, text="no such channel")

    def open(self, request: httpx.Request, socket: Socket) -> Session:
        return _EchoSession(socket)


class _EchoSession:
    def __init__(self, socket: Socket) -> None:
        self.socket = socket

    def received(self, text: str) -> None:
        self.socket.send(text)

    def due_in_ms(self) -> int | None:
        return None

    def ended(self) -> None:
        return None


def _no_http(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, text="not a venue endpoint")


def _ws(url: str, path: str) -> str:
    return url.replace("http://", "ws://") + path


def test_a_delayed_channel_carries_every_message_in_order_and_counts_them() -> None:
    traffic = Traffic()
    push = DelayedPush(_Echo(), RTT_MS, traffic)
    sent = [json.dumps({"id": i, "method": "ping" if i % 3 else "subscribe"}) for i in range(30)]
    with (
        serve(delayed_http(_no_http, RTT_MS, traffic), push=push) as url,
        connect(_ws(url, "/ws"), open_timeout=5) as socket,
    ):
        for text in sent:  # all at once: each direction must keep its order
            socket.send(text)
        heard = [socket.recv(timeout=5) for _ in sent]
    assert heard == sent
    opened, refused, methods = traffic.snapshot()
    assert (opened, refused) == (1, 0)
    assert methods == Counter({"ping": 20, "subscribe": 10})


def test_a_refused_handshake_is_counted_served_or_not() -> None:
    served, unserved = Traffic(), Traffic()
    push = DelayedPush(_Echo(), RTT_MS, served)
    with (
        serve(delayed_http(_no_http, RTT_MS, served), push=push) as url,
        pytest.raises(InvalidStatus),
    ):
        connect(_ws(url, "/elsewhere"), open_timeout=5)
    with (
        serve(delayed_http(_no_http, RTT_MS, unserved)) as url,  # no channel served at all
        pytest.raises(InvalidStatus),
    ):
        connect(_ws(url, "/ws"), open_timeout=5)
    assert served.snapshot()[:2] == (0, 1)
    assert unserved.snapshot()[:2] == (0, 1)


def test_mmp_timed_takes_its_switches_before_the_double_dash_only() -> None:
    assert _split(["--no-push", "--", "plan", "--policies", "p"]) == (
        ["--no-push"],
        ["plan", "--policies", "p"],
    )
    assert _split(["plan", "-q"]) == ([], ["plan", "-q"])


def test_the_desk_holds_every_venue_and_block_rfq_scopes_as_its_policies_say(
    tmp_path: Path,
) -> None:
    """Its policies load clean and declare exactly the scopes it seeded; every Deribit
    account has a block_rfq section (the trade count on `all` and two indexes)."""
    with desk(200, tmp_path) as d:
        desired = load_desired(d.policies, capabilities())
    assert sorted(d.accounts) == sorted(VENUES) and all(d.accounts.values())
    assert len(desired.scopes) == d.scopes == 200
    rfq = {k.underlying for k in desired.scopes if k.underlying.startswith("block_rfq:")}
    assert rfq == {"block_rfq:all", "block_rfq:btc_usd", "block_rfq:eth_usd"}
    assert [desired.spaces.get(a) for a in d.accounts["deribit"]] == [{"block_rfq"}] * 2
    assert d.spaces["deribit"] == [1, 1]
    assert sorted(d.changes) == sorted(VENUES) and all(d.changes.values())  # work for apply


def _one_account(venue: str, changes: int = 0, spaces: int = 0) -> Desk:
    return Desk(
        0,
        {venue: ["a"]},
        Path("policies"),
        {},
        {},
        changes={venue: changes},
        changes_per_account={venue: changes},
        spaces={venue: [spaces]},
    )


def test_deribit_reads_block_rfq_on_every_account_in_the_floor() -> None:
    """Auth, config and status of order/quote MMP, and Block RFQ's config and status (read on
    every account, so its live scopes are reported): 5 requests at the account's 5 a second,
    and a round trip for the last answer, with a block_rfq section or without."""
    assert plan_floor(_one_account("deribit"), 30, bursts=False).ms == 1000 + 30
    assert plan_floor(_one_account("deribit", spaces=1), 30, bursts=False).ms == 1000 + 30


@pytest.mark.parametrize("bursts", [False, True])
def test_okx_sets_wait_for_their_window_in_the_apply_floor(bursts: bool) -> None:
    """2 sets per 10 s per user: an account's third change waits a whole window, in both
    readings; its first two leave at once."""
    two, three = (apply_floor(_one_account("okx", n), 30, 200, bursts=bursts) for n in (2, 3))
    assert three.ms == 10_000 + 30 and three.venue == "okx" and three.why == "rate limit"
    assert two.ms < 10_000
