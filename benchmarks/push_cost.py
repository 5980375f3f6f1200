"""What the venues' push channels cost `mmp plan`, `mmp apply --auto-approve` and `mmp status`
(issue 16): the generated desk (benchmarks/desk.py) with K whole accounts on every venue,
each command a new process as a user runs it, the desk served one of three ways:

  served    each simulator that has a push channel serves it, its messages delayed as the
            HTTP requests are (benchmarks/latency.py): a socket per account with a channel
            (handshake, auth, subscribe) and a liveness probe before each step's check;
  refused   no channel served: each handshake is answered by the HTTP simulator (refused,
            after a round trip), and mmp goes on by REST alone;
  off       mmp with no push channel at all (benchmarks/mmp_timed.py --no-push): no
            handshake tried, as before issue 16. `refused` against `off` is what a refused
            handshake costs.

    python benchmarks/push_cost.py                       # K = 1, 5, 20; 5 runs; served, refused
    python benchmarks/push_cost.py --modes served,refused,off --accounts 1,20 --runs 7

Each run is a fresh desk per way, the ways interleaved run by run (a busy machine slows
them alike); rate-limit windows fresh for each command (benchmarks/plan_apply.py). Prints
per K the medians (min-max) of wall time and their ratios; the sockets each command opened
(or handshakes refused) and the client's messages by method; each channel's open
(connect, auth, subscribe) as timed in the process, and the slowest of a run; and per
apply the liveness probes sent, per step, what one took and the most one account waited
on them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.desk import Desk, desk_of, full_accounts  # noqa: E402
from benchmarks.plan_apply import run_mmp  # noqa: E402

MODES = ("served", "refused", "off")
RATIOS = (("served", "refused"), ("refused", "off"), ("served", "off"))
COMMANDS = (
    ("plan", ["plan", "--detailed-exitcode"], 2),
    ("apply", ["apply", "--auto-approve"], 0),
    ("status", ["status"], 0),
)


@dataclass
class Timed:
    """A push channel's call as benchmarks/mmp_timed.py logged it."""

    call: str  # open | confirm
    where: str  # venue/account
    us: int
    up: bool


