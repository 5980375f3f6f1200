"""`mmp status`: every scope, configured or not, frozen or not and until when; a declared
scope with no config live is unprotected (named first, exit 4); exit 2 when any is frozen,
3 when a venue cannot tell whether one is (said with why); --json for machines."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.commands.status import StatusRow, exit_code, relative, rows, table
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, MmpConfig, ScopeKey
from reconciler.policy.desired import DesiredScope, DesiredState, Location
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES
from tests.checked import named_in
from tests.figures import Figures

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    return in_tmp


def test_the_table_names_unprotected_scopes_first_and_shows_every_scope(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    main(["status", "--sandbox"])
    out = capsys.readouterr().out.splitlines()
    unprotected = re.fullmatch(
        r"UNPROTECTED: (\d+) declared scope\(s\) have no MMP config live: (.*)", out[0]
    )
    assert unprotected, out[0]
    named = unprotected[2].split(", ")
    assert int(unprotected[1]) == len(named)
    figures.check("status.unprotected", named)
    assert out[1].split()[:2] == ["scope", "in"]
    told = out.index("What ends each freeze:")
    lines = {line.split()[0]: line for line in out[2:told]}
    figures.check("status.summary", out[-1])
    assert len(lines) == int(out[-1].split()[0])  # "N scope(s): ...": one row each
    assert "yes, until manual reset" in lines["deribit/deribit-main/btc_usd/MassQuoteBot7"]
    assert "yes, until manual reset" in lines["aevo/aevo-mm/BTC"]
    # Bullish's REST cannot show a freeze; Binance does not report a manual freeze's reset
    assert "unknown (see below)" in lines["bullish/bullish-mm/ETH"]
    binance = lines["binance/binance-mm/ETHUSDT"]
    assert "unknown (see below)" in binance and " ago)" in binance  # last trigger
    unset = lines["binance/binance-mm/BNBUSDT"].split()
    assert unset[1:6] == ["yes", "NO", "-", "UNPROTECTED", "no"]  # declared, not set
    assert lines["deribit/deribit-main/sol_usdc"].split()[1:3] == ["no", "yes"]  # unmanaged
    assert lines["deribit/deribit-main/eth_usd"].split()[1:3] == ["yes", "yes"]  # `absent`
    assert out[-1].endswith(". Exit 4: a declared scope has no MMP config live.")
    # each frozen scope once more, with what ends its freeze: the words plan's held step uses;
    # then each unknown one, with why and what settles it
    unsure = out.index("Freeze state unknown, and why:")
    frozen = [line.split(":")[0].strip() for line in out[told + 1 : unsure]]
    figures.check("status.frozen", frozen)
    said = {line.split(": ")[0].strip(): line for line in out[unsure + 1 : -1]}
    figures.check("status.freeze-unknown", list(said))
    assert "Binance does not report resets" in said["binance/binance-mm/ETHUSDT"]
    assert "tells only isActive" in said["bullish/bullish-mm/ETH"]
    # no trigger seen: its change is written, flagged; a trigger unresolved: held for a person
    assert (
        "no trigger of it is known, so a change to it is written"
        in (said["bullish/bullish-mm/ETH"])
    )
    assert "--include-held" not in said["bullish/bullish-mm/ETH"]
    assert re.search(  # named with the trigger checked, as the venue recorded it
        r"`mmp apply --include-held binance/binance-mm/ETHUSDT@\d{4}-\d\d-\d\dT[\d:.]+Z "
        r"--reason TEXT`",
        said["binance/binance-mm/ETHUSDT"],
    )


def test_json_for_machines(
    desk: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    main(["status", "--sandbox", "--json"])
    text = capsys.readouterr().out
    assert text.startswith('{\n  "unprotected": ')  # first: what most needs a person
    data = json.loads(text)
    told = {name: data[name] for name in ("unprotected", "frozen", "freeze_unknown")}
    figures.check("status.json.counts", told)
    by_scope = {s["scope"]: s for s in data["scopes"]}
    binance = by_scope["binance/binance-mm/ETHUSDT"]
    assert binance["frozen"] is None and not binance["manual_reset"]  # unknown, not guessed
    assert "does not report resets" in binance["freeze_unknown"]
    assert binance["trigger_unresolved"] is True
    assert by_scope["bullish/bullish-mm/ETH"]["frozen"] is None
    assert by_scope["bullish/bullish-mm/ETH"]["trigger_unresolved"] is False
    assert binance["last_trigger_ms"] > 0 and binance["last_trigger"].endswith("Z")
    frozen = by_scope["aevo/aevo-mm/BTC"]
    assert frozen["frozen"] is True and frozen["freeze_unknown"] is None
    calm = by_scope["deribit/deribit-main/btc_usd"]
    assert calm["frozen"] is False and calm["frozen_until"] is None and calm["configured"]
    unprotected = [s for s, row in by_scope.items() if row["unprotected"]]
    figures.check("status.unprotected", unprotected)  # as the table names them
    assert len(unprotected) == data["unprotected"]
    assert by_scope["binance/binance-mm/BNBUSDT"]["configured"] is False


def test_nothing_frozen_or_unprotected(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--sandbox", "--account", "aevo-mm", "--underlying", "ETH"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 scope(s): 1 configured, 0 unprotected, 0 frozen."
    assert "UNPROTECTED" not in out


def _row(
    underlying: str,
    *,
    wanted: bool = True,
    configured: bool = True,
    frozen: bool = False,
    unknown: str = "",
    trigger: int | None = None,
) -> StatusRow:
    key = ScopeKey("deribit", "main", underlying)
    freeze = FreezeState(frozen, last_trigger_ms=trigger, unknown=unknown)
    return StatusRow(key, True, configured, freeze, wanted=wanted)


def test_exit_code_4_unprotected_before_2_frozen_before_3_unknown_before_0() -> None:
    calm, frozen = _row("btc_usd"), _row("eth_usd", frozen=True)
    unsure = _row("ada_usdc", unknown="the venue cannot tell", trigger=1_000)
    no_trigger = _row("xrp_usdc", unknown="no trigger seen")
    unprotected = _row("sol_usdc", configured=False)
    assert exit_code([]) == 0
    assert exit_code([calm]) == 0
    assert exit_code([calm, no_trigger]) == 0  # shown, with why: not an exit code by itself
    assert exit_code([calm, unsure]) == 3
    assert exit_code([calm, no_trigger, unsure]) == 3
    assert exit_code([calm, frozen]) == 2
    assert exit_code([calm, frozen, unsure]) == 2
    assert exit_code([calm, frozen, unprotected]) == 4
    assert exit_code([unsure, unprotected]) == 4
    assert exit_code([unprotected]) == 4
    # declared `absent` and not on the venue: as wanted, not unprotected
    assert exit_code([_row("ada_usdc", wanted=False, configured=False)]) == 0


def test_a_frozen_scope_with_no_config_is_unprotected() -> None:
    frozen_empty = _row("btc_usd", configured=False, frozen=True)
    assert frozen_empty.unprotected and exit_code([frozen_empty]) == 4
    assert (
        table([frozen_empty], 0)
        .splitlines()[-1]
        .endswith("1 unprotected, 1 frozen. Exit 4: a declared scope has no MMP config live.")
    )


def test_rows_mark_declared_scopes_without_config_unprotected() -> None:
    here = Location("p.yaml", 1, 1)
    config = MmpConfig(1000, 30_000, quantity_limit=Decimal(5))
    keys = [ScopeKey("deribit", "main", u) for u in ("btc_usd", "eth_usd", "sol_usdc")]
    desired = DesiredState(
        scopes={
            keys[0]: DesiredScope(keys[0], config, here),
            keys[1]: DesiredScope(keys[1], None, here),  # `absent`
            keys[2]: DesiredScope(keys[2], config, here),
        }
    )
    live = [LiveAccount("deribit", "main", (LiveScope(keys[2], config),))]
    found = {str(r.key): (r.declared, r.configured, r.unprotected) for r in rows(desired, live)}
    assert found == {
        "deribit/main/btc_usd": (True, False, True),
        "deribit/main/eth_usd": (True, False, False),
        "deribit/main/sol_usdc": (True, True, False),
    }


@pytest.mark.parametrize(
    ("filters", "code"),
    [
        ([], 4),
        (["--venue", "deribit", "--underlying", "eth_usd"], 4),
        (["--venue", "deribit", "--underlying", "btc_usd"], 2),
        (["--account", "aevo-mm", "--underlying", "ETH"], 0),
        (["--venue", "bullish"], 0),  # every scope unknown with no trigger seen
        (["--underlying", "ETHUSDT"], 3),  # Binance's: a trigger whose end it does not tell
    ],
)
def test_the_command_exits_as_its_summary_line_says(
    desk: Path, capsys: pytest.CaptureFixture[str], filters: list[str], code: int
) -> None:
    returned = main(["status", "--sandbox", *filters])
    last = capsys.readouterr().out.splitlines()[-1]
    assert f"Exit {code}:" in last if code else "Exit" not in last
    assert returned == code


def test_a_timed_freeze_says_until_when_in_utc_and_from_now(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # trip a timed freeze (SOL: frozen 60s) in the sandbox's Aevo, saved like a venue's
    with Sandbox(VENUES).edit("aevo") as aevo:
        assert isinstance(aevo, SimulatorDesk)
        aevo.sim.trigger(aevo.key("aevo-mm"), "SOL")
    assert main(["status", "--sandbox", "--venue", "aevo", "--underlying", "SOL"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert "yes, until 20" in out[1] and "Z (in " in out[1]
    until = out[1].split("until ")[1].split()[0]
    assert out[2:4] == [
        "What ends each freeze:",
        f"  aevo/aevo-mm/SOL: it ends by itself at {until}, or now with "
        "`mmp unfreeze aevo/aevo-mm/SOL --reason TEXT` (aevo's reset keeps the config)",
    ]


def test_json_says_what_ends_each_freeze(desk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["status", "--sandbox", "--json"])
    by_scope = {s["scope"]: s for s in json.loads(capsys.readouterr().out)["scopes"]}
    assert by_scope["deribit/deribit-main/btc_usd"]["what_to_do"] is None  # not frozen
    assert by_scope["bullish/bullish-mm/ETH"]["what_to_do"] == (
        "no trigger of it is known, so a change to it is written, flagged as a risk (a change "
        "on bullish starts with a reset, and bullish does not document what a reset does to "
        "a freeze); to be sure before applying one, check on bullish whether it is frozen "
        "(bullish's web interface, or its support)"
    )
    stamp = named_in(
        by_scope["binance/binance-mm/ETHUSDT"]["what_to_do"], "binance/binance-mm/ETHUSDT"
    )
    assert by_scope["binance/binance-mm/ETHUSDT"]["what_to_do"] == (
        "check on binance whether it is frozen (binance's web interface, or its support); "
        f"once checked, `mmp apply --include-held {stamp} --reason TEXT` "
        "writes a change held for it; `mmp unfreeze binance/binance-mm/ETHUSDT --reason "
        "TEXT` ends a freeze it may have"
    )
    assert by_scope["aevo/aevo-mm/BTC"]["what_to_do"] == (
        "only a reset ends it: `mmp unfreeze aevo/aevo-mm/BTC --reason TEXT` "
        "(aevo's reset keeps the config)"
    )


def test_nothing_frozen_says_nothing_about_freezes() -> None:
    text = table([_row("btc_usd")], 0)
    assert "What ends" not in text and "unfreeze" not in text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (999, "0s"), (61_000, "1m 1s"), (3_600_000, "1h 0m"), (90_061_000, "1d 1h")],
)
def test_relative_spans(ms: int, text: str) -> None:
    assert relative(ms) == text
