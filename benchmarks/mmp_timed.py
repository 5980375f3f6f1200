"""`mmp` as `python -m reconciler` runs it, for benchmarks/push_cost.py, with two switches
that change nothing else:

    python benchmarks/mmp_timed.py [--no-push] [--timings FILE] -- plan --policies ...

--no-push   no venue gets a push channel (VenueSpec.push taken away before mmp starts):
            mmp as it was before issue 16, no handshake tried at all.
--timings   FILE gets a line per call of a push channel's `open` (connect and subscribe)
            and `confirm` (the liveness probe before each step's check):
            `open|confirm <venue/account> <microseconds> up|down` (the channel after it).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconciler.cli import main as mmp  # noqa: E402
from reconciler.venues import VENUES  # noqa: E402
from reconciler.venues.base import PushChannel, PushFactory, VenueClient  # noqa: E402


def _timed(
    channel: PushChannel, name: str, call: Callable[..., Awaitable[None]], lines: list[str]
) -> Callable[..., Awaitable[None]]:
    async def timed(*args: object) -> None:
        started = time.perf_counter_ns()
        try:
            await call(*args)
        finally:
            took_us = (time.perf_counter_ns() - started) // 1000
            where = getattr(channel, "where", "?")
            lines.append(f"{name} {where} {took_us} {'down' if channel.down else 'up'}\n")

    return timed


def _timing(make: PushFactory, lines: list[str]) -> PushFactory:
    """`make`, its channels' open and confirm timed into `lines`."""

    def made(client: VenueClient, base_url: str) -> PushChannel:
        channel = make(client, base_url)
        for name in ("open", "confirm"):
            setattr(channel, name, _timed(channel, name, getattr(channel, name), lines))
        return channel

    return made


def main(argv: list[str]) -> int:
    own, args = _split(argv)
    lines: list[str] = []
    for name, spec in list(VENUES.items()):
        if spec.push is not None and "--no-push" in own:
            VENUES[name] = dataclasses.replace(spec, push=None)
        elif spec.push is not None and "--timings" in own:
            VENUES[name] = dataclasses.replace(spec, push=_timing(spec.push, lines))
    try:
        return mmp(args)
    finally:
        if "--timings" in own:
            path = Path(own[own.index("--timings") + 1])
            with path.open("a", encoding="utf-8") as handle:
                handle.writelines(lines)


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """(this script's switches, mmp's arguments): split at the first `--`."""
    if "--" not in argv:
        return [], argv
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
