"""Freeze state unknown is said, never guessed (issue 16, must-show 2), under every reading of
the two open questions behind it: whether Bullish's REST `isActive` stays true while a scope
is frozen (`active_while_frozen`), and whether Binance's mmpReset leaves `lastTriggerTime` as
it was (`reset_keeps_trigger_time`). Each default is the reading less convenient to us.

Walked on the sandbox desk, whose Bullish ETH and Binance ETHUSDT the simulators froze: plan
and status say "freeze state unknown" with why (or frozen, where the reading lets the venue
tell). Two kinds of unknown (FreezeState.trigger_unresolved): where the venue recorded a
trigger and does not tell its end (Binance), the write is held, and `--include-held SCOPE
--reason TEXT` writes a scope a person checked, journaled with who and why; where nothing
shows a trigger (Bullish over REST), the write goes ahead, never silently: the step says
what the write may do to a freeze, in text, JSON and Markdown. A saved plan runs only with
the inclusion it was made with, and its fingerprint moves with a freeze state.
"""

from __future__ import annotations

import functools
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.core.model import (
    NOT_FROZEN,
    FreezeState,
    LiveAccount,
    LiveScope,
    MmpConfig,
    ScopeKey,
    scope_digest,
)
from reconciler.core.units import utc_ms_text
from reconciler.planning.plan import NO_INCLUSION, Inclusion
from reconciler.planning.planner import Filters, make_plan
from reconciler.planning.render.json_out import render as render_json
from reconciler.planning.render.markdown import document
from reconciler.planning.render.rows import row
from reconciler.planning.render.text import render as render_text
from reconciler.policy.desired import DesiredScope, DesiredState, Location
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES, capabilities
from reconciler.venues.binance import desk as binance_desk
from reconciler.venues.binance.simulator import BinanceSimulator
from reconciler.venues.bullish import desk as bullish_desk
from reconciler.venues.bullish import wire as bullish_wire
from reconciler.venues.bullish.simulator import BullishSimulator
from tests.checked import REASON, include_held

ROOT = Path(__file__).resolve().parent.parent
BX_BTC, BX_ETH = "bullish/bullish-mm/BTC", "bullish/bullish-mm/ETH"
BN_ETH, BN_BTC = "binance/binance-mm/ETHUSDT", "binance/binance-mm/BTCUSDT"
HERE = Location("p.yaml", 1, 1)
# in process (the sandbox's simulators answer here): apply's read-back polls and pacing
# pass at once on the virtual clock, which the simulators count by too (tests/clock.py)
pytestmark = pytest.mark.usefixtures("virtual_time")


