"""Apply's safety net, in process, on every venue: the check before each write (a scope that
moved or froze after the plan is not written), signals (finish what is under way, start
nothing new, a bounded wait after a second one), one exception boundary, and a journal
that is written ahead of every request. The same faults against a real `mmp` process are in
tests/test_interrupt.py and tests/test_fault_matrix.py."""

from __future__ import annotations

import asyncio
import io
import json
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.apply.writes as writes
from reconciler.apply.executor import ApplyResult, Outcome, apply_plan
from reconciler.apply.interrupt import Interrupt
from reconciler.apply.journal import Journal, JournalError
from reconciler.core import crash
from reconciler.core.model import MmpConfig, ScopeKey, scope_digest
from reconciler.core.units import loads_exact
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import capabilities
from reconciler.venues.base import ChangeMode
from tests.checked import checked
from tests.venues import ROWS, connect_to, reading_cells, simulator_of, truly_frozen

HERE = Location("p", 1, 1)


class OnWrite:
    """Calls `action` when the n-th write reaches the venue (after the venue handled it)."""

    def __init__(self, app: Any, venue: str, action: Callable[[], None], nth: int = 1) -> None:
        self.app, self.venue, self.action, self.left = app, venue, action, nth
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.app(request)
        if ROWS[self.venue].writes(request):
            self.seen.append(request)
            self.left -= 1
            if self.left == 0:
                self.action()
        return response


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(writes, "POLL_DEADLINE_MS", 1000)
    monkeypatch.setattr("reconciler.venues.http.BACKOFF_MS", 1)
    crash.configure(tmp_path / ".mmp")


class Desk:
    """One account on one venue's simulator (under a reading of its freeze state: the default
    unless given), `n` scopes each planned to change. Where the venue cannot tell whether a
    scope is frozen, a person checked them: apply names them (--include-held)."""

    def __init__(self, venue: str, n: int = 2, reading: str | None = None) -> None:
        self.venue, self.row = venue, ROWS[venue]
        self.sim = self.row.make() if reading is None else simulator_of(venue, reading)
        self.creds = self.row.credentials(self.sim, "acct")
        self.keys = [ScopeKey(venue, "acct", u, g) for u, g in self.row.scopes[:n]]
        self.old = {key: self.row.sample(i) for i, key in enumerate(self.keys)}
        self.new = {key: self.row.sample(i + 5) for i, key in enumerate(self.keys)}
        for key in self.keys:
            self.row.seed(self.sim, self.creds, key, self.old[key])
        self.desired = DesiredState(
            accounts={"acct": AccountTarget("acct", venue, "testnet", None, "ACCT", HERE)},
            scopes={key: DesiredScope(key, self.new[key], HERE) for key in self.keys},
        )

    def apply(self, handler: Any = None, journal: Journal | None = None, **kw: Any) -> ApplyResult:
        conns = connect_to(handler or self.sim, self.desired, {"acct": self.creds})

        async def go() -> ApplyResult:
            try:
                live = await conns.read()
                plan = make_plan(self.desired, live, capabilities(), included=checked(live))
                return await apply_plan(plan, conns, journal or Journal(None), live, **kw)
            finally:
                await conns.aclose()

        return asyncio.run(go())

    def live(self) -> dict[ScopeKey, Any]:
        conns = connect_to(self.sim, self.desired, {"acct": self.creds})

        async def go() -> dict[ScopeKey, Any]:
            try:
                return (await conns.read_account("acct")).by_key()
            finally:
                await conns.aclose()

        return asyncio.run(go())


VENUES = sorted(ROWS)


