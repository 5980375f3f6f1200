"""The fault matrix's cells that need a real `mmp apply` process (tests/procs.py): signals,
a kill and a re-run, a journal whose disk fills up, a second apply, a freeze that fires
between the read and the write, a malformed read-back after a write, a session token that
expires mid-apply, a set the venue acknowledges and refuses later, and where the venue has
another config space (Deribit's Block RFQ MMP), a freeze of it while a write of the
venue's own MMP is under way.

Every cell: one account with two drifted scopes on the venue (on Deribit, its Block RFQ
scope block_rfq:btc_usd, written first, and btc_usd; tests/spaces.py, whose watch fails a
cell in which a write of one space changed the other); apply's first write is held at the
venue (on Bullish, the set of a replacement: the scope is without MMP while it is held)
while the fault is done; then the exit code, the venue's end state (each scope old or new,
unless exit 4 names it), the journal, and a re-run that converges are checked. Each cell
returns what it ended with, for the printed matrix, and `expected` says what that must be.

Readings (tests/venues.py, VenueRow.readings): every cell runs under the venue's default
reading; each other reading runs the cells of the subject it tells differently (SUBJECT: a
freeze, a write's outcome, a refused token), with the venue's push channel served (so a
WebSocket reading is played) in the cells of SOCKETED."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues import VENUES
from reconciler.venues.base import ChangeMode, ResetReach
from tests.checked import include_held
from tests.procs import APPLY_DELAY_MS, Gate, LiveDesk, Spawned, any_write, fill, small_disk
from tests.spaces import cell_scopes, crosses, of_block_rfq, space_of, watch
from tests.venues import AUTH, DEFAULT, FREEZE, OUTCOME, ROWS, Scope

WAIT_S = 30
PROCESS_FAULTS = (
    "sigint-mid-write",
    "sigterm-mid-write",
    "sigkill-then-rerun",
    "journal-disk-full",
    "concurrent-apply",
    "freeze-before-write",
    "malformed-read-back",
    "auth-expiry",
    "rejected-set",
    "freeze-other-space",
)
# the subject of a cell whose outcome a reading can change: it runs under each reading that
# tells that subject differently (Reading.tells); the others under the default reading only
SUBJECT = {
    "freeze-before-write": FREEZE,
    "auth-expiry": AUTH,
    "rejected-set": OUTCOME,
    "freeze-other-space": FREEZE,
}
SOCKETED = frozenset(SUBJECT)  # served with the venue's push channel, as the venue serves it
FROZEN = frozenset({"freeze-before-write", "freeze-other-space"})  # the second scope freezes
EXPECTED = {
    "sigint-mid-write": "exit 3",
    "sigterm-mid-write": "exit 3",
    "sigkill-then-rerun": "killed; rerun 0",
    "journal-disk-full": "exit 0",
    "concurrent-apply": "2nd 1; exit 0",
    # what the next run's plan says of the scope that froze: the venue tells the freeze
    "freeze-before-write": "exit 3; re-plan held",
    "malformed-read-back": "exit 0",
    "auth-expiry": "exit 0",
    "rejected-set": "exit 3; restored (mmpRequest CLOSED)",
    # a scope of another config space (Deribit's Block RFQ MMP) freezes while a write to
    # the venue's own MMP is under way: no push tells it, the check's read does
    "freeze-other-space": "exit 3; re-plan held",
}
# Bullish: where REST's isActive stays true and its socket sends no snapshot, nothing shows
# a new run the freeze: the scope's change is written, said first in the plan
UNTOLD = "exit 3; re-plan unknown, written"
BY_READING: dict[tuple[str, str, str], str] = {
    ("bullish", DEFAULT, "freeze-before-write"): UNTOLD,
    ("bullish", "topic-mmpTrigger", "freeze-before-write"): UNTOLD,
    ("bullish", "topic-both", "freeze-before-write"): UNTOLD,
    ("bullish", "envelope-documented", "freeze-before-write"): UNTOLD,
    ("bullish", "status-REJECTED", "rejected-set"): "exit 3; restored (mmpRequest REJECTED)",
}


# Deribit, where a set's reset reaches the account (set_resets, its default reading): the
# second scope's freeze, pushed while the first write was on its way, is ended by that
# write's set at the venue; apply holds the second scope, saying the write may have ended it
ENDED = "exit 3; ended by the first write, said"


def expected(venue: str, reading: str, fault: str) -> str:
    if fault in FROZEN and first_write_ends_freeze(venue, reading):
        return ENDED
    return BY_READING.get((venue, reading, fault), EXPECTED[fault])


def first_write_ends_freeze(venue: str, reading: str) -> bool:
    """Whether, under the reading, a set of one of the cell's scopes ends the other's freeze
    at the venue (a simulator with `set_resets`: Deribit)."""
    row = ROWS[venue]
    played = getattr(row.make(**row.reading(reading).switches), "set_resets", "scope")
    first, second = (ScopeKey(venue, "cell", u, g) for u, g in cell_scopes(row))
    return ResetReach(played).reaches(first, second)


def applies(venue: str, fault: str) -> bool:
    """Whether the venue can have the fault at all (n/a in the table where not)."""
    if fault == "auth-expiry":
        return ROWS[venue].expire_session is not None  # others sign each request
    if fault == "rejected-set":
        return ROWS[venue].reject_later is not None  # others answer each write at once
    if fault == "freeze-other-space":
        return crosses(ROWS[venue])  # a venue with one config space has no other
    return True


def process_cells() -> list[tuple[str, str, str]]:
    """(venue, reading, fault): every cell under the default reading, and each other reading
    in the cells of what it tells differently."""
    return [
        (venue, reading.name, fault)
        for venue in sorted(ROWS)
        for reading in ROWS[venue].readings
        for fault in PROCESS_FAULTS
        if applies(venue, fault)
        and (reading.name == DEFAULT or SUBJECT.get(fault) in reading.tells)
    ]


def looser(config: MmpConfig) -> MmpConfig:
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit * 2)


class Cell:
    """One account with the venue's cell scopes (tests/spaces.py), each drifted: `keys` in
    the order apply writes them (creates first). `bare`: scopes that start without a
    config (a create). On Deribit, `spaces` watches every write that reaches the venue."""

    def __init__(
        self,
        tmp_path: Path,
        venue: str,
        reading: str = DEFAULT,
        *,
        sockets: bool = False,
        scopes: tuple[Scope, ...] = (),
        bare: tuple[Scope, ...] = (),
    ) -> None:
        row = ROWS[venue]
        self.venue, self.reading = venue, reading
        named = scopes or cell_scopes(row)
        keys = {ScopeKey(venue, f"{venue}-cell", u, g): (u, g) in bare for u, g in named}
        self.keys = sorted(keys, key=lambda k: (not keys[k], k.sort_key()))
        self.want = {key: row.sample(named.index((key.underlying, key.group)) + 1) for key in keys}
        self.old = {key: None if keys[key] else looser(c) for key, c in self.want.items()}
        desired = {key: (self.want[key], self.old[key]) for key in self.keys}
        self.sim = row.simulator(APPLY_DELAY_MS, reading)
        self.spaces = watch(self.sim)
        self.desk = LiveDesk(tmp_path, desired, sims={venue: self.sim}, sockets=sockets)
        self.tmp_path = tmp_path

    def checked(self, *leave: ScopeKey) -> list[str]:
        """--include-held for the cell's scopes (but `leave`): where the venue cannot tell
        whether one is frozen (Bullish over REST), a person checked it is not."""
        return include_held(*(key for key in self.keys if key not in leave))

    def hold_first_write(self) -> Gate:
        """A reset-then-set venue (Bullish): its first set, after the reset showed, so the
        scope is without MMP while it is held; elsewhere the first write."""
        first = ROWS[self.venue].replacement_set
        if VENUES[self.venue].capabilities.change is not ChangeMode.RESET_THEN_SET:
            first = any_write(self.venue)
        assert first is not None, f"{self.venue} resets then sets: its row needs replacement_set"
        return self.desk.gate(self.venue, first)

    def start(self, *extra: str) -> tuple[Spawned, Gate]:
        gate = self.hold_first_write()
        proc = self.desk.spawn("apply", "--auto-approve", *self.checked(), *extra)
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        return proc, gate

    def safe(self, code: int) -> None:
        """Each scope has its old or its new config, unless the run said exit 4."""
        self.desk.settle()
        for key in self.keys:
            live = self.desk.live(key)
            assert code == 4 or live in (self.old[key], self.want[key]), (key, live)

    def heard_on_the_socket(self) -> None:
        """Each apply had the venue's push channel open (so the reading it served was
        played), as its journal says."""
        account = self.keys[0].account
        opened = [
            r["accounts"].get(account)
            for r in self.desk.journal().records
            if r.get("event") == "push-channels"
        ]
        assert opened and set(opened) == {"open"}, opened

    def converges(self, *, frozen: ScopeKey | None = None) -> str:
        """A clean re-run converges. With `frozen` (a scope the venue froze): returns what
        the new run's plan says of it: "held" (the venue tells the freeze: left as it is) or
        "unknown, written" (nothing shows its trigger now, as on Bullish's REST with no
        snapshot on its socket: its change is written, said first in the plan)."""
        said, leave = "", tuple[ScopeKey, ...]()
        if frozen is not None:
            told = self.desk.mmp("plan").stdout
            if f"held      {frozen}" in told:
                said, leave = "held", (frozen,)  # reported frozen: not included
            else:
                assert "freeze state unknown (" in told, told
                said = "unknown, written"
        rerun = self.desk.mmp("apply", "--auto-approve", *self.checked(*leave))
        assert rerun.code == 0, rerun
        final = self.desk.mmp("plan", "--detailed-exitcode")
        assert final.code == 0, final
        for key in self.keys:
            assert self.desk.live(key) == (self.old[key] if key in leave else self.want[key])
        return said


def wait_said(proc: Spawned, text: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while text not in proc.stderr_text():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr_text()
        time.sleep(0.02)


def run(tmp_path: Path, venue: str, reading: str, fault: str) -> str:
    # e.g. a freeze between the read and the write: heard on the venue's push channel where
    # it has one (REST may not show it: Bullish's isActive may stay true while frozen)
    sockets = fault in SOCKETED
    if fault == "freeze-other-space":  # the venue's own scope created first, then the other
        own, other = cell_scopes(ROWS[venue])
        cell = Cell(tmp_path, venue, reading, sockets=sockets, scopes=(own, other), bare=(own,))
    else:
        cell = Cell(tmp_path, venue, reading, sockets=sockets)
    with cell.desk:
        said = CELLS[fault](cell)
        if fault in SOCKETED and VENUES[venue].push is not None:
            cell.heard_on_the_socket()
        if cell.spaces is not None:  # each scope's space written, never changing the
            # other; but a freeze cell's frozen scope (its second): held, apply and its
            # re-run leave it unwritten (unless the first write's set ended its freeze)
            kept = fault in FROZEN and not first_write_ends_freeze(venue, reading)
            frozen = cell.keys[1:] if kept else []
            written = {space_of(key) for key in cell.keys if key not in frozen}
            assert set(cell.spaces.check()) == written, cell.spaces.writes
        return said


def _signalled(cell: Cell, sig: signal.Signals) -> str:
    proc, gate = cell.start()
    proc.send_signal(sig)
    wait_said(proc, f"{sig.name} received")
    gate.release()
    result = proc.finish(WAIT_S)
    cell.safe(result.code)
    first, second = cell.keys
    assert result.code == 3, result  # the write under way finished; the second not started
    assert cell.desk.live(first) == cell.want[first]
    assert cell.desk.live(second) == cell.old[second]
    cell.converges()
    return f"exit {result.code}"


def _killed(cell: Cell) -> str:
    proc, gate = cell.start()
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(WAIT_S) == -signal.SIGKILL
    gate.release()  # the write was on its way: the venue gets it
    assert gate.wait_finished(WAIT_S)
    cell.safe(4)
    plan = cell.desk.mmp("plan")
    assert "was interrupted (no apply-end record)" in plan.stdout, plan
    cell.converges()
    return "killed; rerun 0"


def _disk_full(cell: Cell) -> str:
    with small_disk(cell.tmp_path / "disk", 512) as disk:
        journal = disk / "journal.jsonl"
        proc, gate = cell.start("--journal", str(journal))
        fill(disk)  # someone else takes every byte left while the write is under way
        gate.release()
        result = proc.finish(WAIT_S)
        cell.safe(result.code)
        assert result.code == 0, result  # the reserve held before the first write served
        assert "journal cannot be written" not in result.stderr
        text = journal.read_text()
        assert json.loads(text.splitlines()[-1])["event"] == "apply-end"
        assert not (disk / "journal.jsonl.reserve").exists()
        (disk / "filler").unlink()
        cell.converges()
        return f"exit {result.code}"


def _concurrent(cell: Cell) -> str:
    proc, gate = cell.start()
    second = cell.desk.mmp("apply", "--auto-approve", *cell.checked(), timeout=WAIT_S)
    assert second.code == 1 and f"pid {proc.pid}" in second.stderr, second
    gate.release()
    result = proc.finish(WAIT_S)
    assert result.code == 0, result
    cell.safe(result.code)
    cell.converges()
    return f"2nd 1; exit {result.code}"


def _frozen(cell: Cell) -> str:
    proc, gate = cell.start()
    second = cell.keys[1]
    cell.desk.trigger(second)  # fills trip MMP on the second scope after apply read it
    gate.release()
    result = proc.finish(WAIT_S)
    cell.safe(result.code)
    assert result.code == 3, result
    assert f"HELD (froze since plan)        {second}" in result.stdout
    assert cell.desk.live(second) == cell.old[second]
    if first_write_ends_freeze(cell.venue, cell.reading):  # at the venue, as apply says
        assert not cell.desk.frozen(second)
        assert "was on its way; that write may have ended the freeze" in result.stdout, result
        cell.converges()
        return ENDED
    assert cell.desk.frozen(second)
    return f"exit {result.code}; re-plan {cell.converges(frozen=second)}"


def _auth_expired(cell: Cell) -> str:
    """Every session token ends while the first write is held: the venue refuses it (401,
    by the reading's code), apply logs in again and sends it once more."""
    proc, gate = cell.start()
    expire = ROWS[cell.venue].expire_session
    assert expire is not None
    with cell.sim._lock:
        expire(cell.sim)
    gate.release()
    result = proc.finish(WAIT_S)
    cell.safe(result.code)
    assert result.code == 0, result
    for key in cell.keys:
        assert cell.desk.live(key) == cell.want[key]
    cell.converges()
    return f"exit {result.code}"


def _rejected_later(cell: Cell) -> str:
    """The venue acknowledges the first scope's set and refuses it later, saying why on its
    push channel: the step ends at once with the venue's words and the old config is
    restored; no step starts after it."""
    reject = ROWS[cell.venue].reject_later
    assert reject is not None
    with cell.sim._lock:
        reject(cell.sim)
    result = cell.desk.mmp("apply", "--auto-approve", *cell.checked())
    cell.safe(result.code)
    assert result.code == 3, result
    first, second = cell.keys
    found = re.search(
        rf"RESTORED \(old config back\) +{re.escape(str(first))}: .*\((mmpRequest \w+):",
        result.stdout,
    )
    assert found is not None, result
    cell.desk.settle()
    assert cell.desk.live(first) == cell.old[first]
    assert cell.desk.live(second) == cell.old[second]
    assert f"not run                        {second}" in result.stdout, result
    cell.converges()
    return f"exit {result.code}; restored ({found.group(1)})"


class _Mangle:
    """Answers the first read after the first write with `{}`: valid JSON, no fields (where
    the cell crosses two config spaces, the read of the other: Block RFQ MMP's, whose scope
    is written first)."""

    def __init__(self, app: Callable[[httpx.Request], httpx.Response], venue: str) -> None:
        self.app, self.venue, self.wrote, self.done = app, venue, False, False
        self.read = ROWS[venue].config_read
        if crosses(ROWS[venue]):
            self.read = lambda request: ROWS[venue].config_read(request) and of_block_rfq(request)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.wrote and not self.done and self.read(request):
            self.done = True
            return httpx.Response(200, content=b"{}", headers={"Content-Type": "application/json"})
        self.wrote = self.wrote or any_write(self.venue)(request)
        return self.app(request)


def _malformed(cell: Cell) -> str:
    server = cell.desk.servers[cell.venue]
    mangle = _Mangle(server.app, cell.venue)
    server.app = mangle
    result = cell.desk.mmp("apply", "--auto-approve", *cell.checked())
    cell.safe(result.code)
    assert mangle.done
    assert result.code == 0, result  # the read is tried again, and the write verified
    server.app = mangle.app
    cell.converges()
    return f"exit {result.code}"


CELLS: dict[str, Callable[[Cell], str]] = {
    "sigint-mid-write": lambda cell: _signalled(cell, signal.SIGINT),
    "sigterm-mid-write": lambda cell: _signalled(cell, signal.SIGTERM),
    "sigkill-then-rerun": _killed,
    "journal-disk-full": _disk_full,
    "concurrent-apply": _concurrent,
    "freeze-before-write": _frozen,
    "malformed-read-back": _malformed,
    "auth-expiry": _auth_expired,
    "rejected-set": _rejected_later,
    "freeze-other-space": _frozen,  # its second scope, in write order: the other space's
}
