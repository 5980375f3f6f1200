"""Concurrent reads that end together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def read_all(reads: Iterable[Awaitable[T]]) -> list[T]:
    """Every result in order, or the first failure once the other reads have ended.

    asyncio.gather leaves the others running after one fails: the client would then be
    closed under their open connections. Only for reads, which are safe to cancel; a write
    under way is never cancelled (the executor lets it finish)."""
    tasks = [asyncio.ensure_future(read) for read in reads]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
