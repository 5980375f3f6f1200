"""The first hour with `mmp import`, walked as a new user would on the sandbox desk.

The example desk declares two scopes the sandbox venues do not have yet and holds three
tightenings back: two scopes are frozen, and one is after a trigger whose end the venue does
not tell (Binance's manual freeze). Bullish's three, whose freeze state is unknown with no
trigger seen, are writes like any other: import takes the venue's values. A new user previews
the import, runs it,
then plans: nothing they declared is gone, nothing held is undone, and every note says what
was kept and why. Only when they ask (--prune) are the two unknown scopes taken out.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

ROOT = Path(__file__).resolve().parent.parent
FILE = "policies/desk-alpha.yaml"
NOT_LIVE = ("binance/binance-mm/BNBUSDT", "deribit/deribit-hedge/eth_usd")
FROZEN = ("aevo/aevo-mm/BTC", "deribit/deribit-main/btc_usd/MassQuoteBot7")
UNKNOWN = ("binance/binance-mm/ETHUSDT",)
HELD = tuple(sorted(FROZEN + UNKNOWN))

STEP = re.compile(r"^    (\S) (\w+) +(\S+)  \(", re.MULTILINE)  # a step of the text plan


def _mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    assert main(list(args)) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return out, err


def test_preview_import_then_plan_keeps_what_was_declared(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    desk = in_tmp / FILE
    original = desk.read_text()

    # 1. "What would import do to my files?"
    preview, notes = _mmp(capsys, "import", "--sandbox", "--dry-run")
    assert desk.read_text() == original
    assert preview.startswith(f"--- a/{FILE}\n+++ b/{FILE}\n")
    assert "+      SOLUSDT:\n" in preview  # a live scope the desk lacks is added
    assert "-          quantity_limit: 50\n+          quantity_limit: 60\n" in preview  # updated
    assert "BNBUSDT" not in preview  # declared, not live: not taken out
    assert "-          quantity_limit: 3\n" not in preview  # held: not written over
    assert f"{FILE}: would add 2 live scope(s) and update 8 to the venue's values" in notes
    for scope in NOT_LIVE:
        assert f"would keep {scope}: declared, but the venue has no config for it" in notes
    assert notes.count("--prune takes it out") == 2
    for scope in FROZEN:
        assert (
            f"would keep the declared value of {scope}: the scope is frozen, its live config "
            "is not what the policies want" in notes
        )
    for scope in UNKNOWN:
        assert (
            f"would keep the declared value of {scope}: the venue cannot tell whether the "
            "scope is frozen, and its live config is not what the policies want (mmp plan "
            "holds the change until a person checks it and names it to --include-held)"
        ) in notes
    assert notes.endswith("--dry-run: 1 file(s) would change; nothing written\n")

    # 2. "Do it." The file changes exactly as the preview said, the notes in past tense.
    written, notes = _mmp(capsys, "import", "--sandbox")
    assert written == preview
    assert f"{FILE}: added 2 live scope(s), updated 8 to the venue's values" in notes
    assert f"kept {NOT_LIVE[0]}: declared" in notes
    assert f"kept the declared value of {HELD[0]}:" in notes
    assert "would" not in notes and "took out" not in notes
    imported = desk.read_text()
    for comment in (line.split("#", 1)[1] for line in original.splitlines() if "#" in line):
        assert comment in imported
    _mmp(capsys, "validate")

    # 3. "What does the plan say now?" Only what import kept: two creates, three held.
    plan, _ = _mmp(capsys, "plan", "--sandbox")
    assert STEP.findall(plan) == [
        *(("+", "create", scope) for scope in NOT_LIVE),
        *(("!", "held", scope) for scope in HELD),
        # shown though unchanged: their freeze state is unknown (no trigger seen)
        *(("=", "unchanged", f"bullish/bullish-mm/{u}") for u in ("BTC", "ETH", "SOL")),
    ]
    assert plan.rstrip().endswith("Plan: changes; 2 to create, 3 held, 11 unchanged.")

    # 4. "Those two are gone for good": --prune, asked for, takes them out and says so.
    _, notes = _mmp(capsys, "import", "--sandbox", "--prune")
    for scope in NOT_LIVE:
        assert f"{FILE}: took out {scope} (the venue has no config for it)" in notes
    assert notes.count("kept the declared value of") == 3
    plan, _ = _mmp(capsys, "plan", "--sandbox")
    assert plan.rstrip().endswith("Plan: no changes; 3 held, 11 unchanged.")
