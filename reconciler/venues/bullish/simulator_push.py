"""Bullish's private-data WebSocket, simulated (seed-venues.md section 4.3): served by
reconciler.simulators.server beside the HTTP endpoints (`serve(sim, push=sim.ws)`).

As strict as the venue: the handshake carries the JWT as the cookie `JWT_COOKIE` (checked as
the REST Bearer token is), the account is the query's `tradingAccountId` or the subscribe's
`params.tradingAccountId`, every message is a JSON-RPC command (`"type": "command"`, an id
of digits) and only `subscribe` and `keepalivePing` are known; a topic the simulator does
not serve is INVALID_TOPIC_ERROR (29013), as documented. It hangs up after `idle_ms` (100 s)
without a message from the client: WebSocket ping frames are not traffic here (a reading:
the docs name only keepalivePing). At most 10 connections per API key, as documented.

Its undocumented points are `Readings`, each defaulting to the reading less convenient to a
client. Our own choices, labelled: a subscribe naming no account, or another one, answers
JSON-RPC -32602 with errorCode 2010 (ACCOUNT_DOES_NOT_EXIST); the 11th connection of a key
is refused with HTTP 429; a reset's mmpRequest item carries "0" for the config fields.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx

from reconciler.core.units import dumps_exact, loads_exact
from reconciler.simulators.websocket import Socket
from reconciler.venues.bullish.pushwire import (
    COOKIE,
    PRIVATE_DATA_PATH,
    REQUEST_TOPIC,
    REQUEST_TYPE,
    TRIGGER_TOPICS,
    TRIGGER_TYPE,
)

if TYPE_CHECKING:
    from reconciler.venues.bullish.simulator import BullishSimulator, Pending

MAX_CONNECTIONS = 10  # authenticated WebSockets per API key
RECENT_REQUESTS = 20  # an mmpRequest snapshot's length, as the orders topic's closed orders
TRIGGER_TOPIC_READINGS = {
    "mmpTrigger": ("mmpTrigger",),  # the topic table
    "mmpTriggered": ("mmpTriggered",),  # the POST description
    "both": TRIGGER_TOPICS,
}
ENVELOPES = ("bare", "documented")
REJECTION_STATUSES = ("CLOSED", "REJECTED")


@dataclass(frozen=True)
class Readings:
    """How the simulator reads what the docs leave open; each default is the reading less
    convenient to a client.
    - trigger_topic: the trigger topic's name: "mmpTriggered" (the POST description, the
      default), "mmpTrigger" (the topic table) or "both"; another name is INVALID_TOPIC.
    - snapshots: whether subscribing to an MMP topic sends a snapshot (the active freezes; the
      recent requests) before the updates; default not (the docs show one only for orders).
    - envelope: "bare" (default): {"type", "dataType", "data": [items]}, no account and a
      list even in an update; "documented": the private topics' {"tradingAccountId", "type",
      "dataType", "data"} with an update's data one object.
    - rejection_status: the status of a command the venue refused: "CLOSED" (default: only
      statusReason tells it from success) or "REJECTED".
    - idle_ms: the venue hangs up after this long without a message from the client."""

    trigger_topic: str = "mmpTriggered"
    snapshots: bool = False
    envelope: str = "bare"
    rejection_status: str = "CLOSED"
    idle_ms: int = 100_000

    def __post_init__(self) -> None:
        if self.trigger_topic not in TRIGGER_TOPIC_READINGS:
            raise ValueError(f"trigger_topic is one of {sorted(TRIGGER_TOPIC_READINGS)}")
        if self.envelope not in ENVELOPES:
            raise ValueError(f"envelope is one of {list(ENVELOPES)}")
        if self.rejection_status not in REJECTION_STATUSES:  # another would be published as is
            raise ValueError(f"rejection_status is one of {list(REJECTION_STATUSES)}")


@dataclass
class _Session:
    app: PrivateData
    socket: Socket
    public_key: str
    account_id: str | None  # the query's, when connected with one
    heard_ms: int
    topics: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # each command heard (tests)

    def received(self, text: str) -> None:
        with self.app.sim._lock:
            self.heard_ms = self.app.sim.clock.now_ms()
            self.app.command(self, text)

    def due_in_ms(self) -> int | None:
        with self.app.sim._lock:
            left = self.heard_ms + self.app.readings.idle_ms - self.app.sim.clock.now_ms()
        if left <= 0:
            self.socket.close(1000, "idle")
            return None
        return left

    def ended(self) -> None:
        with self.app.sim._lock:
            if self in self.app.sessions:
                self.app.sessions.remove(self)


class PrivateData:
    """The simulator's private-data WebSocket (a reconciler.simulators.websocket.PushApp)."""

    def __init__(self, sim: BullishSimulator, readings: Readings) -> None:
        self.sim, self.readings = sim, readings
        self.sessions: list[_Session] = []
        self.freezes: dict[tuple[str, str], dict[str, str]] = {}  # (key, asset) -> trigger item
        self.recent: dict[str, deque[dict[str, str]]] = {}  # key -> its latest mmpRequest items
        self.next_trigger_id = 100000000000000
        self.topics = {REQUEST_TOPIC, *TRIGGER_TOPIC_READINGS[readings.trigger_topic]}

    # ---- the handshake -----------------------------------------------------------------

    def refuse(self, request: httpx.Request) -> httpx.Response | None:
        from reconciler.venues.bullish.simulator import BxError

        if request.url.path != PRIVATE_DATA_PATH:
            return _error(BxError(404, 0, "NOT_FOUND", "Not found"))
        with self.sim._lock:
            try:
                public_key = self._key_of(request)
            except BxError as exc:
                return _error(exc)
            wanted = dict(parse_qsl(request.url.query.decode())).get("tradingAccountId")
            if wanted not in (None, self.sim.accounts[public_key].trading_account_id):
                return _error(BxError(400, 2010, "ACCOUNT_DOES_NOT_EXIST", "No such account"))
            if sum(s.public_key == public_key for s in self.sessions) >= MAX_CONNECTIONS:
                return _error(BxError(429, 96000, "RATE_LIMIT_EXCEEDED", "Too many sockets"))
        return None

    def open(self, request: httpx.Request, socket: Socket) -> _Session:
        with self.sim._lock:
            public_key = self._key_of(request)
            wanted = dict(parse_qsl(request.url.query.decode())).get("tradingAccountId")
            session = _Session(self, socket, public_key, wanted, self.sim.clock.now_ms())
            self.sessions.append(session)
        return session

    def _key_of(self, request: httpx.Request) -> str:
        """The API key whose JWT the cookie carries, checked as the REST Bearer token is."""
        token = _cookie(request.headers.get("Cookie", ""), COOKIE)
        bearer = httpx.Request("GET", request.url, headers={"Authorization": f"Bearer {token}"})
        return self.sim._bearer(bearer)

    # ---- commands (under the simulator's lock) ------------------------------------------

    def command(self, session: _Session, text: str) -> None:
        try:
            message = loads_exact(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            session.socket.send(_failure(None, "-32700", "0", "PARSE_ERROR", "Not JSON"))
            return
        session.messages.append(message)
        command_id = message.get("id")
        valid_id = isinstance(command_id, str) and command_id.isdigit()
        params = message.get("params")
        if (
            message.get("jsonrpc") != "2.0"
            or message.get("type") != "command"
            or not valid_id
            or not isinstance(params, dict)
        ):
            why = "a command needs jsonrpc 2.0, type command, params and an id of digits"
            session.socket.send(_failure(command_id, "-32600", "0", "INVALID_REQUEST", why))
            return
        if message.get("method") == "keepalivePing":
            session.socket.send(_success(command_id, "Keep alive pong"))
        elif message.get("method") == "subscribe":
            self._subscribe(session, command_id, params)
        else:
            session.socket.send(_failure(command_id, "-32601", "0", "METHOD_NOT_FOUND", "?"))

    def _subscribe(self, session: _Session, command_id: Any, params: dict[str, Any]) -> None:
        topic = params.get("topic")
        own = self.sim.accounts[session.public_key].trading_account_id
        account = params.get("tradingAccountId", session.account_id)
        if topic not in self.topics:
            said = f"'{topic}' is not a valid topic"
            session.socket.send(
                _failure(command_id, "-32602", "29013", "INVALID_TOPIC_ERROR", said)
            )
            return
        if account != own:
            said = "the trading account is not one of this key's"
            session.socket.send(
                _failure(command_id, "-32602", "2010", "ACCOUNT_DOES_NOT_EXIST", said)
            )
            return
        session.topics.add(str(topic))
        session.socket.send(_success(command_id, "Successfully subscribed"))
        if self.readings.snapshots:
            self._snapshot(session, str(topic), own)

    def _snapshot(self, session: _Session, topic: str, account_id: str) -> None:
        if topic == REQUEST_TOPIC:
            items = list(self.recent.get(session.public_key, ()))
            session.socket.send(self._message(account_id, "snapshot", REQUEST_TYPE, items))
            return
        account = self.sim.accounts[session.public_key]
        active = [  # the venue's truth: a reset ends a freeze, and so does its time
            item
            for (key, asset), item in sorted(self.freezes.items())
            if key == session.public_key and self.sim._frozen_now(account, asset)
        ]
        session.socket.send(self._message(account_id, "snapshot", TRIGGER_TYPE, active))

    def _message(self, account_id: str, kind: str, data_type: str, items: list[Any]) -> str:
        if self.readings.envelope == "bare":
            return dumps_exact({"type": kind, "dataType": data_type, "data": items})
        data: Any = items if kind == "snapshot" else items[0]
        body = {"tradingAccountId": account_id, "type": kind, "dataType": data_type, "data": data}
        return dumps_exact(body)

    # ---- what the venue publishes (called under the simulator's lock) ---------------------

    def settled(self, item: Pending, outcome: dict[str, str]) -> None:
        """A command's outcome, on mmpRequest."""
        account = self.sim.accounts[item.public_key]
        command = item.command
        reset = command["commandType"] == "V1ResetMMP"
        status = outcome["status"]
        if status == "REJECTED":
            status = self.readings.rejection_status
        published = {
            "requestId": item.request_id,
            "tradingAccountId": account.trading_account_id,
            "assetSymbol": command["underlyingAssetSymbol"],
            "windowTimeInSecond": "0" if reset else command["windowTimeInSeconds"],
            "frozenTimeInSecond": "0" if reset else command["frozenTimeInSeconds"],
            "quantityLimit": command.get("quantityLimit", "0"),
            "deltaLimit": command.get("deltaLimit", "0"),
            "status": status,
            "statusReason": outcome["statusReason"],
            "isReset": "true" if reset else "false",
            "createdAt": str(item.due_ms - self.sim.apply_delay_ms),
        }
        recent = self.recent.setdefault(item.public_key, deque(maxlen=RECENT_REQUESTS))
        recent.append(published)
        self._publish(item.public_key, {REQUEST_TOPIC}, REQUEST_TYPE, published)

    def triggered(self, public_key: str, asset: str) -> None:
        """MMP tripped on (key, asset): the freeze, on the trigger topic."""
        account = self.sim.accounts[public_key]
        now = self.sim.clock.now_ms()
        until = account.frozen.get(asset, 0) or now  # 0: until a reset, told as no freeze time
        item = {
            "mmpTriggerId": str(self.next_trigger_id),
            "tradingAccountId": account.trading_account_id,
            "underlyingAssetSymbol": asset,
            "triggeredBy": "Delta Limit",
            "frozenTimeInSecond": str(max(until - now, 0) // 1000),
            "frozenStartTime": str(now),
            "frozenUntil": str(until),
        }
        self.next_trigger_id += 1
        self.freezes[(public_key, asset)] = item
        self._publish(public_key, set(TRIGGER_TOPICS), TRIGGER_TYPE, item)

    def scheduled(self, due_ms: int) -> None:
        """A command is due at `due_ms`: settle it then, so its outcome is published on time
        even when no HTTP request comes (only while a socket is open to hear it)."""
        if not self.sessions:
            return
        delay_ms = max(due_ms - self.sim.clock.now_ms(), 0)
        timer = threading.Timer(delay_ms / 1000, self._settle_due)
        timer.daemon = True
        timer.start()

    def _settle_due(self) -> None:
        with self.sim._lock:
            self.sim._run_due()

    def _publish(self, public_key: str, topics: set[str], data_type: str, item: Any) -> None:
        account_id = self.sim.accounts[public_key].trading_account_id
        for session in list(self.sessions):
            if session.public_key == public_key and session.topics & topics:
                session.socket.send(self._message(account_id, "update", data_type, [item]))


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


def _error(exc: Any) -> httpx.Response:
    return httpx.Response(
        exc.status,
        content=dumps_exact(exc.body).encode(),
        headers={"Content-Type": "application/json"},
    )


def _success(command_id: Any, message: str) -> str:
    result = {"responseCode": "200", "responseCodeName": "OK", "message": message}
    return dumps_exact({"jsonrpc": "2.0", "id": command_id, "result": result})


def _failure(command_id: Any, code: str, error_code: str, name: str, message: str) -> str:
    error = {"code": code, "errorCode": error_code, "errorCodeName": name, "message": message}
    return dumps_exact({"jsonrpc": "2.0", "id": command_id, "error": error})
