"""Shards: split one desk's plan across runners by whole accounts, each shard exact.

`--shard K/N` owns the accounts whose name hashes to K of N (stable: adding an account
never moves another); `--shard venue=NAME` owns every account on that venue. A shard
plans its accounts completely, removals of `absent` scopes included, and never reads or
plans an account it does not own, so no shard removes what another manages. Together the
shards of one split own every account exactly once; `mmp github drift` checks that.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from reconciler.core.errors import ReconcilerError
from reconciler.core.suggest import did_you_mean


@dataclass(frozen=True)
class Shard:
    spec: str
    venue: str | None = None
    index: int = 1
    count: int = 1

    def owns(self, account: str, venue: str) -> bool:
        if self.venue is not None:
            return venue == self.venue
        digest = int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big")
        return digest % self.count == self.index - 1


def parse_shard(text: str, venues: frozenset[str]) -> Shard:
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if match:
        index, count = int(match[1]), int(match[2])
        if not 1 <= index <= count:
            raise ReconcilerError(f"--shard {text}: K/N needs 1 <= K <= N, e.g. 1/4")
        return Shard(text, index=index, count=count)
    if text.startswith("venue="):
        venue = text.removeprefix("venue=")
        if venue not in venues:
            raise ReconcilerError(
                f"--shard {text}: no venue `{venue}`; venues: {', '.join(sorted(venues))}"
                + did_you_mean(venue, venues)
            )
        return Shard(text, venue=venue)
    raise ReconcilerError(
        f"--shard {text}: write K/N (e.g. 2/4) or venue=NAME (e.g. venue=deribit)"
    )
