"""Concurrent reads end together: a failure cancels the others and waits for them."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.core.aio import read_all
from reconciler.core.errors import VenueRejected


def test_results_keep_the_order_of_the_reads() -> None:
    async def value(n: int) -> int:
        await asyncio.sleep((5 - n) / 1000)
        return n

    assert asyncio.run(read_all(value(n) for n in range(5))) == [0, 1, 2, 3, 4]


def test_a_failure_ends_the_other_reads_before_it_is_raised() -> None:
    ended: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.01)  # cleanup that itself awaits (closing a connection)
            ended.append("slow")

    async def failing() -> None:
        await asyncio.sleep(0.001)
        raise VenueRejected("binance/main", "refused")

    async def run() -> None:
        with pytest.raises(VenueRejected):
            await read_all([slow(), failing(), slow()])
        assert ended == ["slow", "slow"]  # already, not when the loop closes

    asyncio.run(asyncio.wait_for(run(), timeout=5))
