"""Read live: build one client per account and read every scope, concurrently per venue.

Reads stop at the first failure: a plan is never made from part of the live state.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from reconciler.core.aio import read_all
from reconciler.core.clock import clock
from reconciler.core.console import Progress
from reconciler.core.errors import ReconcilerError
from reconciler.core.model import LiveAccount
from reconciler.core.units import convert_time, now
from reconciler.policy.desired import AccountTarget
from reconciler.venues.base import Credentials, Learning, PushChannel, VenueClient, VenueSpec
from reconciler.venues.discovery import Unlisted, UnlistedName
from reconciler.venues.ledger import Ledger
from reconciler.venues.limiter import Limiter, Limits, RequestLimiter, WindowLimiter

TransportFactory = Callable[[str], httpx.AsyncBaseTransport]
DEFAULT_CONCURRENCY = 32  # accounts at once per venue; the rate limiters pace the rest
# seconds; no limit on waiting for one of the account's own connections: the requests ahead
# are bounded by theirs
TIMEOUT = httpx.Timeout(10, connect=5, pool=None)
# Connections per account: its reads share them (Binance's six underlyings go three by two)
# instead of each opening its own, once: at 10,000 scopes closing thousands of connections
# used once had cost seconds after the last answer (benchmarks/plan_apply.py).
ACCOUNT_POOL = httpx.Limits(max_connections=2, max_keepalive_connections=2)
IN_PROCESS = "the venue answers in process here (--sandbox): there is no socket to open"


@dataclass
class Connections:
    clients: dict[str, VenueClient]  # account name -> client
    concurrency: int = DEFAULT_CONCURRENCY
    declared: Mapping[str, frozenset[str]] = field(default_factory=dict)  # account -> underlyings
    windows: dict[str, WindowLimiter] = field(default_factory=dict)  # per-IP windows, by key
    ledger: Ledger | None = None  # where this machine's processes share what they spent
    read_at_ns: dict[str, int] = field(default_factory=dict)  # account -> its last whole read
    pushes: dict[str, PushChannel] = field(default_factory=dict)  # account -> its push channel
    push_notes: dict[str, str] = field(default_factory=dict)  # account -> why it has none
    endpoints: dict[tuple[str, str], object] = field(default_factory=dict)  # shared, per endpoint

    def learned(self) -> list[dict[str, str]]:
        """What the endpoints found out in this run of how their venues read an open point
        (base.Learning), for apply's journal."""
        return [
            note for s in self.endpoints.values() if isinstance(s, Learning) for note in s.learned()
        ]

    async def read_account(self, name: str, only: frozenset[str] | None = None) -> LiveAccount:
        """One account's scopes; with `only`, at least those underlyings (a read-back)."""
        started = clock().monotonic_ns()
        account = await self.clients[name].read(self.declared.get(name, frozenset()), only=only)
        if only is None:
            self.read_at_ns[name] = started  # what it says held when the read began, at least
        return account

    async def read(self, accounts: list[str] | None = None) -> list[LiveAccount]:
        names = sorted(self.clients if accounts is None else accounts)
        limits: dict[str, asyncio.Semaphore] = {}
        progress = Progress(len(names), "Reading accounts")
        unlisted: list[UnlistedName] = []  # of every account, said at once

        async def one(name: str) -> LiveAccount:
            client = self.clients[name]
            venue = client.capabilities.venue
            async with limits.setdefault(venue, asyncio.Semaphore(self.concurrency)):
                try:
                    account = await self.read_account(name)
                except Unlisted as exc:
                    unlisted.extend(exc.names)
                    account = LiveAccount(venue, name, ())  # never planned from: raised below
            progress.step(name)
            return account

        try:
            read = await read_all(one(name) for name in names)
        finally:
            progress.close()
        if unlisted:
            raise Unlisted(unlisted)
        return read

    async def read_each(self) -> tuple[list[LiveAccount], dict[str, str]]:
        """Every account read on its own: what could be read, and why each other one could
        not (for `status`: one venue down must not hide what the others say)."""
        failures: dict[str, str] = {}
        limits: dict[str, asyncio.Semaphore] = {}

        async def one(name: str) -> LiveAccount | None:
            venue = self.clients[name].capabilities.venue
            async with limits.setdefault(venue, asyncio.Semaphore(self.concurrency)):
                try:
                    return await self.read_account(name)
                except ReconcilerError as exc:
                    failures[name] = str(exc)
                    return None

        found = await asyncio.gather(*(one(name) for name in sorted(self.clients)))
        return [account for account in found if account is not None], failures

    async def aclose(self) -> None:
        await asyncio.gather(*(push.aclose() for push in self.pushes.values()))
        await asyncio.gather(*(client.aclose() for client in self.clients.values()))
        if self.ledger is not None and self.windows:
            now_ms = now("ms")
            spent = {
                key: [now_ms - convert_time(age, "ns", "ms") for age in window.spent()]
                for key, window in self.windows.items()
            }
            sizes = {
                key: convert_time(window.window_ns, "ns", "ms")
                for key, window in self.windows.items()
            }
            self.ledger.add(spent, sizes)


