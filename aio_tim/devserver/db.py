"""The dev server's database connection: lifecycle, migrations, transactions and query helpers.

One aiosqlite connection, one writer: `transaction()` serializes whole handlers behind a lock,
so a dedup check and the insert it guards can never interleave with another request's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, Self

import aiosqlite

from .schema import MIGRATIONS

__all__ = ["Database", "Params"]

Params = Sequence[Any]


class Database:
    """The connection and the helpers every query group shares; open with `await cls.open(path)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        # Accounts are never deleted, so existence is cached; what a transaction learns only
        # joins the cache when it commits.
        self._known_accounts: set[str] = set()
        self._learned_accounts: set[str] = set()

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> Self:
        """Connect (inside the running loop), tune and migrate the database at `path`."""
        # Implicit transactions: sqlite3 issues BEGIN together with the first write of a
        # transaction, which saves a thread hop per request on the hot path.
        db = await aiosqlite.connect(os.fspath(path), isolation_level="DEFERRED")
        try:
            state = cls(db)
            await state._configure(file_backed=str(path) != ":memory:")
            await state._migrate()
        except BaseException:
            await db.close()
            raise
        return state

    async def _configure(self, *, file_backed: bool) -> None:
        if file_backed:
            # WAL lets readers (sqlite3 shell, tests) look while the server writes.
            await self._run("PRAGMA journal_mode=WAL")
            await self._run("PRAGMA synchronous=NORMAL")
        await self._run("PRAGMA busy_timeout=5000")

    async def _migrate(self) -> None:
        version = int((await self._one("PRAGMA user_version"))[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema v{version} is newer than this aio_tim supports")
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction():
                await self._run("BEGIN")  # DDL does not start a transaction implicitly
                for sql in statements:
                    await self._run(sql)
                # PRAGMA cannot take a bound parameter; `number` is our own int.
                await self._run(f"PRAGMA user_version = {int(number)}")

    async def close(self) -> None:
        await self._db.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One writer at a time; commit on success, roll back on any exception.

        The lock makes a check and the write it guards atomic against other requests; the
        sqlite transaction (opened by the first write) makes a handler's writes all-or-nothing.
        """
        async with self._lock:
            self._learned_accounts.clear()
            try:
                yield
            except BaseException:
                # sqlite may already have rolled back (e.g. after SQLITE_FULL).
                if self._db.in_transaction:
                    await self._db.rollback()
                raise
            if self._db.in_transaction:  # read-only calls have nothing to commit
                await self._db.commit()
            self._known_accounts |= self._learned_accounts

    # --- low-level helpers ---------------------------------------------------------------------

    # One thread hop per query: aiosqlite's `async with execute()` + fetch costs three.

    async def _run(self, sql: str, params: Params = ()) -> None:
        await self._db.execute_fetchall(sql, params)

    async def _insert(self, sql: str, params: Params) -> int:
        """Execute an INSERT; the rowid it created."""
        row = await self._db.execute_insert(sql, params)
        assert row is not None  # execute_insert always answers last_insert_rowid()
        return int(row[0])

    async def _all(self, sql: str, params: Params = ()) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Params = ()) -> Any:
        rows = await self._db.execute_fetchall(sql, params)
        return next(iter(rows), None)
