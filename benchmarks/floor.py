"""The least time the venues allow for a plan or an apply of a generated desk.

Per venue, the larger of:
- the chain of dependent round trips (accounts in parallel: nothing makes one account wait
  for another), plus, for apply, each account's steps one after the other;
- each rate-limit bucket's requests over its rate, plus one round trip for the last answer
  (and an account's reads, or for apply its writes, over a window of their own where the
  venue has one: OKX's 5 reads per 2 s and 2 sets per 10 s per user).

Two readings of "over its rate", both printed:
- sustained: R requests at the bucket's rate take R / rate (a per-IP window of `limit` per
  `window` is a rate of limit / window): the floor as issue 8 defines it;
- with bursts: what the venue really lets through: a token bucket lets `burst` go at once,
  then `rate` a second; a window lets `limit` go in any `window`, so R requests need
  floor((R - 1) / limit) windows before the last one leaves. This is the lower, harder bar.

The run's floor is the slowest venue's. Request counts are the fewest the venue's API
needs, not what mmp sends, so a wasteful client cannot lower its own bar; an account that
declares a further config space (Deribit's Block RFQ) needs that space's reads too.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.desk import SCOPES, Desk
from reconciler.venues import VENUES
from tests.venues import ROWS


@dataclass(frozen=True)
class Floor:
    ms: int
    venue: str  # the slowest
    why: str


def read_requests(venue: str, spaces: int = 0) -> int:
    """Requests to read one account: a bulk read's, or one per underlying of the desk's;
    and each further config space's it declares (`spaces` of them)."""
    floor = ROWS[venue].floor
    fixed = (
        len({u for u, _ in SCOPES[venue]}) if floor.read_requests is None else floor.read_requests
    )
    return fixed + spaces * floor.space_requests


def _reads(desk: Desk, venue: str) -> tuple[int, int]:
    """(the most requests an account of the venue needs to be read, all its accounts')."""
    each = [read_requests(venue, spaces) for spaces in desk.spaces[venue]]
    return max(each), sum(each)


def _bucket_ms(venue: str, per_account: int, total: int, bursts: bool) -> int:
    caps = VENUES[venue].connection
    if not bursts:
        account = per_account * 1000 // caps.requests_per_second
        window = total * caps.shared_window_ms // caps.shared_limit if caps.shared_limit else 0
        return max(account, window)
    account = max(0, per_account - caps.burst) * 1000 // caps.requests_per_second
    window = 0
    if caps.shared_limit:
        window = (max(total, 1) - 1) // caps.shared_limit * caps.shared_window_ms
    return max(account, window)


def _slowest(candidates: list[tuple[str, int, int]]) -> Floor:
    """(venue, chain ms, bucket ms) -> the slowest venue and what binds it."""
    best = Floor(0, "", "")
    for venue, chain, bucket in candidates:
        if max(chain, bucket) > best.ms:
            why = "round trips" if chain >= bucket else "rate limit"
            best = Floor(max(chain, bucket), venue, why)
    return best


def plan_floor(desk: Desk, rtt_ms: int, *, bursts: bool) -> Floor:
    candidates = []
    for venue, accounts in desk.accounts.items():
        if accounts:
            per_account, total = _reads(desk, venue)
            floor = ROWS[venue].floor
            bucket = max(
                _bucket_ms(venue, per_account, total, bursts),
                _window_ms(floor.read_window, per_account),
            )
            candidates.append((venue, floor.read_chain * rtt_ms, bucket + rtt_ms))
    return _slowest(candidates)


def apply_floor(desk: Desk, rtt_ms: int, async_delay_ms: int, *, bursts: bool) -> Floor:
    """Re-read everything (the fingerprint check), then each account's changes in order."""
    candidates = []
    for venue, accounts in desk.accounts.items():
        if not accounts:
            continue
        most = desk.changes_per_account.get(venue, 0)
        floor = ROWS[venue].floor
        step = floor.step_chain * rtt_ms + floor.async_waits * async_delay_ms
        chain = floor.read_chain * rtt_ms + most * step
        reads, all_reads = _reads(desk, venue)
        per_account = reads + most * floor.step_requests
        total = all_reads + desk.changes.get(venue, 0) * floor.step_requests
        bucket = max(
            _bucket_ms(venue, per_account, total, bursts),
            _window_ms(floor.write_window, most),  # OKX: a change is one set
            _window_ms(floor.read_window, reads + most),  # and one read back
        )
        candidates.append((venue, chain, bucket + rtt_ms))
    return _slowest(candidates)


def _window_ms(window: tuple[int, int] | None, requests: int) -> int:
    """An account's requests under a window of their own (OKX: 2 sets per 10 s, 5 reads per
    2 s, per user): the windows before its last may leave, in both readings. An account
    has a handful of them, never a sustained stream: its first `limit` leave at once."""
    if window is None or not requests:
        return 0
    limit, window_ms = window
    return (requests - 1) // limit * window_ms
