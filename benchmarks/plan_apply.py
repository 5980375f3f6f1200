"""`mmp plan` and `mmp apply` end to end on generated desks, against the floor the venues allow.

    python benchmarks/plan_apply.py                      # N = 100, 1,000, 10,000; 5 runs each
    python benchmarks/plan_apply.py --sizes 100 --runs 3
    python benchmarks/plan_apply.py --sockets           # the venues' push channels served

Each run: a fresh desk (policies, simulators on loopback with the injected latency, their
documented rate limits), then `mmp plan --detailed-exitcode` and `mmp apply --auto-approve`
as a user runs them (a new process each, credentials in the environment, its modules'
bytecode compiled once as an installed mmp has it: see mmp_env). Each command starts with
the venues' rate-limit windows fresh. Prints medians (min-max) of wall time,
the floor (benchmarks/floor.py), their ratio, requests per scope, and the same desk planned
and applied with --concurrency 1 (one account at a time per venue) for the speed-up.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.desk import Desk, desk
from benchmarks.floor import Floor, apply_floor, plan_floor

BULLISH_APPLY_DELAY_MS = 200


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds)

    def spread(self) -> str:
        return f"{min(self.seconds):.2f}-{max(self.seconds):.2f}"


MMP = [sys.executable, "-m", "reconciler"]
ROOT = Path(__file__).resolve().parent.parent


def mmp_env(d: Desk) -> dict[str, str]:
    """The environment an mmp command of the benchmark runs in: this one, with the desk's
    credentials, no sandbox or colour switch, and bytecode. An installed mmp runs from
    bytecode compiled once; an environment that forbids writing it (PYTHONDONTWRITEBYTECODE,
    as on this project's machine) has every command compile mmp's modules again, 0.1 s and
    more a process that no user pays. So it is compiled once, before anything is timed
    (where an editable install keeps it: __pycache__ beside each module)."""
    dropped = ("MMP_SANDBOX", "NO_COLOR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    _compiled(ROOT / "reconciler")
    return {**env, **d.env}


@functools.cache
def _compiled(package: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=env, check=True)


def run_mmp(
    args: list[str], d: Desk, cwd: Path, expect: int, mmp: list[str] = MMP
) -> tuple[float, int]:
    """One mmp command (`mmp`: how to start it) on the desk, as a new process: its wall
    time in seconds and the HTTP requests the simulators answered for it."""
    for sim in d.sims.values():
        reset = getattr(sim, "reset_rate_limits", None)
        if reset is not None:
            reset()
    # fresh windows on our side too: what the last command spent of the per-IP allowances
    # (which mmp keeps between processes) is forgotten, as the venues' counts were
    (d.policies.parent / ".mmp" / "ratelimits.json").unlink(missing_ok=True)
    before = sum(d.requests().values())
    env = mmp_env(d)
    # its output to files, not pipes: a pipe is emptied by this process, whose simulator
    # threads contend for its GIL, so a large plan's output (900 kB at 10,000 scopes) waited
    # seconds on us, not on mmp
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        done = subprocess.run(
            [*mmp, *args, "--policies", str(d.policies), "-q"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            check=False,
        )
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if done.returncode != expect:
        results = stdout.partition("\nApply:\n")[2].splitlines()
        not_applied = [line for line in results if not line.lstrip().startswith("applied")]
        raise SystemExit(
            f"mmp {args[0]} exited {done.returncode}:\n{stderr[-3000:]}"
            + "\n".join(not_applied[:20])
        )
    return elapsed, sum(d.requests().values()) - before


def measure(
    n: int, runs: int, latency: int, extra: list[str], sockets: bool = False
) -> dict[str, object]:
    plan, apply = Timing(), Timing()
    floors: dict[str, Floor] = {}
    shape = ""
    for _ in range(runs):
        with (
            tempfile.TemporaryDirectory() as tmp,
            desk(n, Path(tmp), latency, sockets=sockets) as d,
        ):
            seconds, requests = run_mmp(["plan", "--detailed-exitcode", *extra], d, Path(tmp), 2)
            plan.seconds.append(seconds)
            plan.requests.append(requests)
            journal = str(Path(tmp) / "journal.jsonl")
            seconds, requests = run_mmp(
                ["apply", "--auto-approve", "--journal", journal, *extra], d, Path(tmp), 0
            )
            apply.seconds.append(seconds)
            apply.requests.append(requests)
            for bursts, label in ((False, "sustained"), (True, "burst")):
                floors[f"plan_{label}"] = plan_floor(d, latency, bursts=bursts)
                floors[f"apply_{label}"] = apply_floor(
                    d, latency, BULLISH_APPLY_DELAY_MS, bursts=bursts
                )
            accounts = sum(len(a) for a in d.accounts.values())
            shape = f"{d.scopes:,} scopes, {accounts:,} accounts, {sum(d.changes.values())} changes"
            scopes = d.scopes
    return {"n": n, "shape": shape, "plan": plan, "apply": apply, "scopes": scopes, **floors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=30)
    parser.add_argument("--sequential-runs", type=int, default=1, help="runs at --concurrency 1")
    parser.add_argument(
        "--sockets",
        action="store_true",
        help="serve the venues' push channels (default: none, each handshake refused)",
    )
    options = parser.parse_args()
    sizes = [int(x) for x in options.sizes.split(",")]
    print(
        f"latency {options.latency_ms} ms per round trip; {options.runs} runs per size; "
        f"push channels {'served' if options.sockets else 'not served'}; "
        "medians (min-max) in seconds"
    )
    header = (
        f"{'N':>6}  {'command':<7} {'measured':>16} {'floor':>7} {'ratio':>6} "
        f"{'burst fl.':>9} {'ratio':>6} {'req/scope':>9} {'conc. 1':>8} {'speed-up':>8}"
        "  floor set by"
    )
    print(header)
    for n in sizes:
        fast = measure(n, options.runs, options.latency_ms, [], options.sockets)
        one_at_a_time = ["--concurrency", "1"]
        slow = (
            measure(n, options.sequential_runs, options.latency_ms, one_at_a_time, options.sockets)
            if options.sequential_runs
            else None
        )
        print(f"{'':>6}  {fast['shape']}")
        for command in ("plan", "apply"):
            timing = fast[command]
            floor, burst = fast[f"{command}_sustained"], fast[f"{command}_burst"]
            assert isinstance(timing, Timing)
            assert isinstance(floor, Floor) and isinstance(burst, Floor)
            ratio = timing.median() / (floor.ms / 1000)
            burst_ratio = timing.median() / (burst.ms / 1000)
            scopes = fast["scopes"]
            assert isinstance(scopes, int)
            per_scope = statistics.median(timing.requests) / scopes
            sequential = speedup = "-"
            if slow is not None:
                slow_timing = slow[command]
                assert isinstance(slow_timing, Timing)
                sequential = f"{slow_timing.median():.2f}"
                speedup = f"x{slow_timing.median() / timing.median():.1f}"
            measured = f"{timing.median():.2f} ({timing.spread()})"
            print(
                f"{n:>6,}  {command:<7} {measured:>16} {floor.ms / 1000:>7.2f} {ratio:>6.2f} "
                f"{burst.ms / 1000:>9.2f} {burst_ratio:>6.2f} "
                f"{per_scope:>9.2f} {sequential:>8} {speedup:>8}  "
                f"{floor.venue} {floor.why}; with bursts {burst.venue} {burst.why}"
            )


if __name__ == "__main__":
    main()
