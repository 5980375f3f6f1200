"""Plan and render 10,000 scopes from live state already in memory: CPU time and peak memory.

    python benchmarks/cpu.py [--scopes 10000] [--runs 5]

No network and no YAML: the desired and live state are built in memory (the generated desk's
shape: 1 scope in 10 drifted, some frozen, some unmanaged), then `make_plan` and the three
renderers run. Prints medians of process CPU time per phase and the peak memory
(tracemalloc's peak of Python allocations, and the process's maximum resident set).
Goals (issue 8): plan and render under 1 s of CPU, under 300 MB.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.desk import SCOPES, VENUE_ORDER, config_of, loosened, split
from reconciler.core.model import FreezeState, LiveAccount, LiveScope, ScopeKey, split_space
from reconciler.planning.planner import make_plan
from reconciler.planning.render import RENDERERS
from reconciler.policy.desired import AccountTarget, DesiredScope, DesiredState, Location
from reconciler.venues import VENUES, capabilities
from tests.venues import ROWS


def build(n: int) -> tuple[DesiredState, list[LiveAccount]]:
    desired = DesiredState()
    live: list[LiveAccount] = []
    per_venue = split(n)
    for venue, count in zip(VENUE_ORDER, per_venue, strict=True):
        layout = SCOPES[venue]
        for number in range((count + len(layout) - 1) // len(layout)):
            name = f"{venue}-{number:05d}"
            where = Location(f"policies/{venue}.yaml", number * 30 + 2, 3)
            desired.accounts[name] = AccountTarget(name, venue, "production", None, "X", where)
            scopes = []
            for index, (underlying, group) in enumerate(layout[: count - number * len(layout)]):
                serial = number * len(layout) + index
                key = ScopeKey(venue, name, underlying, group)
                want = config_of(venue, underlying, serial)
                desired.scopes[key] = DesiredScope(key, want, Location(where.file, serial, 7))
                if (space := split_space(underlying)[0]) is not None:
                    desired.spaces.setdefault(name, set()).add(space)
                have = loosened(want) if serial % 10 == 0 else want
                frozen = FreezeState(serial % 97 == 0, None)
                scopes.append(LiveScope(key, have, frozen))
            if number % 50 == 0:  # now and then a scope nobody declared
                grouped = VENUES[venue].capabilities.groups
                plain = next(u for u, _ in layout if split_space(u)[0] is None)  # not Block RFQ
                extra = ScopeKey(venue, name, plain, "unmanaged" if grouped else None)
                if extra not in desired.scopes:
                    scopes.append(LiveScope(extra, ROWS[venue].sample(number)))
            live.append(LiveAccount(venue, name, tuple(scopes)))
    return desired, live


def once(n: int) -> dict[str, float]:
    """CPU per phase; then the same work again under tracemalloc for the peak (tracemalloc
    slows every allocation, so it never runs while the clock does)."""
    desired, live = build(n)
    caps = capabilities()
    times: dict[str, float] = {}
    started = time.process_time()
    plan = make_plan(desired, live, caps)
    times["plan"] = time.process_time() - started
    for name, render in RENDERERS.items():
        started = time.process_time()
        text = render(plan, False)
        times[name] = time.process_time() - started
        assert text
    times["total"] = times["plan"] + times["text"]
    times["all"] = sum(times[k] for k in ("plan", *RENDERERS))
    times["steps"] = len(plan.steps)
    del plan, text
    tracemalloc.start()
    plan = make_plan(desired, live, caps)
    for render in RENDERERS.values():
        render(plan, False)
    times["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scopes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    runs = [once(options.scopes) for _ in range(options.runs)]
    keys = ["plan", "text", "json", "markdown", "total", "all", "peak_mb"]
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{options.scopes:,} scopes ({int(runs[0]['steps']):,} plan steps), "
        f"median of {options.runs} runs, CPU seconds:"
    )
    print(
        f"  plan {med['plan']:.3f}  text {med['text']:.3f}  json {med['json']:.3f}  "
        f"markdown {med['markdown']:.3f}"
    )
    print(
        f"  plan + text (what `mmp plan` does) {med['total']:.3f} s "
        f"(runs: {', '.join(format(r['total'], '.3f') for r in runs)}); "
        f"plan + all three renderers {med['all']:.3f} s"
    )
    print(f"  peak Python allocations {med['peak_mb']:.0f} MB; process max RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
