"""Deribit's WebSocket API, simulated for what MMP needs (seed-venues.md section 1): served by
reconciler.simulators.server beside the HTTP endpoints (`serve(sim, push=sim.ws)`).

On `/ws/api/v2` it speaks JSON-RPC 2.0 (an id on every request, named params only), with the
HTTP envelope (testnet, usIn, usOut, usDiff): `public/auth` (client_credentials, checked and
rate-limited as over HTTP) authenticates the connection; `private/subscribe` takes
`user.mmp_trigger.{index_name}` channels of documented index names (on an authenticated
connection, or with params.access_token) and answers the list subscribed; `public/test`
answers a version. Other methods are not simulated over the WebSocket (-32601). A trigger is
pushed as `{"method": "subscription", "params": {"channel", "data"}}`.

Its undocumented points: (`trigger_payload`) the seed reference gives the notification's
data as `{"frozen_until": ms}` alone ("minimal", the default: the scope is only the channel's
index, so neither which group froze nor whether order or Block RFQ MMP did); Deribit's
subscription page also lists index_name, mmp_group (for a mass-quote group) and block_rfq
("full"). A Block RFQ trigger goes out on its index's channel as an order one does (that the
page lists block_rfq in the data says the two share it). (`trigger_all_channel`) nothing
says which channel carries a trigger of Block RFQ's `all`: none (the default: subscribing
to user.mmp_trigger.all is refused as an unknown channel, and the trigger is not pushed),
or user.mmp_trigger.all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from reconciler.core.units import dumps_exact, loads_exact
from reconciler.simulators.websocket import Socket
from reconciler.venues.deribit.capabilities import ALL, INDEX_NAMES

if TYPE_CHECKING:
    from reconciler.venues.deribit.simulator import DeribitSimulator

WS_PATH = "/ws/api/v2"
CHANNEL_PREFIX = "user.mmp_trigger."
PAYLOADS = ("minimal", "full")


@dataclass
class _Session:
    app: WebSocketApi
    socket: Socket
    client_id: str = ""  # who public/auth authenticated, if anyone
    channels: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # each request heard (tests)

    def received(self, text: str) -> None:
        with self.app.sim._lock:
            self.app.request(self, text)

    def due_in_ms(self) -> int | None:
        return None  # Deribit documents no hang-up of a quiet connection

    def ended(self) -> None:
        with self.app.sim._lock:
            if self in self.app.sessions:
                self.app.sessions.remove(self)


class WebSocketApi:
    """The simulator's WebSocket API (a reconciler.simulators.websocket.PushApp)."""

    def __init__(self, sim: DeribitSimulator, trigger_payload: str) -> None:
        if trigger_payload not in PAYLOADS:
            raise ValueError(f"trigger_payload is one of {list(PAYLOADS)}")
        self.sim, self.trigger_payload = sim, trigger_payload
        self.sessions: list[_Session] = []

    def refuse(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.path != WS_PATH:
            return httpx.Response(404, content=b"Not Found")
        return None

    def open(self, request: httpx.Request, socket: Socket) -> _Session:
        session = _Session(self, socket)
        with self.sim._lock:
            self.sessions.append(session)
        return session

    # ---- requests (under the simulator's lock) ------------------------------------------

    def request(self, session: _Session, text: str) -> None:
        from reconciler.venues.deribit.simulator import RpcError

        started = self.sim.clock.now_ms() * 1000
        request_id: Any = None
        try:
            message = _message(text)
            session.messages.append(message)
            request_id = message["id"]
            result = self._dispatch(session, message["method"], message["params"])
        except RpcError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.data:
                error["data"] = exc.data
            session.socket.send(self._envelope(request_id, started, error=error))
            return
        session.socket.send(self._envelope(request_id, started, result=result))

    def _dispatch(self, session: _Session, method: str, params: dict[str, Any]) -> Any:
        from reconciler.venues.deribit.simulator import RpcError

        if method == "public/auth":
            result = self.sim._auth(params)
            session.client_id = self.sim.tokens[result["access_token"]][0]
            return result
        if method == "public/test":
            return {"version": "1.2.26"}
        if method == "private/subscribe":
            return self._subscribe(session, params)
        raise RpcError(-32601, "Method not found")

    def _subscribe(self, session: _Session, params: dict[str, Any]) -> list[str]:
        from reconciler.venues.deribit.simulator import RpcError, invalid

        client_id = session.client_id or self._token_owner(params.get("access_token"))
        if not client_id:
            raise RpcError(13009, "unauthorized")
        if not self.sim.accounts[client_id].bucket.take(
            self.sim.request_cost, self.sim.clock.now_ms()
        ):
            raise RpcError(10028, "too_many_requests")
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise invalid("channels", "must be a non-empty array of channel names")
        known = INDEX_NAMES | ({ALL} if self.sim.trigger_all_channel else set())
        for channel in channels:
            index = channel.removeprefix(CHANNEL_PREFIX) if isinstance(channel, str) else None
            if index is None or not channel.startswith(CHANNEL_PREFIX) or index not in known:
                raise invalid("channels", "not a channel this simulator serves")
        session.client_id = client_id
        session.channels.update(channels)
        return list(channels)

    def _token_owner(self, token: Any) -> str:
        client_id, expiry = (
            self.sim.tokens.get(token, ("", 0)) if isinstance(token, str) else ("", 0)
        )
        return client_id if client_id and self.sim.clock.now_ms() < expiry else ""

    def _envelope(self, request_id: Any, started_us: int, **payload: Any) -> str:
        finished = self.sim.clock.now_ms() * 1000
        return dumps_exact(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                **payload,
                "testnet": self.sim.testnet,
                "usIn": started_us,
                "usOut": finished,
                "usDiff": finished - started_us,
            }
        )

    # ---- what the venue pushes (under the simulator's lock) ------------------------------

    def triggered(
        self,
        client_id: str,
        index: str,
        group: str | None,
        until_ms: int,
        *,
        block_rfq: bool = False,
    ) -> None:
        """`block_rfq`: a Block RFQ trigger, on its index's channel (`all`'s: on
        user.mmp_trigger.all where that channel exists, else pushed nowhere)."""
        data: dict[str, Any] = {"frozen_until": until_ms}
        if index == ALL and not self.sim.trigger_all_channel:
            return
        if self.trigger_payload == "full":
            data["index_name"] = index
            if group is not None:
                data["mmp_group"] = group
            data["block_rfq"] = block_rfq
        channel = CHANNEL_PREFIX + index
        text = dumps_exact(
            {
                "jsonrpc": "2.0",
                "method": "subscription",
                "params": {"channel": channel, "data": data},
            }
        )
        for session in list(self.sessions):
            if session.client_id == client_id and channel in session.channels:
                session.socket.send(text)


def _message(text: str) -> dict[str, Any]:
    from reconciler.venues.deribit.simulator import RpcError

    try:
        body = loads_exact(text)
    except ValueError:
        raise RpcError(-32700, "Parse error") from None
    if not isinstance(body, dict) or body.get("jsonrpc") != "2.0":
        raise RpcError(-32600, "Invalid Request", {"reason": "jsonrpc must be 2.0"})
    if "id" not in body:
        raise RpcError(-32600, "Invalid Request", {"reason": "id is required"})
    params = body.get("params", {})
    if not isinstance(params, dict) or not isinstance(body.get("method"), str):
        raise RpcError(-32602, "Invalid params", {"reason": "named params only"})
    return {"id": body["id"], "method": body["method"], "params": params}