@dataclass
class Figures:
    """One desk size run one way, over the runs."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    opened: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    refused: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    methods: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # (command, venue) -> each channel's first open; the slowest of each run
    opens_us: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    slowest_us: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    probes: list[int] = field(default_factory=list)  # per apply
    steps: list[int] = field(default_factory=list)  # per apply: on venues with a channel
    probe_us: list[int] = field(default_factory=list)  # every probe
    probe_chain_us: list[int] = field(default_factory=list)  # per apply: one account's most
    probes_failed: int = 0  # probes that left their channel down (unanswered in 2 s)
    channels: dict[str, int] = field(default_factory=dict)  # command -> accounts with one
    shape: str = ""


def _timings(path: Path) -> list[Timed]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        call, where, us, state = line.split()
        found.append(Timed(call, where, int(us), state == "up"))
    path.unlink()
    return found


def _steps(journal: Path, venues: set[str]) -> dict[str, int]:
    """account -> steps begun, of the accounts on `venues`."""
    steps: Counter[str] = Counter()
    for line in journal.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        key = record.get("key") or {}
        if record.get("event") == "step-begin" and key.get("venue") in venues:
            steps[key["account"]] += 1
    return dict(steps)


Counts = dict[str, tuple[int, int, Counter[str]]]


def _record(figures: Figures, name: str, d: Desk, before: Counts) -> None:
    """What the push channels carried for one command (`before`: their counts before it)."""
    opened = refused = 0
    for venue, traffic in d.traffic.items():
        now_opened, now_refused, methods = traffic.snapshot()
        opened += now_opened - before[venue][0]
        refused += now_refused - before[venue][1]
        figures.methods[name] += methods - before[venue][2]
    figures.opened[name].append(opened)
    figures.refused[name].append(refused)


def _apply_probes(figures: Figures, timed: list[Timed], steps: dict[str, int]) -> None:
    probes = [t for t in timed if t.call == "confirm"]
    figures.probes.append(len(probes))
    figures.steps.append(sum(steps.values()))
    figures.probe_us += [t.us for t in probes]
    figures.probes_failed += sum(not t.up for t in probes)
    per_account: Counter[str] = Counter()
    for t in probes:
        per_account[t.where] += t.us
    figures.probe_chain_us.append(max(per_account.values(), default=0))


def _opens(figures: Figures, command: str, timed: list[Timed]) -> None:
    """The first open of each channel (a later call finds it open, or adds little)."""
    first: dict[str, Timed] = {}
    for t in timed:
        if t.call == "open":
            first.setdefault(t.where, t)
    slowest: dict[str, int] = {}
    for t in first.values():
        venue = t.where.split("/")[0]
        figures.opens_us[command, venue].append(t.us)
        slowest[venue] = max(slowest.get(venue, 0), t.us)
    for venue, us in slowest.items():
        figures.slowest_us[command, venue].append(us)


def one_run(figures: Figures, accounts: int, mode: str, rtt_ms: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        desk_of(full_accounts(accounts), Path(tmp), rtt_ms, sockets=mode == "served") as d,
    ):
        root = Path(tmp)
        timings, journal = root / "timings.txt", root / "journal.jsonl"
        switches = ["--no-push"] if mode == "off" else ["--timings", str(timings)]
        mmp = [sys.executable, str(HERE / "mmp_timed.py"), *switches, "--"]
        steps: dict[str, int] = {}
        for name, args, expect in COMMANDS:
            before = {venue: t.snapshot() for venue, t in d.traffic.items()}
            extra = ["--journal", str(journal)] if name != "plan" else []
            seconds, _ = run_mmp([*args, *extra], d, root, expect, mmp)
            figures.seconds[name].append(seconds)
            _record(figures, name, d, before)
            timed = _timings(timings)
            _opens(figures, name, timed)
            if name == "apply":
                steps = _steps(journal, set(d.traffic))
                _apply_probes(figures, timed, steps)
            figures.channels[name] = len({t.where for t in timed if t.call == "open"})
        count = sum(len(a) for a in d.accounts.values())
        changes = sum(d.changes.values())
        on_channels = sum(d.changes.get(venue, 0) for venue in d.traffic)
        figures.shape = (
            f"{d.scopes:,} scopes, {count} accounts ({', '.join(sorted(d.traffic))} have "
            f"channels), {changes} changes ({on_channels} on those venues, "
            f"{len(steps)} accounts written there)"
        )


def spread(values: Sequence[float], scale: float = 1, digits: int = 2) -> str:
    return (
        f"{statistics.median(values) * scale:.{digits}f} "
        f"({min(values) * scale:.{digits}f}-{max(values) * scale:.{digits}f})"
    )


def report(accounts: int, by_mode: dict[str, Figures]) -> None:
    modes = list(by_mode)
    ratios = [(a, b) for a, b in RATIOS if a in by_mode and b in by_mode]
    print(f"\n{accounts} account(s) per venue: {by_mode[modes[0]].shape}")
    header = "".join(f"{mode + ', s':>18}" for mode in modes)
    header += "".join(f"{a + '/' + b:>15}" for a, b in ratios)
    print(f"  {'command':<7}{header}")
    for name, _, _ in COMMANDS:
        medians = {mode: statistics.median(f.seconds[name]) for mode, f in by_mode.items()}
        cells = "".join(f"{spread(f.seconds[name]):>18}" for f in by_mode.values())
        cells += "".join(f"{medians[a] / medians[b]:>15.2f}" for a, b in ratios)
        print(f"  {name:<7}{cells}")
    if "served" in by_mode:
        _channels(by_mode["served"])
    if "refused" in by_mode:
        refused = by_mode["refused"].refused
        said = ", ".join(f"{name} {_range(refused[name])}" for name, _, _ in COMMANDS)
        print(f"  refused: handshakes refused per command: {said}")
    for mode, figures in by_mode.items():
        _opened(mode, figures)


def _opened(mode: str, figures: Figures) -> None:
    """How long each channel's open took, per command and venue (refused: until it gave up)."""
    what = "open (connect, auth, subscribe)" if mode == "served" else "open, refused,"
    for name, _, _ in COMMANDS:
        for venue in sorted({v for c, v in figures.opens_us if c == name}):
            took, slowest = figures.opens_us[name, venue], figures.slowest_us[name, venue]
            print(
                f"  {mode}, {name}: a {venue} channel's {what} {spread(took, 1e-3, 0)} ms; "
                f"the slowest of each run {spread(slowest, 1e-3, 0)} ms"
            )


def _channels(served: Figures) -> None:
    """What the served channels carried and took."""
    for name, _, _ in COMMANDS:
        print(
            f"  served, {name}: sockets opened {_range(served.opened[name])}, "
            f"channels mmp opened {served.channels.get(name, 0)}; the client's messages "
            f"(all runs) {dict(sorted(served.methods[name].items()))}"
        )
    if served.probe_us:
        per_step = [p / s for p, s in zip(served.probes, served.steps, strict=True) if s]
        print(
            f"  served, apply: liveness probes {_range(served.probes)} for "
            f"{_range(served.steps)} steps on venues with a channel ({_range_f(per_step)} a "
            f"step); a probe took {spread(served.probe_us, 1e-3, 0)} ms; the most one account "
            f"waited on them {spread(served.probe_chain_us, 1e-3, 0)} ms; "
            f"{served.probes_failed} left their channel down"
        )


def _range(values: list[int]) -> str:
    return str(values[0]) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _range_f(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low:.2f}" if low == high else f"{low:.2f}-{high:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--accounts", default="1,5,20", help="accounts per venue, comma-separated")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rtt-ms", type=int, default=30)
    parser.add_argument(
        "--modes", default="served,refused", help=f"comma-separated, of {', '.join(MODES)}"
    )
    options = parser.parse_args()
    modes = [mode for mode in MODES if mode in options.modes.split(",")]
    print(
        f"push channels' cost: {options.rtt_ms} ms round trip (HTTP and WebSocket alike); "
        f"{options.runs} runs each; medians (min-max)"
    )
    for accounts in (int(x) for x in options.accounts.split(",")):
        by_mode = {mode: Figures() for mode in modes}
        for _ in range(options.runs):
            for mode in modes:
                one_run(by_mode[mode], accounts, mode, options.rtt_ms)
        report(accounts, by_mode)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
