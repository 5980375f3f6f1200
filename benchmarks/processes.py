"""What one `mmp` process costs in the process tests (tests/procs.py): the wall time of a
plan and of an apply on a desk of one drifted scope, per venue, against the strict
simulators on loopback (Bullish applying 100 ms after the ack, as the tests run it).

    python benchmarks/processes.py [--runs 5]

Prints the median and range per venue, so a suite can budget its process runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler.core.model import ScopeKey  # noqa: E402
from reconciler.venues import VENUES  # noqa: E402
from tests.procs import LiveDesk  # noqa: E402
from tests.venues import ROWS  # noqa: E402


def timed(run: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    code = run()
    elapsed = time.perf_counter() - started
    if code != expected:
        raise SystemExit(f"exit {code}, expected {expected}")
    return elapsed


def measure(venue: str, runs: int) -> tuple[list[float], list[float]]:
    row = ROWS[venue]
    underlying, group = row.scopes[0]
    key = ScopeKey(venue, f"{venue}-desk", underlying, group)
    want = row.sample(1)
    assert want.quantity_limit is not None
    drifted = want.with_changes(quantity_limit=want.quantity_limit * 2)  # apply tightens it
    plans, applies = [], []
    with (
        tempfile.TemporaryDirectory() as folder,
        LiveDesk(Path(folder), {key: (want, drifted)}) as desk,
    ):
        desk.mmp("validate")  # warm the file cache once
        for _ in range(runs):
            desk.seed(key, drifted)
            plans.append(timed(lambda: desk.mmp("plan", "--detailed-exitcode").code, 2))
            applies.append(timed(lambda: desk.mmp("apply", "--auto-approve").code, 0))
    return plans, applies


def line(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    return (
        f"{label:<16} median {statistics.median(ordered):.3f} s "
        f"(min {ordered[0]:.3f}, max {ordered[-1]:.3f}, {len(ordered)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    for venue in VENUES:
        plans, applies = measure(venue, options.runs)
        print(line(f"{venue} plan", plans))
        print(line(f"{venue} apply", applies))


if __name__ == "__main__":
    main()
