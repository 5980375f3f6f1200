"""The first hour with frozen scopes, walked as a new user would on the sandbox desk (issue 14,
items 4 and 5).

`mmp unfreeze` of a scope neither the venue nor the policies have is an error naming the
closest one, and nothing is sent; typos of a venue or an account get a did-you-mean wherever
they are taken. A frozen scope is told one story per venue, in the same words by plan (the
held step), status and unfreeze: what the venue tells of the freeze, and what ends it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.journal import Journal
from reconciler.cli import main
from reconciler.commands.unfreeze import unfreeze
from reconciler.core.errors import ReconcilerError
from reconciler.core.freezes import what_to_do, why_held
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES, capabilities
from reconciler.venues.base import Capabilities, ResetMeaning
from reconciler.venues.bullish import desk as bullish_desk
from reconciler.venues.bullish.simulator import BullishSimulator
from reconciler.venues.live import Connections
from tests.figures import Figures
from tests.venues import ROWS

KNOWN = ", ".join(sorted(VENUES))  # the registered venues, as errors list them

ROOT = Path(__file__).resolve().parent.parent
# the venues whose reset ends a freeze and keeps the config: `mmp unfreeze` works there
UNFREEZING = [v for v in VENUES if VENUES[v].capabilities.reset_means is ResetMeaning.UNFREEZE]
NEVER = ("explicitly first", "minimum freeze may apply", "try again shortly")


@pytest.fixture
def desk(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    monkeypatch.setenv("GITHUB_ACTOR", "new-user")
    return in_tmp


def mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--sandbox"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    for words in NEVER:
        assert words not in out + err
    return code, out, err


def journaled(desk: Path) -> list[str]:
    path = desk / ".mmp" / "journal.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["event"] for line in lines]


def frozen_count(capsys: pytest.CaptureFixture[str]) -> int:
    """Scopes frozen, or whose freeze state the venue cannot tell (shown with them)."""
    data = json.loads(mmp(capsys, "status", "--json")[1])
    return int(data["frozen"]) + int(data["freeze_unknown"])


# ---- item 4: mmp unfreeze of a scope nobody has, and typos ---------------------------------

TYPOS = [
    (
        "a typo in the venue",
        "derbit/deribit-main/btc_usd/MassQuoteBot7",
        f"no venue `derbit` (known: {KNOWN}); did you mean `deribit`?",
    ),
    (
        "a typo in the account",
        "deribit/deribit-mian/btc_usd/MassQuoteBot7",
        "no deribit account `deribit-mian` in the policies; did you mean `deribit-main`?",
    ),
    (
        "an account of another venue",
        "deribit/binance-mm/ETHUSDT",
        "`binance-mm` is a binance account; did you mean `binance/binance-mm/ETHUSDT`?",
    ),
    (
        "another venue's name for the underlying (no such scope)",
        "deribit/deribit-main/BTC",
        "deribit/deribit-main/BTC: deribit has no MMP config and no freeze for it: nothing to "
        "unfreeze; did you mean `deribit/deribit-main/btc_usd`?",
    ),
    (
        "a typo in a Binance underlying",
        "binance/binance-mm/ETHUSD",
        "binance has no underlying `ETHUSD`; did you mean `ETHUSDT`?",
    ),
    (
        "an Aevo asset in lower case",
        "aevo/aevo-mm/btc",
        "aevo has no underlying `btc`; did you mean `BTC`?",
    ),
    (
        "a typo in a group",
        "deribit/deribit-main/btc_usd/MassQuoteBot8",
        "nothing to unfreeze; did you mean `deribit/deribit-main/btc_usd/MassQuoteBot7`?",
    ),
    (
        "a group nobody has",  # and what the account has: test_a_group_nobody_has...
        "deribit/deribit-main/btc_usd/Nope",
        "nothing to unfreeze (deribit-main has ",
    ),
    (
        "a group on a venue without groups",
        "binance/binance-mm/ETHUSDT/MassQuoteBot7",
        "binance has no groups; write binance/binance-mm/ETHUSDT",
    ),
]


@pytest.mark.parametrize(("name", "scope", "message"), TYPOS, ids=[t[0] for t in TYPOS])
def test_unfreeze_of_a_scope_nobody_has_is_an_error_naming_the_closest(
    desk: Path,
    capsys: pytest.CaptureFixture[str],
    figures: Figures,
    name: str,
    scope: str,
    message: str,
) -> None:
    code, out, err = mmp(capsys, "unfreeze", scope, "--reason", "typo", "--auto-approve")
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and message in err, err
    assert "unfreeze-begin" not in journaled(desk)  # no reset was sent
    # every frozen scope (or maybe frozen) of the example desk still is
    figures.check("status.frozen-or-unknown", frozen_count(capsys))


def test_a_group_nobody_has_names_the_scopes_the_account_has(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    scope = "deribit/deribit-main/btc_usd/Nope"
    code, _, err = mmp(capsys, "unfreeze", scope, "--reason", "typo", "--auto-approve")
    assert code == 1
    has = re.search(r"nothing to unfreeze \(deribit-main has (.*)\)$", err.rstrip("\n"))
    assert has, err
    figures.check("unfreeze.deribit-main.scopes", has[1].split(", "))


@pytest.mark.parametrize(
    "scope", ["deribit/deribit-main/btc_usd", "deribit/deribit-main/btc_usd/default"]
)
def test_a_scope_the_venue_has_and_is_not_frozen_is_left_alone(
    desk: Path, capsys: pytest.CaptureFixture[str], scope: str
) -> None:
    code, out, _ = mmp(capsys, "unfreeze", scope, "--reason", "why not", "--auto-approve")
    assert code == 0
    assert out == "deribit/deribit-main/btc_usd is not frozen; nothing was done\n"
    assert "unfreeze-begin" not in journaled(desk)


FILTERS = [
    (
        ["plan", "--account", "deribit-mian"],
        "--account deribit-mian: no such account in the policies; did you mean `deribit-main`?",
    ),
    (["plan", "--venue", "derbit"], "--venue derbit: no such venue; did you mean `deribit`?"),
    (["status", "--venue", "Binance"], "--venue Binance: no such venue; did you mean `binance`?"),
    (
        ["plan", "--shard", "venue=derbit"],
        f"--shard venue=derbit: no venue `derbit`; venues: {KNOWN}; did you mean `deribit`?",
    ),
]


@pytest.mark.parametrize(("args", "message"), FILTERS, ids=[" ".join(a) for a, _ in FILTERS])
def test_a_mistyped_filter_is_one_line_with_a_did_you_mean(
    desk: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = mmp(capsys, *args)
    assert (code, out) == (1, "")
    assert err == f"error: {message}\n"


def test_an_account_nobody_has_names_the_accounts_of_the_policies(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    code, out, err = mmp(capsys, "status", "--account", "nobody")
    assert (code, out) == (1, "")
    known = re.fullmatch(
        r"error: --account nobody: no such account in the policies \(known: (.*)\)\n", err
    )
    assert known, err
    figures.check("desk.accounts", known[1].split(", "))


def test_an_underlying_the_policies_do_not_name_gets_a_did_you_mean(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a filter may still select a scope only the venue has, so this is said, not refused
    code, _, err = mmp(capsys, "plan", "--venue", "deribit", "--underlying", "BTC")
    assert code == 0
    assert (
        "--underlying BTC: the policies name no such underlying for the selected accounts; "
        "did you mean `btc_usd`?"
    ) in err
    assert "--underlying" not in mmp(capsys, "plan", "--underlying", "btc_usd")[2]


# ---- item 5: one story per venue in plan, status and unfreeze ------------------------------


def held_todo(plan_text: str, scope: str) -> tuple[str, str]:
    """(the freeze line, what ends it) of `scope`'s held step in a text plan."""
    lines = plan_text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:3] == ["!", "held", scope])
    told = [line.strip() for line in lines[at + 1 :]]
    freeze = next(
        line
        for line in told
        if line.startswith(("frozen until ", "frozen: ", "freeze state unknown: "))
    )
    note = next(line for line in told if line.startswith("would "))
    return freeze, note.split("; ", 2)[2]


