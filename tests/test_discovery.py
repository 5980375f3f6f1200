"""Underlyings as the venues list them, through `mmp` itself on the sandbox (issue 16,
must-show 4 and 5): Aevo's GET /assets and Binance's exchangeInfo are read once per run;
a DOGE config on Aevo, outside the assets mmp once knew, is read and reported unmanaged;
`DOGE: absent` is taken where the venue lists DOGE; a name it does not list passes
`mmp validate` (offline: the form only) and is refused by plan at its line, with
did-you-mean; Aevo's signed path falls back once and says so with -v, and apply journals
the reading kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, cast

import pytest

from reconciler.cli import main
from reconciler.core.paths import state_dir
from reconciler.sandbox.desk import SimulatorDesk
from reconciler.sandbox.store import Sandbox
from reconciler.venues import VENUES
from reconciler.venues.aevo.simulator import AevoSimulator
from reconciler.venues.binance.simulator import DEFAULT_UNDERLYINGS, BinanceSimulator

ROOT = Path(__file__).resolve().parent.parent
DOGE = {"asset": "DOGE", "interval": 10, "frozen": 60, "amount_limit": "500000000"}
AEVO_LISTS = ["BTC", "ETH", "SOL", "DOGE"]


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    """The example desk, its sandbox Aevo listing DOGE too and holding a DOGE config."""
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    assert sandbox_file().is_relative_to(in_tmp)
    sandbox = Sandbox(VENUES, sandbox_file())
    with sandbox.edit("aevo") as stored:
        aevo = cast(SimulatorDesk[AevoSimulator], stored)
        aevo.sim.assets = tuple(AEVO_LISTS)
        aevo.sim.seed(aevo.key("aevo-mm"), DOGE)
    with sandbox.edit("binance") as stored:
        binance = cast(SimulatorDesk[BinanceSimulator], stored)
        binance.sim.underlyings = (*DEFAULT_UNDERLYINGS, "ADAUSDT")
    return in_tmp


def mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([*args, "--policies", "policies"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def declare(desk: Path, venue_account: str, text: str) -> int:
    """Add `text` (lines under `mmp:`) to an account of the example desk; its first line."""
    path = desk / "policies" / "desk-alpha.yaml"
    lines = path.read_text().splitlines()
    at = lines.index(f"  {venue_account}:")
    mmp_at = next(i for i in range(at, len(lines)) if lines[i].strip() == "mmp:")
    lines[mmp_at + 1 : mmp_at + 1] = text.splitlines()
    path.write_text("\n".join(lines) + "\n")
    return mmp_at + 2


def sandbox_file() -> Path:
    """The desk's sandbox state, as `mmp --sandbox` finds it from the current folder."""
    return state_dir(Path("policies")) / "sandbox.json"


def state(desk: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(sandbox_file().read_text()))


def test_a_doge_config_on_aevo_is_read_and_reported_unmanaged(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = mmp(capsys, "plan", "--sandbox", "--format", "json")
    assert code == 0
    plan = json.loads(out)
    unmanaged = [s["scope"] for s in plan["steps"] if s["action"] == "unmanaged"]
    assert "aevo/aevo-mm/DOGE" in unmanaged, plan["steps"]
    assert "binance/binance-mm/SOLUSDT" in unmanaged  # the desk's own, still there


def test_doge_absent_is_taken_where_aevo_lists_it(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    declare(desk, "aevo-mm", "      DOGE: absent")
    code, out, _ = mmp(capsys, "validate")
    assert code == 0, out
    code, out, err = mmp(capsys, "plan", "--sandbox", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    removed = [s for s in plan["steps"] if s["scope"] == "aevo/aevo-mm/DOGE"]
    assert [s["action"] for s in removed] == ["remove"], plan["steps"]


@pytest.mark.parametrize(
    ("account", "name", "meant", "lister"),
    [
        ("aevo-mm", "DOGX", "DOGE", "GET /assets"),
        ("aevo-mm", "doge", "DOGE", "GET /assets"),
        ("binance-mm", "ADAUSD", "ADAUSDT", "GET /eapi/v1/exchangeInfo"),
    ],
)
def test_a_name_the_venue_does_not_list_passes_validate_and_is_refused_by_plan_at_its_line(
    desk: Path,
    capsys: pytest.CaptureFixture[str],
    account: str,
    name: str,
    meant: str,
    lister: str,
) -> None:
    fields = "{window: 10s, frozen: 60s, quantity_limit: 1}"
    if account == "binance-mm":
        fields = "{window: 1s, frozen: 60s, quantity_limit: 1, delta_limit: 1}"
    line = declare(desk, account, f"      {name}: {fields}")
    code, out, err = mmp(capsys, "validate")
    assert code == 0, err  # offline: the name is well formed, and that is all it can tell
    before = state(desk)
    code, out, err = mmp(capsys, "plan", "--sandbox")
    assert (code, out) == (1, "")
    venue = account.split("-")[0]
    assert err.startswith(
        f"error: 1 problem in policies\npolicies/desk-alpha.yaml:{line}:7: {venue} has no "
        f"underlying `{name}`; did you mean `{meant}`? ({lister} at "
    ), err
    assert "`mmp validate` checks only the form" in err
    assert state(desk) == before  # nothing was written
    code, _, err = mmp(capsys, "apply", "--sandbox", "--auto-approve")
    assert code == 1 and f"desk-alpha.yaml:{line}:7: {venue} has no underlying `{name}`" in err


@pytest.mark.parametrize(
    ("account", "name", "said"),
    [
        ("aevo-mm", "DOGE-USD", "1 to 32 letters or digits"),
        ("binance-mm", "btcusdt", "2 to 32 capital letters or digits"),
    ],
)
def test_a_name_of_the_wrong_form_is_refused_offline(
    desk: Path, capsys: pytest.CaptureFixture[str], account: str, name: str, said: str
) -> None:
    line = declare(desk, account, f"      {name}: absent")
    code, _, err = mmp(capsys, "validate")
    assert code == 1
    assert f"policies/desk-alpha.yaml:{line}:7: `{name}` is not a well-formed " in err
    assert said in err
    if name == "btcusdt":
        assert "did you mean `BTCUSDT`?" in err


def test_the_signed_path_falls_back_once_said_with_v_and_journaled_by_apply(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sandbox's Aevo verifies the path without its query (the simulator's default):
    our first try, with it, is refused once; the reading kept is said at -v and journaled."""
    code, _, err = mmp(capsys, "plan", "--sandbox", "-v")
    assert code == 0
    said = [line for line in err.splitlines() if "is signed over its path" in line]
    assert said == [
        "aevo api.aevo.xyz: GET /mmp is signed over its path without its query string (signed "
        "with its query string, the venue answered 401; without its query string, it "
        "answered); kept for this endpoint"
    ]
    assert "aevo api.aevo.xyz lists 4 assets (GET /assets)" in err
    assert "binance eapi.binance.com lists 7 underlyings (GET /eapi/v1/exchangeInfo)" in err
    assert err.count("GET /mmp -> 401") == 1
    code, _, _ = mmp(capsys, "apply", "--sandbox", "--auto-approve", "--force")
    journal = (sandbox_file().parent / "journal.jsonl").read_text().splitlines()
    readings = [json.loads(line) for line in journal if '"venue-reading"' in line]
    assert [(r["venue"], r["request"], r["signed"]) for r in readings] == [
        ("aevo", "GET /mmp", "without its query string")
    ]