@pytest.fixture
def desk(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    monkeypatch.setenv("GITHUB_ACTOR", "risk-js")
    return in_tmp


def readings(monkeypatch: pytest.MonkeyPatch, *, active: bool = True, keeps: bool = True) -> None:
    """The sandbox's simulators under these readings (the defaults: True, True)."""
    made = functools.partial(BullishSimulator, active_while_frozen=active)
    monkeypatch.setattr(bullish_desk, "BullishSimulator", made)
    kept = functools.partial(BinanceSimulator, reset_keeps_trigger_time=keeps)
    monkeypatch.setattr(binance_desk, "BinanceSimulator", kept)


def mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--sandbox"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def journal(desk: Path) -> list[dict[str, Any]]:
    path = desk / ".mmp" / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def truth(venue: str, account: str, underlying: str) -> tuple[bool, dict[str, Any]]:
    """(whether the venue's simulator has the scope frozen, its stored config)."""
    with Sandbox(VENUES).edit(venue) as stored:
        assert isinstance(stored, SimulatorDesk)
        key = stored.key(account)
        frozen = bool(stored.sim.is_frozen(key, underlying))
        return frozen, dict(stored.sim.accounts[key].configs[underlying])


def checked(scope: str) -> str:
    """SCOPE@TRIGGER: a Binance scope named with the trigger its simulator recorded (a person
    names the trigger they checked, as the plan shows it)."""
    venue, account, underlying = scope.split("/")
    if venue != "binance":
        return scope
    return f"{scope}@{utc_ms_text(int(truth(venue, account, underlying)[1]['lastTriggerTime']))}"


# ---- the model ------------------------------------------------------------------------------


def test_frozen_not_frozen_and_unknown_are_three_states_each_with_its_own_digest() -> None:
    key = ScopeKey("binance", "mm", "ETHUSDT")
    config = MmpConfig(3000, 60_000, quantity_limit=Decimal(40), delta_limit=Decimal(15))
    states = [
        FreezeState(False),
        FreezeState(True),
        FreezeState(True, 1_900_000_000_000),  # until: left out, it moves with the clock
        FreezeState.unknown_because("the venue cannot tell"),
        FreezeState.unknown_because("the venue cannot tell", last_trigger_ms=1),
        FreezeState.unknown_because("the venue cannot tell", last_trigger_ms=2),
    ]
    digests = [scope_digest(LiveScope(key, config, state)) for state in states]
    assert digests[1] == digests[2]
    assert len(set(digests)) == 5  # a new trigger, or known/unknown, moves the fingerprint
    unknown = states[4]
    assert not unknown.frozen and unknown.may_be_frozen and not unknown.known
    assert unknown.to_data() == {
        "frozen": None,  # never a guess in the JSON either
        "until_ms": None,
        "last_trigger_ms": 1,
        "unknown": "the venue cannot tell",
    }
    assert FreezeState.from_data(unknown.to_data()) == unknown
    with pytest.raises(ValueError, match="frozen or unknown, not both"):
        FreezeState(True, unknown="why")
    with pytest.raises(ValueError, match="says why"):
        FreezeState.unknown_because("")


def test_bullish_rest_tells_what_it_can_and_the_websocket_makes_it_known() -> None:
    told = FreezeState(True, 1_900_000_000_000, last_trigger_ms=1_899_999_990_000)
    calm = FreezeState(False)
    unknown = bullish_wire.freeze_state(True)
    assert unknown.unknown.startswith("Bullish's REST read tells only isActive")
    assert bullish_wire.freeze_state(False) == FreezeState(True, None, bullish_wire.NOT_IN_EFFECT)
    assert bullish_wire.freeze_state(True, told) == told  # a trigger event: known, with until
    assert bullish_wire.freeze_state(False, told) == told
    assert bullish_wire.freeze_state(True, calm) == calm  # the socket told it is not frozen
    assert bullish_wire.freeze_state(False, calm).frozen  # not in effect: held all the same


@pytest.mark.parametrize("active", [True, False], ids=["isActive-stays-true", "isActive-false"])
def test_the_bullish_simulator_reads_is_active_either_way(active: bool) -> None:
    sim = BullishSimulator(apply_delay_ms=0, active_while_frozen=active)
    sim.add_account("key", "pw")
    account_id = sim.accounts["key"].trading_account_id
    command = {
        "commandType": "V1SetMMP",
        "tradingAccountId": account_id,
        "underlyingAssetSymbol": "BTC",
        "windowTimeInSeconds": "10",
        "frozenTimeInSeconds": "5",
        "quantityLimit": "1",
    }
    sim.seed("key", command)
    sim.trigger("key", "BTC")
    assert sim.is_frozen("key", "BTC")
    shown = sim._get(sim.accounts["key"], {"tradingAccountId": account_id})
    assert shown["mmpConfigurations"][0]["isActive"] is active
    assert BullishSimulator().active_while_frozen  # the default: REST cannot show a freeze


# ---- Bullish: a frozen scope is never reset silently, under either reading -----------------


def test_a_bullish_scope_the_venue_reports_frozen_is_held_and_never_reset_by_apply(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    readings(monkeypatch, active=False)  # isActive false while frozen: the venue tells it
    code, plan, _ = mmp(capsys, "plan")
    assert code == 0
    at = plan.index(f"! held      {BX_ETH}")
    assert "frozen: not in effect" in plan[at : plan.index("would replace", at)]
    code, status, _ = mmp(capsys, "status", "--venue", "bullish")
    assert code == 2 and "yes: not in effect" in status
    before = truth("bullish", "bullish-mm", "ETH")
    assert before[0]  # the venue has it frozen
    code, applied, _ = mmp(capsys, "apply", "--auto-approve")
    assert code == 0 and BX_ETH not in applied.split("Apply:")[-1]
    assert truth("bullish", "bullish-mm", "ETH") == before  # not reset, not set: still frozen
    assert not any(r.get("scope") == BX_ETH for r in journal(desk))


UNKNOWN_REPLACE = "freeze state unknown (Bullish's REST read tells only isActive"  # ... why, then:
MAY_END = "if the scope is frozen, this reset may end the freeze"


def test_a_bullish_scope_rest_cannot_tell_is_written_flagged_never_silently(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """isActive stays true while frozen (the default), and the sandbox has no push channel:
    nothing shows ETH's trigger. Its change is written, and every output says first that if
    it is frozen the reset may end the freeze; status shows it unknown with why and exits 0
    for it. The risk is real: the simulator had ETH frozen, and the reset ended that."""
    readings(monkeypatch, active=True)
    code, plan, _ = mmp(capsys, "plan", "--detailed-exitcode")
    assert code == 2
    at = plan.index(f"-/+ replace   {BX_ETH}")
    notes = plan[at:].split("\n")[2:4]
    assert notes[0].strip().startswith(UNKNOWN_REPLACE) and MAY_END in notes[0], notes
    assert notes[1].strip() == "the scope is without MMP between the reset and the set"
    markdown = mmp(capsys, "plan", "--format", "markdown")[1]
    assert "- **Freeze state unknown**: 4 scope(s) are on venues that cannot tell" in markdown
    assert "3 written with no trigger seen: if frozen, the write may end the freeze" in markdown
    code, status, _ = mmp(capsys, "status", "--venue", "bullish")
    assert code == 0, status  # unknown with no trigger seen: shown, not an exit code
    assert "unknown (see below)" in status and "Freeze state unknown, and why:" in status
    assert f"{BX_ETH}: Bullish's REST read tells only isActive" in status
    assert "Exit 3" not in status
    assert truth("bullish", "bullish-mm", "ETH")[0]
    code, applied, err = mmp(capsys, "apply", "--auto-approve")
    assert code == 0, applied + err
    (line,) = [x for x in applied.splitlines() if f"applied                        {BX_ETH}" in x]
    assert UNKNOWN_REPLACE in line and MAY_END in line, line  # said where it happened too
    assert "--include-held" not in err  # nothing held for a person: none named
    frozen, stored = truth("bullish", "bullish-mm", "ETH")
    assert stored["quantityLimit"] == "120" and not frozen  # the flagged risk, as said


def test_include_held_writes_the_checked_scope_only_journaled_with_who_and_why(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Binance ETHUSDT: a manual freeze with a recorded trigger whose end Binance does not
    tell. Held by a plain apply; written once a person names it. A Bullish scope named with
    it (its freeze state unknown with no trigger seen: written anyway) is accepted and
    journaled as given."""
    code, out, err = mmp(capsys, "apply", "--auto-approve")
    assert code == 0, out + err
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "40"  # held
    assert not any(r["event"] == "include-held" for r in journal(desk))
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(checked(BN_ETH), BX_BTC))
    assert code == 0, out + err
    assert "--include-held: will write 1 held scope(s) whose freeze state is unknown" in err
    assert f"as checked by a person: {BN_ETH} (" in err
    assert f"; named too, not held (written anyway): {BX_BTC}" in err
    assert f"applied                        {BN_ETH}" in out
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "30"
    record = next(r for r in journal(desk) if r["event"] == "include-held")
    assert record["scopes"] == [BN_ETH, BX_BTC] and record["reason"] == REASON
    assert record["by"] == record["planned_by"] == "github:risk-js"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--include-held", BX_BTC], "--include-held needs --reason TEXT"),
        (["--reason", "checked"], "--reason says why the held scopes --include-held names"),
        (
            include_held("bullish/bullish-mm/BTX"),
            "--include-held bullish/bullish-mm/BTX: not a scope of this plan; did you mean "
            f"`{BX_BTC}`?",
        ),
        (
            include_held("aevo/aevo-mm/BTC"),
            "--include-held aevo/aevo-mm/BTC: the venue reports it frozen",
        ),
    ],
    ids=["no reason", "reason alone", "a typo", "frozen"],
)
def test_an_include_held_that_includes_nothing_sends_nothing(
    desk: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    for command in (["plan"], ["apply", "--auto-approve"]):
        code, out, err = mmp(capsys, *command, *args)
        assert (code, out) == (1, ""), err
        assert said in err
    assert [r for r in journal(desk) if r["event"] != "apply-start"] == []
    assert truth("bullish", "bullish-mm", "BTC")[1]["quantityLimit"] == "10"


# ---- Binance: a manual freeze whose reset the venue may not report --------------------------


@pytest.mark.parametrize("keeps", [True, False], ids=["trigger-kept", "trigger-zeroed"])
def test_a_binance_manual_freeze_reset_reads_unknown_never_frozen_forever(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, keeps: bool
) -> None:
    readings(monkeypatch, keeps=keeps)
    code, plan, _ = mmp(capsys, "plan")
    assert f"! held      {BN_ETH}" in plan and "Binance does not report resets" in plan
    code, out, err = mmp(capsys, "unfreeze", BN_ETH, "--reason", "desk flat", "--auto-approve")
    assert code == 0, err
    assert not truth("binance", "binance-mm", "ETHUSDT")[0]  # the venue's truth: unfrozen
    end = [r for r in journal(desk) if r["event"] == "unfreeze-end"][-1]
    assert end["by"] == "github:risk-js" and end["reason"] == "desk flat"
    if not keeps:  # the reset shows: known, and the held change goes out with the next apply
        assert out == f"{BN_ETH} unfrozen by github:risk-js: desk flat\n"
        assert end["frozen"] is False
        assert f"held      {BN_ETH}" not in mmp(capsys, "plan")[1]
        return
    # the answer is as before the reset: said, never "unfrozen" nor "a minimum freeze"
    assert "binance accepted the reset, but whether it ended the freeze is unknown" in out
    assert "minimum freeze" not in out + err and "try again" not in out + err
    assert end["frozen"] is None and "does not report resets" in end["unknown"]
    code, status, _ = mmp(capsys, "status", "--venue", "binance", "--underlying", "ETHUSDT")
    assert code == 3 and "unknown (see below)" in status
    assert f"held      {BN_ETH}" in mmp(capsys, "plan")[1]  # held until a person checks it
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(checked(BN_ETH)))
    assert code == 0, out + err
    assert f"applied                        {BN_ETH}" in out
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "30"
    record = next(r for r in journal(desk) if r["event"] == "include-held")
    assert (record["scopes"], record["by"], record["reason"]) == (
        [BN_ETH],
        "github:risk-js",
        REASON,
    )


@pytest.mark.parametrize("keeps", [True, False], ids=["trigger-kept", "trigger-zeroed"])
def test_unfreeze_of_a_timed_binance_freeze_never_claims_what_it_cannot_see(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, keeps: bool
) -> None:
    readings(monkeypatch, keeps=keeps)
    mmp(capsys, "plan")  # seeds the sandbox
    with Sandbox(VENUES).edit("binance") as stored:
        assert isinstance(stored, SimulatorDesk)
        stored.sim.trigger(stored.key("binance-mm"), "BTCUSDT")  # frozen for 5 minutes
    assert f"held      {BN_BTC}" in mmp(capsys, "plan")[1]
    code, out, err = mmp(capsys, "unfreeze", BN_BTC, "--reason", "reviewed", "--auto-approve")
    assert code == 0, err
    if keeps:
        assert "binance accepted the reset, but whether it ended the freeze is unknown" in out
        assert "its answer still shows the trigger at" in out and "ends by itself at" in out
    else:
        assert out == f"{BN_BTC} unfrozen by github:risk-js: reviewed\n"
    assert "minimum freeze" not in out + err


# ---- a saved plan: the inclusion is part of what is approved --------------------------------


def test_a_saved_plan_runs_with_the_inclusion_it_was_made_with_and_no_other(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mmp(capsys, "plan", "--out", "plan.json", *include_held(BX_BTC))[0] == 0
    saved = json.loads((desk / "plan.json").read_text())["plan"]
    assert saved["include_held"] == {"scopes": [BX_BTC], "reason": REASON, "by": "github:risk-js"}
    for other in (include_held("bullish/bullish-mm/SOL"), include_held(BX_BTC, BX_ETH)):
        code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", *other)
        assert (code, out) == (1, "")
        assert "a saved plan runs as it was planned and approved" in err
        assert f"the held scopes it writes are {BX_BTC}" in err
    code, _, err = mmp(
        capsys,
        "apply",
        "plan.json",
        "--auto-approve",
        *include_held(BX_BTC)[:2],
        "--reason",
        "other",
    )
    assert code == 1 and "with another --reason" in err
    assert truth("bullish", "bullish-mm", "BTC")[1]["quantityLimit"] == "10"  # nothing sent
    code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", "--include-held", BX_BTC)
    assert code == 0, out + err  # repeating the scope is the same plan; its reason is the plan's
    assert truth("bullish", "bullish-mm", "BTC")[1]["quantityLimit"] == "8"
    record = next(r for r in journal(desk) if r["event"] == "include-held")
    assert record["planned_by"] == "github:risk-js" and record["reason"] == REASON


def test_a_saved_plans_inclusion_is_written_only_when_the_command_names_it_too(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan file is text anybody with the artifact can edit (red team: another plan's
    include_held pasted in, steps to match): what it says a person checked is taken only
    when the person running apply says it as well. Without --include-held, nothing is sent."""
    assert mmp(capsys, "apply", "--auto-approve")[0] == 0  # all but the held Binance ETHUSDT
    assert mmp(capsys, "plan", "--out", "plan.json", *include_held(checked(BN_ETH)))[0] == 0
    for words in ([], ["--reason", REASON]):
        code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", *words)
        assert (code, out) == (1, ""), err
        assert f"the saved plan writes held scope(s) whose freeze state is unknown: {BN_ETH}" in err
        assert f"add --include-held {BN_ETH} once you have checked them on the venue" in err
        assert "Nothing was sent" in err
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "40"  # still held
    assert not any(r["event"] in ("include-held", "set-sent") for r in journal(desk)[-3:])
    code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", "--include-held", BN_ETH)
    assert code == 0, out + err
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "30"
    record = next(r for r in journal(desk) if r["event"] == "include-held")
    assert record["scopes"] == [BN_ETH] and record["reason"] == REASON


def test_a_plan_saved_without_inclusion_refuses_one_added_at_apply(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mmp(capsys, "plan", "--out", "plan.json")[0] == 0
    code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", *include_held(BX_BTC))
    assert (code, out) == (1, "")
    assert "the held scopes it writes are none, while --include-held names " + BX_BTC in err


@pytest.mark.parametrize("venue", ["binance", "bullish"])
def test_a_saved_plans_fingerprint_moves_with_a_freeze_state(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, venue: str
) -> None:
    """Planned with a scope included after a person checked it; then the venue tells a
    freeze (Binance: a new trigger; Bullish under the isActive-false reading: not in effect):
    the approved plan is refused, nothing sent."""
    readings(monkeypatch, active=False)
    scope = BN_ETH if venue == "binance" else BX_BTC
    assert mmp(capsys, "plan", "--out", "plan.json", *include_held(checked(scope)))[0] == 0
    underlying = scope.split("/")[2]
    with Sandbox(VENUES).edit(venue) as stored:
        assert isinstance(stored, SimulatorDesk)
        key = stored.key(f"{venue}-mm")
        stored.sim.trigger(key, underlying)
        if venue == "binance":  # a trigger a second after the one the plan saw
            config = stored.sim.accounts[key].configs[underlying]
            config["lastTriggerTime"] = int(config["lastTriggerTime"]) + 1000
    before = truth(venue, f"{venue}-mm", underlying)[1]
    code, out, err = mmp(capsys, "apply", "plan.json", "--auto-approve", *include_held(scope))
    assert code == 1, out + err
    assert "live state moved since the plan was made; nothing was applied" in err
    assert f"Changed scopes: {scope}." in err
    assert truth(venue, f"{venue}-mm", underlying)[1] == before


# ---- never a silent write: a property over venues, actions and inclusions -------------------

UNDERLYINGS = ("BTC", "ETH", "SOL")
CONFIGS = (
    None,
    MmpConfig(3000, 60_000, quantity_limit=Decimal(40), delta_limit=Decimal(15)),
    MmpConfig(3000, 60_000, quantity_limit=Decimal(30), delta_limit=Decimal(15)),
)
# per underlying: (declared config or None for absent or not declared, live config, freeze)
FREEZES = (
    NOT_FROZEN,
    FreezeState.unknown_because("no trigger event seen"),
    FreezeState.unknown_because("a trigger whose end is not told", last_trigger_ms=1_000),
)
scope_cases = st.tuples(
    st.sampled_from(["declared", "absent", "undeclared"]),
    st.sampled_from(CONFIGS),
    st.sampled_from(CONFIGS),
    st.sampled_from(FREEZES),
    st.booleans(),  # named by --include-held
)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(VENUES)), st.lists(scope_cases, min_size=1, max_size=3))
def test_an_unknown_freeze_state_never_yields_a_silent_write(
    venue: str, cases: list[tuple[str, MmpConfig | None, MmpConfig | None, FreezeState, bool]]
) -> None:
    """Every write to a scope whose freeze state is unknown with no trigger seen says so first
    in the text notes, in its JSON step and in the Markdown risk flags; a scope with a trigger
    whose end the venue does not tell is written only when --include-held names it."""
    declared: dict[ScopeKey, DesiredScope] = {}
    absent: dict[tuple[str, str], Location] = {}
    live: list[LiveScope] = []
    named: list[str] = []
    for underlying, (kind, want, have, freeze, include) in zip(UNDERLYINGS, cases, strict=False):
        key = ScopeKey(venue, "mm", underlying)
        if kind == "declared":
            declared[key] = DesiredScope(key, want, HERE)
        elif kind == "absent":
            absent[("mm", underlying)] = HERE
        if have is not None or freeze is not NOT_FROZEN:
            live.append(LiveScope(key, have, freeze))
        if include and freeze is not NOT_FROZEN:
            named.append(str(key))
    included = Inclusion(tuple(sorted(named)), REASON, "test") if named else NO_INCLUSION
    state = DesiredState(scopes=declared, absent_underlyings=absent)
    plan = make_plan(
        state, [LiveAccount(venue, "mm", tuple(live))], capabilities(), Filters(), included
    )
    text = render_text(plan)
    data = {s["scope"]: s for s in json.loads(render_json(plan))["steps"]}
    markdown = document(plan)
    flag = next((line for line in markdown.splitlines() if "**Freeze state unknown**" in line), "")
    for step in plan.steps:
        scope = str(step.key)
        if step.freeze.trigger_unresolved and step.changes:
            assert step.action.writes is (scope in named), step
        if not (step.action.writes and step.freeze.unknown):
            continue
        assert f"`{scope}`" in flag, markdown
        if step.freeze.trigger_unresolved:
            assert "written although its freeze state is unknown: --include-held" in step.reason
            continue
        said = f"freeze state unknown ({step.freeze.unknown}): if the scope is frozen, this "
        assert step.reason.startswith(said), step
        assert row(step).notes[0] == step.reason  # the first thing said under the step
        assert step.reason in text
        assert data[scope]["reason"] == step.reason and data[scope]["freeze"]["frozen"] is None
        assert step in plan.written_unknown


def test_include_held_is_tied_to_the_trigger_the_person_checked(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Red team: a person checked Binance ETHUSDT (not frozen), a new trigger froze it, and
    `apply --include-held` wrote over the fresh freeze. The trigger checked is named with the
    scope, as the plan shows it; another one since refuses the run, nothing sent."""
    plan = mmp(capsys, "plan")[1]
    seen = checked(BN_ETH)
    assert f"--include-held {seen} --reason TEXT" in plan  # what to run, as shown
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(BN_ETH))
    assert (code, out) == (1, "")
    assert f"name the trigger you checked: --include-held {seen}," in err
    with Sandbox(VENUES).edit("binance") as stored:  # MMP triggers again, a second later
        assert isinstance(stored, SimulatorDesk)
        config = stored.sim.accounts[stored.key("binance-mm")].configs["ETHUSDT"]
        config["lastTriggerTime"] = int(config["lastTriggerTime"]) + 1000
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(seen))
    assert (code, out) == (1, ""), out
    assert f"--include-held {seen}: the venue's last trigger is at {checked(BN_ETH)[-24:]}" in err
    assert "not the one checked; check the scope on the venue again" in err
    assert truth("binance", "binance-mm", "ETHUSDT")[1]["qtyLimit"] == "40"  # nothing sent
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(checked(BN_ETH)))
    assert code == 0, out + err  # the new trigger, checked and named
    record = next(r for r in journal(desk) if r["event"] == "include-held")
    assert record["triggers"] == {
        BN_ETH: int(truth("binance", "binance-mm", "ETHUSDT")[1]["lastTriggerTime"])
    }


def test_include_held_refuses_a_trigger_time_it_cannot_read(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = mmp(capsys, "apply", "--auto-approve", *include_held(f"{BN_ETH}@yesterday"))
    assert (code, out) == (1, "")
    assert "'yesterday' is not a time; after the @ give the trigger time the plan shows" in err
