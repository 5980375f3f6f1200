"""A scope left without MMP by a killed `mmp apply` (a real process, SIGKILLed between a
Bullish replacement's reset and its set) is re-created by the next `mmp heal`: the venue's
end state, heal's exit code and output, the journal (the killed run, the heal record, the
step, `recovered`) and what the next plan and status say. And heal keeps apply's handling
of a signal: one mid-replacement finishes the replacement under way.

The desk is tests/test_interrupt.py's: one Bullish account, BTC and ETH both looser live
than declared, so apply replaces BTC (reset, then set), then ETH.
"""

from __future__ import annotations

import signal
from pathlib import Path

from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.simulator_push import Readings
from tests.procs import BULLISH_SET, LiveDesk, Spawned
from tests.test_interrupt import BTC, ETH, OLD, WAIT_S, WANT, held, make_desk, wait_for

HEALING = "heal:\n  enabled: true\n"


def enable_healing(desk: LiveDesk) -> None:
    (desk.repo / "policies" / "guardrails.yaml").write_text(HEALING, encoding="utf-8")
    desk.commit("enable healing")


def killed_between_reset_and_set(desk: LiveDesk) -> str:
    """`mmp apply` killed while BTC's set is held before the venue, then lost: BTC is
    without MMP. Returns the killed run's id."""
    proc, gate = held(desk, "reset-confirmed")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(WAIT_S) == -signal.SIGKILL
    gate.release(deliver=False)  # type: ignore[attr-defined]
    desk.settle()
    assert desk.live(BTC) is None and desk.live(ETH) == OLD[ETH]
    [start] = [r for r in desk.journal().records if r["event"] == "apply-start"]
    return str(start["run"])


def test_the_next_heal_re_creates_a_scope_a_killed_apply_left_unprotected(
    tmp_path: Path,
) -> None:
    with make_desk(tmp_path) as desk:
        enable_healing(desk)
        killed = killed_between_reset_and_set(desk)
        assert desk.mmp("status").code == 4  # unprotected, and said so until healed

        healed = desk.mmp("heal")
        assert healed.code == 0, healed
        assert desk.live(BTC) == WANT[BTC]  # the declared config, as merged
        assert desk.live(ETH) == OLD[ETH]  # a replacement, freeze state unknown: left
        out = healed.stdout
        assert out.startswith("Heal: 1 to heal (1 to create); 1 left for a person.\n")
        assert "    + create    bullish/bx/BTC" in out
        assert (
            "heal: unprotected: no MMP config live; the declared config is set, as strict " in out
        )
        assert "  held  bullish/bx/ETH: freeze state unknown (Bullish's REST read" in out
        assert out.rstrip().endswith(
            "Heal finished: 1 applied. Exit 0: every change applied and verified."
        )
        assert "taking the lock over" in healed.stderr  # the killed run's lock
        assert f"Recovered the scopes of unfinished run(s) apply run {killed}:" in healed.stderr

        records = desk.journal().records
        mine = [r for r in records if r["run"] != killed]
        events = [r["event"] for r in mine]
        assert events[:2] == ["heal", "apply-start"] and events[-2:] == ["apply-end", "recovered"]
        heal = mine[0]
        assert heal["scope"] == str(BTC) and heal["action"] == "create" and heal["by"]
        assert [c["field"] for c in heal["changes"]] == [
            "window",
            "frozen",
            "quantity_limit",
            "delta_limit",
        ]
        assert {c["direction"] for c in heal["changes"]} == {"tightening"}
        assert [(r["scope"], r["outcome"]) for r in mine if r["event"] == "step-end"] == [
            (str(BTC), "applied")
        ]
        assert mine[-1]["runs"] == [killed]

        plan = desk.mmp("plan", "--detailed-exitcode")
        assert plan.code == 2, plan  # ETH's replacement: a person's (freeze state unknown)
        assert "UNPROTECTED" not in plan.stdout and "interrupted" not in plan.stdout
        assert "-/+ replace   bullish/bx/ETH" in plan.stdout
        status = desk.mmp("status")
        assert status.code == 0, status  # configured; Bullish over REST: unknown, said
        assert "was interrupted" not in status.stdout


