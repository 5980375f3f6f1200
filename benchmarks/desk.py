"""A generated desk of N scopes spread evenly over the registered venues, served by the
strict simulators on loopback with an injected round-trip latency.

Per account: Deribit 3 Block RFQ scopes (the trade count on `all`, btc_usd and eth_usd: a
section of their own, read with block_rfq: true) and 4 index names x (the default group + 4
mass-quote groups) = 23 scopes (16 groups, the venue's maximum); Binance its 6 underlyings;
Aevo and Bullish their 3 assets; OKX its 2 option families; Bybit its 3 base coins.
One scope in ten has drifted (the policies tighten it), so apply has work on every venue;
on Bullish that work is a replacement (reset, then set).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.setswitchinterval(0.0002)  # many server threads: hand the GIL over fast (latency)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.latency import DelayedPush, Traffic, delayed_http  # noqa: E402
from reconciler.core.mmpfields import LIMITS  # noqa: E402
from reconciler.core.model import MmpConfig, ScopeKey, split_space  # noqa: E402
from reconciler.core.units import decimal_text, format_duration, format_freeze  # noqa: E402
from reconciler.simulators.server import serve  # noqa: E402
from reconciler.venues import VENUES  # noqa: E402
from reconciler.venues.base import Capabilities  # noqa: E402
from tests.venues import ROWS  # noqa: E402

VENUE_ORDER = tuple(VENUES)
# one account's scopes on each venue (tests/venues.py VenueRow.desk_scopes)
SCOPES: dict[str, tuple[tuple[str, str | None], ...]] = {
    venue: ROWS[venue].desk_scopes for venue in VENUE_ORDER
}
ASYNC_DELAY_MS = 200  # an asynchronous venue's real asynchrony: applied this long after the ack
DRIFT_EVERY = 10


@dataclass
class Desk:
    scopes: int
    accounts: dict[str, list[str]]  # venue -> account names
    policies: Path
    env: dict[str, str]
    sims: dict[str, Any]
    changes: dict[str, int] = field(default_factory=dict)  # venue -> drifted scopes
    changes_per_account: dict[str, int] = field(default_factory=dict)  # venue -> the most
    # venue -> each account's config spaces besides the default one (Deribit's Block RFQ)
    spaces: dict[str, list[int]] = field(default_factory=dict)
    # venue -> what its push channel carried (or, not served, the handshakes refused)
    traffic: dict[str, Traffic] = field(default_factory=dict)

    def requests(self) -> dict[str, int]:
        return {venue: len(sim.requests) for venue, sim in self.sims.items()}


def _yaml_fields(config: MmpConfig, indent: str) -> list[str]:
    lines = [
        f"{indent}window: {format_duration(config.window_ms)}",
        f"{indent}frozen: {format_freeze(config.frozen_ms)}",
    ]
    for limit in LIMITS:
        value = config.value(limit)
        if isinstance(value, Decimal):
            lines.append(f"{indent}{limit.name}: {decimal_text(value)}")
    return lines


def loosened(config: MmpConfig) -> MmpConfig:
    """The drifted live config: looser than the policy, so the plan tightens it (its
    quantity limit doubled, or where it has none, Block RFQ's `all`, its trade count)."""
    if config.quantity_limit is not None:
        return config.with_changes(quantity_limit=config.quantity_limit * 2)
    assert config.trade_count_limit is not None
    return config.with_changes(trade_count_limit=config.trade_count_limit * 2)


def split(n: int) -> list[int]:
    """n scopes spread evenly over the venues, the first ones taking what is left over."""
    count = len(VENUE_ORDER)
    return [n // count + (1 if i < n % count else 0) for i in range(count)]


def full_accounts(per_venue: int) -> list[int]:
    """Scopes per venue (VENUE_ORDER) for `per_venue` whole accounts on each venue."""
    return [per_venue * len(SCOPES[venue]) for venue in VENUE_ORDER]


def desk(
    n: int, root: Path, latency_ms: int = 30, *, sockets: bool = False
) -> AbstractContextManager[Desk]:
    """Policies in root/policies, simulators seeded and served; yields the Desk."""
    return desk_of(split(n), root, latency_ms, sockets=sockets)


@contextmanager
def desk_of(
    per_venue: Sequence[int], root: Path, latency_ms: int = 30, *, sockets: bool = False
) -> Iterator[Desk]:
    """desk() with `per_venue[i]` scopes on VENUE_ORDER[i]."""
    policies = root / "policies"
    policies.mkdir(parents=True)
    sims = {venue: ROWS[venue].simulator(ASYNC_DELAY_MS) for venue in VENUE_ORDER}
    result = Desk(0, {}, policies, {}, sims)
    with ExitStack() as stack:
        urls = {}
        for venue in VENUE_ORDER:
            push = getattr(sims[venue], "ws", None)
            traffic = None if push is None else result.traffic.setdefault(venue, Traffic())
            late = DelayedPush(push, latency_ms, traffic) if push is not None and sockets else None
            app = delayed_http(sims[venue], latency_ms, traffic)
            urls[venue] = stack.enter_context(serve(app, push=late))
        for venue, count in zip(VENUE_ORDER, per_venue, strict=True):
            _venue_accounts(result, venue, count, urls[venue])
        yield result


def config_of(venue: str, underlying: str, serial: int) -> MmpConfig:
    """The policy's config of a desk scope (its row's sample, varied by its serial)."""
    row = ROWS[venue]
    return row.sample(serial) if row.desk_sample is None else row.desk_sample(underlying, serial)


def _place(
    mmp: dict[str, list[str]],
    spaces: dict[str, list[str]],
    caps: Capabilities,
    key: ScopeKey,
    want: MmpConfig,
) -> None:
    """A scope's policy lines: in its account's `mmp:` section (a group's under its
    underlying), or a config space's (Block RFQ's) in the account's section of that name."""
    space, bare = split_space(key.underlying)
    if space is not None:  # beside `mmp:`, no groups
        block = spaces.setdefault(space, [f"    {space}:"])
        block += [f"      {bare}:", *_yaml_fields(want, "        ")]
    elif caps.groups:
        block = mmp.setdefault(key.underlying, [f"      {key.underlying}:"])
        group = key.group or caps.default_group_name
        block += [f"        {group}:", *_yaml_fields(want, "          ")]
    else:
        mmp[key.underlying] = [f"      {key.underlying}:", *_yaml_fields(want, "        ")]


def _venue_accounts(result: Desk, venue: str, count: int, url: str) -> None:
    row, sim, layout = ROWS[venue], result.sims[venue], SCOPES[venue]
    caps = VENUES[venue].capabilities
    lines = ["accounts:"]
    names: list[str] = []
    most = 0
    for number in range((count + len(layout) - 1) // len(layout)):
        name = f"{venue}-{number:05d}"
        prefix = f"{venue.upper()}_{number:05d}"
        creds = row.credentials(sim, name)
        for suffix, value in creds.values.items():
            result.env[f"{prefix}_{suffix}"] = value
        lines += [f"  {name}:", f"    venue: {venue}", f"    base_url: {url}"]
        lines.append(f"    credentials: {prefix}")
        scopes = layout[: min(len(layout), count - number * len(layout))]
        drifted = 0
        mmp: dict[str, list[str]] = {}  # the account's `mmp:` entries, in order
        spaces: dict[str, list[str]] = {}  # its config spaces' sections
        for index, (underlying, group) in enumerate(scopes):
            serial = number * len(layout) + index
            key = ScopeKey(venue, name, underlying, group)
            want = config_of(venue, underlying, serial)
            drift = serial % DRIFT_EVERY == 0
            row.seed(sim, creds, key, loosened(want) if drift else want)
            drifted += drift
            _place(mmp, spaces, caps, key, want)
        lines += ["    mmp:"] if mmp else []
        lines += [line for section in (*mmp.values(), *spaces.values()) for line in section]
        names.append(name)
        result.spaces.setdefault(venue, []).append(
            len({s for u, _ in scopes if (s := split_space(u)[0]) is not None})
        )
        result.scopes += len(scopes)
        result.changes[venue] = result.changes.get(venue, 0) + drifted
        most = max(most, drifted)
    result.accounts[venue] = names
    result.changes_per_account[venue] = most
    if names:
        (result.policies / f"{venue}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
