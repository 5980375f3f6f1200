"""What an adversary found when trying to break apply, each kept as a test: the venue's end
state, the exit code and what is said must agree, whatever the venue, the journal, the
machine or the clock do."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import reconciler.apply.writes as writes
from reconciler.apply import recovery
from reconciler.apply.executor import Outcome
from reconciler.apply.interrupt import Interrupt, restore_defaults
from reconciler.apply.journal import Journal
from reconciler.apply.runlock import LockedError, RunLock
from reconciler.core import console, secrets
from reconciler.core.errors import VenueError, VenueUnavailable
from reconciler.core.model import ScopeKey
from reconciler.policy.desired import AccountTarget, DesiredState, Location
from reconciler.venues import VENUES
from reconciler.venues.base import ChangeMode
from reconciler.venues.deribit.simulator import DeribitSimulator
from reconciler.venues.ledger import Ledger
from reconciler.venues.limiter import Limits
from reconciler.venues.live import connect
from tests.checked import include_held
from tests.procs import LiveDesk
from tests.test_apply_safety import Desk, OnWrite
from tests.test_fault_matrix import Reject
from tests.test_interrupt import looser
from tests.venues import ROWS, connect_to

HERE = Location("p", 1, 1)


def test_an_acknowledged_reset_that_does_not_show_in_time_is_unknown_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bullish queues commands: a reset acknowledged but not in force by the deadline may
    land any moment after, taking the config away; 'old config kept, nothing changed'
    would be false."""
    monkeypatch.setattr(writes, "POLL_DEADLINE_MS", 300)
    desk = Desk("bullish", 1)
    desk.sim.apply_delay_ms = 2_000  # later than apply will wait
    result = desk.apply()
    (only,) = result.results
    assert only.outcome is Outcome.UNKNOWN and result.exit_code == 4
    assert "may still apply it at any moment" in only.detail
    desk.sim.settle()  # and so it does
    assert desk.live().get(only.step.key) is None


def test_a_scope_found_without_config_before_its_write_is_exit_4() -> None:
    """Someone (another run's reset, a person) cleared a scope after the plan: skipping it
    is right, calling the run 'every scope old or new' is not."""
    desk = Desk("deribit")
    second = desk.keys[1]
    client_id = desk.creds["CLIENT_ID"]

    def clear() -> None:
        desk.sim.accounts[client_id].configs.pop((second.underlying, second.group))

    result = desk.apply(OnWrite(desk.sim, "deribit", clear))
    outcomes = [r.outcome for r in result.results]
    assert outcomes == [Outcome.APPLIED, Outcome.UNKNOWN] and result.exit_code == 4
    assert "It is now WITHOUT MMP" in result.results[1].detail


