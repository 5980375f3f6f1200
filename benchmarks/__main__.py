"""Every benchmark, one after the other: `python -m benchmarks` (about 19 minutes: 1,123 s
from 04:55 to 05:14 UTC on 1 December 2026, on this project's busy 2-core machine).

python -m benchmarks            # start-up, CPU and memory, plan/apply at 100, 1k, 10k,
                                # a Bullish replacement's gap with and without its socket,
                                # what the push channels cost plan, apply and status
python -m benchmarks --quick    # one run each at 100 and 1,000 scopes (about a minute)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    runs = ["--runs", "1"] if quick else []
    steps = [
        ["startup.py", *(["--runs", "3"] if quick else [])],
        ["cpu.py", *runs],
        ["plan_apply.py", *(["--sizes", "100,1000", "--runs", "1"] if quick else [])],
        ["replacement_gap.py", *runs],
        ["push_cost.py", *(["--accounts", "1,5", "--runs", "1"] if quick else [])],
    ]
    for script, *args in steps:
        print(f"\n$ python benchmarks/{script} {' '.join(args)}".rstrip(), flush=True)
        subprocess.run([sys.executable, str(HERE / script), *args], check=True)


if __name__ == "__main__":
    main()
