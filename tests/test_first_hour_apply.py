"""Apply as a new user watches it: each step's result is printed the moment it ends, not
all at the end, to a pipe or a file as much as to a terminal (tests/test_terminal.py)."""

from __future__ import annotations

from pathlib import Path

from reconciler.core.model import ScopeKey
from tests.procs import LiveDesk, any_write
from tests.venues import ROWS

WAIT_S = 30


def test_each_result_is_printed_as_it_ends(tmp_path: Path) -> None:
    row = ROWS["deribit"]
    first, second = (ScopeKey("deribit", "dx", u, g) for u, g in row.scopes[:2])
    scopes = {
        key: (
            row.sample(n),
            row.sample(n).with_changes(quantity_limit=row.sample(n + 3).quantity_limit),
        )
        for n, key in enumerate((first, second), 1)
    }
    with LiveDesk(tmp_path, scopes) as desk:
        gate = desk.gate("deribit", any_write("deribit"), nth=2)  # the second step's write
        proc = desk.spawn("apply", "--auto-approve")
        assert gate.wait_arrived(WAIT_S, proc), proc.stderr_text()
        shown = proc.stdout_text()  # while the second step is under way
        assert f"  applied                        {first}" in shown
        assert str(second) not in shown.split("Apply:")[1] and "Apply finished" not in shown
        gate.release()
        result = proc.finish(WAIT_S)
        assert result.code == 0, result
        assert f"  applied                        {second}" in result.stdout
