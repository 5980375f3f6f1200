"""Freeze state unknown, shown by doing it: a real `mmp` process against the simulators served
on loopback (tests/procs.py LiveDesk), under each reading of the open question behind it.

- Bullish: where the venue tells a freeze (isActive false while frozen: not in effect, exit
  2; or a trigger snapshot on its private WebSocket), apply holds the scope: no command
  reaches the venue. Where nothing shows one (isActive stays true, the default, and no
  snapshot), plan and status say "freeze state unknown" with why, status exits 0 for it, and
  apply writes the change, flagged first in the plan: the reset ends a freeze it had.
- Binance: a manual freeze reset by `mmp unfreeze`, where mmpReset leaves lastTriggerTime as
  it was (the default), reads "freeze state unknown", never frozen forever; its held
  tightening lands with `--include-held SCOPE --reason TEXT`, journaled with who and why.
  Where the reset zeroes lastTriggerTime, the reset shows and the tightening needs no flag.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.model import MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.venues.binance.simulator import BinanceSimulator
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.bullish.simulator_push import Readings
from tests.checked import REASON, include_held, named_in
from tests.procs import LiveDesk, any_write

BTC = ScopeKey("bullish", "bx", "BTC")
OLD = MmpConfig(10_000, 5000, quantity_limit=Decimal(10), delta_limit=Decimal(1))
NEW = OLD.with_changes(quantity_limit=Decimal(8))  # a tightening: no guardrail trips
ETH = ScopeKey("binance", "bn", "ETHUSDT")
MANUAL_OLD = MmpConfig(3000, MANUAL, quantity_limit=Decimal(40), delta_limit=Decimal(15))
MANUAL_NEW = MANUAL_OLD.with_changes(quantity_limit=Decimal(30))
WHO = {"GITHUB_ACTOR": "risk-js"}


@pytest.mark.parametrize(
    ("active", "snapshots"),
    [(False, False), (True, True)],
    ids=["isActive-false", "isActive-stays-true-snapshot"],
)
def test_a_bullish_scope_the_venue_tells_frozen_is_never_reset_by_apply(
    tmp_path: Path, active: bool, snapshots: bool
) -> None:
    sim = BullishSimulator(
        apply_delay_ms=100, active_while_frozen=active, ws=Readings(snapshots=snapshots)
    )
    with LiveDesk(tmp_path, {BTC: (NEW, OLD)}, sims={"bullish": sim}, sockets=True) as desk:
        with sim._lock:
            sim.trigger(desk.credentials["bx"]["PUBLIC_KEY"], "BTC")
        plan = desk.mmp("plan", "--detailed-exitcode")
        assert plan.code == 0, plan  # held: nothing to apply
        assert "! held      bullish/bx/BTC" in plan.stdout
        assert "freeze state unknown" not in plan.stdout
        status = desk.mmp("status")
        assert status.code == 2, status
        applied = desk.mmp("apply", "--auto-approve")
        assert applied.code == 0, applied
        assert "Nothing to apply." in applied.stdout
        assert desk.seen("bullish", any_write("bullish")) == []  # no reset, no set: ever
        with sim._lock:
            assert sim.is_frozen(desk.credentials["bx"]["PUBLIC_KEY"], "BTC")
        assert desk.live(BTC) == OLD
        refused = desk.mmp("apply", "--auto-approve", *include_held(BTC))
        assert refused.code == 1, refused  # the venue reports it frozen: no flag writes it
        assert "--include-held bullish/bx/BTC: the venue reports it frozen" in refused.stderr
        assert desk.seen("bullish", any_write("bullish")) == []


def test_a_bullish_freeze_nothing_shows_is_written_flagged_first(tmp_path: Path) -> None:
    """isActive stays true while frozen and no snapshot (the defaults): nothing shows BTC's
    trigger. The change is written, never silently: the plan says first that if the scope is
    frozen the reset may end the freeze; status shows it unknown, with why, and exits 0."""
    sim = BullishSimulator(apply_delay_ms=100)
    with LiveDesk(tmp_path, {BTC: (NEW, OLD)}, sims={"bullish": sim}, sockets=True) as desk:
        with sim._lock:
            sim.trigger(desk.credentials["bx"]["PUBLIC_KEY"], "BTC")
        plan = desk.mmp("plan", "--detailed-exitcode")
        assert plan.code == 2, plan
        step = plan.stdout[plan.stdout.index("-/+ replace   bullish/bx/BTC") :].splitlines()
        assert step[2].strip().startswith("freeze state unknown (Bullish's REST read"), step
        assert "if the scope is frozen, this reset may end the freeze" in step[2]
        status = desk.mmp("status")
        assert status.code == 0, status
        assert "unknown (see below)" in status.stdout
        assert "Freeze state unknown, and why:" in status.stdout
        applied = desk.mmp("apply", "--auto-approve")
        assert applied.code == 0, applied
        assert desk.live(BTC) == NEW
        with sim._lock:  # the risk the plan named: the reset ended the freeze
            assert not sim.is_frozen(desk.credentials["bx"]["PUBLIC_KEY"], "BTC")


@pytest.mark.parametrize("keeps", [True, False], ids=["trigger-kept", "trigger-zeroed"])
def test_a_binance_manual_freeze_reset_is_unknown_and_include_held_writes_it(
    tmp_path: Path, keeps: bool
) -> None:
    sim = BinanceSimulator(reset_keeps_trigger_time=keeps)
    with LiveDesk(tmp_path, {ETH: (MANUAL_NEW, MANUAL_OLD)}, sims={"binance": sim}) as desk:
        api_key = desk.credentials["bn"]["API_KEY"]
        with sim._lock:
            sim.trigger(api_key, "ETHUSDT")
        held = desk.mmp("plan")
        assert "! held      binance/bn/ETHUSDT" in held.stdout
        assert "Binance does not report resets" in held.stdout
        unfrozen = desk.mmp(
            "unfreeze", str(ETH), "--reason", "desk flat", "--auto-approve", env=WHO
        )
        assert unfrozen.code == 0, unfrozen
        with sim._lock:
            assert not sim.is_frozen(api_key, "ETHUSDT")
        said = unfrozen.stdout + unfrozen.stderr
        assert "minimum freeze" not in said and "try again" not in said
        if not keeps:  # the reset shows in the answer: known, and applied without a flag
            assert unfrozen.stdout == "binance/bn/ETHUSDT unfrozen by github:risk-js: desk flat\n"
            assert desk.mmp("apply", "--auto-approve").code == 0
            assert desk.live(ETH) == MANUAL_NEW
            return
        assert "binance accepted the reset, but whether it ended the freeze is unknown" in said
        status = desk.mmp("status")
        assert status.code == 3, status  # never "frozen forever", never "not frozen"
        assert "binance/bn/ETHUSDT: Binance reported a trigger at" in status.stdout
        plain = desk.mmp("apply", "--auto-approve")
        assert plain.code == 0 and "Nothing to apply." in plain.stdout  # held without the flag
        assert desk.live(ETH) == MANUAL_OLD
        named = named_in(status.stdout, ETH)  # as the status told the person
        checked = desk.mmp("apply", "--auto-approve", *include_held(named), env=WHO)
        assert checked.code == 0, checked
        assert "applied                        binance/bn/ETHUSDT" in checked.stdout
        assert desk.live(ETH) == MANUAL_NEW
        records = desk.journal().records
        included = [r for r in records if r.get("event") == "include-held"]
        assert [(r["scopes"], r["by"], r["reason"]) for r in included] == [
            (["binance/bn/ETHUSDT"], "github:risk-js", REASON)
        ]
        run = included[0]["run"]
        started = [r["event"] for r in records if r.get("run") == run]
        assert started[:2] == ["include-held", "apply-start"]  # who and why, before any write
        unfreeze = [r for r in records if r.get("event") == "unfreeze-end"]
        assert unfreeze[0]["by"] == "github:risk-js" and unfreeze[0]["frozen"] is None
