"""What reading the journals of earlier runs costs a workflow step (`mmp github apply`,
`heal`, `shard`, `plan --history`): the newest `mmp-journal` artifacts listed, each run
checked, each zip fetched from the storage and read, merged, compacted and written, against
the fake GitHub API on loopback (no network latency: the figure is mmp's own work).

    python benchmarks/journal_history.py [--scopes 100,1000,10000] [--runs 5]

Each size is a journal as one apply of that many scope writes leaves it (6 records a
scope), kept by three runs in a row (each holding the one before: the whole history), read
as the next step reads them. Prints the median and range of the step's gather, the journal's
size, and the peak memory the gather added.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconciler.commands.github import history
from reconciler.simulators.server import serve
from tests.fakes.github import MAIN_SHA, FakeGitHub

TOKEN = "ghs_benchmark"
EVENTS = ("step-begin", "set-sent", "write-answered", "read-back", "verified", "step-end")


def journal(scopes: int, run: str) -> list[str]:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    lines = [json.dumps({"ts": now, "run": run, "event": "apply-start"})]
    for n in range(scopes):
        scope = f"deribit/acct{n // 500}/btc_{n}"
        for event in EVENTS:
            record: dict[str, Any] = {"ts": now, "run": run, "event": event, "scope": scope}
            if event == "step-end":
                record |= {"outcome": "applied", "live": {"quantity_limit": "10"}}
            lines.append(json.dumps(record, sort_keys=True))
    lines.append(json.dumps({"ts": now, "run": run, "event": "apply-end", "exit_code": 0}))
    return lines


def seeded(scopes: int) -> FakeGitHub:
    github = FakeGitHub("desk/mmp-policies", tokens={TOKEN: "read"})
    github.branches["main"] = MAIN_SHA
    kept: list[str] = []
    for number in range(1, 4):
        kept += journal(scopes, f"run{number}")
        mark = {"ts": dt.datetime.now(dt.UTC).isoformat(), "event": "history", "whole": True}
        text = "\n".join([*kept, json.dumps({**mark, "run": f"history-{number}"})]) + "\n"
        github.upload("mmp-journal", {"journal.jsonl": text.encode()}, run_id=number)
    return github


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scopes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    for scopes in (int(x) for x in options.scopes.split(",")):
        github = seeded(scopes)
        with serve(github) as url, tempfile.TemporaryDirectory() as folder:
            env = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": github.repo}
            env["GITHUB_TOKEN"] = TOKEN
            times, size = [], 0
            for run in range(options.runs):
                into = Path(folder) / f"journal{run}.jsonl"
                started = time.perf_counter()
                carried = history.carry(env, into, "main")
                times.append(time.perf_counter() - started)
                assert carried.unknown is None and len(carried.runs) == 3, carried.line()
                size = into.stat().st_size
            tracemalloc.start()  # once more, for memory (tracing slows it: not timed)
            history.carry(env, Path(folder) / "traced.jsonl", "main")
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        times.sort()
        print(
            f"{scopes:>6} scopes a run, 3 runs kept: gather median "
            f"{statistics.median(times):.3f} s "
            f"(min {times[0]:.3f}, max {times[-1]:.3f}, {options.runs} runs); journal "
            f"{size / 1e6:.1f} MB; peak memory {peak / 1e6:.0f} MB"
        )


if __name__ == "__main__":
    main()
