"""The fault-injection matrix: every venue against each fault real venues produce.

Each cell asserts the exit code, the journal and the simulator's final state (every scope
ends with its old or its new config unless the run ends with exit 4), then that a clean
re-run converges. The matrix is printed as a table (pytest -s shows it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.apply.writes as writes
from reconciler.apply.executor import apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.errors import PlanFileError
from reconciler.core.model import ScopeKey
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES, capabilities
from tests import fault_cells
from tests.checked import checked
from tests.fakes.faults import FaultInjector
from tests.venues import ROWS, connect_to

HERE = Location("p", 1, 1)
EXPECTED = {
    "500-on-write": 1,
    "timeout-after-write": 0,
    "connection-reset": 1,
    "429-storm": 0,
    "malformed-json": 0,
    "rejection": 1,
    "auth-expiry": 0,
    "live-changed": 1,
}


def expected(venue: str, fault: str) -> int:
    """On an asynchronous venue a 500 may hide a command the venue queued: not in force by
    the deadline proves nothing (it may land later), so the scope is named unknown, exit 4."""
    if fault == "500-on-write" and not VENUES[venue].capabilities.synchronous:
        return 4
    return EXPECTED[fault]


RESULTS: dict[tuple[str, str], str] = {}


class Reject:
    def __init__(self, app: Any, venue: str) -> None:
        self.app, self.venue, self.left = app, venue, 1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        row = ROWS[self.venue]
        if self.left and row.writes(request):
            self.left -= 1
            return httpx.Response(row.rejection[0], content=row.rejection_body())
        response: httpx.Response = self.app(request)
        return response


@pytest.fixture(autouse=True)
def quick_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writes, "POLL_DEADLINE_MS", 500)
    monkeypatch.setattr("reconciler.venues.http.BACKOFF_MS", 1)


def run_cell(venue: str, fault: str) -> tuple[int, list[dict[str, Any]], Any]:
    row = ROWS[venue]
    sim = row.make()
    creds = row.credentials(sim, "acct")
    keys = [ScopeKey(venue, "acct", u, g) for u, g in row.scopes[:2]]
    old = {key: row.sample(i) for i, key in enumerate(keys)}
    new = {key: row.sample(i + 5) for i, key in enumerate(keys)}
    for key in keys:
        row.seed(sim, creds, key, old[key])
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", venue, "testnet", None, "ACCT", HERE)},
        scopes={key: DesiredScope(key, new[key], HERE) for key in keys},
    )
    handler: Callable[[httpx.Request], httpx.Response] = sim
    if fault == "rejection":
        handler = Reject(sim, venue)
    elif fault in ("500-on-write", "timeout-after-write", "connection-reset", "malformed-json"):
        handler = FaultInjector(sim, row.writes, fault)
    elif fault == "429-storm":
        handler = FaultInjector(sim, row.writes, fault, times=3)
    conns = connect_to(handler, desired, {"acct": creds})
    journal = Journal(None)

    async def go() -> int:
        live = await conns.read()  # a venue that cannot tell a freeze: a person checked
        plan = make_plan(desired, live, capabilities(), included=checked(live))
        if fault == "auth-expiry":
            assert row.expire_session is not None
            row.expire_session(sim)
        if fault == "live-changed":
            row.seed(sim, creds, keys[0], row.sample(9))
        try:
            result = await apply_plan(plan, conns, journal)
        except PlanFileError:
            return 1
        finally:
            await conns.aclose()
        return result.exit_code

    code = asyncio.run(go())
    final = {s.key: s.config for s in asyncio.run(_read(row, sim, creds, desired)).scopes}
    for key in keys:
        allowed = [old[key], new[key]] + ([row.sample(9)] if fault == "live-changed" else [])
        assert code == 4 or final.get(key) in allowed, (key, final.get(key))
    converge(row, sim, creds, desired)
    return code, journal.records, final


async def _read(row: Any, sim: Any, creds: Any, desired: DesiredState) -> Any:
    conns = connect_to(sim, desired, {"acct": creds})
    try:
        return await conns.read_account("acct")
    finally:
        await conns.aclose()


def converge(row: Any, sim: Any, creds: Any, desired: DesiredState) -> None:
    async def go() -> None:
        conns = connect_to(sim, desired, {"acct": creds})
        live = await conns.read()
        plan = make_plan(desired, live, capabilities(), included=checked(live))
        assert (await apply_plan(plan, conns, Journal(None))).exit_code == 0
        assert not make_plan(desired, await conns.read(), capabilities()).has_changes
        await conns.aclose()

    asyncio.run(go())


CELLS = [
    (venue, fault)
    for venue in sorted(ROWS)
    for fault in EXPECTED
    if fault != "auth-expiry" or ROWS[venue].expire_session is not None  # others sign each call
]


@pytest.mark.parametrize(("venue", "fault"), CELLS)
def test_cell(venue: str, fault: str) -> None:
    code, records, _ = run_cell(venue, fault)
    RESULTS[(venue, fault)] = f"exit {code}"
    assert code == expected(venue, fault)
    events = [r["event"] for r in records]
    if fault == "live-changed":
        assert events == []  # refused before anything was written or journaled
    else:
        assert events[0] == "apply-start" and events[-1] == "apply-end"
        assert events.count("step-begin") == events.count("step-end") >= 1


PROCESS_CELLS = [(venue, fault) for venue in sorted(ROWS) for fault in fault_cells.PROCESS_FAULTS]


@pytest.mark.parametrize(("venue", "fault"), PROCESS_CELLS)
def test_process_cell(tmp_path: Path, venue: str, fault: str) -> None:
    """A real `mmp apply` process: tests/fault_cells.py says what each cell does."""
    RESULTS[(venue, fault)] = fault_cells.run(tmp_path, venue, fault)


def _table(faults: tuple[str, ...] | list[str], cells: list[tuple[str, str]]) -> list[str]:
    width = {f: max(len(f), *(len(RESULTS.get((v, f), "")) for v in ROWS)) for f in faults}
    lines = ["venue    | " + " | ".join(f"{f:<{width[f]}}" for f in faults)]
    for venue in sorted(ROWS):
        row = [
            RESULTS.get((venue, f), "n/a" if (venue, f) not in cells else "not run") for f in faults
        ]
        lines.append(
            f"{venue:<8} | "
            + " | ".join(f"{c:<{width[f]}}" for c, f in zip(row, faults, strict=True))
        )
    return lines


def test_print_matrix() -> None:
    """Runs last in this file: both tables (n/a where a venue has no session to expire)."""
    lines = ["", "In process (tests/test_fault_matrix.py):"]
    lines += _table(list(EXPECTED), CELLS)
    lines += ["", "Against a real mmp process (tests/fault_cells.py):"]
    lines += _table(fault_cells.PROCESS_FAULTS, PROCESS_CELLS)
    every = CELLS + PROCESS_CELLS
    ran = sum(1 for c in every if c in RESULTS)
    lines.append(
        f"{ran} of {len(every)} cells run; n/a: auth expiry on venues that sign every "
        "request (no session to expire)"
    )
    print("\n".join(lines))
    assert ran in (0, len(CELLS), len(PROCESS_CELLS), len(every))  # whole tables, or none
