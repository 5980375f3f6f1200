"""The HTTP clients production uses (no injected transport), against a simulator on loopback."""

from __future__ import annotations

import asyncio
import importlib.machinery
import threading
from typing import Any

import pytest

from reconciler.policy.desired import AccountTarget, Location
from reconciler.simulators import server
from reconciler.venues import VENUES
from reconciler.venues.base import Credentials
from reconciler.venues.binance.simulator import BinanceSimulator
from reconciler.venues.live import ACCOUNT_POOL, connect


def test_an_account_reads_over_its_own_few_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binance has no bulk read: six GETs per account. They share the account's pool
    instead of opening six connections each (at 10,000 scopes, thousands to open and close)."""
    opened: list[object] = []
    lock = threading.Lock()
    real = server._QuietServer.process_request

    def counting(self: Any, request: Any, client_address: Any) -> None:
        with lock:
            opened.append(client_address)
        real(self, request, client_address)

    monkeypatch.setattr(server._QuietServer, "process_request", counting)
    sim = BinanceSimulator()
    names = [f"bn{n}" for n in range(3)]
    for name in names:
        sim.add_account(f"key-{name}", "secret")
    with server.serve(sim) as url:
        where = Location("desk.yaml", 1, 1)
        targets = [AccountTarget(n, "binance", None, url, n.upper(), where) for n in names]
        creds = {n: Credentials({"API_KEY": f"key-{n}", "API_SECRET": "secret"}) for n in names}
        conns = connect(targets, VENUES, creds)

        async def go() -> None:
            try:
                for _ in range(2):  # a plan, then an apply's read: the connections are kept
                    await conns.read()
            finally:
                await conns.aclose()

        asyncio.run(go())
    assert sim.requests.count("GET /eapi/v1/mmp") == 2 * 3 * 6
    assert ACCOUNT_POOL.max_connections == 2
    assert len(opened) == 3 * 2


def test_requests_search_for_no_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """An optional module missing (httpcore asks for sniffio at every lock it makes) costs
    a search of sys.path on every request; at 10,000 scopes, seconds."""
    searched: list[str] = []
    real = importlib.machinery.PathFinder.find_spec

    def find_spec(name: str, path: Any = None, target: Any = None) -> Any:
        searched.append(name)
        return real(name, path, target)

    sim = BinanceSimulator()
    sim.add_account("key-bn", "secret")
    with server.serve(sim) as url:
        target = AccountTarget("bn", "binance", None, url, "BN", Location("desk.yaml", 1, 1))
        creds = {"bn": Credentials({"API_KEY": "key-bn", "API_SECRET": "secret"})}
        conns = connect([target], VENUES, creds)

        async def go() -> None:
            try:
                await conns.read()  # first use: imports whatever it needs
                monkeypatch.setattr(importlib.machinery.PathFinder, "find_spec", find_spec)
                await conns.read()
            finally:
                await conns.aclose()

        asyncio.run(go())
    assert searched == []
