"""A set may end freezes beyond its own scope (Deribit: "Set config for MMP - triggers MMP
reset", of what the docs do not say), and mmp never ends one silently.

The simulator plays each reading (`set_resets`: the account, both config spaces; the index's
groups in its space; the scope set alone). mmp plans for the broadest
(Capabilities.set_reset_reach): a write is held while a scope it may reach is frozen, the plan
says which and why, nothing is sent, and the frozen scope stays frozen; `--include-held` names
the step to write it anyway, and under the broad readings the venue ends that freeze, as the
held step warned. The process tests run a real `mmp` against the simulator served on loopback.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.journal import who
from reconciler.cli import main
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.core.units import MANUAL
from reconciler.planning.plan import NO_INCLUSION, Action, Inclusion
from reconciler.planning.planner import make_plan
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES
from reconciler.venues.base import ResetReach
from reconciler.venues.deribit.simulator import SET_RESETS, DeribitSimulator
from tests.procs import ROOT, LiveDesk

ACCOUNT = "dm"
OWN = ScopeKey("deribit", ACCOUNT, "btc_usd")  # the scope the plan updates
GROUP = ScopeKey("deribit", ACCOUNT, "btc_usd", "MassQuoteBot7")  # same index, another group
OTHER_INDEX = ScopeKey("deribit", ACCOUNT, "eth_usd")
RFQ = ScopeKey("deribit", ACCOUNT, "block_rfq:btc_usd")  # the other config space
OLD = MmpConfig(1000, MANUAL, quantity_limit=Decimal(60), max_quote_quantity=Decimal(5))
NEW = OLD.with_changes(quantity_limit=Decimal(50))
KEPT = MmpConfig(1000, MANUAL, quantity_limit=Decimal(3), max_quote_quantity=Decimal(2))
# reading -> the siblings of OWN whose freeze a set on OWN ends
ENDED = {
    "account": {GROUP, OTHER_INDEX},
    "index": {GROUP},
    "scope": set(),
}


def test_the_reach_of_a_set() -> None:
    assert ResetReach.SCOPE.reaches(OWN, OWN) and not ResetReach.SCOPE.reaches(OWN, GROUP)
    assert ResetReach.INDEX.reaches(OWN, GROUP)
    assert not ResetReach.INDEX.reaches(OWN, OTHER_INDEX)
    assert not ResetReach.INDEX.reaches(OWN, RFQ)  # its index in the other space
    assert ResetReach.ACCOUNT.reaches(OWN, OTHER_INDEX) and ResetReach.ACCOUNT.reaches(OWN, RFQ)
    assert not ResetReach.ACCOUNT.reaches(OWN, ScopeKey("deribit", "other", "btc_usd"))
    assert VENUES["deribit"].capabilities.set_reset_reach is ResetReach.ACCOUNT
    others = {v for v in VENUES if v != "deribit"}
    assert {VENUES[v].capabilities.set_reset_reach for v in others} == {ResetReach.SCOPE}


# ---- the simulator's readings ----------------------------------------------------------


def _sim(reading: str) -> DeribitSimulator:
    sim = DeribitSimulator(set_resets=reading)
    sim.add_account("c", "s")
    for key in (OWN, GROUP, OTHER_INDEX):
        sim.seed("c", _params(key, OLD))
        sim.trigger("c", key.underlying, key.group)
    sim.seed("c", {**_params(RFQ, OLD), "index_name": "btc_usd", "block_rfq": True})
    sim.trigger("c", "btc_usd", block_rfq=True)
    return sim


def _params(key: ScopeKey, config: MmpConfig) -> dict[str, Any]:
    params: dict[str, Any] = {
        "index_name": key.underlying,
        "interval": config.window_ms // 1000,
        "frozen_time": 0,
        "quantity_limit": config.quantity_limit,
        "max_quote_quantity": config.max_quote_quantity,
    }
    return params | ({"mmp_group": key.group} if key.group else {})


@pytest.mark.parametrize("reading", SET_RESETS)
def test_a_seed_ends_no_other_freeze_whatever_the_reading(reading: str) -> None:
    account = _sim(reading).accounts["c"]
    assert set(account.frozen_until) == {
        ("btc_usd", None),
        ("btc_usd", "MassQuoteBot7"),
        ("eth_usd", None),
    }
    assert set(account.rfq_frozen) == {"btc_usd"}


@pytest.mark.parametrize("reading", SET_RESETS)
def test_a_set_ends_the_freezes_its_reading_reaches(reading: str) -> None:
    sim = _sim(reading)
    sim._set_mmp_config(sim.accounts["c"], _params(OWN, NEW))  # as the API takes it
    account = sim.accounts["c"]
    still = {ScopeKey("deribit", ACCOUNT, i, g) for i, g in account.frozen_until}
    assert still == {GROUP, OTHER_INDEX} - ENDED[reading]
    assert bool(account.rfq_frozen) == (reading != "account")  # both spaces: the account


# ---- the plan ------------------------------------------------------------------------------


def _plan(frozen: ScopeKey, included: Inclusion = NO_INCLUSION) -> Any:
    where = Location("desk.yaml", 1, 1)
    desired = DesiredState()
    desired.accounts[ACCOUNT] = AccountTarget(ACCOUNT, "deribit", None, None, "DM", where)
    for key, config in ((OWN, NEW), (frozen, KEPT)):
        desired.scopes[key] = DesiredScope(key, config, where)
    live = LiveAccount(
        "deribit",
        ACCOUNT,
        (LiveScope(OWN, OLD), LiveScope(frozen, KEPT, FreezeState(True, None))),
    )
    caps = {"deribit": VENUES["deribit"].capabilities}
    return make_plan(desired, [live], caps, included=included, now_ms=0)


@pytest.mark.parametrize("frozen", [GROUP, OTHER_INDEX, RFQ], ids=str)
def test_a_write_is_held_while_a_scope_its_set_may_reach_is_frozen(frozen: ScopeKey) -> None:
    step = {s.key: s for s in _plan(frozen).steps}[OWN]
    assert step.action is Action.HELD and step.held_action is Action.UPDATE
    assert step.reaches == (str(frozen),)
    assert f"{frozen} is frozen until manual reset" in step.reason
    assert "triggers an MMP reset, and deribit's docs do not say of what" in step.reason
    assert f"`mmp apply --include-held {OWN} --reason TEXT`" in step.reason


def test_include_held_writes_it_saying_what_it_may_end() -> None:
    plan = _plan(GROUP, Inclusion((str(OWN),), "checked", "me"))
    step = {s.key: s for s in plan.steps}[OWN]
    assert step.action is Action.UPDATE and step.reaches == (str(GROUP),)
    assert step.reason.startswith(f"written although it may end the freeze of {GROUP}")
    assert plan.written_although_held == (step,)
    assert step.to_data()["reaches"] == [str(GROUP)]
    assert type(step).from_data(step.to_data()) == step


# ---- real mmp processes --------------------------------------------------------------------

SIBLINGS = {"same-index": GROUP, "other-index": OTHER_INDEX}


def _set(request: Any) -> bool:
    return bool(request.url.path.endswith("/set_mmp_config"))


@pytest.mark.parametrize("sibling", sorted(SIBLINGS))
@pytest.mark.parametrize("reading", SET_RESETS)
def test_apply_never_ends_a_siblings_freeze_unless_told(
    tmp_path: Path, reading: str, sibling: str
) -> None:
    frozen = SIBLINGS[sibling]
    scopes = {OWN: (NEW, OLD), GROUP: (KEPT, KEPT), OTHER_INDEX: (KEPT, KEPT)}
    sim = DeribitSimulator(set_resets=reading)
    with LiveDesk(tmp_path, scopes, sims={"deribit": sim}) as desk:
        desk.trigger(frozen)
        plan = desk.mmp("plan")
        assert plan.code == 0, plan
        said = plan.stdout
        assert f"! held      {OWN}" in said, said
        assert f"{frozen} is frozen until manual reset, and writing this may end that" in said
        applied = desk.mmp("apply", "--auto-approve")
        assert applied.code == 0, applied  # nothing to apply: held, as a frozen scope's step
        assert desk.seen("deribit", _set) == [], "nothing is sent"
        assert desk.frozen(frozen) and desk.live(OWN) == OLD
        written = desk.mmp(
            "apply", "--auto-approve", "--include-held", str(OWN), "--reason", "checked"
        )
        assert written.code == 0, written
        assert f"written although it may end the freeze of {frozen}" in written.stdout
        assert desk.live(OWN) == NEW
        assert desk.frozen(frozen) == (frozen not in ENDED[reading])


def test_apply_holds_a_write_when_a_scope_it_may_reach_froze_after_the_plan(
    tmp_path: Path,
) -> None:
    """The check just before a write reads the account's space: a scope there that froze
    since the plan, and that the write's set may reach, holds the write (exit 3), said."""
    scopes = {OWN: (NEW, OLD), OTHER_INDEX: (NEW, OLD), GROUP: (KEPT, KEPT)}
    sim = DeribitSimulator(set_resets="scope")  # the first write ends no freeze of another
    with LiveDesk(tmp_path, scopes, sims={"deribit": sim}) as desk:
        gate = desk.gate("deribit", _set)  # the first write, btc_usd's, held at the venue
        proc = desk.spawn("apply", "--auto-approve")
        assert gate.wait_arrived(30, proc), proc.stderr_text()
        desk.trigger(GROUP)  # after apply's plan: its check of eth_usd must see it
        gate.release()
        result = proc.finish(60)
        assert result.code == 3, result
        assert f"HELD (froze since plan)        {OTHER_INDEX}" in result.stdout
        said = f"not written: {GROUP} froze after the plan was made (frozen until manual reset)"
        assert said in result.stdout, result.stdout
        assert desk.live(OWN) == NEW and desk.live(OTHER_INDEX) == OLD and desk.frozen(GROUP)


def test_include_held_says_what_it_writes_and_which_freeze_that_may_end(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Said before anything is sent, and in the plan's notes: never as a scope whose freeze
    state is unknown (the example desk: btc_usd, held for its frozen MassQuoteBot7)."""
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    own, frozen = "deribit/deribit-main/btc_usd", "deribit/deribit-main/btc_usd/MassQuoteBot7"
    argv = ["apply", "--sandbox", "--auto-approve", "--include-held", own, "--reason", "ok"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"--include-held: will write {own}, held because its write may end the freeze of "
        f"{frozen} (--include-held by {who()}: ok)"
    ]
    assert (
        "Note: written although their write may end another scope's freeze, as a person "
        f"decided: {own} (--include-held by {who()}: ok)"
    ) in out
    assert "freeze state unknown" not in out.split("\n\n")[0]
