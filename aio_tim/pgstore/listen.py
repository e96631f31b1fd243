"""`listen_forever`: wake a waiter whenever a row is committed on a channel (LISTEN/NOTIFY).

A connection of the store's pool is held for LISTEN while it lives, and taken again when the
server restarts; `wake` is also called after each (re)connection, for rows committed while
nobody listened. The outbox's drainers and the inbox's blocked readers share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = ["listen_forever"]

log = logging.getLogger("aio_tim.pgstore")


async def listen_forever(pool: Callable[[], asyncpg.Pool], channel: str, wake: Callable[[], None]) -> None:
    """LISTEN on `channel` with a connection of `pool()`, calling `wake`; until cancelled."""
    pause = 0.1
    while True:
        try:
            async with pool().acquire() as conn:
                await _listen_on(conn, channel, wake)
                pause = 0.1
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
            log.warning("pgstore: LISTEN failed (%s); retrying in %.1fs", type(error).__name__, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 5.0)


async def _listen_on(conn: PoolConnectionProxy, channel: str, wake: Callable[[], None]) -> None:
    """Listen until the connection is lost."""
    lost = asyncio.Event()

    def terminated(_conn: object) -> None:
        lost.set()

    def notified(*_: object) -> None:
        wake()

    conn.add_termination_listener(terminated)
    await conn.add_listener(channel, notified)
    wake()  # rows committed while nobody listened
    try:
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), 5)
    finally:
        if not conn.is_closed():
            await conn.remove_listener(channel, notified)
