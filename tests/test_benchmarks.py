"""benchmarks/latency.py, the network the benchmarks put between mmp and the simulators: a
push channel behind it carries every message, in order both ways, and counts what it
carried; a handshake it refuses, or that reaches a simulator serving no channel, is counted
as refused."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from benchmarks.latency import DelayedPush, Traffic, delayed_http
from benchmarks.mmp_timed import _split
from reconciler.simulators.server import serve
from reconciler.simulators.websocket import Session, Socket

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
