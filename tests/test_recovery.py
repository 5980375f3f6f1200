"""Unfinished apply runs: found in the journal, named with their scopes' live state, put right
by the next apply. Also two applies from two checkouts (two machines), the sandbox killed
mid-apply, and one writing run at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.apply import recovery
from reconciler.apply.journal import Journal
from reconciler.apply.runlock import LockedError, RunLock
from reconciler.core.model import LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.planning.plan import Action, Plan
from reconciler.policy.desired import AccountTarget, DesiredState, Location
from tests.checked import include_held
from tests.procs import LiveDesk, any_write, child_env
from tests.venues import ROWS

ROOT = Path(__file__).resolve().parent.parent
KEY = ScopeKey("deribit", "acct", "btc_usd")
OLD = ROWS["deribit"].sample(1)
NEW = ROWS["deribit"].sample(2)
WAIT_S = 30
DESK = DesiredState(  # the account the journal's scope is on, declaring nothing
    accounts={
        "acct": AccountTarget("acct", "deribit", "testnet", None, "ACCT", Location("p", 1, 1))
    }
)


def interrupted_journal(path: Path, *events: str, policies: str | None = None) -> Journal:
    """A journal whose run began a step on KEY and got as far as `events` (of the policies
    folder `policies`, when given)."""
    journal = Journal(path, policies=policies)
    made = {} if policies is None else {"policies": policies}
    journal.write("apply-start", steps=1, pid=4242, host="runner-7", by="github:alice", **made)
    journal.write(
        "step-begin",
        scope=str(KEY),
        key=KEY.to_data(),
        action="update",
        before=OLD.to_data(),
        after=NEW.to_data(),
    )
    for event in events:
        journal.write(event, scope=str(KEY))
    return journal


def scaled(config: MmpConfig, factor: Decimal | int) -> MmpConfig:
    assert config.quantity_limit is not None
    return config.with_changes(quantity_limit=config.quantity_limit * factor)


def live(config: MmpConfig | None, frozen: bool = False) -> list[LiveAccount]:
    from reconciler.core.model import FreezeState

    scopes = () if config is None and not frozen else (LiveScope(KEY, config, FreezeState(frozen)),)
    return [LiveAccount("deribit", "acct", scopes)]


def test_a_run_without_its_end_is_found_with_its_scope_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = interrupted_journal(path, "set-sent")
    [run] = recovery.unfinished(path)
    assert run.run == journal.run_id and not run.ended
    assert run.head().startswith(f"apply run {journal.run_id} (started ")
    assert "by github:alice, pid 4242 on runner-7) was interrupted" in run.head()
    [item] = run.scopes
    assert (item.key, item.last, item.before, item.after) == (KEY, "set-sent", OLD, NEW)
    lines = recovery.describe([run], live(None), DESK)
    assert lines[1] == (
        "  deribit/acct/btc_usd: a set was sent, with no answer journaled; "
        "live now: no config: UNPROTECTED"
    )
    assert "the config that run was writing" in recovery.describe([run], live(NEW), DESK)[1]
    assert "the config it had before that run" in recovery.describe([run], live(OLD), DESK)[1]


def test_finished_runs_and_recovered_runs_are_not_reported(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    done = interrupted_journal(path, "set-sent", "write-answered")
    done.write("step-end", scope=str(KEY), outcome="applied")
    done.write("apply-end", exit_code=0)
    assert recovery.unfinished(path) == []
    cut = interrupted_journal(path, "reset-sent")
    assert [r.run for r in recovery.unfinished(path)] == [cut.run_id]
    Journal(path).write("recovered", runs=[cut.run_id])
    assert recovery.unfinished(path) == []


def test_a_run_that_ended_with_exit_4_keeps_its_unknown_scopes(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = interrupted_journal(path, "set-sent")
    journal.write("step-end", scope=str(KEY), outcome="unknown")
    journal.write("apply-end", exit_code=4)
    [run] = recovery.unfinished(path)
    assert run.ended and "ended with exit 4" in run.head()
    assert [item.last for item in run.scopes] == ["step-end"]


def test_another_folders_run_is_named_only_when_it_left_a_scope_in_flight(
    tmp_path: Path,
) -> None:
    """A heal of another policies folder that ended with exit 4 having written nothing (a
    declared scope left bare, an account not checked) has nothing to put right: it is not
    named as unfinished, nor kept by the workflows' journal compaction; one that left a
    scope in flight is."""
    path = tmp_path / "journal.jsonl"
    quiet = Journal(path, policies="other")
    quiet.kind = "heal"
    start = {"host": "runner", "by": "github:bot", "policies": "other"}
    quiet.write("apply-start", steps=0, pid=1, kind="heal", **start)
    quiet.write("apply-end", exit_code=4)
    assert recovery.elsewhere(path, "policies") == []
    assert recovery.open_run_ids(path) == set()
    cut = interrupted_journal(path, "reset-sent", policies="other")
    assert recovery.elsewhere(path, "policies") == ["other"]
    assert recovery.open_run_ids(path) == {cut.run_id}


def test_a_record_dated_ahead_waits_no_longer_than_one_sent_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal edited or forged with a write "sent" in the year 9999 neither crashes the
    reader (a date past the calendar) nor makes apply wait for it: it has no time."""
    monkeypatch.setenv("MMP_LATE_LANDING_S", "60")
    path = tmp_path / "journal.jsonl"
    journal = interrupted_journal(path)
    with path.open("a") as handle:
        record = {"ts": "9999-12-31T23:59:59.999+00:00", "run": journal.run_id}
        handle.write(json.dumps({**record, "event": "reset-sent", "scope": str(KEY)}) + "\n")
    [run] = recovery.unfinished(path)
    assert recovery.landing_until([run]) is None  # no time to wait for: nothing waits


