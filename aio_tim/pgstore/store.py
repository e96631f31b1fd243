"""`PgStore`: the message store in PostgreSQL, shared by every worker of a service.

    async with PgStore("postgresql://app@db/app", sdk_app_id=1400000000, user_id="alice") as store:
        await store.save((ConvType.C2C, "bob"), msg, status=MsgStatus.SEND_SUCC, msg_key=key)
        page = await store.page((ConvType.C2C, "bob"), anchor=None, count=20, forward=False)

It keeps what `LocalStore` keeps, with the same semantics (`aio_tim.seams.MessageStore`), in one
schema for every (sdk_app_id, user_id) a service acts as: the `stores` table gives each of them an
id, the leading column of every key. Rows are keyed as in SQLite (conversation, then the locator
time, seq, rand), pages are index ranges, and the per-conversation counts change in the same
transaction as the rows. What one worker writes, every worker reads at once.

Give a DSN (the store opens and closes a pool of its own) or an `asyncpg.Pool` you own.
"""

from __future__ import annotations

import asyncio
import random
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from itertools import islice
from types import TracebackType
from typing import Any, Final, Self

import asyncpg

from ..errors import TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, UsageError
from ..seams.store import LocatorKey
from ..store.rows import (
    Conv,
    Fanout,
    Row,
    check_key,
    check_many,
    check_status,
    columns_of,
    key_of_locator,
    message_of,
    row_of,
    rows_of,
    stamp,
)
from ..types import Message, MsgLocator
from .conversations import PgConversations
from .direct import Direct
from .errors import PG_FAILURES, check_ids, pg_conv, pg_error, pg_errors
from .inbox import PgInbox
from .outbox import OutboxRows
from .schema import check_schema, migrate
from .sql import Statements, statements

__all__ = ["CHUNK", "PgStore"]

CHUNK: Final = 5000  # rows per INSERT statement (one array per column)
SEQ_BLOCK: Final = 32  # the block sql.SEQ_BLOCK hands out
_FIRST_SEQ_BELOW: Final = 2**24


