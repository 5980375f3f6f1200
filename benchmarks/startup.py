"""Start-up: `mmp --help` and `mmp validate` on the example desk, wall time of a new process.

    python benchmarks/startup.py [--runs 7]

Goals (issue 8): validate under 0.5 s, --help under 0.3 s. Prints the median and range.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "mmp --help": ["--help"],
    "mmp validate (example desk)": ["validate", "--policies", str(ROOT / "policies")],
}


def wall(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    for label, args in COMMANDS.items():
        wall(args)  # warm the file cache once
        times = sorted(wall(args) for _ in range(options.runs))
        print(
            f"{label:<30} median {statistics.median(times):.3f} s "
            f"(min {times[0]:.3f}, max {times[-1]:.3f}, {options.runs} runs)"
        )


if __name__ == "__main__":
    main()