def test_heal_replaces_where_the_freeze_is_known_and_a_signal_finishes_the_replacement(
    tmp_path: Path,
) -> None:
    """Bullish's WebSocket sends a snapshot, so the freeze state is known: heal re-creates
    BTC, then replaces ETH (every field tightens), reset then set, as apply does. SIGINT
    while ETH is between its reset and its set: the replacement is finished and verified,
    nothing new starts, and the run says it was interrupted."""
    sim = BullishSimulator(apply_delay_ms=100, ws=Readings(snapshots=True))
    scopes = {key: (WANT[key], OLD[key]) for key in (BTC, ETH)}
    with LiveDesk(tmp_path, scopes, sims={"bullish": sim}, sockets=True) as desk:
        enable_healing(desk)
        killed_between_reset_and_set(desk)
        gate = desk.gate("bullish", BULLISH_SET, nth=2)  # BTC's create, then ETH's set
        proc: Spawned = desk.spawn("heal")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()  # ETH's set: without MMP
        proc.send_signal(signal.SIGINT)
        said = wait_for(proc, "SIGINT received: no new step will start")
        assert "bullish/bx/ETH: between its reset and its set" in said
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 0, result  # both written and verified: nothing left undone
        assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == WANT[ETH]
        assert "  -/+ replace   bullish/bx/ETH" in result.stdout
        assert "heal: every changed field tightens: quantity_limit" in result.stdout
        assert "Heal finished: 2 applied. Exit 0" in result.stdout
        records = desk.journal().records
        assert [r["signal"] for r in records if r["event"] == "interrupted"] == ["SIGINT"]
        [gap] = [r for r in records if r["event"] == "replace-set" and r["scope"] == str(ETH)]
        assert gap["unprotected_ms"] >= 0
        assert desk.mmp("plan", "--detailed-exitcode").code == 0


def test_a_killed_heal_is_named_a_heal_run_by_plan_status_and_the_next_heal(
    tmp_path: Path,
) -> None:
    """SIGKILL between a heal replacement's reset and its set: every command that names the
    unfinished run calls it what it was, a heal run (its apply-start says `kind: heal`)."""
    sim = BullishSimulator(apply_delay_ms=100, ws=Readings(snapshots=True))
    scopes = {key: (WANT[key], OLD[key]) for key in (BTC, ETH)}
    with LiveDesk(tmp_path, scopes, sims={"bullish": sim}, sockets=True) as desk:
        enable_healing(desk)
        gate = desk.gate("bullish", BULLISH_SET)
        proc: Spawned = desk.spawn("heal")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release(deliver=False)
        desk.settle()
        [start] = [r for r in desk.journal().records if r["event"] == "apply-start"]
        assert start["kind"] == "heal"
        killed = f"heal run {start['run']} (started"
        for command in (("plan",), ("status",), ("heal",)):
            said = desk.mmp(*command)
            assert killed in said.stdout + said.stderr, (command, said)
            assert f"apply run {start['run']} (started" not in said.stdout + said.stderr
        # the heal, last, put the killed heal's scope back, and says whose run it recovered
        assert f"Recovered the scopes of unfinished run(s) heal run {start['run']}:" in said.stderr


def test_a_scope_taken_away_then_undeclared_is_left_loudly_and_never_written(
    tmp_path: Path,
) -> None:
    """A merge takes BTC out of the policies after a killed apply left it without MMP: heal
    writes only what the policies declare, so it does not put BTC's old config back, but
    it leaves BTC for a person by name (`taken, undeclared`: who took it, what restores
    it) and exits 4, never 0 as if all were well; `mmp apply` then restores the config BTC
    had before the killed run."""
    with make_desk(tmp_path) as desk:
        enable_healing(desk)
        killed = killed_between_reset_and_set(desk)
        desk.undeclare(BTC)

        healed = desk.mmp("heal")
        assert healed.code == 4, healed
        assert desk.live(BTC) is None  # not written: not declared
        out = healed.stdout
        assert (
            f"  taken, undeclared  bullish/bx/BTC: no MMP config live: run {killed} took it "
            "away and the policies do not declare it, so heal does not put it back; declare "
            "it, or run `mmp apply` on a terminal" in out
        ), out
        assert "1 scope(s) left without MMP, which heal did not put back: bullish/bx/BTC" in out
        assert not [r for r in desk.journal().records if r["event"] == "recovered"]

        applied = desk.mmp("apply", "--auto-approve")
        assert applied.code == 0, applied
        assert desk.live(BTC) == OLD[BTC]  # as it was before the killed run
