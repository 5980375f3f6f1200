"""`mmp import`: live settings into the policy files, the user's own text kept byte for byte."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "import" / "desk-alpha.imported.yaml"
VALUE_LINE = re.compile(
    r"^(\s+(?:quantity_limit|delta_limit|vega_limit|max_quote_quantity): )(\S+)(.*)$"
)


@pytest.fixture
def desk(in_tmp: Path) -> Path:
    shutil.copytree(ROOT / "policies", in_tmp / "policies")
    return in_tmp / "policies" / "desk-alpha.yaml"


def _plan_summary(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["plan", "--sandbox"]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_import_then_plan_shows_no_changes_on_every_venue(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--sandbox"]) == 0
    capsys.readouterr()
    assert main(["plan", "--sandbox", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"has_changes": false' in out
    for venue in ("deribit", "binance", "aevo", "bullish"):
        assert f'"venue": "{venue}"' in out
    assert _plan_summary(capsys) == "Plan: no changes; 14 unchanged."
    assert main(["import", "--sandbox"]) == 0  # a second import changes nothing
    assert "already matches the venues" in capsys.readouterr().err
    assert main(["validate"]) == 0


def test_the_desk_imported_matches_the_golden_file(
    desk: Path, capsys: pytest.CaptureFixture[str], update_golden: bool
) -> None:
    """Values changed, two scopes the venue lacks taken out, two unmanaged ones added in
    sorted order, and every comment and blank line of the original still there."""
    original = desk.read_text()
    assert main(["import", "--sandbox"]) == 0
    err = capsys.readouterr().err
    assert "took out binance/binance-mm/BNBUSDT" in err
    assert "took out deribit/deribit-hedge/eth_usd" in err
    imported = desk.read_text()
    if update_golden:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(imported)
    assert imported == GOLDEN.read_text()
    comments = [line.split("#", 1)[1] for line in original.splitlines() if "#" in line]
    for comment in comments:
        assert comment in imported
    assert imported.count("\n\n") == original.count("\n\n")


@pytest.mark.parametrize("seed", range(6))
def test_only_the_changed_values_change_byte_for_byte(
    desk: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    """From a file that matches the venues, change some values (kept in odd spellings and
    with comments around them); import must give back exactly the matching file."""
    assert main(["import", "--sandbox"]) == 0
    capsys.readouterr()
    matching = desk.read_text().replace(
        "mmp:\n", "mmp:   # live as of the import\n\n", 1
    )  # a comment and a blank line the tool never wrote
    desk.write_text(matching)
    lines = matching.splitlines(keepends=True)
    rng = random.Random(seed)
    candidates = [i for i, line in enumerate(lines) if VALUE_LINE.match(line)]
    for index in rng.sample(candidates, k=min(5, len(candidates))):
        match = VALUE_LINE.match(lines[index])
        assert match is not None
        head = f"{match[1]}{rng.choice(['7', '0.5', '123.25'])}"
        comment = match[3].lstrip()
        if comment:  # keep the comment in its column, as a person editing the value would
            column = len(match[1]) + len(match[2]) + len(match[3]) - len(comment)
            head = head.ljust(column - 1) + " "
        lines[index] = head + comment + "\n"
    desk.write_text("".join(lines))
    assert main(["import", "--sandbox"]) == 0
    capsys.readouterr()
    assert desk.read_text() == matching


def test_dry_run_writes_nothing_and_shows_the_diff(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = desk.read_text()
    assert main(["import", "--sandbox", "--dry-run", "--account", "aevo-mm"]) == 0
    out = capsys.readouterr().out
    assert desk.read_text() == before
    assert "-        quantity_limit: 30\n+        quantity_limit: 40" in out
    assert "binance" not in out  # only the selected account


def test_import_writes_canonical_units_and_exact_decimals(
    desk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--sandbox", "--account", "binance-mm"]) == 0
    text = desk.read_text()
    assert "      SOLUSDT:\n        window: 1s\n        frozen: 1m\n" in text  # not 1000ms
    assert "        delta_limit: 120.5\n" in text
    position = {name: text.index(f"      {name}:") for name in ("BTCUSDT", "ETHUSDT", "SOLUSDT")}
    assert position["BTCUSDT"] < position["ETHUSDT"] < position["SOLUSDT"]