def connect(
    targets: list[AccountTarget],
    venues: Mapping[str, VenueSpec[Any]],
    credentials: Mapping[str, Credentials],
    transport: TransportFactory | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    declared: Mapping[str, frozenset[str]] | None = None,
    ledger: Ledger | None = None,
) -> Connections:
    """One client per target. Where a venue counts per IP, its accounts share one window,
    seeded from what this machine's other mmp processes spent (the ledger). Where a venue
    has a push channel, each account reached over the network gets one (unopened)."""
    clients: dict[str, VenueClient] = {}
    windows: dict[str, WindowLimiter] = {}  # per venue endpoint: counted per IP
    spent = ledger.load() if ledger is not None else {}
    shared: dict[tuple[str, str], object] = {}  # per venue endpoint: what accounts share
    network = _Network()
    pushes: dict[str, PushChannel] = {}
    notes: dict[str, str] = {}
    for target in targets:
        spec = venues[target.venue]
        connection = spec.connection
        base_url = target.base_url or connection.environments[target.environment or ""]
        endpoint = (target.venue, base_url)
        http = network.client(base_url, transport(target.venue) if transport else None)
        http.headers.update(connection.environment_headers.get(target.environment or "", {}))
        limits: list[RequestLimiter] = [Limiter(connection.requests_per_second, connection.burst)]
        if connection.shared_limit:
            key = f"{target.venue} {base_url}"
            if key not in windows:
                windows[key] = WindowLimiter(connection.shared_limit, connection.shared_window_ms)
                now_ms = now("ms")
                windows[key].seed(
                    [convert_time(now_ms - t, "ms", "ns") for t in spent.get(key, [])]
                )
            limits.append(windows[key])
        if endpoint not in shared:  # made once per endpoint, shared by its accounts
            shared[endpoint] = spec.endpoint_state()
        clients[target.name] = spec.client(
            target.name, credentials[target.name], http, Limits(*limits), shared[endpoint]
        )
        if spec.push is not None and transport is None:
            pushes[target.name] = spec.push(clients[target.name], base_url)
        elif spec.push is not None:
            notes[target.name] = IN_PROCESS
    connections = Connections(
        clients, concurrency, dict(declared or {}), windows=windows, ledger=ledger, endpoints=shared
    )
    connections.pushes, connections.push_notes = pushes, notes
    return connections


class _Network:
    """What every account's HTTP client shares: one TLS context and one reading of the proxy
    environment, instead of one each (32 ms and 5 ms a client). Each account keeps its own
    small connection pool: one pool for hundreds of concurrent requests costs quadratic
    time in httpcore. Cookies are refused: requests carry their own credentials."""

    def __init__(self) -> None:
        self._tls: ssl.SSLContext | None = None
        self._proxies = urllib.request.getproxies()

    def client(
        self, base_url: str, transport: httpx.AsyncBaseTransport | None
    ) -> httpx.AsyncClient:
        if transport is None:
            url = httpx.URL(base_url)
            if self._tls is None:
                self._tls = ssl.create_default_context()
            bypass = urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                url.host, self._proxies
            )
            proxy = None if bypass else self._proxies.get(url.scheme, self._proxies.get("all"))
            transport = httpx.AsyncHTTPTransport(verify=self._tls, proxy=proxy, limits=ACCOUNT_POOL)
        return httpx.AsyncClient(
            base_url=base_url,
            timeout=TIMEOUT,
            transport=transport,
            trust_env=False,  # read once above
            headers={"User-Agent": "mmp-reconciler"},
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
