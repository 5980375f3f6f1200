"""The journal on a disk that is full, fills up, or turns read-only under a real `mmp apply`,
and a journal left with a line cut short; then what the next runs say and do."""

from __future__ import annotations

import json
import resource
from pathlib import Path

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues.bullish.simulator import BullishSimulator
from tests.checked import include_held
from tests.procs import BULLISH_RESET, LiveDesk, fill, small_disk
from tests.venues import ROWS

BTC = ScopeKey("bullish", "bx", "BTC")
ETH = ScopeKey("bullish", "bx", "ETH")
WANT = {BTC: ROWS["bullish"].sample(1), ETH: ROWS["bullish"].sample(2)}
WAIT_S = 30


def looser(config: MmpConfig) -> MmpConfig:
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit * 2)


OLD = {key: looser(config) for key, config in WANT.items()}
# Bullish's REST cannot tell whether a scope is frozen: a person checked both on the venue
CHECKED = include_held(BTC, ETH)


def make_desk(tmp_path: Path) -> LiveDesk:
    scopes = {key: (WANT[key], OLD[key]) for key in (BTC, ETH)}
    return LiveDesk(tmp_path, scopes, sims={"bullish": BullishSimulator(apply_delay_ms=100)})


def test_no_room_for_the_journal_refuses_before_the_first_write(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk, small_disk(tmp_path / "disk", 256) as disk:
        fill(disk)
        result = desk.mmp(
            "apply", "--auto-approve", *CHECKED, "--journal", str(disk / "journal.jsonl")
        )
        assert result.code == 1, result
        assert "cannot be written" in result.stderr and "nothing was applied" in result.stderr
        assert "--journal PATH on another disk" in result.stderr
        assert desk.live(BTC) == OLD[BTC] and desk.live(ETH) == OLD[ETH]
        assert desk.seen("bullish", BULLISH_RESET) == []


def test_a_journal_that_cannot_be_written_mid_replacement(tmp_path: Path) -> None:
    """The reset is acknowledged, then the journal can take no more (the process may grow
    no file past its size now: RLIMIT_FSIZE, so every append fails as on a broken disk):
    the replacement is finished all the same (its records go to stderr), nothing new
    starts, exit 3; the next plan names the run whose end was never journaled, and apply
    finishes the rest."""
    with make_desk(tmp_path) as desk:
        journal = tmp_path / "journal.jsonl"
        old_runs = [
            json.dumps({"event": event, "run": f"old{n}", "exit_code": 0, "ts": "2026-11-01"})
            for n in range(400)
            for event in ("apply-start", "apply-end")
        ]
        journal.write_text("\n".join(old_runs) + "\n")  # a journal with a history: larger
        # than anything the process prints, so only the journal meets the limit below
        gate = desk.gate("bullish", BULLISH_RESET, before=False)
        proc = desk.spawn("apply", "--auto-approve", *CHECKED, "--journal", str(journal))
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        size = journal.stat().st_size
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (size, size))
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 3, result
        assert desk.live(BTC) == WANT[BTC] and desk.live(ETH) == OLD[ETH]
        assert "the journal cannot be written" in result.stderr
        lost = [
            json.loads(line.removeprefix("journal: "))
            for line in result.stderr.splitlines()
            if line.startswith("journal: ")
        ]
        assert [r["event"] for r in lost if r.get("scope") == str(BTC)][:4] == [
            "write-answered",
            "replace-cleared",
            "set-sent",
            "write-answered",
        ]
        assert "not run: the journal cannot be written" in result.stdout
        plan = desk.mmp("plan", "--journal", str(journal))
        assert "was interrupted (no apply-end record)" in plan.stdout, plan
        assert "bullish/bx/BTC: its reset was sent" in plan.stdout
        assert "live now: the config that run was writing" in plan.stdout
        rerun = desk.mmp("apply", "--auto-approve", *CHECKED, "--journal", str(journal))
        assert rerun.code == 0, rerun
        assert "Recovered the scopes of unfinished run(s) apply run " in rerun.stderr
        assert desk.live(ETH) == WANT[ETH]


def test_a_line_cut_short_by_a_crash_stays_apart_from_the_next_record(tmp_path: Path) -> None:
    with make_desk(tmp_path) as desk:
        journal = desk.repo / ".mmp" / "journal.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_bytes(b'{"event":"apply-start","run":"dead"}\n{"event":"step-beg')
        result = desk.mmp("apply", "--auto-approve", *CHECKED)
        assert result.code == 0, result
        read = desk.journal()
        assert read.invalid == [(2, '{"event":"step-beg')]  # alone on its line
        assert read.records[0]["run"] == "dead"
        # the run's first record, whole on its own line: who included the held scopes, then
        # its start
        assert [r["event"] for r in read.records[1:3]] == ["include-held", "apply-start"]
        assert read.records[-1]["event"] == "apply-end" and read.torn is None
