"""The process harness (tests/procs.py) on today's behaviour: real `mmp` processes against
simulators served on loopback, gates that hold a request, signals sent mid-apply."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues import VENUES
from reconciler.venues.bullish.simulator import BullishSimulator
from tests.checked import include_held
from tests.procs import (
    BULLISH_RESET,
    BULLISH_SET,
    JournalFile,
    LiveDesk,
    any_write,
    bullish_config_read,
    disposition,
)
from tests.venues import ROWS

WAIT_S = 20  # bounds a wait that normally takes well under a second; never asserted on


def looser(config: MmpConfig) -> MmpConfig:
    """The drifted live config: the policy tightens it back, so no guardrail trips."""
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit * 2)


def bullish_desk(tmp_path: Path) -> tuple[LiveDesk, ScopeKey, MmpConfig, MmpConfig]:
    """One Bullish scope whose apply is a replacement (reset, then set)."""
    key = ScopeKey("bullish", "bullish-mm", "BTC")
    want = ROWS["bullish"].sample(1)
    old = looser(want)
    sim = BullishSimulator(apply_delay_ms=100)
    return LiveDesk(tmp_path, {key: (want, old)}, sims={"bullish": sim}), key, want, old


@pytest.mark.parametrize("venue", list(VENUES))
def test_plan_apply_plan_converges(tmp_path: Path, venue: str) -> None:
    row = ROWS[venue]
    (u1, g1), (u2, g2) = row.scopes[:2]
    drifted = ScopeKey(venue, f"{venue}-desk", u1, g1)
    new = ScopeKey(venue, f"{venue}-desk", u2, g2)
    scopes = {drifted: (row.sample(1), looser(row.sample(1))), new: (row.sample(2), None)}
    with LiveDesk(tmp_path, scopes) as desk:
        assert desk.live(drifted) == looser(row.sample(1)) and desk.live(new) is None
        planned = desk.mmp("plan", "--detailed-exitcode")
        assert planned.code == 2, planned
        # a venue that cannot tell whether a scope is frozen: a person checked both
        applied = desk.mmp("apply", "--auto-approve", *include_held(drifted, new))
        assert applied.code == 0, applied
        again = desk.mmp("plan", "--detailed-exitcode")
        assert again.code == 0, again
        assert desk.live(drifted) == row.sample(1) and desk.live(new) == row.sample(2)
        events = desk.journal().events()
        # who included the scopes and why, journaled first; then the run
        assert events[:2] == ["include-held", "apply-start"] and events[-1] == "apply-end"
        assert not desk.frozen(new)
        desk.trigger(new)
        assert desk.frozen(new)


def test_gate_holds_the_bullish_reset_until_released(tmp_path: Path) -> None:
    desk, key, want, old = bullish_desk(tmp_path)
    with desk:
        gate = desk.gate("bullish", BULLISH_RESET)
        proc = desk.spawn("apply", "--auto-approve", *include_held(key))
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        assert proc.poll() is None  # blocked on the held request
        events = desk.journal().events(key)
        assert events[0] == "step-begin" and not {"replace-cleared", "step-end"} & set(events)
        assert desk.live(key) == old  # the venue has not seen the reset
        assert "replace" in proc.stdout_text()  # output is readable while it runs
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 0, result
        assert desk.live(key) == want
        assert desk.journal().events(key)[-1] == "step-end"
        assert len(desk.seen("bullish", BULLISH_RESET)) == 1


def test_two_gates_on_one_venue_hold_the_reset_then_the_set(tmp_path: Path) -> None:
    desk, key, want, _ = bullish_desk(tmp_path)
    with desk:
        reset = desk.gate("bullish", BULLISH_RESET, before=False)  # the venue has it
        set_ = desk.gate("bullish", BULLISH_SET)
        proc = desk.spawn("apply", "--auto-approve", *include_held(key))
        assert reset.wait_arrived(WAIT_S, proc), proc.stderr_text()
        assert reset.response is not None and reset.response.status_code == 200
        desk.settle()  # the acknowledged reset takes effect now
        assert desk.live(key) is None
        reset.release()
        assert set_.wait_arrived(WAIT_S, proc), proc.stderr_text()
        events = desk.journal().events(key)
        assert "replace-cleared" in events and "replace-set" not in events
        assert desk.live(key) is None
        set_.release()
        result = proc.finish(WAIT_S)
        assert result.code == 0, result
        assert desk.live(key) == want


def test_a_lost_answer_is_read_back(tmp_path: Path) -> None:
    """A gate can lose the answer to a request the venue applied (deliver=False)."""
    key = ScopeKey("aevo", "aevo-desk", "BTC")
    want = ROWS["aevo"].sample(1)
    with LiveDesk(tmp_path, {key: (want, looser(want))}) as desk:
        gate = desk.gate("aevo", any_write("aevo"), before=False)
        proc = desk.spawn("apply", "--auto-approve")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        gate.release(deliver=False)
        result = proc.finish(WAIT_S)
        assert result.code == 0, result  # read back: in force despite the lost answer
        assert desk.live(key) == want


def test_sigkill_while_the_reset_is_held_leaves_the_scope_without_mmp(tmp_path: Path) -> None:
    # Documents today's behaviour, the bug issue 12 fixes: a run killed between a Bullish
    # reset and its set leaves the scope with no MMP, and the journal has its step-begin but
    # nothing after the reset. What must stay true after the fix: a re-run converges.
    desk, key, want, old = bullish_desk(tmp_path)
    with desk:
        gate = desk.gate("bullish", BULLISH_RESET)
        proc = desk.spawn("apply", "--auto-approve", *include_held(key))
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        assert desk.live(key) == old
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(WAIT_S) == -signal.SIGKILL
        gate.release()  # the reset was on its way: the venue gets it all the same
        assert gate.wait_finished(WAIT_S)
        desk.settle()
        assert desk.live(key) is None
        events = desk.journal().events(key)
        assert events[0] == "step-begin" and not {"replace-cleared", "step-end"} & set(events)
        rerun = desk.mmp("apply", "--auto-approve", *include_held(key))
        assert desk.live(key) == want, rerun


def test_sigint_reaches_python_while_a_request_is_held(tmp_path: Path) -> None:
    """The harness delivers SIGINT to mmp's own handling (not the default kill, nor ignored
    as a background job's would be); what apply then does is issue 12's business."""
    desk, key, _, _ = bullish_desk(tmp_path)
    with desk:
        gate = desk.gate("bullish", bullish_config_read, nth=2)  # apply's first read-back
        proc = desk.spawn("apply", "--auto-approve", *include_held(key))
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        if sys.platform == "linux":
            assert disposition(proc, signal.SIGINT) == "caught"
        proc.send_signal(signal.SIGINT)
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code >= 0, result  # exited by itself, not killed by the signal


def test_policy_file_declares_groups_absent_scopes_and_is_recommitted(tmp_path: Path) -> None:
    row = ROWS["deribit"]
    base = ScopeKey("deribit", "deribit-desk", "btc_usd")
    bot = ScopeKey("deribit", "deribit-desk", "btc_usd", "Bot1")
    gone = ScopeKey("deribit", "deribit-desk", "eth_usd")
    scopes = {base: (row.sample(1), None), bot: (row.sample(2), None), gone: (None, None)}
    with LiveDesk(tmp_path, scopes) as desk:
        text = desk.policy.read_text()
        assert "      btc_usd:\n        default:\n" in text and "        Bot1:\n" in text
        assert "      eth_usd:\n        default: absent\n" in text
        validated = desk.mmp("validate")
        assert validated.code == 0, validated
        first = desk.commit("nothing new")
        second = desk.declare({bot: row.sample(3)})
        assert first != second and "quantity_limit: 0.4" in desk.policy.read_text()
        desk.undeclare(gone)
        assert "eth_usd" not in desk.policy.read_text()


def test_journal_reading_keeps_a_torn_last_line_apart(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    assert JournalFile.read(path).records == []
    path.write_text('{"event": "apply-start"}\n{"event": "step-begin", "scope": "a"}\n{"ev')
    journal = JournalFile.read(path)
    assert journal.events() == ["apply-start", "step-begin"]
    assert journal.torn == '{"ev' and journal.invalid == []
    path.write_text('{"event": "a"}\n{"event": "b"{"event": "c"}\n{"event": "d"}\nnot json\n')
    journal = JournalFile.read(path)
    assert journal.events() == ["a", "d"]
    assert journal.invalid == [(2, '{"event": "b"{"event": "c"}')]
    assert journal.torn == "not json"
    assert journal.events(("x", "y", "z", None)) == []
