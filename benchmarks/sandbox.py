"""Wall time of `mmp apply --sandbox --auto-approve` then `mmp plan --sandbox` on the example
desk (policies/), each pair starting from a fresh sandbox: median of --runs.

    python benchmarks/sandbox.py [--runs 5] [--tree PATH]

It runs in a temp folder holding a copy of the tree's policies/, so nothing is left in the
repository. --tree runs another checkout's reconciler/ (for a before/after figure).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_pair(work: Path, env: dict[str, str]) -> float:
    (work / ".mmp" / "sandbox.json").unlink(missing_ok=True)
    started = time.perf_counter()
    for args, expect in (
        (["apply", "--sandbox", "--auto-approve"], "Exit 0"),
        (["plan", "--sandbox"], "Plan: no changes"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if expect not in done.stdout:
            raise SystemExit(f"mmp {' '.join(args)} did not say {expect!r}:\n{done.stdout}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=ROOT)
    args = parser.parse_args()
    tree = args.tree.resolve()
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    with tempfile.TemporaryDirectory(prefix="mmp-sandbox-bench-") as folder:
        work = Path(folder)
        shutil.copytree(tree / "policies", work / "policies")
        times = [one_pair(work, env) for _ in range(args.runs)]
    print("runs (s): " + " ".join(f"{t:.3f}" for t in times))
    print(f"median of {args.runs}: {statistics.median(times):.3f} s (apply then plan, {tree})")


if __name__ == "__main__":
    main()