def test_an_answer_that_trickles_in_times_out_as_a_write_of_unknown_outcome(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("reconciler.venues.http.ANSWER_DEADLINE_S", 0.2)

    class Trickle(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(60)  # a byte every few seconds: never whole
            raise AssertionError("unreachable")

    sim = DeribitSimulator()
    creds = ROWS["deribit"].credentials(sim, "acct")
    key = ScopeKey("deribit", "acct", "btc_usd")
    target = AccountTarget("acct", "deribit", "testnet", None, "ACCT", HERE)
    conns = connect([target], VENUES, {"acct": creds}, lambda venue: Trickle())

    async def go() -> None:
        try:
            await conns.clients["acct"].set_config(key, ROWS["deribit"].sample(1))
        finally:
            await conns.aclose()

    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(go())
    assert "no whole answer within" in str(info.value) or "ReadTimeout" in str(info.value)
    assert info.value.maybe_applied


def test_a_session_token_echoed_by_a_venue_is_never_printed() -> None:
    sim = DeribitSimulator()
    creds = ROWS["deribit"].credentials(sim, "acct")
    seen: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token and "set_mmp_config" in request.url.path:
            seen.append(token)
            error = {"code": 11029, "message": f"bad request from token {token}"}
            body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": error})
            return httpx.Response(400, content=body.encode())
        return sim(request)

    target = AccountTarget("acct", "deribit", "testnet", None, "ACCT", HERE)
    conns = connect([target], VENUES, {"acct": creds}, lambda venue: httpx.MockTransport(echo))
    key = ScopeKey("deribit", "acct", "btc_usd")

    async def go() -> str:
        try:
            await conns.clients["acct"].set_config(key, ROWS["deribit"].sample(1))
        except VenueError as exc:
            return secrets.redact(str(exc))
        finally:
            await conns.aclose()
        raise AssertionError("the venue refused")

    said = asyncio.run(go())
    assert seen and seen[0] not in said and "***" in said


@pytest.mark.parametrize(
    "record",
    [
        {"event": "step-begin", "run": "r", "scope": "x", "key": {}},
        {"event": "step-begin", "run": "r", "scope": 7},
        {"event": "apply-start", "run": ["r"]},
        {"event": "recovered", "run": "s", "runs": 5},
        {"event": "step-begin", "run": "r", "scope": "a/b", "key": {"venue": 1}},
        {"event": "set-sent", "run": "r", "scope": "deribit/x/btc_usd", "config": "??"},
    ],
)
def test_a_journal_record_not_of_our_shape_is_counted_not_trusted(
    tmp_path: Path, record: dict[str, Any]
) -> None:
    path = tmp_path / "journal.jsonl"
    lines = [{"event": "apply-start", "run": "r", "ts": "t"}, record]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n" + "[" * 100_000 + "\n")
    runs = recovery.unfinished(path)  # no exception, whatever is in the file
    assert all(run.run == "r" for run in runs)


def test_a_journal_that_is_not_a_regular_file_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    stderr = io.StringIO()
    sys_stderr, sys.stderr = sys.stderr, stderr
    try:
        assert recovery.unfinished(tmp_path / "fifo") == []  # never blocks on a FIFO
    finally:
        sys.stderr = sys_stderr
    assert "is not a regular file" in stderr.getvalue()


def test_a_removed_journal_file_goes_on_anew(tmp_path: Path) -> None:
    path = tmp_path / ".mmp" / "journal.jsonl"
    journal = Journal(path, stderr=io.StringIO())
    journal.write("apply-start", steps=1)
    path.unlink()
    path.parent.rmdir()  # `git clean -X` took .mmp/ away mid-run
    journal.write("apply-end", exit_code=0)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["apply-end"]


def test_the_lock_holds_when_mmp_folder_is_removed(tmp_path: Path) -> None:
    state = tmp_path / ".mmp"
    with RunLock(state, "apply"):
        for child in state.iterdir():
            child.unlink()
        state.rmdir()
        with pytest.raises(LockedError, match="holds the lock of"):
            RunLock(state, "apply").__enter__()


def test_a_signal_after_apply_ended_is_said_not_obeyed(capfd: pytest.CaptureFixture[str]) -> None:
    async def run() -> None:
        interrupt = Interrupt(stream=io.StringIO())
        interrupt.install()
        interrupt.uninstall()  # apply is over; the report is not printed yet

    asyncio.run(run())
    try:
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: the run's code stands
        os.kill(os.getpid(), signal.SIGTERM)  # nor a kill
    finally:
        restore_defaults()
    assert "SIGINT received after apply ended" in capfd.readouterr().err


def test_notes_and_errors_never_raise_when_stderr_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stderr", Gone())
    console.note("recovered")
    console.error("refused")
    console.warn("still working")


def test_a_second_process_is_paced_by_what_the_first_spent(tmp_path: Path) -> None:
    """Bullish counts requests per IP across processes and blocks the IP for 60 s: what one
    mmp process spent is in the next one's window from its first request."""
    from reconciler.venues.bullish.simulator import BullishSimulator

    sim = BullishSimulator(apply_delay_ms=0)
    creds = ROWS["bullish"].credentials(sim, "acct")
    target = AccountTarget("acct", "bullish", "testnet", None, "ACCT", HERE)
    ledger = Ledger(tmp_path / "ratelimits.json")

    def session() -> tuple[int, int]:
        conns = connect(
            [target], VENUES, {"acct": creds}, lambda v: httpx.MockTransport(sim), ledger=ledger
        )
        [window] = conns.windows.values()
        seeded = window.counted()

        async def go() -> None:
            try:
                await conns.read()
            finally:
                await conns.aclose()

        asyncio.run(go())
        return seeded, window.counted()

    assert session() == (0, 2)  # a login and a read
    assert session() == (2, 4)  # the second starts with the first's two in its window
    assert len(ledger.load()[next(iter(ledger.load()))]) == 4  # and adds its own two


def test_recovery_never_restores_a_removal_nor_on_another_venue(tmp_path: Path) -> None:
    from reconciler.core.model import LiveAccount

    path = tmp_path / "journal.jsonl"
    config = ROWS["deribit"].sample(1)
    removal = ScopeKey("deribit", "acct", "btc_usd")
    elsewhere = ScopeKey("kraken", "acct", "BTC")
    journal = Journal(path)
    journal.write("apply-start", steps=2)
    for key, action in ((removal, "remove"), (elsewhere, "update")):
        journal.write(
            "step-begin",
            scope=str(key),
            key=key.to_data(),
            action=action,
            before=config.to_data(),
            after=None if action == "remove" else config.to_data(),
        )
    runs = recovery.unfinished(path)
    desired = DesiredState(
        accounts={"acct": AccountTarget("acct", "deribit", "testnet", None, "ACCT", HERE)}
    )
    live = [LiveAccount("deribit", "acct", ())]
    from reconciler.planning.plan import Plan

    amended = recovery.amend(Plan((), "x", accounts=("acct",)), runs, desired, live)
    assert amended.steps == ()  # the removal stays removed; kraken is not this account's venue
    assert recovery.left_unprotected(runs, live, desired) == [elsewhere]  # unknown: loud
    assert any("no longer a kraken account in the policies" in n for n in amended.notes)


def test_a_saved_plan_refused_after_a_kill_still_names_what_the_kill_left(
    tmp_path: Path,
) -> None:
    import signal as signals

    from tests.procs import BULLISH_RESET

    key = ScopeKey("bullish", "bx", "BTC")
    want = ROWS["bullish"].sample(1)
    old = want.with_changes(quantity_limit=(want.quantity_limit or 0) * 2)
    from reconciler.venues.bullish.simulator import BullishSimulator

    sims = {"bullish": BullishSimulator(apply_delay_ms=50)}
    with LiveDesk(tmp_path, {key: (want, old)}, sims=sims) as desk:
        # Bullish's REST cannot tell whether BTC is frozen: a person checked it
        assert desk.mmp("plan", "--out", "plan.json", *include_held(key)).code == 0
        gate = desk.gate("bullish", BULLISH_RESET)
        proc = desk.spawn("apply", "plan.json", "--auto-approve", *include_held(key))
        assert gate.wait_arrived(30, proc)
        proc.send_signal(signals.SIGKILL)
        proc.wait(30)
        gate.release()
        assert gate.wait_finished(30)
        desk.settle()
        again = desk.mmp("apply", "plan.json", "--auto-approve", *include_held(key))  # a re-run
        assert again.code == 1 and "live state moved" in again.stderr
        assert "bullish/bx/BTC: its reset was sent" in again.stderr
        assert "live now: no config: UNPROTECTED" in again.stderr


def test_interrupted_before_any_write_is_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    desk = Desk("deribit")
    interrupt = Interrupt(stream=io.StringIO())
    interrupt.receive(signal.SIGINT)  # during the read before the first write
    result = desk.apply(interrupt=interrupt)
    assert {r.outcome for r in result.results} == {Outcome.NOT_RUN}
    assert result.exit_code == 1  # nothing was sent: every scope as it was
    assert {k: v.config for k, v in desk.live().items()} == desk.old


def test_credentials_of_a_session_are_redacted_in_the_journal(tmp_path: Path) -> None:
    secrets.register("session-token-0123456789")
    journal = Journal(tmp_path / "j.jsonl")
    journal.write("write-answered", error="refused: session-token-0123456789 is stale")
    assert "session-token-0123456789" not in (tmp_path / "j.jsonl").read_text()


def test_status_names_an_account_it_could_not_read_and_reports_the_others(
    tmp_path: Path,
) -> None:
    down = ScopeKey("aevo", "ax", "BTC")
    bare = ScopeKey("bullish", "bx", "BTC")
    scopes = {
        down: (ROWS["aevo"].sample(1), ROWS["aevo"].sample(1)),
        bare: (ROWS["bullish"].sample(1), None),
    }
    with LiveDesk(tmp_path, scopes) as desk:
        desk.servers["aevo"].app = lambda request: httpx.Response(503, content=b"down")
        result = desk.mmp("status")
        assert result.code == 4, result  # the Bullish scope is unprotected: that comes first
        assert "could not read aevo/ax:" in result.stdout
        assert "bullish/bx/BTC" in result.stdout and "UNPROTECTED" in result.stdout
        desk.seed(bare, ROWS["bullish"].sample(1))
        assert desk.mmp("status").code == 1  # nothing unprotected seen; one account unread


class SlowReads:
    """Reads answered `ms` late once `on` is set (writes at once)."""

    def __init__(self, app: Any, venue: str, ms: int) -> None:
        self.app, self.venue, self.ms, self.on = app, venue, ms, False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.on and not ROWS[self.venue].writes(request):
            time.sleep(self.ms / 1000)  # the venue took this long to answer
        response: httpx.Response = self.app(request)
        return response


@pytest.mark.parametrize("venue", sorted(ROWS))
def test_a_check_read_slower_than_fresh_is_not_trusted(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read answered long after it was sent may show a scope as it was before someone
    changed it: the check before a write reads again, and after three slow reads the step is
    not run, nothing written."""
    monkeypatch.setattr(writes, "FRESH_MS", 40)
    monkeypatch.setattr(writes, "READ_BUDGET_MS", 40)
    desk = Desk(venue)
    slow = SlowReads(desk.sim, venue, 80)
    slow.on = True
    result = desk.apply(slow)
    assert [r.outcome for r in result.results] == [Outcome.NOT_RUN] * 2
    assert "more than the 40 ms within which a read can show" in result.results[0].detail
    assert result.exit_code == 1
    assert {k: v.config for k, v in desk.live().items()} == desk.old


@pytest.mark.parametrize("venue", sorted(ROWS))
def test_a_wait_for_a_rate_limit_slot_does_not_age_a_read(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check read dates from when its request left, not from when it began to wait for
    its slot: a desk paced by its rate limits still applies."""
    monkeypatch.setattr(writes, "FRESH_MS", 40)
    monkeypatch.setattr(writes, "READ_BUDGET_MS", 40)
    real = Limits.acquire

    async def queued(self: Limits) -> None:
        await asyncio.sleep(0.08)  # other requests hold the slots
        await real(self)

    monkeypatch.setattr(Limits, "acquire", queued)
    desk = Desk(venue)
    result = desk.apply()
    assert [r.outcome for r in result.results] == [Outcome.APPLIED] * 2
    assert {k: v.config for k, v in desk.live().items()} == desk.new


BX = (ScopeKey("bullish", "bx", "BTC"), ScopeKey("bullish", "bx", "ETH"))


def _bullish_desk_of_two(tmp_path: Path) -> LiveDesk:
    row = ROWS["bullish"]
    return LiveDesk(
        tmp_path, {k: (row.sample(i + 1), looser(row.sample(i + 1))) for i, k in enumerate(BX)}
    )


def _apply_into(desk: LiveDesk, stdout: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # Bullish's REST cannot tell whether a scope is frozen: a person checked both
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", *include_held(*BX)],
        cwd=desk.repo,
        env=desk.env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )


def test_apply_whose_plan_cannot_be_shown_writes_nothing(tmp_path: Path) -> None:
    """A plan nobody could see is not approved, even with --auto-approve."""
    with _bullish_desk_of_two(tmp_path) as desk, open("/dev/full", "wb") as full:
        proc = _apply_into(desk, full)
        _, err = proc.communicate(timeout=120)
        assert proc.stderr is not None
        proc.stderr.close()
        assert proc.returncode == 1
        assert "could not write the output (No space left on device)" in err.decode()
        assert not (desk.repo / ".mmp" / "journal.jsonl").exists()
        assert desk.live(ScopeKey("bullish", "bx", "BTC")) == looser(ROWS["bullish"].sample(1))


def test_apply_whose_reader_leaves_mid_run_still_finishes_each_step(tmp_path: Path) -> None:
    """`mmp apply | head`: the reader leaves once the first result is out; every step still
    ends verified and journaled, the report's loss is said on stderr, the exit code tells."""
    with _bullish_desk_of_two(tmp_path) as desk:
        proc = _apply_into(desk, subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.startswith(b"Apply:"):
                break
        proc.stdout.close()  # the reader is gone
        with proc.stderr:
            err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "could not write the output (Broken pipe)" in err and "Traceback" not in err
        records = desk.journal().records
        assert records[-1]["event"] == "apply-end" and records[-1]["exit_code"] == 0
        ends = [r["outcome"] for r in records if r["event"] == "step-end"]
        assert ends == ["applied", "applied"]
        assert desk.live(ScopeKey("bullish", "bx", "BTC")) == ROWS["bullish"].sample(1)
        assert desk.live(ScopeKey("bullish", "bx", "ETH")) == ROWS["bullish"].sample(2)


class BreaksAt(Journal):
    """A journal whose disk fails from the record `event` of `scope` on."""

    def __init__(self, path: Path, event: str, scope: str) -> None:
        super().__init__(path)
        self.event, self.scope, self.broken = event, scope, False

    def write(self, event: str, **fields: Any) -> None:
        self.broken |= event == self.event and fields.get("scope") == self.scope
        super().write(event, **fields)

    def _append(self, line: str) -> None:
        if self.broken:
            raise OSError(5, "Input/output error")
        super()._append(line)


@pytest.mark.parametrize("event", ["step-begin", "set-sent", "reset-sent"])
@pytest.mark.parametrize("venue", sorted(ROWS))
def test_a_step_whose_record_could_not_be_written_sends_nothing(
    venue: str, event: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Journaled ahead means ahead: when the disk fails at the second step's begin or at its
    first write's record, that write is not sent (the venue keeps the old config), and the
    run says the journal failed."""
    desk = Desk(venue)
    second = str(desk.keys[1])
    replaces = VENUES[venue].capabilities.change is ChangeMode.RESET_THEN_SET
    if event == "reset-sent" and not replaces:
        pytest.skip("only a reset-then-set venue sends a reset first")
    if event == "set-sent" and replaces:
        pytest.skip("a replacement's first write is its reset")
    result = desk.apply(journal=BreaksAt(tmp_path / "j.jsonl", event, second))
    first, later = result.results
    assert first.outcome is Outcome.APPLIED
    assert later.outcome in (Outcome.NOT_RUN, Outcome.KEPT_OLD), later
    assert "the journal cannot be written" in later.detail
    assert desk.live()[desk.keys[1]].config == desk.old[desk.keys[1]]
    assert result.exit_code >= 3
    assert "journal: " in capfd.readouterr().err  # the lost records, on stderr


@pytest.mark.parametrize("venue", sorted(ROWS))
def test_a_create_the_venue_refused_is_named_unprotected(tmp_path: Path, venue: str) -> None:
    """A scope to be created whose write the venue refused has no config, as before: 'old
    config in force' would hide that the account is without MMP there. Named in its line and
    in the report; the exit says nothing changed, and status exits 4 until it has one."""
    key = ScopeKey(venue, "acct", *ROWS[venue].scopes[0])
    with LiveDesk(tmp_path, {key: (ROWS[venue].sample(1), None)}) as desk:
        gated = desk.servers[venue]
        gated.app = Reject(gated.app, venue)
        result = desk.mmp("apply", "--auto-approve")
        assert result.code == 1, result
        assert f"FAILED (still UNPROTECTED)     {key}" in result.stdout, result.stdout
        assert "the scope still has no config: UNPROTECTED" in result.stdout
        assert f"still UNPROTECTED {key}: without a config, as before the run" in result.stdout
        # the config wanted in policy units, as everywhere (found by a red team: a raw dict)
        (said,) = [line for line in result.stdout.splitlines() if "  still UNPROTECTED" in line]
        assert said.endswith(f"; wanted {ROWS[venue].sample(1).shown()}"), said
        assert "{" not in said and "window_ms" not in said and "window " in said
        assert desk.live(key) is None
        assert desk.mmp("status").code == 4


def test_a_lock_whose_holder_cannot_be_recorded_refuses_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(LockedError) as info, RunLock(tmp_path / ".mmp", "apply"):
        pass
    assert "cannot record who holds the one-run lock" in str(info.value)
    assert "No space left on device" in str(info.value)
    monkeypatch.undo()
    with RunLock(tmp_path / ".mmp", "apply"):  # let go: the next run takes it
        pass


LOGINS = {"deribit": "/api/v2/public/auth", "bullish": "/trading-api/v1/users/hmac/login"}


@pytest.mark.parametrize("venue", sorted(LOGINS))
def test_a_log_in_that_fails_before_a_write_is_not_the_write_failing(venue: str) -> None:
    """A session venue logs in inside the write's own request: a log-in whose answer is
    lost is retried like a read (the write never left), and when it never succeeds the
    write is said to have written nothing, never 'may have reached the venue'."""
    desk = Desk(venue)
    key = desk.keys[0]
    logins: list[int] = []

    def lost(request: httpx.Request) -> httpx.Response:
        if request.url.path == LOGINS[venue]:
            logins.append(1)
            if len(logins) <= lost.times:  # type: ignore[attr-defined]
                raise httpx.ReadTimeout("answer lost", request=request)
        response: httpx.Response = desk.sim(request)
        return response

    async def write(times: int) -> None:
        lost.times = times  # type: ignore[attr-defined]
        logins.clear()
        client = connect_to(lost, desk.desired, {"acct": desk.creds}).clients["acct"]
        try:
            await client.set_config(key, desk.new[key])
        finally:
            await client.aclose()

    asyncio.run(write(1))  # the second log-in answers: the write goes out once
    assert len(logins) == 2 and desk.live()[key].config in (desk.new[key], desk.old[key])
    with pytest.raises(VenueUnavailable) as info:
        asyncio.run(write(99))
    assert not info.value.maybe_applied
    assert "nothing was written" in str(info.value) and LOGINS[venue] in str(info.value)


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"], ["status"]])
def test_a_closed_stdout_is_a_clear_error_and_nothing_is_applied(
    tmp_path: Path, command: list[str]
) -> None:
    """`mmp apply >&-`: no stdout at all. One line on stderr, never a traceback; nothing
    reaches any venue's configs."""
    shutil.copytree(Path(__file__).resolve().parent.parent / "policies", tmp_path / "policies")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["MMP_SANDBOX"] = "1"
    line = " ".join([sys.executable, "-m", "reconciler", *command, ">&-"])
    done = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "could not write the output (stdout is closed)" in done.stderr
    assert "Traceback" not in done.stderr and "a bug in mmp" not in done.stderr
    journal = tmp_path / ".mmp" / "journal.jsonl"
    assert not journal.exists() or "set-sent" not in journal.read_text()


class LostWrite:
    """Every write leaves and gets no answer; the venue has not applied it (yet)."""

    def __init__(self, app: Any, venue: str) -> None:
        self.app, self.venue = app, venue

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if ROWS[self.venue].writes(request):
            raise httpx.ReadTimeout("the answer never came", request=request)
        response: httpx.Response = self.app(request)
        return response


@pytest.mark.parametrize("venue", ["aevo", "binance", "deribit"])
def test_a_write_whose_answer_was_lost_may_still_land(
    venue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write with no answer may still be on its way: the old config read back proves
    nothing on a venue that takes a request whatever its age (exit 4, saying why); on
    Binance, which refuses a request older than its recvWindow, a read begun past that age
    settles it (the old config is kept, exit 1)."""
    from reconciler.venues.binance.client import BinanceClient

    quick = dataclasses.replace(BinanceClient.capabilities, refuses_after_ms=300)
    monkeypatch.setattr(BinanceClient, "capabilities", quick)
    desk = Desk(venue, 1)
    result = desk.apply(LostWrite(desk.sim, venue))
    (only,) = result.results
    assert desk.live()[only.step.key].config == desk.old[only.step.key]
    if venue == "binance":
        assert only.outcome is Outcome.KEPT_OLD and result.exit_code == 1, only
    else:
        assert only.outcome is Outcome.UNKNOWN and result.exit_code == 4, only
        assert f"the request may still reach {venue} and apply at any moment" in only.detail


def test_a_lost_binance_write_landing_within_its_recv_window_is_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write's answer is lost and the request lands 150 ms later, inside the 300 ms the
    venue would still take it: apply reads until past that age, so it sees the new config
    instead of calling the old one kept."""
    from reconciler.venues.binance.client import BinanceClient

    quick = dataclasses.replace(BinanceClient.capabilities, refuses_after_ms=300)
    monkeypatch.setattr(BinanceClient, "capabilities", quick)
    desk = Desk("binance", 1)
    late: list[threading.Timer] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if ROWS["binance"].writes(request):
            late.append(threading.Timer(0.15, desk.sim, args=(request,)))
            late[-1].start()
            raise httpx.ReadTimeout("the answer never came", request=request)
        response: httpx.Response = desk.sim(request)
        return response

    result = desk.apply(handler)
    for timer in late:
        timer.join()
    (only,) = result.results
    assert only.outcome is Outcome.APPLIED and result.exit_code == 0, only
