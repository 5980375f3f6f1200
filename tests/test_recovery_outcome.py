"""A write an asynchronous venue acknowledged may still land after its run died, unless the
venue already pushed how it ended (Bullish `mmpRequest`): that word is final, so the next
run need not wait for a landing that cannot come."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import recovery
from reconciler.apply.journal import Journal

SCOPE = "bullish/bx/BTC"


@pytest.fixture(autouse=True)
def window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_LATE_LANDING_S", "60")


CONFIG = {"interval_ms": 3000, "frozen_ms": 60000, "quantity_limit": "8"}


def killed_run(path: Path, *tail: tuple[str, dict[str, object]]) -> list[recovery.Unfinished]:
    """A run killed after a set Bullish acknowledged (queued), then the records `tail`."""
    journal = Journal(path)
    journal.write("apply-start", by="test", host="here", pid=1)
    journal.write("step-begin", scope=SCOPE, action="update", before=CONFIG, after=CONFIG)
    journal.write("set-sent", scope=SCOPE)
    journal.write("write-answered", scope=SCOPE, result="acknowledged")
    for event, fields in tail:
        journal.write(event, scope=SCOPE, **fields)
    journal.close()
    return recovery.unfinished(path)


def test_an_acknowledged_set_may_still_land_after_a_kill(tmp_path: Path) -> None:
    (run,) = killed_run(tmp_path / "j.jsonl")
    (item,) = run.scopes
    assert item.pending == "set" and item.may_still_land()
    assert recovery.landing_until([run]) is not None


@pytest.mark.parametrize("applied", [True, False])
def test_a_pushed_outcome_ends_the_wait_for_a_landing(tmp_path: Path, applied: bool) -> None:
    outcome = ("write-outcome", {"applied": applied, "said": "venue's word"})
    (run,) = killed_run(tmp_path / "j.jsonl", outcome)
    (item,) = run.scopes
    assert item.pending == "" and not item.may_still_land()
    assert recovery.landing_until([run]) is None
    assert item.doing == "the venue pushed how its write ended; it was not verified"


def test_a_later_write_after_the_outcome_may_still_land(tmp_path: Path) -> None:
    """A replacement: the reset's outcome pushed, then its set sent and the run killed."""
    outcome = ("write-outcome", {"applied": True, "said": "in force"})
    (run,) = killed_run(tmp_path / "j.jsonl", outcome, ("set-sent", {}))
    (item,) = run.scopes
    assert item.pending == "set" and item.may_still_land()
