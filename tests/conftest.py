from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from reconciler.core.clock import running_on
from tests.clock import VirtualClock
from tests.figures import FILE, Figures

# Properties assert behaviour, never speed (benchmarks/ measures that): no per-example
# deadline and no too-slow health check, so a slow or busy CI machine cannot fail them.
settings.register_profile("mmp", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mmp")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite the expected files of golden tests"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> Figures:
    """The example desk's figures (tests/figures.py): `figures.check(name, observed)`."""
    return Figures(FILE, bool(request.config.getoption("--update-golden")))


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise RuntimeError(f"tests may only talk to loopback, not {host}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test talks to anything but loopback."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield


@pytest.fixture(autouse=True)
def mmp_logger_as_found() -> Iterator[None]:
    """The "mmp" logger as each test found it: `mmp` run in this process (console.configure)
    points it at that test's captured stderr and stops it propagating, so a later test's
    caplog would hear nothing and its lines would go to a closed stream."""
    log = logging.getLogger("mmp")
    handlers, propagate, level = list(log.handlers), log.propagate, log.level
    yield
    log.handlers[:] = handlers
    log.propagate = propagate
    log.setLevel(level)


@pytest.fixture(autouse=True)
def not_in_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite behaves the same on a laptop and in Actions (GITHUB_ACTIONS shortens the
    grace after a second signal; GITHUB_TRIGGERING_ACTOR names who acts): a test that wants
    GitHub's variables sets them itself."""
    for name in list(os.environ):
        if name.startswith("GITHUB_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def writes_of_dead_runs_land_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write of a killed run is taken to have landed (or not) by the time it is read: the
    tests of the window in which one may still land set MMP_LATE_LANDING_S themselves."""
    monkeypatch.setenv("MMP_LATE_LANDING_S", "0")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def virtual_time() -> Iterator[VirtualClock]:
    """apply, the venue clients and the simulators answering in process on one virtual
    clock (tests/clock.py): every rate-limit wait, back-off and read-back deadline passes
    at once and moves the clock on by its length, so the run goes as it would in real time.
    Only where every party is in this process (no real mmp process, no served simulator)."""
    virtual = VirtualClock()
    with running_on(virtual):
        yield virtual
