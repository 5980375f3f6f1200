"""A simulator behind a network of a given round trip, for the benchmarks: each HTTP request
waits the round trip; a WebSocket handshake waits it too, and each WebSocket message half
of it in its own direction (the client's heard that long after it was sent, the venue's
sent that long after the venue sent it, each direction in order, never under the venue's
lock). A handshake costs one round trip, as an HTTP request on a kept-alive connection does
here (the TCP connect, a second one on a real network, is not modelled).

`Traffic` counts what the push channels carried: handshakes served, and the client's
messages by their JSON-RPC method, so a benchmark can tell sockets per account and probes
per step.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import httpx

from reconciler.simulators.websocket import PushApp, Session, Socket

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Traffic:
    """What one venue's push channel carried (counted as it arrived, before any delay)."""

    opened: int = 0  # handshakes accepted
    refused: int = 0  # handshakes the venue answered with an HTTP error
    methods: Counter[str] = field(default_factory=Counter)  # client messages by method
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def heard(self, text: str) -> None:
        try:
            method = str(json.loads(text).get("method", "?"))
        except (ValueError, AttributeError):
            method = "?"
        with self._lock:
            self.methods[method] += 1

    def snapshot(self) -> tuple[int, int, Counter[str]]:
        with self._lock:
            return self.opened, self.refused, Counter(self.methods)


def delayed_http(app: Handler, rtt_ms: int, traffic: Traffic | None = None) -> Handler:
    """`app` with each request waiting a round trip first (outside the simulator's lock).
    With `traffic`, a WebSocket handshake that reaches it (no push channel served, so the
    simulator's HTTP answer refuses it) is counted there."""

    def handler(request: httpx.Request) -> httpx.Response:
        time.sleep(rtt_ms / 1000)
        if traffic is not None and request.headers.get("upgrade", "").lower() == "websocket":
            with traffic._lock:
                traffic.refused += 1
        return app(request)

    return handler


class DelayedPush:
    """A simulator's push channel (a PushApp) behind `rtt_ms` of network."""

    def __init__(self, push: PushApp, rtt_ms: int, traffic: Traffic | None = None) -> None:
        self._push, self._rtt_ms = push, rtt_ms
        self.traffic = traffic if traffic is not None else Traffic()

    def refuse(self, request: httpx.Request) -> httpx.Response | None:
        time.sleep(self._rtt_ms / 1000)  # the handshake's round trip
        refusal = self._push.refuse(request)
        with self.traffic._lock:
            if refusal is None:
                self.traffic.opened += 1
            else:
                self.traffic.refused += 1
        return refusal

    def open(self, request: httpx.Request, socket: Socket) -> Session:
        half = self._rtt_ms // 2
        outbound = _Later(socket.send, half)
        late = cast(Socket, _LateSocket(socket, outbound))  # the same two methods
        return _LateSession(self._push.open(request, late), half, self.traffic, outbound)


class _Later:
    """Hands each text to `deliver` `delay_ms` after it was given, in order, on a thread of
    its own; stops when `deliver` says False or `stop` is called."""

    def __init__(self, deliver: Callable[[str], bool], delay_ms: int) -> None:
        self._deliver, self._delay_ms = deliver, delay_ms
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def put(self, text: str) -> None:
        self._queue.put((time.monotonic() + self._delay_ms / 1000, text))

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            due, text = item
            time.sleep(max(due - time.monotonic(), 0))
            if not self._deliver(text):
                return


class _LateSocket:
    """The venue's side of the socket: what it sends leaves half a round trip later."""

    def __init__(self, socket: Socket, outbound: _Later) -> None:
        self._socket, self._outbound = socket, outbound

    def send(self, text: str) -> bool:
        self._outbound.put(text)
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._socket.close(code, reason)


class _LateSession:
    """The venue hears each client message half a round trip after it was sent."""

    def __init__(self, session: Session, delay_ms: int, traffic: Traffic, outbound: _Later) -> None:
        self._session, self._traffic, self._outbound = session, traffic, outbound
        self._inbound = _Later(self._received, delay_ms)
        self._ended = False

    def received(self, text: str) -> None:
        self._traffic.heard(text)
        self._inbound.put(text)

    def _received(self, text: str) -> bool:
        if self._ended:  # still on its way when the connection went
            return False
        self._session.received(text)
        return True

    def due_in_ms(self) -> int | None:
        return self._session.due_in_ms()

    def ended(self) -> None:
        self._ended = True
        self._inbound.stop()
        self._outbound.stop()
        self._session.ended()
