"""The fault-injection matrix: every venue, under every reading of its docs' open questions
(tests/venues.py, VenueRow.readings), against each fault real venues produce.

Each cell asserts the exit code, the journal and the simulator's final state (in process,
every scope's exactly as its exit code says; in a real process, each old or new unless the
run ends with exit 4), then that a clean re-run converges. A venue with scopes of another
config space crosses them in every cell (Deribit: block_rfq:btc_usd, its Block RFQ MMP,
beside btc_usd), and no write of one space may change the other (tests/spaces.py). In
process, every reading an in-process run plays runs every fault; a real `mmp` process
(tests/fault_cells.py) runs every cell under the default reading, and under each other
reading the cells of what that reading tells differently (a freeze, a write's outcome, a
refused token), with the push channel served where the venue has one. Where a venue or a
reading changes a cell's outcome, the expected table says so for that reading. The matrix
is printed as tables, a row per venue and reading (pytest -s shows them)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.apply.writes as writes
from reconciler.apply.executor import ApplyResult, apply_plan
from reconciler.apply.journal import Journal
from reconciler.core.errors import PlanFileError, VenueError
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES, capabilities
from tests import fault_cells
from tests.checked import checked
from tests.fakes.faults import FaultInjector
from tests.spaces import BLOCK_RFQ, ORDERS, cell_scopes, watch
from tests.venues import ROWS, connect_to, reading_cells, simulator_of

HERE = Location("p", 1, 1)
EXPECTED = {
    "500-on-write": "exit 1",
    "timeout-after-write": "exit 0",
    "connection-reset": "exit 1",
    "429-storm": "exit 0",
    "malformed-json": "exit 0",
    "rejection": "exit 1",
    "auth-expiry": "exit 0",
    "live-changed": "exit 1",
    # the venue refuses the account's MMP requests after the plan; its code, as it said it
    "mmp-not-enabled": "exit 1",
}
# apply refuses these before anything is written or journaled: the plan's accounts changed
# since it was made, or the venue refuses apply's read of them
BEFORE_ANY_WRITE = frozenset({"live-changed", "mmp-not-enabled"})
# where a venue, or one reading of it (None: each of its readings), ends a cell otherwise
BY_READING: dict[tuple[str, str | None, str], str] = {
    ("deribit", None, "mmp-not-enabled"): "exit 1 (11050)",  # the simulator's default code
    ("deribit", "not-enabled-13040", "mmp-not-enabled"): "exit 1 (13040)",
    ("binance", None, "mmp-not-enabled"): "exit 1 (-1002)",  # not a market maker
    ("okx", None, "mmp-not-enabled"): "exit 1 (51035)",  # no MMP privilege (assumed code)
    # Bybit tells it by a flag of its read (mmpEnabled: false), or by a code
    ("bybit", None, "mmp-not-enabled"): "exit 1 (mmpEnabled: false)",
    ("bybit", "not-enabled-110065", "mmp-not-enabled"): "exit 1 (110065)",
}


def expected(venue: str, reading: str, fault: str) -> str:
    """On an asynchronous venue a 500 may hide a command the venue queued: not in force by
    the deadline proves nothing (it may land later), so the scope is named unknown, exit 4."""
    for key in ((venue, reading, fault), (venue, None, fault)):
        if key in BY_READING:
            return BY_READING[key]
    if fault == "500-on-write" and not VENUES[venue].capabilities.synchronous:
        return "exit 4"
    return EXPECTED[fault]


Cell = tuple[str, str, str]  # (venue, reading, fault)
RESULTS: dict[Cell, str] = {}  # in process: what each cell ended with
PROCESS_RESULTS: dict[Cell, str] = {}  # a real process: what each cell ended with


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


def run_cell(venue: str, reading: str, fault: str) -> tuple[str, list[dict[str, Any]], Any]:
    row = ROWS[venue]
    sim = simulator_of(venue, reading)
    spaces = watch(sim)  # Deribit: a write of one config space never changes the other
    creds = row.credentials(sim, "acct")
    keys = [ScopeKey(venue, "acct", u, g) for u, g in cell_scopes(row)]
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

    async def go() -> ApplyResult | None:
        live = await conns.read()  # a venue that cannot tell a freeze: a person checked
        plan = make_plan(desired, live, capabilities(), included=checked(live))
        if fault == "auth-expiry":
            assert row.expire_session is not None
            row.expire_session(sim)
        if fault == "live-changed":  # the last: on Deribit, of Block RFQ MMP
            row.seed(sim, creds, keys[-1], row.sample(9))
        if fault == "mmp-not-enabled":
            assert row.mmp_enabled is not None
            row.mmp_enabled(sim, creds, False)
        try:
            return await apply_plan(plan, conns, journal)
        except (PlanFileError, VenueError) as exc:  # refused before a write: mmp exits 1
            refused.append(exc)
            return None
        finally:
            await conns.aclose()

    refused: list[Exception] = []
    result = asyncio.run(go())
    code = 1 if result is None else result.exit_code
    said = f"exit {code}"
    if fault == "mmp-not-enabled":
        assert row.mmp_enabled is not None
        said += f" ({said_code(result, refused)})"
        row.mmp_enabled(sim, creds, True)  # the venue's support turned it on again
    final = {s.key: s.config for s in asyncio.run(_read(row, sim, creds, desired)).scopes}
    assert final == ended(code, fault, keys, old, new, row.sample(9)), final
    converge(row, sim, creds, desired)
    if spaces is not None:  # both spaces written in the cell (and its re-run), never mixed
        assert set(spaces.check()) == {ORDERS, BLOCK_RFQ}, spaces.writes
    return said, journal.records, final


def ended(
    code: int,
    fault: str,
    keys: list[ScopeKey],
    old: dict[ScopeKey, MmpConfig],
    new: dict[ScopeKey, MmpConfig],
    theirs: MmpConfig,
) -> dict[ScopeKey, MmpConfig]:
    """What the venue holds after the run, every scope's: exit 0, each new config; exit 1,
    each as it was (on live-changed, the last with the config someone else set); exit 4 (an
    asynchronous venue's 500, which may hide a queued command), each as it was too: the
    injected 500 never let the write reach the venue."""
    if code == 0:
        return new
    if code == 4:
        assert fault == "500-on-write", fault
        return old
    assert code == 1, code
    return {**old, keys[-1]: theirs} if fault == "live-changed" else old


def said_code(result: ApplyResult | None, refused: list[Exception]) -> str:
    """The venue's error code, as the refusal that ended the run before a write says it, or
    the first step that failed; or the venue's flag, where it tells it so (Bybit)."""
    details = [str(exc) for exc in refused]
    steps = [] if result is None else [r.detail for r in result.results]
    details += [detail for detail in steps if "venue error" in detail]
    assert details, steps
    found = re.search(r"venue error (-?\d+)|(mmpEnabled: false)", details[0])
    assert found is not None, details[0]
    return found.group(1) or found.group(2)


async def _read(row: Any, sim: Any, creds: Any, desired: DesiredState) -> Any:
    conns = connect_to(sim, desired, {"acct": creds})
    try:
        return await conns.read_account("acct")
    finally:
        await conns.aclose()


def converge(row: Any, sim: Any, creds: Any, desired: DesiredState) -> None:
    """A clean re-run, as `mmp apply --auto-approve` makes it (the plan's read is apply's:
    nobody in between), applies every change, and a new plan has none."""

    async def go() -> None:
        conns = connect_to(sim, desired, {"acct": creds})
        live = await conns.read()
        plan = make_plan(desired, live, capabilities(), included=checked(live))
        assert (await apply_plan(plan, conns, Journal(None), live)).exit_code == 0
        assert not make_plan(desired, await conns.read(), capabilities()).has_changes
        await conns.aclose()

    asyncio.run(go())


def applies(venue: str, fault: str) -> bool:
    """Whether the venue can have the fault at all (n/a in the table where not)."""
    row = ROWS[venue]
    if fault == "auth-expiry":
        return row.expire_session is not None  # others sign each request: no session
    if fault == "mmp-not-enabled":
        return row.mmp_enabled is not None
    return True


CELLS = [
    (venue, reading, fault)
    for venue, reading in reading_cells()
    for fault in EXPECTED
    if applies(venue, fault)
]


@pytest.mark.parametrize(("venue", "reading", "fault"), CELLS)
@pytest.mark.usefixtures("virtual_time")  # in process: its waits pass at once (tests/clock.py)
def test_cell(venue: str, reading: str, fault: str) -> None:
    said, records, _ = run_cell(venue, reading, fault)
    RESULTS[(venue, reading, fault)] = said
    assert said == expected(venue, reading, fault)
    events = [r["event"] for r in records]
    if fault in BEFORE_ANY_WRITE:
        assert events == []  # refused before anything was written or journaled
    else:
        assert events[0] == "apply-start" and events[-1] == "apply-end"
        assert events.count("step-begin") == events.count("step-end") >= 1


PROCESS_CELLS = fault_cells.process_cells()


@pytest.mark.parametrize(("venue", "reading", "fault"), PROCESS_CELLS)
def test_process_cell(tmp_path: Path, venue: str, reading: str, fault: str) -> None:
    """A real `mmp apply` process: tests/fault_cells.py says what each cell does."""
    said = fault_cells.run(tmp_path, venue, reading, fault)
    PROCESS_RESULTS[(venue, reading, fault)] = said
    assert said == fault_cells.expected(venue, reading, fault)


def _table(
    faults: list[str],
    cells: list[Cell],
    results: dict[Cell, str],
    applicable: Callable[[str, str], bool],
) -> list[str]:
    order = {(v, r.name): (v, i) for v in ROWS for i, r in enumerate(ROWS[v].readings)}
    rows = sorted({(v, r) for v, r, _ in cells}, key=order.__getitem__)  # the row's order
    ran = set(cells)

    def shown(venue: str, reading: str, fault: str) -> str:
        if not applicable(venue, fault):
            return "n/a"
        if (venue, reading, fault) not in ran:
            return "-"  # this reading tells nothing the cell depends on: the default's stands
        return results.get((venue, reading, fault), "not run")

    grid = {(v, r): [shown(v, r, f) for f in faults] for v, r in rows}
    label = max(len("venue reading"), *(len(f"{v} {r}") for v, r in rows))
    width = {f: max(len(f), *(len(grid[vr][i]) for vr in rows)) for i, f in enumerate(faults)}
    lines = [f"{'venue reading':<{label}} | " + " | ".join(f"{f:<{width[f]}}" for f in faults)]
    for venue, reading in rows:
        cols = " | ".join(
            f"{c:<{width[f]}}" for c, f in zip(grid[(venue, reading)], faults, strict=True)
        )
        lines.append(f"{venue + ' ' + reading:<{label}} | {cols}".rstrip())
    return lines


def test_print_matrix() -> None:
    """Runs last in this file: both tables, a row per venue and reading (n/a where a venue
    cannot have the fault; "-" where a real process runs the cell under the default reading
    only, the reading telling nothing the cell depends on)."""
    lines = ["", "In process (tests/test_fault_matrix.py):"]
    lines += _table(list(EXPECTED), CELLS, RESULTS, applies)
    lines += ["", "Against a real mmp process (tests/fault_cells.py):"]
    faults = list(fault_cells.PROCESS_FAULTS)
    lines += _table(faults, PROCESS_CELLS, PROCESS_RESULTS, fault_cells.applies)
    every = len(CELLS) + len(PROCESS_CELLS)
    ran = len(RESULTS) + len(PROCESS_RESULTS)
    lines.append(
        f"{ran} of {every} cells run; n/a: auth expiry where the venue signs every request "
        "(no session to expire), MMP not enabled where its simulator has no such account, a "
        "rejection told later where the venue answers each write at once, a freeze of "
        "another config space where the venue has only one"
    )
    print("\n".join(lines))
    assert ran in (0, len(CELLS), len(PROCESS_CELLS), every)  # whole tables, or none
