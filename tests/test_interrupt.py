"""Signals and kills sent to a real `mmp apply` at each point of a Bullish replacement.

The desk: one Bullish account, BTC and ETH both drifted, so apply replaces BTC (reset, then
set), then ETH. A gate holds BTC's replacement at one point while the test signals the
process; then the venue's end state, the exit code, what was printed, the journal and what
the next plan, status and apply say are checked. No scope may end without MMP unless the
run says so (exit 4, naming it), and a re-run always converges.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from reconciler.apply.interrupt import GITHUB_GRACE_S, GRACE_S, grace_s
from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.wire import NONCE_PATH
from tests.checked import include_held
from tests.procs import BULLISH_RESET, BULLISH_SET, LiveDesk, Spawned, bullish_config_read
from tests.venues import ROWS

BTC = ScopeKey("bullish", "bx", "BTC")
ETH = ScopeKey("bullish", "bx", "ETH")
WANT = {BTC: ROWS["bullish"].sample(1), ETH: ROWS["bullish"].sample(2)}
WAIT_S = 30  # bounds waits that take well under a second; never asserted on


def looser(config: MmpConfig) -> MmpConfig:
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit * 2)


OLD = {key: looser(config) for key, config in WANT.items()}
# Bullish's REST cannot tell whether a scope is frozen: a person checked both on the venue
CHECKED = include_held(BTC, ETH)


def nonce_read(request: httpx.Request) -> bool:
    return request.method == "GET" and request.url.path == NONCE_PATH


# Where BTC's replacement is held. before=True: the venue has not seen the request yet.
POINTS: dict[str, tuple[Callable[[httpx.Request], bool], bool]] = {
    "before-the-reset": (nonce_read, True),  # the first command fetches the day's nonces
    "reset-sent": (BULLISH_RESET, True),
    "reset-acknowledged": (BULLISH_RESET, False),
    "reset-confirmed": (BULLISH_SET, True),  # the set goes out only once the reset showed
    "set-sent": (BULLISH_SET, False),
}


def make_desk(tmp_path: Path) -> LiveDesk:
    sim = BullishSimulator(apply_delay_ms=100)
    scopes = {key: (WANT[key], OLD[key]) for key in (BTC, ETH)}
    return LiveDesk(tmp_path, scopes, sims={"bullish": sim})


def wait_for(proc: Spawned, text: str) -> str:
    deadline = time.monotonic() + WAIT_S
    while text not in proc.stderr_text():
        assert proc.poll() is None or text in proc.stderr_text(), proc.stderr_text()
        assert time.monotonic() < deadline, f"{text!r} never came:\n{proc.stderr_text()}"
        time.sleep(0.02)
    return proc.stderr_text()


def held(desk: LiveDesk, point: str) -> tuple[Spawned, object]:
    predicate, before = POINTS[point]
    gate = desk.gate("bullish", predicate, before=before)
    proc = desk.spawn("apply", "--auto-approve", *CHECKED)
    assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
    return proc, gate


def converges(desk: LiveDesk) -> None:
    rerun = desk.mmp("apply", "--auto-approve", *CHECKED)
    assert rerun.code == 0, rerun
    final = desk.mmp("plan", "--detailed-exitcode")
    assert final.code == 0, final
    assert "interrupted" not in final.stdout and "UNPROTECTED" not in final.stdout
    assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == WANT[ETH]


SIGNALLED = [(p, signal.SIGINT) for p in POINTS] + [
    ("reset-sent", signal.SIGTERM),
    ("reset-confirmed", signal.SIGTERM),
    ("reset-confirmed", signal.SIGHUP),  # the terminal closed
    ("reset-sent", signal.SIGQUIT),  # Ctrl-\\
]


@pytest.mark.parametrize(("point", "sig"), SIGNALLED, ids=[f"{p}-{s.name}" for p, s in SIGNALLED])
def test_a_signal_mid_replacement_finishes_it_and_starts_nothing_new(
    tmp_path: Path, point: str, sig: signal.Signals
) -> None:
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, point)
        proc.send_signal(sig)
        said = wait_for(proc, f"{sig.name} received: no new step will start")
        assert "bullish/bx/BTC:" in said  # the step under way is named
        gate.release()  # type: ignore[attr-defined]
        result = proc.finish(WAIT_S)
        if point == "before-the-reset":  # nothing had left: the reset is not sent at all
            assert result.code == 1, result
            assert desk.live(BTC) == OLD[BTC] and desk.live(ETH) == OLD[ETH]
            assert f"not sent: apply was interrupted ({sig.name}) before it left" in result.stdout
            assert desk.seen("bullish", BULLISH_RESET) == []
            converges(desk)
            return
        assert result.code == 3, result  # BTC done and verified, ETH left: partial, all safe
        assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == OLD[ETH]
        assert "applied                        bullish/bx/BTC" in result.stdout
        assert f"not run: apply was interrupted ({sig.name})" in result.stdout
        records = desk.journal().records
        assert [r["signal"] for r in records if r["event"] == "interrupted"] == [sig.name]
        assert records[-1]["event"] == "apply-end" and records[-1]["exit_code"] == 3
        converges(desk)


KILLS = [  # (point, whether the held request reaches the venue after the kill, BTC after)
    ("before-the-reset", True, "old"),
    ("reset-sent", True, None),
    ("reset-acknowledged", True, None),
    ("reset-confirmed", True, "new"),
    ("reset-confirmed", False, None),  # the set never reaches the venue
    ("set-sent", True, "new"),
]


@pytest.mark.parametrize(("point", "deliver", "after"), KILLS)
def test_sigkill_mid_replacement_is_named_then_recovered(
    tmp_path: Path, point: str, deliver: bool, after: str | None
) -> None:
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, point)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release(deliver=deliver)  # type: ignore[attr-defined]
        assert gate.wait_finished(WAIT_S)  # type: ignore[attr-defined]
        desk.settle()
        expected = {"old": OLD[BTC], "new": WANT[BTC], None: None}[after]
        assert desk.live(BTC) == expected
        plan = desk.mmp("plan")
        assert plan.code == 0, plan
        assert "was interrupted (no apply-end record)" in plan.stdout
        assert "  bullish/bx/BTC: " in plan.stdout  # the scope in flight, with its live state
        status = desk.mmp("status")
        if expected is None:  # left without MMP: loud first line, status exit 4
            assert plan.stdout.startswith("UNPROTECTED: 1 declared scope(s)"), plan.stdout
            assert "live now: no config: UNPROTECTED" in plan.stdout
            assert status.code == 4, status
        else:  # configured: Bullish's REST cannot tell whether it is frozen, and no
            # trigger was seen: said, with why, and exit 0
            assert "UNPROTECTED" not in plan.stdout
            assert status.code == 0, status
            assert "unknown (see below)" in status.stdout
        assert "was interrupted" in status.stdout
        rerun = desk.mmp("apply", "--auto-approve", *CHECKED)
        assert rerun.code == 0, rerun
        assert "taking the lock over" in rerun.stderr  # the killed run's lock
        assert "Recovered the scopes of unfinished run(s) apply run " in rerun.stderr
        converges(desk)


def test_a_second_signal_is_answered_not_obeyed(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-sent")
        proc.send_signal(signal.SIGINT)
        wait_for(proc, "SIGINT received: no new step will start")
        proc.send_signal(signal.SIGTERM)
        said = wait_for(proc, "SIGTERM received again, not obeyed: still working")
        assert "bullish/bx/BTC: reset sent" in said.split("received again")[1]
        gate.release()  # type: ignore[attr-defined]
        result = proc.finish(WAIT_S)
        assert result.code == 3, result
        assert desk.live(BTC) == WANT[BTC]
        converges(desk)


def test_past_the_deadline_exit_4_names_the_scope_and_the_config_to_restore(
    tmp_path: Path,
) -> None:
    with make_desk(tmp_path) as desk:
        # run as GitHub Actions runs it (a cancelled job): the deadline is its 2 s grace,
        # not the 10 s of elsewhere (test_the_grace_after_a_second_signal)
        desk.env["GITHUB_ACTIONS"] = "true"
        proc, gate = held(desk, "reset-confirmed")  # BTC has no config: the set is held
        proc.send_signal(signal.SIGINT)
        wait_for(proc, "SIGINT received")
        proc.send_signal(signal.SIGINT)
        said = wait_for(proc, "received again, not obeyed")
        assert "bullish/bx/BTC: between its reset and its set" in said
        result = proc.finish(WAIT_S)  # the held set never returns: the deadline ends it
        gate.release(deliver=False)  # type: ignore[attr-defined]  # and it never arrives
        assert result.code == 4, result
        assert "UNSAFE (may be unprotected)    bullish/bx/BTC" in result.stdout
        assert (
            f"restore bullish/bx/BTC: wanted {WANT[BTC].shown()}; before the run it was "
            f"{OLD[BTC].shown()}"
        ) in result.stdout  # in policy units, never the raw data
        assert desk.live(BTC) is None
        plan = desk.mmp("plan")
        assert plan.stdout.startswith("UNPROTECTED: 1 declared scope(s)"), plan.stdout
        assert "ended with exit 4" in plan.stdout
        converges(desk)


def test_the_grace_after_a_second_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 s, or 2 s in GitHub Actions (done before its SIGKILL, 2.5 s after its SIGTERM)."""
    assert grace_s() == GRACE_S == 10
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert grace_s() == GITHUB_GRACE_S == 2


