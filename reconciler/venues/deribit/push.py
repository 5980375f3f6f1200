"""Deribit's push channel for one account: its WebSocket API (`/ws/api/v2` on the venue's
host), `public/auth` with the account's client credentials, then `private/subscribe` to
`user.mmp_trigger.{index_name}` for each index apply will write.

A trigger notification's data is `{"frozen_until": ms}` (0: until a reset) by the seed
reference; Deribit's subscription page adds index_name, mmp_group (a mass-quote group's) and
block_rfq. When the data names no index the freeze is the channel index's, of a group it
does not say, so every scope of that index is treated as frozen. Deribit's REST read shows a
freeze (get_mmp_status), so a push only covers what happened after apply's last read began.
Synchronous: no command outcome is pushed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from reconciler.core import secrets
from reconciler.core.model import FreezeState, ScopeKey
from reconciler.core.units import dumps_exact, epoch_ms
from reconciler.venues import answers
from reconciler.venues.base import Credentials, PushChannel, Said
from reconciler.venues.deribit import wire
from reconciler.venues.push import ANY_GROUP, LOG, PushDown, RpcSocket, TriggerLog, ws_url

WS_PATH = "/ws/api/v2"
CHANNEL_PREFIX = "user.mmp_trigger."


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
        self._triggers = TriggerLog(rest_sees_freezes=True)

    @property
    def down(self) -> str:
        return self._why if self._socket is None else self._socket.down

    @property
    def since_ns(self) -> int | None:
        return self._since_ns

    async def open(self, underlyings: frozenset[str]) -> None:
        # a Block RFQ scope is not watched here: a trigger's minimal payload does not say
        # its space, so its freeze is read back (get_mmp_status with block_rfq: true)
        wanted = sorted(CHANNEL_PREFIX + i for i in underlyings if not wire.is_block_rfq(i))
        async with self._opening:
            if self._socket is None and self._why != "not opened":
                return  # it could not be opened: said once
            missing = [channel for channel in wanted if channel not in self._channels]
            if not missing:
                return
            try:
                if self._socket is None:
                    self._socket = await self._connect()
                await self._subscribe(self._socket, missing)
            except PushDown as exc:
                if self._socket is not None:
                    await self._socket.aclose()
                self._socket, self._why = None, str(exc)
                LOG.info("%s: WebSocket not open (%s)", self.where, self._why)
                return
            self._since_ns = time.monotonic_ns()
            LOG.info("%s: WebSocket subscribed to %s", self.where, ", ".join(missing))

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
        until = epoch_ms(answers.integer(data, "frozen_until"), "ms")  # 0: until a reset
        if answers.optional_flag(data, "block_rfq"):
            return  # block-RFQ MMP is a separate space we do not manage
        group: str | None = ANY_GROUP  # the data names no index: the group is not said
        if "index_name" in data:
            if answers.text(data, "index_name") != index:
                raise answers.Malformed("index_name is not the channel's index")
            group = answers.optional_text(data, "mmp_group")
        self._triggers.add(index, group, FreezeState(True, until or None))
        LOG.info("%s: MMP triggered on %s (pushed)", self.where, index)

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


_CONFORMS: type[PushChannel] = DeribitPush  # mypy checks the Protocol here