def status_todo(status_text: str, scope: str) -> str:
    lines = status_text.splitlines()
    told = lines[lines.index("What ends each freeze:") + 1 :]
    return next(line.split(": ", 1)[1] for line in told if line.startswith(f"  {scope}: "))


def told(capsys: pytest.CaptureFixture[str], scope: str) -> dict[str, Any]:
    """`mmp status --json`'s row of `scope`."""
    rows = json.loads(mmp(capsys, "status", "--json")[1])["scopes"]
    return next(row for row in rows if row["scope"] == scope)


@pytest.mark.parametrize("venue", UNFREEZING)
def test_where_reset_unfreezes_every_command_says_mmp_unfreeze_and_it_works(
    desk: Path, capsys: pytest.CaptureFixture[str], venue: str
) -> None:
    scope = ROWS[venue].sandbox_frozen
    before = frozen_count(capsys)
    why, trigger = (told(capsys, scope)[name] for name in ("freeze_unknown", "last_trigger_ms"))
    freeze, todo = held_todo(mmp(capsys, "plan")[1], scope)
    if why is not None:  # the venue cannot tell (Binance: a manual freeze's reset)
        assert freeze == f"freeze state unknown: {why}"
        unknown = FreezeState.unknown_because(why, last_trigger_ms=trigger)
        assert todo == what_to_do(ScopeKey(*scope.split("/")), capabilities()[venue], unknown)
        assert f"`mmp unfreeze {scope} --reason TEXT` ends a freeze it may have" in todo
        assert f"  {scope}: {why}; {todo}" in mmp(capsys, "status")[1]
    else:
        assert freeze == "frozen until manual reset"
        assert todo == (
            f"only a reset ends it: `mmp unfreeze {scope} --reason TEXT` "
            f"({venue}'s reset keeps the config)"
        )
        assert status_todo(mmp(capsys, "status")[1], scope) == todo
    assert told(capsys, scope)["what_to_do"] == todo
    # the command as told, TEXT filled in
    code, out, _ = mmp(capsys, "unfreeze", scope, "--reason", "reviewed", "--auto-approve")
    assert code == 0
    if told(capsys, scope)["freeze_unknown"] is None:
        assert out == f"{scope} unfrozen by github:new-user: reviewed\n"
        assert f"held      {scope}" not in mmp(capsys, "plan")[1]
        assert frozen_count(capsys) == before - 1
    else:  # reset, and its answer cannot show it: said so, and still held until checked
        assert out.startswith(f"{scope}: {venue} accepted the reset, but whether it ended")
        assert out.endswith(" (reset by github:new-user: reviewed)\n")
        assert f"held      {scope}" in mmp(capsys, "plan")[1]
        assert frozen_count(capsys) == before