@pytest.mark.parametrize("venue", VENUES)
def test_a_scope_changed_by_someone_else_after_the_plan_is_not_written(venue: str) -> None:
    desk = Desk(venue)
    first, second = desk.keys
    theirs = desk.row.sample(9)
    result = desk.apply(
        OnWrite(desk.sim, venue, lambda: desk.row.seed(desk.sim, desk.creds, second, theirs))
    )
    outcomes = {r.step.key: r.outcome for r in result.results}
    assert outcomes == {first: Outcome.APPLIED, second: Outcome.MOVED}
    assert result.exit_code == 3
    assert "changed after the plan was made" in result.results[1].detail
    live = desk.live()
    assert live[first].config == desk.new[first]
    assert live[second].config == theirs  # theirs stands: we did not overwrite it


@pytest.mark.parametrize(("venue", "reading"), reading_cells())
def test_a_freeze_that_fires_during_apply_is_never_undone(venue: str, reading: str) -> None:
    desk = Desk(venue, reading=reading)
    first, second = desk.keys
    if not shows_a_freeze(venue, reading):
        pytest.skip(
            f"{venue} ({reading}): its REST read cannot show this freeze, and an in-process "
            "run has no push channel; the venue's push channel holds it (tests/fault_cells.py "
            "freeze-before-write, tests/test_push_apply.py)"
        )
    result = desk.apply(
        OnWrite(desk.sim, venue, lambda: desk.row.trigger(desk.sim, desk.creds, second))
    )
    outcomes = {r.step.key: r.outcome for r in result.results}
    assert outcomes == {first: Outcome.APPLIED, second: Outcome.HELD}
    assert result.exit_code == 3
    live = desk.live()
    told = live[second].freeze
    assert told.may_be_frozen  # frozen, or unknown: never "not frozen"
    assert truly_frozen(desk.sim, second, told.frozen)  # no set or reset reached it
    assert live[second].config == desk.old[second]


def shows_a_freeze(venue: str, reading: str) -> bool:
    """Whether the venue's read of the test's second scope changes when it freezes (to
    frozen, or to a new trigger whose freeze state is unknown), under that reading."""
    scratch = Desk(venue, 2, reading)
    key = scratch.keys[1]
    before = scratch.live()[key]
    scratch.row.trigger(scratch.sim, scratch.creds, key)
    after = scratch.live()[key]
    return after.freeze.may_be_frozen and scope_digest(after) != scope_digest(before)


class Logged:
    """The simulator, with every request that reached it kept in order."""

    def __init__(self, app: Any) -> None:
        self.app, self.requests = app, list[httpx.Request]()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response: httpx.Response = self.app(request)
        return response


READS = ("get_mmp_config", "get_mmp_status")


def space_of(request: httpx.Request) -> str:
    """The config space a Deribit request is about: block_rfq (Block RFQ MMP, asked for
    with block_rfq: true) or orders (order/quote MMP)."""
    params = loads_exact(request.content).get("params", {})
    return "block_rfq" if params.get("block_rfq") is True else "orders"


def deribit_read(request: httpx.Request) -> str:
    """A Deribit read as "<method> <space>"; "" for any other request."""
    method = request.url.path.rsplit("/", 1)[-1]
    return f"{method} {space_of(request)}" if method in READS else ""


def test_the_check_reads_the_scope_only_where_no_fresh_read_covers_it() -> None:
    """Deribit reads the whole account at once, each config space it has (with a block_rfq
    section: order/quote MMP and Block RFQ MMP, a request each), and a read-back the written
    scope's space alone: the previous step's read-back serves the next check in the same
    space, not in the other; Binance reads one underlying a time: each check after the first
    reads."""
    deribit = Desk("deribit", 3)  # btc_usd, btc_usd/Bot1 and block_rfq:btc_usd
    assert any(key.underlying.startswith("block_rfq:") for key in deribit.keys)
    log = Logged(deribit.sim)
    assert deribit.apply(log).exit_code == 0
    reads = Counter(deribit_read(r) for r in log.requests if "get_mmp_config" in r.url.path)
    # the plan's read of each space; the Block RFQ step's read-back; the first order step's
    # check (the Block RFQ read-back shows no order scope), each order step's read-back
    assert reads == {"get_mmp_config orders": 1 + 1 + 2, "get_mmp_config block_rfq": 1 + 1}
    binance = Desk("binance")
    log = Logged(binance.sim)
    assert binance.apply(log).exit_code == 0
    reads_of_each_underlying = sum(1 for r in log.requests if r.url.path == "/eapi/v1/mmp")
    # the plan's read of each of its 6 underlyings, a read-back per step, the second's check
    assert reads_of_each_underlying == 6 + 2 + 1


