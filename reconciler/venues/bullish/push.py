"""Bullish's private push channel for one trading account: the private-data WebSocket
(`/trading-api/v1/private-data?tradingAccountId=…`, the session's JWT as the cookie
`JWT_COOKIE`), subscribed to mmpRequest (each command's outcome, by requestId) and to the
trigger topic under both of its documented names (pushwire.py).

Opening it subscribes, then sends a keepalivePing and waits for its answer: the venue
answers in order, so a snapshot it sends on subscribing (if it sends one) is in by then, and
plan and status can use it. A keepalivePing goes every 30 s (the venue hangs up after 100 s
without traffic). What it knows of freezes: each trigger pushed since it opened; and, once a
trigger snapshot came, that every underlying it does not name was not frozen then.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from reconciler.core.errors import ReconcilerError
from reconciler.core.model import NOT_FROZEN, FreezeState, ScopeKey
from reconciler.core.units import now
from reconciler.venues.base import PushChannel, Said
from reconciler.venues.bullish import pushwire
from reconciler.venues.push import LOG, PushDown, RpcSocket, TriggerLog, ws_url

OPEN_BUDGET_S = 10  # connecting and subscribing, at most (a plan waits for it)
# a CLOSED command whose reason is not Ok: the docs show no failure's words, so it is taken
# as refused (the scope is read back at once, and the read decides), and said to be a reading
NOT_OK = " (a reason other than Ok: taken as refused; the read back decides)"
FINAL = frozenset({"CLOSED", "REJECTED", "FAILED", "CANCELLED", "CANCELED"})  # done, either way


class BullishPush:
    """One trading account's private-data socket (a reconciler.venues.base.PushChannel)."""

    def __init__(
        self,
        where: str,
        account_id: str,
        base_url: str,
        jwt: Callable[[], Awaitable[str]],
        slot: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        """`slot`: a request's place in the account's rate limits (the handshake is a
        request to the venue's host, and may count as one)."""
        self.where, self._account_id, self._jwt, self._slot = where, account_id, jwt, slot
        self._url = ws_url(base_url, pushwire.PRIVATE_DATA_PATH, {"tradingAccountId": account_id})
        self._socket: RpcSocket | None = None
        self._why = "not opened"
        self._since_ns: int | None = None
        self._opening = asyncio.Lock()
        self._tried = False
        self._ids: Iterator[int] = itertools.count(now("ms"))
        self._said: dict[str, Said] = {}  # requestId -> the venue's final word
        self._waiting: dict[str, asyncio.Future[Said]] = {}
        self._last: dict[str, str] = {}  # underlying -> the requestId of its last command
        self._triggers = TriggerLog(rest_sees_freezes=False)
        self._trigger_ids: set[str] = set()
        self.trigger_topics: tuple[str, ...] = ()  # the names the venue took
        self.snapshot = False  # a trigger snapshot came: what it does not name was not frozen

    @property
    def down(self) -> str:
        return self._why if self._socket is None else self._socket.down

    @property
    def since_ns(self) -> int | None:
        return self._since_ns

    async def open(self, underlyings: frozenset[str] = frozenset()) -> None:
        """Its topics are the account's, whatever the underlying: opened once."""
        async with self._opening:
            if self._tried:
                return
            self._tried = True
            socket = RpcSocket(self.where, self._message)
            try:
                async with asyncio.timeout(OPEN_BUDGET_S):
                    await self._open(socket)
            except (PushDown, ReconcilerError, TimeoutError) as exc:
                await socket.aclose()
                self._why = str(exc) or f"not open within {OPEN_BUDGET_S} s"
                LOG.info("%s: private WebSocket not open (%s)", self.where, self._why)
                return
            self._since_ns = time.monotonic_ns()
            socket.keep_alive(pushwire.KEEPALIVE_MS, lambda: self._ping(socket))
            self._socket = socket
            LOG.info(
                "%s: private WebSocket open (%s)",
                self.where,
                ", ".join([pushwire.REQUEST_TOPIC, *self.trigger_topics]),
            )

    async def confirm(self) -> None:
        """A keepalivePing answered in time (RpcSocket.confirm): the venue answers in order,
        so every push it sent before has arrived; else the socket is taken as down."""
        socket = self._socket
        if socket is not None:
            await socket.confirm(lambda: self._ping(socket), "a keepalivePing")

    async def _open(self, socket: RpcSocket) -> None:
        """Connect, then the subscriptions and a keepalivePing in one round trip: the venue
        answers in order, so the ping's answer comes after any snapshot they bring."""
        token = await self._jwt()
        async with self._slot():
            await socket.connect(self._url, {"Cookie": f"{pushwire.COOKIE}={token}"})
        topics = (pushwire.REQUEST_TOPIC, *pushwire.TRIGGER_TOPICS)
        calls = [("subscribe", {"topic": topic}) for topic in topics] + [("keepalivePing", {})]
        ids = [str(next(self._ids)) for _ in calls]
        answers = await socket.call_all(
            [(pushwire.command(m, p, i), i) for (m, p), i in zip(calls, ids, strict=True)]
        )
        self._subscribed(dict(zip(topics, answers, strict=False)))
        if "result" not in answers[-1]:
            raise PushDown(f"keepalivePing was refused: {_error(answers[-1])}")

    def _subscribed(self, answers: dict[str, dict[str, Any]]) -> None:
        """Which topics the venue took: mmpRequest, and at least one trigger topic's name."""
        if "result" not in answers[pushwire.REQUEST_TOPIC]:
            why = _error(answers[pushwire.REQUEST_TOPIC])
            raise PushDown(f"{pushwire.REQUEST_TOPIC} was refused: {why}")
        refused: list[str] = []
        for topic in pushwire.TRIGGER_TOPICS:
            if "result" in answers[topic]:
                self.trigger_topics += (topic,)
            else:
                refused.append(f"{topic}: {_error(answers[topic])}")
        if not self.trigger_topics:
            raise PushDown("no trigger topic was taken (" + "; ".join(refused) + ")")

    async def _ping(self, socket: RpcSocket) -> None:
        answer = await self._call(socket, "keepalivePing", {})
        if "result" not in answer:
            raise PushDown(f"keepalivePing was refused: {_error(answer)}")

    async def _call(self, socket: RpcSocket, method: str, params: dict[str, str]) -> dict[str, Any]:
        command_id = str(next(self._ids))
        return await socket.call(pushwire.command(method, params, command_id), command_id)

    # ---- what the venue pushes -------------------------------------------------------

    def _message(self, message: dict[str, Any]) -> None:
        """A topic message; anything else (a heartbeat, another topic) is not ours."""
        kind = message.get("dataType")
        if kind == pushwire.REQUEST_TYPE:
            for item in pushwire.items(message, self._account_id):
                self._heard(pushwire.request_status(item))
        elif kind == pushwire.TRIGGER_TYPE:
            for item in pushwire.items(message, self._account_id):
                self._triggered(pushwire.trigger(item))
            if message.get("type") == "snapshot":
                self.snapshot = True

    def _heard(self, said: pushwire.RequestStatus) -> None:
        if said.status.strip().upper() not in FINAL or said.request_id in self._said:
            return  # still under way (OPEN), or heard already
        words = f"mmpRequest {said.status}: {said.reason or 'no reason given'}"
        if not said.applied and said.status.strip().upper() == "CLOSED":
            words += NOT_OK
        word = Said(said.applied, words)
        self._said[said.request_id] = word
        waiting = self._waiting.pop(said.request_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(word)

    def _triggered(self, trigger: pushwire.Trigger) -> None:
        if trigger.trigger_id and trigger.trigger_id in self._trigger_ids:
            return  # the same trigger on both topic names
        self._trigger_ids.add(trigger.trigger_id)
        self._triggers.add(trigger.underlying, None, _freeze(trigger))
        LOG.info("%s: MMP triggered on %s (pushed)", self.where, trigger.underlying)

    # ---- what apply, plan and status ask ---------------------------------------------

    def sent(self, key: ScopeKey, request_id: str) -> None:
        """A command to `key` was acknowledged with `request_id` (its outcome may be in)."""
        self._last[key.underlying] = request_id

    def frozen(self, key: ScopeKey, after_ns: int) -> FreezeState | None:
        return self._triggers.frozen(key, after_ns)

    def told(self) -> Mapping[str, FreezeState] | None:
        """underlying -> what the socket tells of its freeze now; None when it tells nothing
        (not open, or no trigger and no snapshot)."""
        if self.down and not self._triggers.pushed:
            return None
        return _Told(self, now("ms"))

    async def outcome(self, key: ScopeKey) -> Said | None:
        request_id = self._last.get(key.underlying)
        if request_id is None:
            return None
        if request_id in self._said:
            return self._said[request_id]
        if self._socket is None or self._socket.down:
            return None
        loop = asyncio.get_running_loop()
        waiting = self._waiting.setdefault(request_id, loop.create_future())
        ended = asyncio.ensure_future(self._socket.ended())
        either: set[asyncio.Future[Any]] = {waiting, ended}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        return waiting.result() if waiting.done() else None

    async def aclose(self) -> None:
        if self._socket is not None:
            await self._socket.aclose()


class _Told(Mapping[str, FreezeState]):
    """The socket's word per underlying: a freeze in force; else, after a snapshot, not
    frozen; else nothing (KeyError)."""

    def __init__(self, push: BullishPush, now_ms: int) -> None:
        self._push, self._now_ms = push, now_ms

    def __getitem__(self, underlying: str) -> FreezeState:
        found = self._push._triggers.frozen(
            ScopeKey("bullish", "", underlying), time.monotonic_ns()
        )
        if found is not None:
            return found
        if self._push.snapshot and not self._push.down:  # a snapshot is news while it is open
            return NOT_FROZEN
        raise KeyError(underlying)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({item.underlying for item in self._push._triggers.pushed}))

    def __len__(self) -> int:
        return len({item.underlying for item in self._push._triggers.pushed})

    def __bool__(self) -> bool:
        return True  # it tells something (a snapshot) even when no trigger came


def _freeze(trigger: pushwire.Trigger) -> FreezeState:
    if trigger.until_ms > trigger.start_ms:
        return FreezeState(True, trigger.until_ms)
    return FreezeState(
        True,
        None,
        "MMP triggered with no freeze time (what Bullish's 0 means is undocumented)",
    )


def _error(answer: dict[str, Any]) -> str:
    error = answer.get("error")
    if isinstance(error, dict):
        return f"{error.get('errorCodeName', '')} {error.get('message', '')}".strip()
    return "no result"


_CONFORMS: type[PushChannel] = BullishPush  # mypy checks the Protocol here
