"""WebSocket on the loopback server: a simulator's push channel, served on the same port as
its HTTP endpoints (reconciler.simulators.server), one thread per connection.

The handshake request is read by the HTTP server as any other request; a simulator that
serves push channels (a `PushApp`) first says whether it refuses it (an HTTP answer, as
the venue would give: a bad cookie, an unknown path), then opens a `Session` for it. The
WebSocket protocol itself is the `websockets` library's sans-I/O `ServerProtocol`: this
module only moves bytes. A Session hears each text message; the simulator sends from any
thread (a command settling, a test triggering a freeze) through the `Socket`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable
from typing import Protocol

import httpx
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

IDLE_TICK_MS = 5_000  # how often a quiet connection asks its session what is due
CLOSE_WAIT_MS = 2_000  # how long a closing connection waits for the client's close frame


class Socket:
    """One open WebSocket: send text and close from any thread (each under one lock)."""

    def __init__(self, sock: socket.socket, protocol: ServerProtocol) -> None:
        self._sock, self._protocol = sock, protocol
        self._lock = threading.Lock()
        self.closed = False

    def send(self, text: str) -> bool:
        """Send one text message; False when the connection is gone (nothing to do then)."""
        with self._lock:
            if self.closed or self._protocol.state is not State.OPEN:
                return False
            self._protocol.send_text(text.encode())
            return self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (the venue hangs up); the read loop ends it."""
        with self._lock:
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(code, reason)
                self._flush()

    def _receive(self, data: bytes) -> list[str]:
        """Bytes from the client: the text messages they complete (pongs and close replies
        go out at once)."""
        with self._lock:
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
            events = self._protocol.events_received()
            self._flush()
        return [
            bytes(event.data).decode(errors="replace")
            for event in events
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT
        ]

    def _flush(self) -> bool:
        try:
            for chunk in self._protocol.data_to_send():
                if chunk:
                    self._sock.sendall(chunk)
        except OSError:
            self.closed = True
            return False
        return True

    @property
    def finished(self) -> bool:
        return self.closed or self._protocol.state is State.CLOSED


class Session(Protocol):
    """A simulator's side of one connection."""

    def received(self, text: str) -> None:
        """A text message from the client."""

    def due_in_ms(self) -> int | None:
        """Do what is due now (a venue hanging up on a quiet connection); how long until
        the next thing is due (None: nothing is)."""

    def ended(self) -> None:
        """The connection is gone."""


class PushApp(Protocol):
    """A simulator that serves push channels."""

    def refuse(self, request: httpx.Request) -> httpx.Response | None:
        """The venue's HTTP answer to a handshake it refuses; None to accept it."""

    def open(self, request: httpx.Request, socket: Socket) -> Session:
        """A Session for an accepted handshake (sending from it may start at once)."""


class Sockets:
    """The open connections of one server, closed when it stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[Socket] = set()

    def add(self, item: Socket) -> None:
        with self._lock:
            self._open.add(item)

    def discard(self, item: Socket) -> None:
        with self._lock:
            self._open.discard(item)

    def close_all(self) -> None:
        with self._lock:
            items = list(self._open)
        for item in items:
            item.close(1001, "server stopping")


def handshake_bytes(request_line: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [request_line, *(f"{name}: {value}" for name, value in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def serve_connection(
    sock: socket.socket, raw: bytes, request: httpx.Request, app: PushApp, sockets: Sockets
) -> None:
    """Answer one handshake (`raw`, as the server read it) and run the connection to its
    end, in the calling thread."""
    protocol = ServerProtocol()
    protocol.receive_data(raw)
    events = protocol.events_received()
    if len(events) != 1 or not isinstance(events[0], Request):
        return
    refusal = app.refuse(request)
    response = protocol.accept(events[0]) if refusal is None else _response(refusal)
    protocol.send_response(response)
    item = Socket(sock, protocol)
    if not item._flush() or response.status_code != 101:
        return
    sockets.add(item)
    session = app.open(request, item)
    try:
        _run(sock, item, session)
    finally:
        sockets.discard(item)
        item.closed = True
        session.ended()


def _response(answer: httpx.Response) -> Response:
    body = answer.read()
    headers = Headers(
        [
            ("Content-Type", answer.headers.get("Content-Type", "text/plain")),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
    )
    return Response(answer.status_code, answer.reason_phrase, headers, body)


def _run(sock: socket.socket, item: Socket, session: Session) -> None:
    """Read until the connection ends: the client's close frame or EOF, or no answer to our
    own close frame within CLOSE_WAIT_MS."""
    while not item.finished:
        if item._protocol.state is State.CLOSING:  # we hung up: wait a while for its reply
            wait_ms = CLOSE_WAIT_MS
        else:
            due = session.due_in_ms()
            wait_ms = IDLE_TICK_MS if due is None else min(max(due, 1), IDLE_TICK_MS)
        sock.settimeout(wait_ms / 1000)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            if item._protocol.state is State.CLOSING:
                return
            continue
        except OSError:
            return
        for text in item._receive(data):
            session.received(text)
        if not data or item._protocol.close_rcvd is not None:
            return