def test_the_check_before_a_block_rfq_write_reads_block_rfq_mmp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No read is fresh enough to serve a check: before each write, the check reads the
    scope's own space anew, a Block RFQ scope's with block_rfq: true alone (configs and
    freezes), an order scope's without, so a Block RFQ scope is checked against what Block
    RFQ MMP says, never against order MMP."""
    monkeypatch.setattr(writes, "FRESH_MS", -1)
    desk = Desk("deribit", 3)
    log = Logged(desk.sim)
    assert desk.apply(log).exit_code == 0
    segments: list[list[str]] = [[]]  # the reads before each write: the plan's read or a
    written: list[str] = []  # read-back, then that write's check
    for request in log.requests:
        if desk.row.writes(request):
            written.append(space_of(request))
            segments.append([])
        elif deribit_read(request):
            segments[-1].append(deribit_read(request))
    assert written == ["block_rfq", "orders", "orders"]  # block_rfq:btc_usd sorts first

    def each(orders: int, rfq: int) -> Counter[str]:
        return Counter(
            {f"{m} {s}": n for m in READS for s, n in (("orders", orders), ("block_rfq", rfq)) if n}
        )

    assert [Counter(reads) for reads in segments[:-1]] == [
        each(1, 1 + 1),  # the plan's read of both spaces, the Block RFQ check
        each(1, 1),  # the Block RFQ read-back, the order check
        each(1 + 1, 0),  # the order read-back, the second order check
    ]
    orders, _, rfq = desk.keys  # each space holds its own new config
    account = desk.sim.accounts["id-acct"]
    assert account.configs[("btc_usd", None)]["quantity_limit"] == desk.new[orders].quantity_limit
    assert account.rfq_configs["btc_usd"]["quantity_limit"] == desk.new[rfq].quantity_limit


def test_first_signal_finishes_the_replacement_under_way_and_starts_nothing_new() -> None:
    desk = Desk("bullish", 3)
    stream = io.StringIO()
    interrupt = Interrupt(stream=stream)
    result = desk.apply(
        OnWrite(desk.sim, "bullish", lambda: interrupt.receive(signal.SIGINT)),
        interrupt=interrupt,
    )
    first, *rest = desk.keys
    assert [r.outcome for r in result.results] == [Outcome.APPLIED] + [Outcome.NOT_RUN] * 2
    assert result.exit_code == 3 and result.interrupted == "SIGINT"
    assert all("interrupted (SIGINT)" in r.detail for r in result.results[1:])
    live = desk.live()
    assert live[first].config == desk.new[first]
    assert [live[key].config for key in rest] == [desk.old[key] for key in rest]
    said = stream.getvalue()
    assert "SIGINT received: no new step will start" in said
    assert "bullish/acct/BTC: reset sent" in said


def test_a_second_signal_is_answered_not_obeyed_then_the_deadline_ends_it_as_exit_4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writes, "POLL_DEADLINE_MS", 30_000)  # the set would wait long
    desk = Desk("bullish", 1)
    desk.sim.drop_next_sets = 5  # acknowledged, never applied: the step cannot finish soon
    stream = io.StringIO()
    interrupt = Interrupt(grace=1, stream=stream)

    def twice() -> None:
        interrupt.receive(signal.SIGINT)

    handler = OnWrite(desk.sim, "bullish", twice, nth=2)  # at the set: after the reset
    handler_first = OnWrite(handler, "bullish", twice, nth=2)
    result = desk.apply(handler_first, interrupt=interrupt)
    (only,) = result.results
    assert only.outcome is Outcome.UNKNOWN and result.exit_code == 4
    assert "abandoned while" in only.detail and "deadline after a second SIGINT" in only.detail
    said = stream.getvalue()
    assert "received again, not obeyed: still working" in said
    assert "bullish/acct/BTC: between its reset and its set" in said or "verifying" in said


@pytest.mark.parametrize("venue", VENUES)
def test_a_bug_after_a_write_is_never_exit_1(venue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = Desk(venue)
    client_type = type(connect_to(desk.sim, desk.desired, {"acct": desk.creds}).clients["acct"])
    real = client_type.set_config

    async def set_then_fail(self: Any, key: ScopeKey, config: MmpConfig) -> None:
        await real(self, key, config)
        raise RuntimeError("a bug after the venue took the write")

    monkeypatch.setattr(client_type, "set_config", set_then_fail)
    result = desk.apply()
    first = result.results[0]
    assert "a bug in mmp" in first.detail
    assert result.exit_code in (3, 4) and result.bug
    assert result.results[1].outcome is Outcome.NOT_RUN  # nothing new after a bug
    if first.outcome is Outcome.APPLIED:  # read back: the write had taken effect
        assert desk.live()[first.step.key].config == desk.new[first.step.key]


@pytest.mark.parametrize("venue", VENUES)
def test_every_write_is_on_disk_before_its_request_leaves(venue: str, tmp_path: Path) -> None:
    desk = Desk(venue)
    path = tmp_path / "journal.jsonl"
    checked: list[str] = []

    def check() -> None:
        last = json.loads(path.read_text().splitlines()[-1])
        assert last["event"].endswith("-sent"), last
        checked.append(last["event"])

    class Ahead:
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if ROWS[venue].writes(request):
                check()  # the intent is journaled, fsynced, before the venue sees anything
            return desk.sim(request)  # type: ignore[no-any-return]

    assert desk.apply(Ahead(), Journal(path)).exit_code == 0
    replaces = capabilities()[venue].change is ChangeMode.RESET_THEN_SET
    expected = 4 if replaces else 2  # a replacement is a reset and a set
    assert len(checked) == expected


def test_a_journal_that_fails_mid_replacement_finishes_it_and_starts_nothing_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk("bullish", 2)
    stderr = io.StringIO()
    journal = Journal(tmp_path / "journal.jsonl", stderr=stderr)
    real = Journal._append

    def failing(self: Journal, line: str) -> None:
        if '"event":"replace-cleared"' in line or self.failed:
            raise OSError(30, "Read-only file system")
        real(self, line)

    monkeypatch.setattr(Journal, "_append", failing)
    result = desk.apply(journal=journal)
    first, second = result.results
    assert first.outcome is Outcome.APPLIED  # the set still went out after the reset
    assert second.outcome is Outcome.NOT_RUN and "journal cannot be written" in second.detail
    assert result.exit_code == 3
    said = stderr.getvalue()
    assert "the journal cannot be written" in said and '"event":"set-sent"' in said
    assert desk.live()[first.step.key].config == desk.new[first.step.key]


def test_no_room_for_the_journal_refuses_before_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk("deribit")
    monkeypatch.setattr("reconciler.apply.journal._free_bytes", lambda folder: 1000)
    with pytest.raises(JournalError, match=r"cannot be written .*nothing was applied"):
        desk.apply(journal=Journal(tmp_path / "journal.jsonl"))
    assert {k: v.config for k, v in desk.live().items()} == desk.old


def test_a_line_cut_short_by_a_crash_is_never_glued_onto(tmp_path: Path) -> None:
    from reconciler.apply import journal as journal_module

    path = tmp_path / "journal.jsonl"
    path.write_text('{"event":"apply-start","run":"a"}\n{"event":"set-se')
    Journal(path).write("apply-start", steps=1)
    records = list(journal_module.read(path))
    assert [type(r).__name__ for r in records] == ["dict", "Unreadable", "dict"]
    assert records[1] == journal_module.Unreadable(2, '{"event":"set-se')