class PgStore(OutboxRows):
    """The message store of (`sdk_app_id`, `user_id`) in PostgreSQL schema `schema`.

    `clock` (seconds) stamps messages that carry no time; `rng` picks each conversation's first MsgSeq.
    `pool_size` bounds the pool the store opens for a DSN (a pool you pass is used as it is); with
    a DSN the store also keeps one connection of its own for single statements (direct.py).
    """

    def __init__(
        self,
        dsn_or_pool: str | asyncpg.Pool,
        *,
        sdk_app_id: int,
        user_id: str,
        schema: str = "aio_tim",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        pool_size: int = 10,
    ) -> None:
        self._pool: asyncpg.Pool | None = None  # first: __del__ reads it even if __init__ fails
        self._owns_pool = isinstance(dsn_or_pool, str)
        self._source = dsn_or_pool
        self.schema = check_schema(schema)
        self.sdk_app_id, self.user_id = sdk_app_id, user_id
        self._sql: Statements = statements(self.schema)
        self._clock = clock
        self._rng = rng or random.Random()
        self._pool_size = pool_size
        self._id = 0
        self._state = "new"
        self._seq_lock = asyncio.Lock()
        self._seq_blocks: dict[Conv, tuple[int, int]] = {}
        self._direct: Direct | None = None
        super().__init__()

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, run pending migrations, register (sdk_app_id, user_id). `await PgStore(...).open()`."""
        if self._pool is not None:
            raise UsageError(TIM_ERR_PARAM, f"{self!r} is already open")
        with pg_errors():
            pool = await self._connect()
            try:
                async with pool.acquire() as conn:
                    await migrate(conn, self.schema)
                    self._id = int(await conn.fetchval(self._sql.register, self.sdk_app_id, self.user_id))
            except BaseException:
                if self._owns_pool:
                    await pool.close()
                raise
        self._pool, self._state, self._seq_lock = pool, "open", asyncio.Lock()
        dsn = self._source
        self._direct = Direct(pool, partial(asyncpg.connect, dsn) if isinstance(dsn, str) else None)
        return self

    async def _connect(self) -> asyncpg.Pool:
        if isinstance(self._source, str):
            size = self._pool_size
            return await asyncpg.create_pool(self._source, min_size=1, max_size=size, reset=_keep_session)
        return self._source

    async def aclose(self) -> None:
        """Close (idempotent): stop listening, and close the pool if the store opened it."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        self._state = "closed"
        await self._stop_watching()
        if self._direct is not None:
            direct, self._direct = self._direct, None
            with pg_errors():
                await direct.aclose()
        if self._owns_pool:
            with pg_errors():
                await pool.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._pool is not None and self._owns_pool:
            message = f"{self!r} was never closed; use 'async with' or 'await aclose()'"
            warnings.warn(message, ResourceWarning, stacklevel=1)

    def __repr__(self) -> str:
        return (
            f"<PgStore schema={self.schema!r} sdk_app_id={self.sdk_app_id} user_id={self.user_id!r} "
            f"state={self._state}>"
        )

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (the store's own for a DSN, else yours)."""
        if self._pool is None:
            raise UsageError(TIM_ERR_SDKUNINIT, f"{self!r} is not open")
        return self._pool

    @property
    def store_id(self) -> int:
        """The id of (sdk_app_id, user_id) in the schema's `stores` table: every row's first key column."""
        return self._id

    def inbox(self) -> PgInbox:
        """The inbox of received webhooks of this (sdk_app_id, user_id), in this store's schema."""
        return PgInbox(self)

    # --- writes ----------------------------------------------------------------------------------

    async def save(
        self,
        conv: Conv,
        msg: Message,
        *,
        status: int,
        msg_key: str | None = None,
        replace: bool = True,
        siblings: int | None = None,
    ) -> Message:
        """Insert `msg`, or replace the one with its locator (`replace=False` keeps the stored one).

        `siblings` is accepted for the seam: each save is its own transaction (PostgreSQL groups
        the commits of concurrent transactions itself).
        """
        conv, status = pg_conv(conv), check_status(status)
        stored = stamp(msg, conv, status, self._now())
        row = row_of(conv, stored, msg_key)
        if replace:
            is_read = await self._run("fetchval", self._sql.save, self._id, *row)  # the hot path: no hop
            stored.is_read = bool(is_read)
            return stored
        if await self._insert_rows([row]):
            return stored
        kept = await self._fetchrow(self._sql.get_any, self._id, *row[:5])
        return stored if kept is None else message_of(kept, conv)

    async def insert_many(
        self,
        conv: Conv,
        msgs: Sequence[Message],
        *,
        status: int,
        msg_keys: Sequence[str | None] | None = None,
    ) -> int:
        """Insert `msgs` in one transaction (a statement per `CHUNK` rows), skipping stored locators."""
        conv, status, keys = check_many(pg_conv(conv), msgs, status, msg_keys)
        if not msgs:
            return 0
        return await self._insert_rows(list(rows_of(conv, msgs, status, keys, self._now())))

    async def insert_fanout(
        self, conv_type: int, conv_ids: Sequence[str], msg: Message, *, status: int, msg_key: str | None
    ) -> int:
        """One message into many conversations (a batch send): one statement per `CHUNK` ids."""
        if not conv_ids:
            return 0
        check_ids(list(conv_ids))
        fanout = Fanout(conv_type, conv_ids, msg, check_status(status), msg_key, now=self._now())
        chunks = [list(conv_ids[i : i + CHUNK]) for i in range(0, len(conv_ids), CHUNK)]
        with pg_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                new = 0
                for ids in chunks:
                    new += await conn.fetchval(
                        self._sql.insert_fanout, self._id, fanout.conv_type, ids, *fanout.columns
                    )
        return new

    async def _insert_rows(self, rows: list[Row]) -> int:
        """INSERT ... ON CONFLICT DO NOTHING, a statement per chunk, in one transaction; how many new."""
        with pg_errors():
            if len(rows) <= CHUNK:
                return int(await self._fetchval(self._sql.insert_many, self._id, *columns_of(rows)))
            async with self.pool.acquire() as conn, conn.transaction():
                new = 0
                for chunk in _chunks(rows, CHUNK):
                    new += await conn.fetchval(self._sql.insert_many, self._id, *columns_of(chunk))
                return new

    async def set_status(self, conv: Conv, locator_key: LocatorKey, status: int) -> bool:
        """Set a message's status (tombstones included); False if no message has that locator."""
        conv, status = pg_conv(conv), check_status(status)
        return await self._update(self._sql.set_status, *conv, *check_key(locator_key), status) > 0

    async def delete(self, conv: Conv, locator_key: LocatorKey) -> bool:
        """Mark a message deleted (a tombstone); False if absent or already deleted."""
        return await self._update(self._sql.delete, *pg_conv(conv), *check_key(locator_key)) > 0

    async def delete_conversation(self, conv: Conv) -> int:
        """Remove every message of the conversation, and its counts, in one transaction; how many rows."""
        conv = pg_conv(conv)
        with pg_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                # The counts first: the row-level trigger then finds no counts row to update.
                await conn.execute(self._sql.delete_counts, self._id, *conv)
                return _rowcount(await conn.execute(self._sql.delete_conversation, self._id, *conv))

    async def mark_read(self, conv: Conv, up_to: LocatorKey | None) -> int:
        """Mark read every message at or before `up_to` (None: all); how many changed."""
        conv = pg_conv(conv)
        if up_to is None:
            return await self._update(self._sql.mark_read_all, *conv)
        return await self._update(self._sql.mark_read, *conv, *check_key(up_to))

    async def next_seq(self, conv: Conv) -> int:
        """The conversation's next C2C MsgSeq: blocks of `SEQ_BLOCK` reserved atomically in the
        database, so two workers never hand out the same seq."""
        conv = pg_conv(conv)
        start, limit = self._seq_blocks.get(conv, (0, 0))
        if start >= limit:
            async with self._seq_lock:
                start, limit = self._seq_blocks.get(conv, (0, 0))
                if start >= limit:
                    first = self._rng.randrange(1, _FIRST_SEQ_BELOW)
                    last = int(await self._fetchval(self._sql.seq_block, self._id, *conv, first))
                    start, limit = last - SEQ_BLOCK + 1, last + 1
        self._seq_blocks[conv] = (start + 1, limit)
        return start

    # --- reads -----------------------------------------------------------------------------------

    async def page(
        self,
        conv: Conv,
        *,
        anchor: LocatorKey | None,
        count: int,
        forward: bool,
        include_deleted: bool = False,
    ) -> list[Message]:
        """Up to `count` messages strictly before `anchor`, newest first (or after it, oldest first)."""
        conv = pg_conv(conv)
        if count < 0:
            raise UsageError(TIM_ERR_PARAM, f"count must be >= 0, not {count}")
        query = self._sql.pages[forward, anchor is not None]
        where = (*conv, *(() if anchor is None else check_key(anchor)), include_deleted, count)
        rows = await self._fetch(query, self._id, *where)
        return [message_of(row, conv) for row in rows]

    async def find(self, conv: Conv, locators: Sequence[MsgLocator]) -> list[Message]:
        """The stored message for each locator, in locator order; locators not found are left out."""
        conv = pg_conv(conv)
        keys = [key_of_locator(loc) for loc in locators]
        if not keys:
            return []
        times, seqs, rands = (list(column) for column in zip(*keys, strict=True))
        rows = await self._fetch(self._sql.find, self._id, *conv, times, seqs, rands)
        return [message_of(row, conv) for row in rows]

    async def get(self, conv: Conv, locator_key: LocatorKey) -> Message | None:
        """The stored message with that locator, or None (also for a deleted one)."""
        conv = pg_conv(conv)
        row = await self._fetchrow(self._sql.get, self._id, *conv, *check_key(locator_key))
        return None if row is None else message_of(row, conv)

    async def msg_key_of(self, conv: Conv, locator_key: LocatorKey) -> str | None:
        """The server's MsgKey for a message (tombstones included), or None if unknown."""
        where = (*pg_conv(conv), *check_key(locator_key))
        key: str | None = await self._fetchval(self._sql.msg_key, self._id, *where)
        return key

    async def newest(self, conv: Conv) -> Message | None:
        """The conversation's newest stored message, or None."""
        newest = await self.page(conv, anchor=None, count=1, forward=False)
        return newest[0] if newest else None

    def conversation_table(self) -> PgConversations:
        """The conversation table (`tim.conv`), kept by this store's message writes."""
        return PgConversations(self)

    async def count(self, conv: Conv) -> int:
        """How many messages the conversation has (deleted ones not counted): one row read."""
        return int(await self._fetchval(self._sql.count, self._id, *pg_conv(conv)) or 0)

    async def unread_count(self, conv: Conv) -> int:
        """Messages from others, not read, neither deleted nor revoked: one row read."""
        return int(await self._fetchval(self._sql.unread_count, self._id, *pg_conv(conv)) or 0)

    # --- plumbing --------------------------------------------------------------------------------

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        """One statement, on the held connection when it is free (direct.py), else on the pool."""
        if self._direct is None:
            raise UsageError(TIM_ERR_SDKUNINIT, f"{self!r} is not open")
        try:  # pg_errors() inlined: this is every single statement's path
            return await self._direct.run(method, query, *args)
        except PG_FAILURES as exc:
            raise pg_error(exc) or exc from exc

    async def _fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, *args)

    async def _fetchrow(self, query: str, *args: Any) -> Any:
        return await self._run("fetchrow", query, *args)

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        return list(await self._run("fetch", query, *args))

    async def _update(self, query: str, *where: Any) -> int:
        return _rowcount(await self._run("execute", query, self._id, *where))

    def _now(self) -> int:
        return int(self._clock())


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The store's pool skips asyncpg's reset query on release: nothing of ours outlives a
    transaction (no session settings or locks; LISTEN is undone before its connection goes back).
    The reset is one more round trip per query (~200 µs of client CPU here, bench_pgstore.py)."""


def _rowcount(status: str) -> int:
    """The row count of a command status such as `UPDATE 3`."""
    return int(status.rpartition(" ")[2] or 0)


def _chunks(rows: list[Row], size: int) -> list[list[Row]]:
    it = iter(rows)
    return list(iter(lambda: list(islice(it, size)), []))
