"""The first hour with `mmp import`, walked as a new user would on the sandbox desk.

The example desk declares scopes the sandbox venues do not have yet and holds tightenings
back: scopes that are frozen, and one after a trigger whose end the venue does not tell
(Binance's manual freeze). Bullish's, whose freeze state is unknown with no trigger seen, are
writes like any other: import takes the venue's values. A new user previews the import, runs
it, then plans: nothing they declared is gone, nothing held is undone, and every note says
what was kept and why. Only when they ask (--prune) are the scopes the venues lack taken out.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.figures import Figures, counts, first_plan

ROOT = Path(__file__).resolve().parent.parent
FILE = "policies/desk-alpha.yaml"

STEP = re.compile(r"^    (\S) (\w+) +(\S+)  \(", re.MULTILINE)  # a step of the text plan


def _mmp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    assert main(list(args)) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return out, err


def test_preview_import_then_plan_keeps_what_was_declared(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], figures: Figures
) -> None:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    desk = in_tmp / FILE
    original = desk.read_text()
    # 0. The desk's scopes as its first plan tells them: the venues lack some, some are held
    scopes = first_plan(figures, _mmp(capsys, "plan", "--sandbox", "--format", "json")[0])

    # 1. "What would import do to my files?"
    preview, notes = _mmp(capsys, "import", "--sandbox", "--dry-run")
    assert desk.read_text() == original
    assert preview.startswith(f"--- a/{FILE}\n+++ b/{FILE}\n")
    assert "+      SOLUSDT:\n" in preview  # a live scope the desk lacks is added
    assert "-        quantity_limit: 30\n+        quantity_limit: 40\n" in preview  # updated
    assert "BNBUSDT" not in preview  # declared, not live: not taken out
    assert "-          quantity_limit: 3\n" not in preview  # held: not written over
    would = re.search(
        rf"^{re.escape(FILE)}: would add (\d+) live scope\(s\) and update (\d+) to the "
        "venue's values$",
        notes,
        re.MULTILINE,
    )
    assert would, notes
    for scope in scopes.not_live:
        assert f"would keep {scope}: declared, but the venue has no config for it" in notes
    assert notes.count("--prune takes it out") == len(scopes.not_live)
    for scope in scopes.frozen:
        assert (
            f"would keep the declared value of {scope}: the scope is frozen, its live config "
            "is not what the policies want" in notes
        )
    for scope, frozen in scopes.reaches.items():  # held: a write may end another's freeze
        assert (
            f"would keep the declared value of {scope}: a write to it may end the freeze of "
            f"{', '.join(frozen)}, and its live config is not what the policies want" in notes
        )
    for scope in scopes.unknown:
        assert (
            f"would keep the declared value of {scope}: the venue cannot tell whether the "
            "scope is frozen, and its live config is not what the policies want (mmp plan "
            "holds the change until a person checks it and names it to --include-held)"
        ) in notes
    assert notes.endswith("--dry-run: 1 file(s) would change; nothing written\n")

    # 2. "Do it." The file changes exactly as the preview said, the notes in past tense.
    written, notes = _mmp(capsys, "import", "--sandbox")
    assert written == preview
    done = f"{FILE}: added {would[1]} live scope(s), updated {would[2]} to the venue's values"
    assert done in notes.splitlines()
    figures.check("import.written", done)
    assert f"kept {scopes.not_live[0]}: declared" in notes
    assert f"kept the declared value of {scopes.held[0]}:" in notes
    assert "would" not in notes and "took out" not in notes
    imported = desk.read_text()
    for comment in (line.split("#", 1)[1] for line in original.splitlines() if "#" in line):
        assert comment in imported
    _mmp(capsys, "validate")

    # 3. "What does the plan say now?" Only what import kept: the creates, the held.
    plan, _ = _mmp(capsys, "plan", "--sandbox")
    steps = STEP.findall(plan)
    shown = [scope for sign, action, scope in steps if (sign, action) == ("=", "unchanged")]
    # shown though unchanged: their freeze state is unknown (no trigger seen): Bullish's
    figures.check("import.plan.shown-unchanged", shown)
    assert steps == [
        *(("+", "create", scope) for scope in scopes.not_live),
        *(("!", "held", scope) for scope in scopes.held),
        *(("=", "unchanged", scope) for scope in shown),
    ]
    summary = plan.rstrip().splitlines()[-1]
    figures.check("import.plan.summary", summary)
    assert counts(summary)["create"] == len(scopes.not_live)

    # 4. "Those are gone for good": --prune, asked for, takes them out and says so.
    _, notes = _mmp(capsys, "import", "--sandbox", "--prune")
    for scope in scopes.not_live:
        assert f"{FILE}: took out {scope} (the venue has no config for it)" in notes
    assert notes.count("kept the declared value of") == len(scopes.held)
    plan, _ = _mmp(capsys, "plan", "--sandbox")
    pruned = plan.rstrip().splitlines()[-1]
    # the creates taken out, nothing else (a held create stays: still named UNPROTECTED)
    assert pruned.startswith(("Plan: no changes; ", "Plan: nothing to apply, "))
    left = {k: n for k, n in counts(pruned).items() if k != "UNPROTECTED"}
    assert left == {k: n for k, n in counts(summary).items() if k != "create"}
