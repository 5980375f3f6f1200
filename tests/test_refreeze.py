"""Binance tells only its last trigger time, and a freeze is read from it and the frozen
time: a write that lengthens the frozen time past now, or makes it manual, may bring a past
trigger's freeze back. Found by a red team: apply did exactly that and said "every change
applied and verified". Now the plan flags it, apply's result line says it, and what status
says next agrees with the venue. Real `mmp` processes against the strict simulator."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.venues.binance.simulator import BinanceSimulator
from tests.checked import include_held, named_in
from tests.procs import LiveDesk
from tests.venues import ROWS

KEY = ScopeKey("binance", "bn", "BTCUSDT")
OLD = MmpConfig(1_000, 10_000, quantity_limit=Decimal(5), delta_limit=Decimal(5))
LONGER = OLD.with_changes(frozen_ms=60_000)
MANUAL = OLD.with_changes(frozen_ms="manual")


def triggered_30_s_ago(sim: BinanceSimulator, *, reset: bool = False) -> str:
    """`reset`: and reset since (Binance does not report it)."""
    api = ROWS["binance"].key_prefix + KEY.account
    with sim._lock:
        config = sim.accounts[api].configs[KEY.underlying]
        config["lastTriggerTime"] = sim.clock.now_ms() - 30_000
        if reset:
            sim.accounts[api].reset.add(KEY.underlying)
    assert not sim.is_frozen(api, KEY.underlying)  # its 10 s freeze is long over
    return api


@pytest.mark.parametrize("keeps", [True, False], ids=["trigger-kept", "trigger-zeroed"])
def test_a_longer_frozen_time_that_brings_a_freeze_back_is_flagged_and_said(
    tmp_path: Path, keeps: bool
) -> None:
    sim = BinanceSimulator(reset_keeps_trigger_time=keeps)
    with LiveDesk(tmp_path, {KEY: (LONGER, OLD)}, sims={"binance": sim}) as desk:
        api = triggered_30_s_ago(sim)
        plan = desk.mmp("plan")
        assert "this write may freeze the scope again until" in plan.stdout, plan
        result = desk.mmp("apply", "--auto-approve")
        assert result.code == 0, result
        (line,) = [x for x in result.stdout.splitlines() if str(KEY) in x and "applied" in x]
        assert "this write may freeze the scope again until" in line, result
        assert sim.is_frozen(api, KEY.underlying)  # the venue's truth: frozen by our write
        status = desk.mmp("status")
        assert status.code == 2, status  # a frozen scope, told as such
        assert "yes, until" in status.stdout, status


def test_a_manual_frozen_time_after_a_trigger_is_flagged_and_then_held(tmp_path: Path) -> None:
    sim = BinanceSimulator()
    with LiveDesk(tmp_path, {KEY: (MANUAL, OLD)}, sims={"binance": sim}) as desk:
        api = triggered_30_s_ago(sim)
        plan = desk.mmp("plan")
        assert "with frozen: manual that freeze lasts until a reset" in plan.stdout, plan
        result = desk.mmp("apply", "--auto-approve")
        assert result.code == 0 and "may freeze the scope again" in result.stdout, result
        assert sim.is_frozen(api, KEY.underlying)
        status = desk.mmp("status")
        assert status.code == 3 and "unknown" in status.stdout, status  # as the plan said


def test_a_checked_scope_written_with_a_timed_freeze_is_flagged_too(tmp_path: Path) -> None:
    """Red team round 3: a manual freeze after a trigger (freeze state unknown, held), a
    person checks it and names it; the policy makes the freeze 10 minutes. By the venue's
    rule that write may bring the 30-s-old trigger's freeze back: flagged like any write."""
    old = OLD.with_changes(frozen_ms="manual")
    want = OLD.with_changes(frozen_ms=600_000)
    sim = BinanceSimulator()
    with LiveDesk(tmp_path, {KEY: (want, old)}, sims={"binance": sim}) as desk:
        triggered_30_s_ago(sim, reset=True)  # a person checked it: not frozen
        plan = desk.mmp("plan")
        named = named_in(plan.stdout, KEY)
        shown = desk.mmp("plan", *include_held(named))
        assert "this write may freeze the scope again until" in shown.stdout, shown
        # manual -> 10m shortens the freeze: a guardrail, forced
        result = desk.mmp("apply", "--auto-approve", "--force", *include_held(named))
        assert result.code == 0, result
        (line,) = [x for x in result.stdout.splitlines() if str(KEY) in x and "applied" in x]
        assert "this write may freeze the scope again until" in line, result


def test_a_saved_plan_moved_later_cannot_drop_the_flag(tmp_path: Path) -> None:
    """Red team round 3: created_at moved on (within the clock skew mmp allows) and the
    step's flag deleted: the plan is recomputed by a clock no later than now, which flags the
    write, so the edited plan is refused, nothing sent."""
    sim = BinanceSimulator()
    with LiveDesk(tmp_path, {KEY: (LONGER, OLD)}, sims={"binance": sim}) as desk:
        triggered_30_s_ago(sim)
        assert desk.mmp("plan", "--out", "plan.json").code == 0
        path = desk.repo / "plan.json"
        saved = json.loads(path.read_text())
        made = dt.datetime.fromisoformat(saved["created_at"])
        saved["created_at"] = (made + dt.timedelta(minutes=4, seconds=50)).isoformat()
        (step,) = [s for s in saved["plan"]["steps"] if s["scope"] == str(KEY)]
        assert step["refreeze"]
        step["refreeze"] = None
        path.write_text(json.dumps(saved))
        result = desk.mmp("apply", "plan.json", "--auto-approve")
        assert result.code == 1, result
        assert "refreeze" in result.stderr, result
        assert desk.live(KEY) == OLD  # nothing sent
