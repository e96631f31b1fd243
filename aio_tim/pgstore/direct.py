"""`Direct`: one connection of the pool held for the store's single statements.

A query through `pool.fetchval()` acquires and releases a connection around it, which costs
more client CPU than the query itself (asyncpg's pool bookkeeping, and by default a reset query,
one more round trip, at each release): a save through the pool took about twice the CPU of an
INSERT on a connection (bench_pgstore.py). So the store keeps one connection for statements that
stand alone and sends them there when it is free; when it is busy (concurrent callers) they go
through the pool as before. Multi-statement transactions always take a pool connection.

A statement that fails or is cancelled on the held connection gives it back to the pool (whose
release rolls back and cleans it up), and the next statement takes a fresh one: the held
connection is never left mid-protocol, and a server restart costs one failed statement.

When the store opened the pool itself (a DSN), `connect` opens the held connection outside the
pool instead: a pool connection is a proxy whose every call costs a few µs more (5 of a save's
~150 µs of client CPU, bench_pgstore.py), and a spoiled one is closed rather than given back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Held = asyncpg.Connection | PoolConnectionProxy

__all__ = ["Direct"]


class Direct:
    """Run single statements on a held connection when it is free, else on the pool."""

    def __init__(
        self, pool: asyncpg.Pool, connect: Callable[[], Awaitable[asyncpg.Connection]] | None = None
    ) -> None:
        self._pool = pool
        self._connect = connect
        # A pool of one connection would be held whole: its transactions would wait forever.
        self._enabled = connect is not None or pool.get_max_size() >= 2
        self._conn: Held | None = None
        self._busy = False
        self._spoiled: list[Held] = []

    async def run(self, method: str, query: str, *args: Any) -> Any:
        """`getattr(connection, method)(query, *args)` on the held connection, or on the pool."""
        if self._busy or not self._enabled:
            return await getattr(self._pool, method)(query, *args)
        self._busy = True
        try:
            conn = self._conn if self._conn is not None else await self._take()
            try:
                return await getattr(conn, method)(query, *args)
            except BaseException:
                self._conn = None
                self._spoiled.append(conn)  # given back by the next `_take` or `aclose`
                raise
        finally:
            self._busy = False

    async def _take(self) -> Held:
        await self._give_back()
        self._conn = await (self._connect() if self._connect is not None else self._pool.acquire())
        return self._conn

    async def _give_back(self) -> None:
        spoiled, self._spoiled = self._spoiled, []
        for conn in spoiled:
            if isinstance(conn, PoolConnectionProxy):
                await self._pool.release(conn)
            else:  # our own: closed at once (it may be mid-protocol), without a round trip
                conn.terminate()

    async def aclose(self) -> None:
        """Give every connection back to the pool (before the pool closes)."""
        conn, self._conn = self._conn, None
        if isinstance(conn, asyncpg.Connection) and not conn.is_closed():
            await conn.close(timeout=5)  # our own, idle: a clean goodbye
        elif conn is not None:
            self._spoiled.append(conn)
        await self._give_back()