def test_an_undeclared_scope_left_without_config_gets_its_old_config_back(
    tmp_path: Path,
) -> None:
    """The policies changed since the killed run: the scope is not declared any more, so
    no plan would touch it; the journal knows its config before that run."""
    path = tmp_path / "journal.jsonl"
    interrupted_journal(path, "replace-cleared")
    runs = recovery.unfinished(path)
    empty = Plan((), "sha256:x", accounts=("acct",))
    amended = recovery.amend(empty, runs, DESK, live(None))
    [step] = amended.steps
    assert (step.key, step.action, step.before, step.after) == (KEY, Action.CREATE, None, OLD)
    assert "left it without a config" in step.reason
    assert any("was interrupted" in note for note in amended.notes)
    frozen = recovery.amend(empty, runs, DESK, live(None, frozen=True))
    assert [s.action for s in frozen.steps] == [Action.HELD]  # never written while frozen
    assert recovery.amend(empty, runs, DESK, live(OLD)).steps == ()  # it has one
    ended = {str(KEY): "applied"}
    assert recovery.settled(runs, ended, live(None), DESK).runs == [runs[0].run]
    assert recovery.settled(runs, {}, live(None), DESK).runs == []
    assert recovery.left_unprotected(runs, live(None), DESK) == [KEY]


def test_two_checkouts_applying_at_once_the_later_write_is_skipped(tmp_path: Path) -> None:
    """A CI runner and a laptop: no shared lock. The laptop applies while the runner's
    first write is on its way; the runner's next scope has moved, so it is not written."""
    row = ROWS["deribit"]
    first, second = (ScopeKey("deribit", "dx", u, g) for u, g in row.scopes[:2])
    ours = {first: row.sample(1), second: row.sample(2)}
    old = {key: scaled(config, 2) for key, config in ours.items()}
    theirs = {key: scaled(config, Decimal("1.5")) for key, config in ours.items()}
    scopes = {key: (ours[key], old[key]) for key in (first, second)}
    with LiveDesk(tmp_path / "runner", scopes) as desk:
        laptop = tmp_path / "laptop"
        subprocess.run(["git", "clone", "-q", str(desk.repo), str(laptop)], check=True)
        text = desk.policy.read_text()
        for key in (first, second):
            text = text.replace(
                f"quantity_limit: {ours[key].quantity_limit}",
                f"quantity_limit: {theirs[key].quantity_limit}",
            )
        (laptop / "policies" / "desk.yaml").write_text(text)
        gate = desk.gate("deribit", any_write("deribit"))
        runner = desk.spawn("apply", "--auto-approve")
        assert gate.wait_arrived(WAIT_S, runner), runner.stderr_text()
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", "apply", "--auto-approve"],
            cwd=laptop,
            env=desk.env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )
        assert done.returncode == 0, done.stderr
        gate.release()
        result = runner.finish(WAIT_S)
        assert result.code in (3, 4), result
        assert f"SKIPPED (changed since plan)   {second}" in result.stdout
        assert "another run or a person changed it" in result.stdout
        assert desk.live(second) == theirs[second]  # the laptop's stands


