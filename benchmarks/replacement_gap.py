"""A Bullish replacement's unprotected gap (issue 16): the time a scope is without MMP
between its reset showing and its new config (or, when the set fails, its old one) showing,
as `mmp apply` measures and journals it (step-end gap_ms).

    python benchmarks/replacement_gap.py                  # 5 runs each, 30 ms, 200 ms
    python benchmarks/replacement_gap.py --runs 3 --rtt-ms 30 --apply-delay-ms 200

One account, one drifted scope, the strict Bullish simulator on loopback applying each
command `--apply-delay-ms` after its acknowledgement, every HTTP request and every WebSocket
message delayed to make a round trip of `--rtt-ms`. Two cases, each run as a user runs it
(`mmp apply --auto-approve`, a new process):
  set       the replacement succeeds (the median case);
  rejected  the venue rejects every set of the new config (the worst case): the old config
            is restored.
Each with the private WebSocket served ("socket") and not served ("REST": the socket cannot
open, so outcomes come from REST polling alone, as before issue 16). Prints the median and
the range of each; quote medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import DelayedPush  # noqa: E402
from reconciler.core.model import MmpConfig, ScopeKey  # noqa: E402
from reconciler.core.units import decimal_text, format_duration, format_freeze  # noqa: E402
from reconciler.simulators.server import serve  # noqa: E402
from reconciler.venues.bullish import wire  # noqa: E402
from reconciler.venues.bullish.simulator import BullishSimulator  # noqa: E402

KEY = ScopeKey("bullish", "gap", "BTC")
WANT = MmpConfig(10_000, 5_000, quantity_limit=Decimal("2.5"))
OLD = WANT.with_changes(quantity_limit=Decimal(5))  # the live config: apply tightens it


class _Delayed:
    """The simulator's HTTP endpoints behind a network of `rtt_ms` (each request waits a
    round trip), rejecting every set of the new config when asked."""

    def __init__(self, sim: BullishSimulator, rtt_ms: int, reject_new: bool) -> None:
        self.sim, self.rtt_ms, self.reject_new = sim, rtt_ms, reject_new

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.rtt_ms / 1000)
        if self.reject_new and _sets(request, WANT):
            with self.sim._lock:
                self.sim.reject_next_sets += 1  # the venue will reject this one, later
        return self.sim(request)


def _sets(request: httpx.Request, config: MmpConfig) -> bool:
    if request.method != "POST" or request.url.path != wire.MMP_PATH:
        return False
    body = json.loads(request.content)
    wanted = wire.set_command(body.get("tradingAccountId", ""), KEY, config)
    return bool(body == wanted)


@dataclass
class Desk:
    sim: BullishSimulator
    folder: Path
    env: dict[str, str]


@contextmanager
def desk(rtt_ms: int, delay_ms: int, *, socket: bool, reject_new: bool) -> Iterator[Desk]:
    sim = BullishSimulator(apply_delay_ms=delay_ms)
    sim.add_account("key-gap", "secret-gap")
    account_id = sim.accounts["key-gap"].trading_account_id
    app = _Delayed(sim, rtt_ms, reject_new)
    push = DelayedPush(sim.ws, rtt_ms) if socket else None  # its messages delayed as well
    with tempfile.TemporaryDirectory() as tmp, serve(app, push=push) as url:
        folder = Path(tmp)
        (folder / "policies").mkdir()
        lines = [
            "accounts:",
            "  gap:",
            "    venue: bullish",
            f"    base_url: {url}",
            "    credentials: GAP",
            "    mmp:",
            "      BTC:",
            f"        window: {format_duration(WANT.window_ms)}",
            f"        frozen: {format_freeze(WANT.frozen_ms)}",
            f"        quantity_limit: {decimal_text(WANT.quantity_limit or Decimal(0))}",
        ]
        (folder / "policies" / "desk.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {"GAP_PUBLIC_KEY": "key-gap", "GAP_SECRET": "secret-gap"}
        env["GAP_TRADING_ACCOUNT_ID"] = account_id
        yield Desk(sim, folder, env)


def one_run(d: Desk, expect: int) -> int:
    """One `mmp apply` of the drifted scope; its gap in ms, from the journal."""
    with d.sim._lock:
        d.sim.seed("key-gap", wire.set_command(d.env["GAP_TRADING_ACCOUNT_ID"], KEY, OLD))
        d.sim.reset_rate_limits()
    journal = d.folder / "journal.jsonl"
    journal.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("MMP_SANDBOX", "NO_COLOR")}
    env.update(d.env)
    command = [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "-q"]
    # Bullish's REST cannot tell a freeze: a person checked this one (issue 16 must-show 2)
    command += ["--include-held", str(KEY), "--reason", "benchmark: not frozen"]
    command += ["--policies", str(d.folder / "policies"), "--journal", str(journal)]
    done = subprocess.run(command, cwd=d.folder, env=env, capture_output=True, text=True)
    if done.returncode != expect:
        raise SystemExit(f"mmp apply exited {done.returncode}, not {expect}:\n{done.stdout}")
    ends = [json.loads(line) for line in journal.read_text().splitlines()]
    gaps = [r["gap_ms"] for r in ends if r.get("event") == "step-end" and r.get("gap_ms")]
    if len(gaps) != 1:
        raise SystemExit(f"expected one replacement's gap in the journal, found {gaps}")
    return int(gaps[0])


def measure(case: str, socket: bool, runs: int, rtt_ms: int, delay_ms: int) -> list[int]:
    rejected = case == "rejected"
    with desk(rtt_ms, delay_ms, socket=socket, reject_new=rejected) as d:
        return [one_run(d, 3 if rejected else 0) for _ in range(runs)]


def line(label: str, gaps: list[int]) -> str:
    return (
        f"{label:<28} median {statistics.median(gaps) / 1000:7.3f} s "
        f"(min {min(gaps) / 1000:.3f}, max {max(gaps) / 1000:.3f}, {len(gaps)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rtt-ms", type=int, default=30)
    parser.add_argument("--apply-delay-ms", type=int, default=200)
    options = parser.parse_args()
    print(
        f"Bullish replacement gap, {options.rtt_ms} ms round trip, "
        f"{options.apply_delay_ms} ms apply delay"
    )
    for case in ("set", "rejected"):
        for socket in (False, True):
            label = f"{case}, {'socket' if socket else 'REST (no socket)'}"
            gaps = measure(case, socket, options.runs, options.rtt_ms, options.apply_delay_ms)
            print(line(label, gaps), flush=True)


if __name__ == "__main__":
    main()
