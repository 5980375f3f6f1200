"""What the venues' push channels share (Bullish's private-data socket, Deribit's WebSocket
API): a JSON-RPC WebSocket to the venue and a log of the freezes it pushed.

`RpcSocket` opens a WebSocket on the venue's host (the base URL's scheme as ws/wss, the
same proxy variables as our HTTP clients), matches each answer to its request by id, hands
every other message to the venue's channel, and sends the venue's keepalive when it needs
one. It raises PushDown only while opening and calling; once a connection ends, `down` says
why, and everything waiting on it is woken. Nothing it logs carries a credential: the
handshake's headers (a JWT cookie) are never logged, and log lines are redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.core.model import FreezeState, ScopeKey
from reconciler.core.secrets import redact
from reconciler.core.units import loads_exact, now
from reconciler.venues.answers import Malformed

LOG = logging.getLogger("mmp")
OPEN_TIMEOUT_S = 5  # as our HTTP clients' connect timeout
ANSWER_TIMEOUT_S = 5
CONFIRM_S = 2  # a probe before a write must be answered within this
ANY_GROUP = "\0any"  # a freeze pushed for an underlying without saying which group


class PushDown(Exception):
    """The channel could not be opened or a call went unanswered; the text says why."""


def ws_url(base_url: str, path: str, query: dict[str, str] | None = None) -> str:
    """The WebSocket URL on the venue's host: http -> ws, https -> wss, any path of the base
    URL (a gateway's) kept before `path`."""
    parts = urllib.parse.urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    full = parts.path.rstrip("/") + path
    return urllib.parse.urlunsplit(
        (scheme, parts.netloc, full, urllib.parse.urlencode(query or {}), "")
    )


def _proxy(url: str) -> str | None:
    """The proxy our HTTP clients would use for this host (live._Network reads the same)."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):  # type: ignore[attr-defined]
        return None
    scheme = "https" if parts.scheme == "wss" else "http"
    return proxies.get(scheme, proxies.get("all"))


class RpcSocket:
    """One JSON-RPC WebSocket to a venue, for one account."""

    def __init__(self, where: str, on_message: Callable[[dict[str, Any]], None]) -> None:
        self.where, self._on_message = where, on_message
        self.down = "not opened"
        self._ws: Any = None
        self._answers: dict[object, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._ended = asyncio.Event()

    async def connect(self, url: str, headers: dict[str, str]) -> None:
        from websockets.asyncio.client import connect  # on first use: start-up stays fast

        try:
            self._ws = await connect(
                url,
                additional_headers=headers,
                user_agent_header="mmp-reconciler",
                proxy=_proxy(url),
                open_timeout=OPEN_TIMEOUT_S,
                close_timeout=1,
                max_size=2**20,
            )
        except Exception as exc:  # any failure to open is the channel down, never the run's
            raise PushDown(f"could not connect ({_said(exc)})") from None
        self.down = ""
        self._tasks.append(asyncio.ensure_future(self._read()))

    async def call(self, text: str, request_id: object) -> dict[str, Any]:
        """Send a request and wait for the message answering it (its id)."""
        (answer,) = await self.call_all([(text, request_id)])
        return answer

    async def call_all(self, requests: Sequence[tuple[str, object]]) -> list[dict[str, Any]]:
        """Send requests one after the other without waiting between them (the venue reads
        them in that order), then wait for every answer: one round trip, not one each."""
        if self.down:
            raise PushDown(self.down)
        loop = asyncio.get_running_loop()
        waiting = [loop.create_future() for _ in requests]
        for (_, request_id), answer in zip(requests, waiting, strict=True):
            self._answers[request_id] = answer
        try:
            for text, _ in requests:
                await self._ws.send(text)
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                return list(await asyncio.gather(*waiting))
        except TimeoutError:
            raise PushDown(f"no answer within {ANSWER_TIMEOUT_S} s") from None
        except PushDown:
            raise
        except Exception as exc:
            raise PushDown(f"the connection failed ({_said(exc)})") from None
        finally:
            for _, request_id in requests:
                self._answers.pop(request_id, None)
            for answer in waiting:
                if not answer.done():
                    answer.cancel()

    def keep_alive(self, every_ms: int, ping: Callable[[], Awaitable[object]]) -> None:
        """Call `ping` every `every_ms` while the connection is open (a venue that hangs up
        on a quiet connection)."""

        async def beat() -> None:
            while not self.down:
                await asyncio.sleep(every_ms / 1000)
                try:
                    await ping()
                except PushDown as exc:
                    self.end(f"its keepalive failed ({exc})")

        self._tasks.append(asyncio.ensure_future(beat()))

    async def confirm(self, probe: Callable[[], Awaitable[object]], what: str) -> None:
        """Prove the connection live before a write: `probe`, a request the venue answers in
        order after everything it pushed before (`what` names it), answered within
        CONFIRM_S. Else the connection is ended: one that stays open and delivers nothing
        would hide a trigger."""
        if self.down:
            return
        try:
            async with asyncio.timeout(CONFIRM_S):
                await probe()
        except (PushDown, TimeoutError) as exc:
            self.end(
                f"it did not answer {what} within {CONFIRM_S} s before a write "
                f"({exc or 'no answer'}): a channel that cannot show it is live is not trusted"
            )

    async def ended(self) -> None:
        """Returns once the connection has ended."""
        await self._ended.wait()

    def end(self, why: str) -> None:
        """The connection is no good any more (`why`); wake everything waiting on it."""
        if not self.down:
            self.down = why
            LOG.info("%s: %s", self.where, redact(f"private push channel down: {why}"))
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(PushDown(self.down))
        self._ended.set()

    async def aclose(self) -> None:
        self.end("closed by mmp")
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        why = "closed by the venue"
        try:
            async for raw in self._ws:
                message = loads_exact(raw)
                if not isinstance(message, dict):
                    raise Malformed("a pushed message is not an object")
                answer = self._answers.get(message.get("id"))
                if answer is not None and not answer.done():
                    answer.set_result(message)
                else:
                    self._on_message(message)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            why = f"a message the venue pushed could not be read ({exc})"
        except ConnectionClosed:
            pass  # said below, with its code
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = f"the connection failed ({_said(exc)})"
        code, reason = self._ws.close_code, self._ws.close_reason
        said = f"{why} (close code {code}{': ' + reason if reason else ''})" if code else why
        self.end(said)


def _said(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact(text)


@dataclass(frozen=True)
class Pushed:
    """A freeze as pushed: of an underlying (and group, or ANY_GROUP), when it arrived."""

    underlying: str
    group: str | None
    freeze: FreezeState
    arrived_ns: int


class TriggerLog:
    """The freezes a channel pushed. `frozen(key, after_ns)`: one pushed after `after_ns`,
    or, where REST cannot see a freeze (`rest_sees_freezes` False), one still in force."""

    def __init__(self, *, rest_sees_freezes: bool) -> None:
        self.rest_sees_freezes = rest_sees_freezes
        self.pushed: list[Pushed] = []

    def add(self, underlying: str, group: str | None, freeze: FreezeState) -> None:
        self.pushed.append(Pushed(underlying, group, freeze, time.monotonic_ns()))

    def frozen(self, key: ScopeKey, after_ns: int) -> FreezeState | None:
        now_ms = now("ms")
        for item in reversed(self.pushed):
            if item.underlying != key.underlying or item.group not in (key.group, ANY_GROUP):
                continue
            in_force = item.freeze.until_ms is None or item.freeze.until_ms > now_ms
            if item.arrived_ns > after_ns or (in_force and not self.rest_sees_freezes):
                return item.freeze
        return None
