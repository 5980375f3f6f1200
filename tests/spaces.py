"""A venue's config spaces in the fault matrix (tests/test_fault_matrix.py, fault_cells.py):
Deribit's Block RFQ MMP (block_rfq:<index>) beside its order/quote MMP.

- cell_scopes: the two scopes a cell of the matrix changes: the row's first two; where the
  row has scopes of another config space, its first scope and the first of those, so that
  every cell of the venue crosses the two spaces (two scopes, not three: a Deribit cell
  then stays within its client's burst of 20 requests, where a third scope would pace it
  at 5 a second, over a second a cell).
- SpaceWatch: on a Deribit simulator, every write of one space (set_mmp_config,
  reset_mmp; with block_rfq: true or not) leaves the other space's configs and freezes as
  they were. Never mixed, whatever the fault.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import httpx

from reconciler.core.model import ScopeKey, split_space
from reconciler.core.units import loads_exact
from reconciler.venues.deribit.simulator import DeribitSimulator
from tests.venues import Scope, VenueRow

WRITES = frozenset({"private/set_mmp_config", "private/reset_mmp"})
ORDERS, BLOCK_RFQ = "orders", "block_rfq"  # order/quote MMP; Block RFQ MMP


def cell_scopes(row: VenueRow) -> tuple[Scope, Scope]:
    """The row's first two scopes; where it has scopes of another config space, its first
    and the first of those (Deribit: btc_usd and block_rfq:btc_usd, one index in each)."""
    other = [s for s in row.scopes if split_space(s[0])[0] is not None]
    return (row.scopes[0], other[0] if other else row.scopes[1])


def crosses(row: VenueRow) -> bool:
    """Whether the row's cells cross two config spaces."""
    return any(split_space(underlying)[0] is not None for underlying, _ in cell_scopes(row))


class SpaceWatch:
    """Watches a Deribit simulator's writes (its before_request hook, run under its lock):
    each request first compares the space the previous write did not name with what it was
    before that write. `check()` says whether one was ever changed, and counts the writes of
    each space (a cell that wrote no Block RFQ scope crossed nothing)."""

    def __init__(self, sim: DeribitSimulator) -> None:
        self.sim = sim
        self.writes: Counter[str] = Counter()
        self.mixed: list[str] = []
        self._pending: tuple[str, str, Any] | None = None  # (method, its space, other before)
        sim.before_request = self._before

    def _before(self, method: str, params: dict[str, Any]) -> None:
        self._settle()
        if method in WRITES:
            space = BLOCK_RFQ if params.get("block_rfq") is True else ORDERS
            self.writes[space] += 1
            self._pending = (method, space, self._state(_other(space), self._frozen(method)))

    def _settle(self) -> None:
        if self._pending is None:
            return
        method, space, before = self._pending
        self._pending = None
        if self._state(_other(space), self._frozen(method)) != before:
            self.mixed.append(f"a {method} of {space} MMP changed {_other(space)} MMP")

    def _frozen(self, method: str) -> bool:
        """Whether the other space's freezes are watched too: not for a set where the
        simulator plays a set's reset reaching the whole account, both spaces (set_resets:
        the venue's doing, which mmp holds writes for), only its configs."""
        return not (method.endswith("set_mmp_config") and self.sim.set_resets == "account")

    def _state(self, space: str, freezes: bool = True) -> Any:
        """Every account's configs (and freezes) of that space, as they are now."""
        accounts = self.sim.accounts.items()
        if space == BLOCK_RFQ:
            return copy.deepcopy(
                {cid: (a.rfq_configs, a.rfq_frozen if freezes else None) for cid, a in accounts}
            )
        return copy.deepcopy(
            {
                cid: (a.configs, a.frozen_until if freezes else None, a.group_ids)
                for cid, a in accounts
            }
        )

    def check(self) -> Counter[str]:
        """The writes of each space so far; fails where one changed the other space."""
        with self.sim._lock:
            self._settle()
        assert not self.mixed, self.mixed
        return self.writes


def space_of(key: ScopeKey) -> str:
    """The config space of a scope: Block RFQ MMP's (block_rfq:<index>), or orders."""
    return BLOCK_RFQ if split_space(key.underlying)[0] == BLOCK_RFQ else ORDERS


def of_block_rfq(request: httpx.Request) -> bool:
    """A Deribit request about Block RFQ MMP (its params say block_rfq: true)."""
    try:
        params = loads_exact(request.content).get("params", {})
    except (ValueError, AttributeError):
        return False
    return isinstance(params, dict) and params.get("block_rfq") is True


def _other(space: str) -> str:
    return ORDERS if space == BLOCK_RFQ else BLOCK_RFQ


def watch(sim: Any) -> SpaceWatch | None:
    """A SpaceWatch on a Deribit simulator; None for another venue's."""
    return SpaceWatch(sim) if isinstance(sim, DeribitSimulator) else None