def test_a_sandbox_killed_mid_apply_agrees_with_its_journal(tmp_path: Path) -> None:
    repo = tmp_path / "desk"
    (repo / "policies").mkdir(parents=True)
    source = ROOT / "policies" / "desk-alpha.yaml"
    (repo / "policies" / "desk-alpha.yaml").write_text(source.read_text())
    env = {**child_env(), "MMP_SANDBOX": "1"}
    # the sandbox's Bullish scopes a person checked (the one the sandbox froze stays held)
    checked = include_held("bullish/bullish-mm/BTC", "bullish/bullish-mm/SOL")
    command = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", *checked]
    proc = subprocess.Popen(
        command, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    journal = repo / ".mmp" / "journal.jsonl"
    deadline = time.monotonic() + WAIT_S
    while '"event":"replace-cleared"' not in (journal.read_text() if journal.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(WAIT_S)
    time.sleep(0.3)  # the sandbox's Bullish applies an acknowledged command 200 ms later
    plan = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert "was interrupted (no apply-end record)" in plan.stdout, plan.stdout + plan.stderr
    assert "bullish/bullish-mm/" in plan.stdout and "live now: " in plan.stdout
    records = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    scope = next(r["scope"] for r in records if r["event"] == "replace-cleared")
    mine = [r["event"] + ":" + r.get("write", "") for r in records if r.get("scope") == scope]
    line = next(x for x in plan.stdout.splitlines() if f"  {scope}: " in x)
    # the venue (the sandbox file) holds what the journal says it was sent and took: a set
    # answered is in force; a set sent with no answer journaled may or may not have reached
    # it; no set sent, no config
    writing = line.endswith("live now: the config that run was writing")
    bare = line.endswith("live now: no config: UNPROTECTED")
    if "set-sent:" not in mine:
        assert bare, line
    elif "write-answered:set" in mine:
        assert writing, line
    else:
        assert writing or bare, line
    if bare:
        first = plan.stdout.removeprefix("[sandbox: simulators, not venues] ").splitlines()[0]
        # named first (beside the Block RFQ create its account's frozen group holds)
        assert first.startswith("UNPROTECTED: ") and scope in first, plan.stdout
    rerun = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--detailed-exitcode"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    done = ("Plan: no changes", "Plan: nothing to apply")  # what is left is held
    assert final.returncode == 0 and any(said in final.stdout for said in done), final.stdout


def test_one_writing_run_at_a_time_and_a_dead_holder_is_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = pytest.raises(LockedError, match=rf"`mmp apply` pid {os.getpid()} on host ")
    with RunLock(tmp_path, "apply"), locked:
        RunLock(tmp_path, "unfreeze").__enter__()
    with RunLock(tmp_path, "apply"):  # let go cleanly: nothing said
        pass
    assert "taking the lock over" not in capsys.readouterr().err
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from reconciler.apply.runlock import RunLock; "
            f"RunLock(Path({str(tmp_path)!r}), 'apply').__enter__(); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(LockedError, match=f"pid {holder.pid}"):
        RunLock(tmp_path, "apply").__enter__()
    holder.kill()
    holder.wait()
    holder.stdout.close()
    with RunLock(tmp_path, "apply"):
        assert f"pid {holder.pid}" in capsys.readouterr().err  # named, and taken over