def test_a_second_apply_refuses_at_once_naming_the_holder(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-sent")
        second = desk.mmp("apply", "--auto-approve", *CHECKED, timeout=WAIT_S)
        assert second.code == 1, second
        assert "another mmp run holds" in second.stderr
        assert f"pid {proc.pid} on host" in second.stderr and "`mmp apply`" in second.stderr
        gate.release()  # type: ignore[attr-defined]
        assert proc.finish(WAIT_S).code == 0
        assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == WANT[ETH]


def test_a_killed_run_belongs_to_its_own_policies_folder(tmp_path: Path) -> None:
    """Two policies folders of one repository share its journal: what a run of one left is
    named and restored by that folder's runs, and only noted by the other's."""
    with make_desk(tmp_path) as desk:
        other = desk.repo / "other"
        other.mkdir()
        (other / "desk.yaml").write_text(desk.policy.read_text())
        proc, gate = held(desk, "reset-sent")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release(deliver=False)  # type: ignore[attr-defined]
        start = next(r for r in desk.journal().records if r["event"] == "apply-start")
        assert start["policies"] == "policies"
        theirs = desk.mmp("plan", "--policies", "other")
        assert "was interrupted" not in theirs.stdout, theirs
        assert "also holds unfinished apply runs of the policies at policies" in theirs.stderr
        ours = desk.mmp("plan")
        assert "was interrupted (no apply-end record)" in ours.stdout, ours
        rerun = desk.mmp("apply", "--auto-approve", *CHECKED, "--policies", "other")
        assert rerun.code == 0, rerun
        assert "Recovered" not in rerun.stderr  # not its run to settle
        assert "was interrupted (no apply-end record)" in desk.mmp("plan").stdout


def test_a_plan_or_status_during_an_apply_says_it_is_running_not_interrupted(
    tmp_path: Path,
) -> None:
    """Past their wait for a run that holds the lock (MMP_LOCK_WAIT_S), plan and status read
    beside it, say so, and neither call it interrupted nor plan to restore what it is
    changing."""
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-confirmed")  # BTC is without MMP right now
        for command in ("plan", "status"):
            seen = desk.mmp(command, env={"MMP_LOCK_WAIT_S": "0"})
            said = seen.stdout + seen.stderr
            assert "another run holds the lock of this repository now: `mmp apply`" in said
            assert f"pid {proc.pid}" in said and "is running now (it holds the lock)" in said
            assert "was interrupted" not in said, said
            assert "restore" not in seen.stdout
        gate.release()  # type: ignore[attr-defined]
        assert proc.finish(WAIT_S).code == 0
        after = desk.mmp("plan")
        assert "running now" not in after.stdout + after.stderr, after
        assert "was interrupted" not in after.stdout


def test_import_beside_a_running_apply_writes_nothing(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk:
        before = desk.policy.read_text()
        proc, gate = held(desk, "reset-confirmed")
        now = {"MMP_LOCK_WAIT_S": "0"}
        refused = desk.mmp("import", env=now)
        assert refused.code == 1 and "an import now would write down configs" in refused.stderr
        look = desk.mmp("import", "--dry-run", env=now)
        assert look.code == 0 and "scopes it is changing may show mid-change" in look.stderr
        assert desk.policy.read_text() == before
        gate.release()  # type: ignore[attr-defined]
        assert proc.finish(WAIT_S).code == 0


def test_status_of_a_killed_runs_scope_on_an_account_it_cannot_read_is_exit_4(
    tmp_path: Path,
) -> None:
    """The kill may have left BTC without MMP, and the venue cannot be read now: unknown,
    and unknown may be unprotected."""
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-sent")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release(deliver=True)  # type: ignore[attr-defined]
        desk.servers["bullish"].app = lambda request: httpx.Response(503, content=b"down")
        status = desk.mmp("status")
        assert status.code == 4, status
        assert "could not read bullish/bx" in status.stdout
        assert "bullish/bx/BTC: its reset was sent" in status.stdout


def test_a_plan_waits_for_a_running_apply_then_reads_the_settled_desk(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-confirmed")
        reader = desk.spawn("plan", "--detailed-exitcode")
        wait_for(reader, "mmp: waiting for `mmp apply` pid")
        assert reader.poll() is None  # no read while BTC is mid-change
        gate.release()  # type: ignore[attr-defined]
        assert proc.finish(WAIT_S).code == 0
        seen = reader.finish(WAIT_S)
        assert seen.code == 0, seen  # the desk as the apply left it: nothing to do
        assert "UNPROTECTED" not in seen.stdout and "running now" not in seen.stderr


def test_an_apply_waits_for_a_read_under_way(tmp_path: Path) -> None:
    """A plan mid-read holds the shared lock: apply waits for it (neither spends the per-IP
    allowance beside the other), then runs."""
    with make_desk(tmp_path) as desk:
        gate = desk.gate("bullish", bullish_config_read)
        reader = desk.spawn("plan")
        assert gate.wait_arrived(WAIT_S, reader), reader.stderr_text()
        writer = desk.spawn("apply", "--auto-approve", *CHECKED)
        wait_for(writer, "waiting for the reads of")
        gate.release()
        assert reader.finish(WAIT_S).code == 0
        assert writer.finish(WAIT_S).code == 0
        assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == WANT[ETH]


def test_a_killed_runs_reset_may_still_land_and_is_unknown_until_then(tmp_path: Path) -> None:
    """Killed with its reset on the way (held before the venue, as a slow network would):
    until the reset can no longer land, status says so and exits 4 though BTC still has its
    config; apply waits for that moment before reading, then puts BTC right whatever landed."""
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-sent")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        window = {"MMP_LATE_LANDING_S": "30"}
        status = desk.mmp("status", env=window)
        assert status.code == 4, status
        assert "bullish/bx/BTC: its reset was sent" in status.stdout
        assert "but its reset sent at" in status.stdout and "may still land until" in status.stdout
        assert desk.live(BTC) == OLD[BTC]  # not yet: the reset is still on its way
        gate.release(deliver=True)  # type: ignore[attr-defined]
        assert gate.wait_finished(WAIT_S)  # type: ignore[attr-defined]
        desk.settle()
        assert desk.live(BTC) is None  # it landed after its run was gone
        rerun = desk.mmp("apply", "--auto-approve", *CHECKED, env={"MMP_LATE_LANDING_S": "10"})
        assert rerun.code == 0, rerun
        assert "mmp: a write of an unfinished run may still land: bullish/bx/BTC" in rerun.stderr
        assert "Recovered the scopes of unfinished run(s) apply run " in rerun.stderr
        converges(desk)


def test_a_loosening_cannot_pass_as_the_create_of_a_scope_a_kill_left_bare(
    tmp_path: Path,
) -> None:
    """Killed between its reset and its set, BTC is without MMP; the policy now asks for a
    freeze half as long as its old one. Creating it is a loosening against the config the
    journal says it had: the guardrail trips as it would have on the config itself."""
    with make_desk(tmp_path) as desk:
        proc, gate = held(desk, "reset-confirmed")
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release(deliver=False)  # type: ignore[attr-defined]
        assert desk.live(BTC) is None
        old = OLD[BTC]
        shorter = old.with_changes(frozen_ms=int(old.frozen_ms) // 2)
        desk.declare({BTC: shorter})
        refused = desk.mmp("apply", "--auto-approve", *CHECKED)
        assert refused.code == 1, refused
        said = (
            "bullish/bx/BTC: freeze shortened 2s -> 1s (against the config it had before an "
            "unfinished run left it without one)"
        )
        assert said in refused.stderr, refused
        assert desk.live(BTC) is None
        forced = desk.mmp("apply", "--auto-approve", *CHECKED, "--force")
        assert forced.code == 0, forced
        assert desk.live(BTC) == shorter
