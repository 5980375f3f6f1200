"""Deribit's push channel for one account: its WebSocket API (`/ws/api/v2` on the venue's
host), `public/auth` with the account's client credentials, then `private/subscribe` to
`user.mmp_trigger.{index_name}` for each index apply will write, in either space: an order
or mass-quote scope's index, a Block RFQ scope's (`block_rfq:<index>`).

A trigger notification's data is `{"frozen_until": ms}` (0: until a reset) by the seed
reference; Deribit's subscription page adds index_name, mmp_group (a mass-quote group's) and
block_rfq. What the data does not say is taken at its widest: without index_name the group
is not said, so every group of the index froze; without block_rfq (and no mmp_group, which
only order MMP has) the space is not said, so the index's order scopes and its Block RFQ
scope froze alike. Holding a scope that did not freeze costs a write; writing one that did
would end its freeze (a Deribit set resets MMP).

Block RFQ's `all` (trade_count_limit): the docs name no channel for it. mmp asks for
user.mmp_trigger.all on its own; where Deribit refuses it the rest of the channel stays
open and `uncovered` says that `block_rfq:all` is watched by REST reads alone.
Deribit's REST read shows a freeze (get_mmp_status), so a push only covers what happened
after apply's last read began. Synchronous: no command outcome is pushed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from reconciler.core import secrets
from reconciler.core.model import FreezeState, ScopeKey, in_space, split_space
from reconciler.core.units import dumps_exact, epoch_ms
from reconciler.venues import answers
from reconciler.venues.base import Credentials, PushChannel, Said
from reconciler.venues.deribit.capabilities import ALL, BLOCK_RFQ
from reconciler.venues.push import ANY_GROUP, LOG, PushDown, RpcSocket, TriggerLog, ws_url

WS_PATH = "/ws/api/v2"
CHANNEL_PREFIX = "user.mmp_trigger."
ALL_CHANNEL = CHANNEL_PREFIX + ALL  # Block RFQ's `all`, if Deribit has such a channel


class DeribitPush:
    """One account's WebSocket, subscribed to the trigger channels of the indexes it writes
    (a reconciler.venues.base.PushChannel)."""

    def __init__(
        self,
        where: str,
        credentials: Credentials,
        base_url: str,
        slot: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        """`slot`: a request's place in the account's rate limits: over the WebSocket each
        request costs the credits it costs over HTTP."""
        self.where, self._credentials, self._slot = where, credentials, slot
        self._url = ws_url(base_url, WS_PATH)
        self._socket: RpcSocket | None = None
        self._why = "not opened"
        self._since_ns: int | None = None
        self._opening = asyncio.Lock()
        self._ids: Iterator[int] = itertools.count(1)
        self._channels: set[str] = set()
        self._refused: set[str] = set()  # channels Deribit would not take (user.mmp_trigger.all)
        self.uncovered: dict[str, str] = {}  # underlying -> why no push covers it
        self._triggers = TriggerLog(rest_sees_freezes=True)

    @property
    def down(self) -> str:
        return self._why if self._socket is None else self._socket.down

    @property
    def since_ns(self) -> int | None:
        return self._since_ns

    async def open(self, underlyings: frozenset[str]) -> None:
        indexes = {split_space(u)[1] for u in underlyings}
        wanted = sorted(CHANNEL_PREFIX + i for i in indexes if i != ALL)
        async with self._opening:
            if self._socket is None and self._why != "not opened":
                return  # it could not be opened: said once
            missing = [c for c in wanted if c not in self._channels]
            rfq_all = ALL in indexes and ALL_CHANNEL not in self._channels | self._refused
            if not missing and not rfq_all:
                return
            try:
                if self._socket is None:
                    self._socket = await self._connect()
                if missing:
                    await self._subscribe(self._socket, missing)
                if rfq_all:
                    await self._subscribe_all(self._socket)
            except PushDown as exc:
                if self._socket is not None:
                    await self._socket.aclose()
                self._socket, self._why = None, str(exc)
                LOG.info("%s: WebSocket not open (%s)", self.where, self._why)
                return
            self._since_ns = time.monotonic_ns()
            taken = [c for c in [*missing, ALL_CHANNEL] if c in self._channels]
            if taken:
                LOG.info("%s: WebSocket subscribed to %s", self.where, ", ".join(taken))

    async def _subscribe_all(self, socket: RpcSocket) -> None:
        """user.mmp_trigger.all, asked for alone: Deribit may have no such channel (the
        docs do not say), and its refusal must not take the index channels down with it."""
        try:
            await self._subscribe(socket, [ALL_CHANNEL])
        except PushDown as exc:
            if socket.down:
                raise  # the connection, not the channel
            self._refused.add(ALL_CHANNEL)
            self.uncovered[in_space(BLOCK_RFQ, ALL)] = f"{ALL_CHANNEL}: {exc}"
            LOG.info(
                "%s: %s not taken (%s): a trigger of Block RFQ's `all` is not pushed, so "
                "block_rfq:all is checked by REST reads alone (a trigger between that read and "
                "its set would be ended by the set, unseen)",
                self.where,
                ALL_CHANNEL,
                exc,
            )

    async def _connect(self) -> RpcSocket:
        socket = RpcSocket(self.where, self._message)
        try:
            await socket.connect(self._url, {})
            params = {
                "grant_type": "client_credentials",
                "client_id": self._credentials["CLIENT_ID"],
                "client_secret": self._credentials["CLIENT_SECRET"],
            }
            result = await self._call(socket, "public/auth", params)
            token = answers.text(answers.obj(result, "result"), "access_token")
        except (PushDown, answers.Malformed) as exc:
            await socket.aclose()
            raise PushDown(str(exc)) from None
        secrets.register(token)  # the connection's session: never printed
        return socket

    async def _subscribe(self, socket: RpcSocket, channels: list[str]) -> None:
        result = await self._call(socket, "private/subscribe", {"channels": channels})
        taken = set(result) if isinstance(result, list) else set()
        if not set(channels) <= taken:
            raise PushDown("private/subscribe did not take every channel asked for")
        self._channels |= taken

    async def _call(self, socket: RpcSocket, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self._ids)
        text = dumps_exact({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        async with self._slot():
            answer = await socket.call(text, request_id)
        error = answer.get("error")
        if isinstance(error, dict):
            raise PushDown(f"{method} refused: {error.get('code')} {error.get('message')}")
        if "result" not in answer:
            raise PushDown(f"{method} answered without a result")
        return answer["result"]

    def _message(self, message: dict[str, Any]) -> None:
        """A subscription notification; anything else (a heartbeat) is not ours."""
        params = message.get("params")
        if message.get("method") != "subscription" or not isinstance(params, dict):
            return
        channel = answers.text(params, "channel")
        if channel not in self._channels:
            return
        index = channel.removeprefix(CHANNEL_PREFIX)
        data = answers.obj(answers.present(params, "data"), "data")
        freeze = FreezeState(True, epoch_ms(answers.integer(data, "frozen_until"), "ms") or None)
        scopes = triggered_scopes(index, data)
        for underlying, group in scopes:
            self._triggers.add(underlying, group, freeze)
        LOG.info("%s: MMP triggered on %s (pushed)", self.where, ", ".join(u for u, _ in scopes))

    def frozen(self, key: ScopeKey, after_ns: int) -> FreezeState | None:
        return self._triggers.frozen(key, after_ns)

    async def confirm(self) -> None:
        """`public/test` answered in time (RpcSocket.confirm): the venue answers a
        connection's messages in order, so every notification sent before it has arrived;
        else the socket is taken as down."""
        socket = self._socket
        if socket is not None:
            await socket.confirm(lambda: self._call(socket, "public/test", {}), "public/test")

    async def outcome(self, key: ScopeKey) -> Said | None:
        return None  # Deribit answers each command synchronously

    async def aclose(self) -> None:
        if self._socket is not None:
            await self._socket.aclose()


def triggered_scopes(index: str, data: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(underlying, group or ANY_GROUP) of every scope a notification on `index`'s channel
    may be of: what its data does not say is taken at its widest (the module's docstring)."""
    group: str | None = ANY_GROUP  # the data names no index: the group is not said
    if "index_name" in data:
        if answers.text(data, "index_name") != index:
            raise answers.Malformed("index_name is not the channel's index")
        group = answers.optional_text(data, "mmp_group")
    rfq = (in_space(BLOCK_RFQ, index), None)
    if index == ALL:  # Block RFQ's own index: no order MMP is keyed `all`
        return [rfq]
    if "block_rfq" in data:
        return [rfq] if answers.flag(data, "block_rfq") else [(index, group)]
    return [(index, group)] if group not in (None, ANY_GROUP) else [(index, group), rfq]


_CONFORMS: type[PushChannel] = DeribitPush  # mypy checks the Protocol here