def test_bullish_has_no_unfreeze_and_every_command_says_so_the_same_way(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scope = ROWS["bullish"].sandbox_frozen
    todo = "bullish has no unfreeze: its reset clears the MMP config, so wait for the freeze to end"
    # REST cannot show the freeze (isActive stays true), and no trigger was seen: unknown,
    # and the change is written, said first under the step; status says why and what to do
    why = told(capsys, scope)["freeze_unknown"]
    assert why.startswith("Bullish's REST read tells only isActive")
    plan = mmp(capsys, "plan")[1].splitlines()
    at = next(i for i, line in enumerate(plan) if line.split()[:3] == ["-/+", "replace", scope])
    said = next(line.strip() for line in plan[at + 1 :] if "freeze state unknown" in line)
    assert said == (
        f"freeze state unknown ({why}): if the scope is frozen, this reset may end the freeze "
        "(bullish does not document what a reset does to one)"
    )
    check = (
        "no trigger of it is known, so a change to it is written, flagged as a risk (a change "
        "on bullish starts with a reset, and bullish does not document what a reset does to "
        "a freeze); to be sure before applying one, check on bullish whether it is frozen "
        "(bullish's web interface, or its support)"
    )
    assert f"  {scope}: {why}; {check}" in mmp(capsys, "status")[1]
    assert told(capsys, scope)["what_to_do"] == check
    code, out, err = mmp(capsys, "unfreeze", scope, "--reason", "x", "--auto-approve")
    assert (code, out) == (1, "")
    assert err == f"error: scope `{scope}`: {todo}\n"
    assert "unfreeze-begin" not in journaled(desk)
    assert f"replace   {scope}" in mmp(capsys, "plan")[1]  # untouched, still to replace


def test_the_held_reason_says_why_it_is_held_per_venue(
    desk: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bullish where isActive goes false while frozen: its frozen scope is told, and held
    inactive = functools.partial(BullishSimulator, active_while_frozen=False)
    monkeypatch.setattr(bullish_desk, "BullishSimulator", inactive)
    plan = mmp(capsys, "plan")[1]
    assert "frozen: a set on deribit would also unfreeze it; only a reset ends it" in plan
    for venue in (v for v in VENUES if not VENUES[v].capabilities.set_unfreezes):
        because = why_held(capabilities()[venue])
        assert f"frozen: {because}; " in plan or (
            f"freeze state unknown, so held as a frozen scope is: {because}; " in plan
        )
    assert "a change on bullish starts with a reset, and bullish does not document" in plan


def timed(venue: str) -> tuple[str, str, str]:
    """(account, underlying, scope) of a declared scope with drift on a venue whose reset
    unfreezes, which the test freezes for an hour."""
    scope = ROWS[venue].sandbox_drifted
    _, account, underlying = scope.split("/")[:3]
    return account, underlying, scope


def trip_for_an_hour(venue: str) -> None:
    """Trip the scope's MMP with the longest freeze the venue allows, so no test waits on it."""
    account, underlying, _ = timed(venue)
    lengthen = ROWS[venue].lengthen_freeze
    assert lengthen is not None, f"a reset unfreezes on {venue}: its row needs lengthen_freeze"
    with Sandbox(VENUES).edit(venue) as stored:
        assert isinstance(stored, SimulatorDesk)
        sim, key = stored.sim, stored.key(account)
        lengthen(sim, key, underlying)
        sim.trigger(key, underlying)


@pytest.mark.parametrize("venue", sorted(UNFREEZING))
def test_a_timed_freeze_says_when_it_ends_and_how_to_end_it_now(
    desk: Path, capsys: pytest.CaptureFixture[str], venue: str
) -> None:
    account, _, scope = timed(venue)
    trip_for_an_hour(venue)
    freeze, todo = held_todo(mmp(capsys, "plan")[1], scope)
    # Binance tells it by the trigger time alone, and says so after the time
    until = freeze.removeprefix("frozen until ").split(" (by lastTriggerTime")[0]
    assert until.endswith("Z") and until != freeze
    assert todo == (
        f"it ends by itself at {until}, or now with `mmp unfreeze {scope} --reason TEXT` "
        f"({venue}'s reset keeps the config)"
    )
    status = mmp(capsys, "status", "--account", account)[1]
    assert f"yes, until {until} (" in status and "(in " in status
    assert status_todo(status, scope) == todo
    last = told(capsys, scope)["last_trigger"]
    code, out, _ = mmp(capsys, "unfreeze", scope, "--reason", "reviewed", "--auto-approve")
    assert code == 0
    if last is None or told(capsys, scope)["last_trigger"] is None:  # the reset shows
        assert out == f"{scope} unfrozen by github:new-user: reviewed\n"
    else:  # told only by its last trigger, still the one from before the reset
        assert out.startswith(f"{scope}: {venue} accepted the reset, but whether it ended")
        assert f"its answer still shows the trigger at {last} from before the reset" in out
        assert f"the freeze ends by itself at {until} anyway" in out


# ---- unfreeze on its own: a reset that does not take, a declared scope the venue lacks ------


@dataclass
class StuckVenue:
    """A venue that accepts every reset and still reports the scope frozen."""

    capabilities: Capabilities
    frozen: bool = True
    account: str = "acct"
    resets: int = 0

    async def read(
        self, underlyings: frozenset[str] = frozenset(), *, only: frozenset[str] | None = None
    ) -> LiveAccount:
        key = ScopeKey(self.capabilities.venue, "acct", "btc_usd")
        config = MmpConfig(1000, 30_000, quantity_limit=None)
        scope = LiveScope(key, config, FreezeState(self.frozen, 1_900_000_000_000))
        return LiveAccount(self.capabilities.venue, "acct", (scope,))

    async def reset(self, key: ScopeKey) -> None:
        self.resets += 1


def unfreeze_on(venue: StuckVenue, key: ScopeKey, *declared: ScopeKey) -> str:
    connections = Connections(clients={"acct": venue})  # type: ignore[dict-item]
    return asyncio.run(unfreeze(key, "reviewed", connections, Journal(None), declared))


def test_a_reset_deribit_accepts_while_still_frozen_names_its_documented_minimum() -> None:
    venue = StuckVenue(capabilities()["deribit"])
    with pytest.raises(ReconcilerError) as caught:
        unfreeze_on(venue, ScopeKey("deribit", "acct", "btc_usd"))
    assert venue.resets == 1
    assert str(caught.value) == (
        "deribit/acct/btc_usd: deribit accepted the reset and still reports the scope frozen "
        "(until 2030-03-17T17:46:40Z); deribit keeps a scope frozen for at least 1s after a "
        "trigger, whatever the reset: run this mmp unfreeze again in a moment"
    )


# where a reset unfreezes and the venue documents no minimum freeze
@pytest.mark.parametrize(
    "name", [v for v in UNFREEZING if VENUES[v].capabilities.minimum_freeze_ms is None]
)
def test_elsewhere_no_minimum_freeze_is_claimed(name: str) -> None:
    venue = StuckVenue(capabilities()[name])
    with pytest.raises(ReconcilerError) as caught:
        unfreeze_on(venue, ScopeKey(name, "acct", "btc_usd"))
    said = str(caught.value)
    assert f"{name} accepted the reset and still reports the scope frozen" in said
    assert f"{name} documents no minimum freeze, so mmp knows no reason" in said
    assert "at least" not in said


def test_a_declared_scope_the_venue_has_nothing_for_says_so() -> None:
    venue = StuckVenue(capabilities()["deribit"])
    key = ScopeKey("deribit", "acct", "eth_usd")
    with pytest.raises(ReconcilerError) as caught:
        unfreeze_on(venue, key, key)
    assert str(caught.value) == (
        "deribit/acct/eth_usd: deribit has no MMP config and no freeze for it: nothing to "
        "unfreeze (the policies declare it; `mmp status` shows it unprotected or `absent`)"
    )
    assert venue.resets == 0


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("BTC", "btc_usd"),  # another venue's name: the one it starts
        ("Binance", "binance"),  # case
        ("deribit_main", "deribit-main"),  # `-` for `_`
        ("deribit-mian", "deribit-main"),  # letters swapped
        ("zzz", None),  # nothing close: no guess
    ],
)
def test_the_closest_name(typed: str, meant: str | None) -> None:
    from reconciler.core.suggest import closest

    known = ["binance", "btc_usd", "deribit-main", "eth_usd"]
    assert closest(typed, known) == meant
