"""`LocalStore`: the C SDK's local message database on aiosqlite, one per (sdk_app_id, user_id).

    async with LocalStore(default_store_path(app_id, "alice")) as store:
        await store.save((ConvType.C2C, "bob"), msg, status=MsgStatus.SEND_SUCC, msg_key=key)
        page = await store.page((ConvType.C2C, "bob"), anchor=None, count=20, forward=False)

Deleting a message marks it (status 4, a tombstone) rather than removing the row: the locator stays
taken, so a later `insert_many` of the same history (a re-import, a roaming re-sync) cannot bring it
back. Tombstones are invisible to `page` (unless asked), `find`, `get`, `newest`, `count` and
`unread_count`; `msg_key_of` still answers, because deleting from roaming needs the key afterwards.
`delete_conversation` removes the rows (it frees the space; the MsgSeq counter is kept).

A message's locator (time, seq, rand) is its identity, and time is the server time or, before the
server has answered, the client time: save a sent message with the same time it was queued with
(fix `server_time` to the client time, or re-save under the final locator and delete the old one).

What runs where, and why (one aiosqlite connection; every use of it holds the store's lock):

- Writes are jobs for the `GroupWriter` (writer.py): built on the event loop (validation, the
  row, its JSON), committed on aiosqlite's thread, many callers' jobs in one transaction and one
  thread hop. A COMMIT may fsync and a write may wait out another process's lock (busy_timeout),
  which must never stall the loop; and each hop costs a thread wake-up and a loop wake-up
  (~70 µs under load), so a write is one hop, shared, instead of one per statement. A caller is
  answered after the COMMIT that holds its row. Inserts have no read-back: the caller has the row.
  A batch send's rows are the exception to "built on the loop": SQLite builds them from one
  encoded message and the list of recipients, in one statement (`insert_fanout`, counts.py).
- A small write (one row: a save, a status, a seq block) that finds nothing queued and the lock
  free commits on the loop thread, with no hop at all, when synchronous is NORMAL or OFF: a WAL
  commit then only writes to the OS cache. It never waits (busy timeout 0; busy goes to the
  thread), and the WAL checkpoint, the one fsync, runs on the thread (writer.py).
- Small reads (a page of up to `LOOP_READ_MAX`, a get, a count) run on the loop thread, when no
  job holds the lock: a short index range costs less than the hop to the thread. They never wait
  on a lock: the connection's busy timeout is 0 for them, and a busy database sends the read to
  the thread like any large read (in WAL mode a reader is blocked only by a recovery or a rare
  checkpoint from another process).
- Multi-statement work that reads then writes (the outbox claim, migrations) uses `_write()`:
  a transaction of several hops under the same lock.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import aiosqlite

from ..errors import TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, UsageError
from ..telemetry import carry
from ..types import Message, MsgLocator, encode
from . import outbox as outbox_sql
from . import sql, writer
from .counts import insert_fanout, save_row
from .errors import storage_errors
from .jobs import InsertRows, fetch_all, fetch_each, in_transaction, insert_or_get, reserve_seqs, rowcount
from .paths import prepare_file
from .rows import (
    Conv,
    Fanout,
    LocatorKey,
    check_conv,
    check_key,
    check_many,
    check_status,
    key_of_locator,
    message_of,
    row_of,
    rows_of,
    stamp,
)
from .schema import migrate
from .search import SearchMixin, check_index_idle
from .seqs import SeqCounters
from .settings import BUSY_TIMEOUT_MS, NO_FSYNC, check_commit_delay, check_synchronous, configure
from .writer import COMMIT_DELAY, BusyTimeout, GroupWriter, Job, is_busy, raw_connection, run_on_thread

__all__ = ["LocalStore"]

LOOP_READ_MAX: Final = 200  # pages up to this many rows are read on the loop thread
_SMALL_WRITE: Final = 8  # an insert_many of up to this many rows may commit on the loop thread
T = TypeVar("T")


class LocalStore(SearchMixin):
    """The local message database: messages by conversation and locator, read marks, MsgSeq counters.

    `synchronous="FULL"` survives power loss; the default NORMAL (with WAL) survives a process crash.
    `clock` (seconds) stamps messages that carry no time; `rng` picks each conversation's first MsgSeq.
    `commit_delay` (seconds) is how long a save with many `siblings` may wait to share a commit
    (0: never wait; writer.py). `index_idle` (seconds): index the search backlog in the background
    after that long without a write (None: only before a search; search.py).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        synchronous: str = "NORMAL",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        commit_delay: float = COMMIT_DELAY,
        index_idle: float | None = None,
    ) -> None:
        self._db: aiosqlite.Connection | None = None  # first: __del__ reads it even if __init__ fails
        self._writer: GroupWriter | None = None
        self._busy: BusyTimeout | None = None
        self.path = os.fspath(path)
        self._synchronous = check_synchronous(synchronous)
        self._commit_delay = check_commit_delay(commit_delay)
        self._index_idle = check_index_idle(index_idle)
        self._clock = clock
        self._state = "new"
        self._lock = asyncio.Lock()
        self._seqs = SeqCounters(self._reserve_seqs, rng or random.Random())  # bounded (seqs.py)
        self._checkpoints = writer.CheckpointCounter()

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, set the pragmas, run pending migrations. `store = await LocalStore(p).open()`."""
        if self._db is not None:
            raise UsageError(TIM_ERR_PARAM, f"{self!r} is already open")
        with storage_errors():
            prepare_file(self.path)
            # We issue BEGIN/COMMIT; small reads use the connection from the loop thread (see above).
            db = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                await configure(db, self._synchronous)
                await migrate(db)
            except BaseException:
                await db.close()
                raise
        self._db, self._state, self._lock = db, "open", asyncio.Lock()  # a lock per opening loop
        # Inline commits only where a commit never fsyncs (WAL, synchronous NORMAL or OFF).
        self._busy = BusyTimeout(raw_connection(db), BUSY_TIMEOUT_MS)
        self._writer = GroupWriter(
            db,
            self._lock,
            self._busy,
            inline=self._synchronous in NO_FSYNC,
            commit_delay=self._commit_delay,
        )
        self._start_indexer(self._index_idle)
        return self

    async def aclose(self) -> None:
        """Close the database (idempotent); waits for the operation in progress."""
        if self._db is None:
            return
        await self._stop_indexer()
        if self._writer is not None:
            await self._writer.drain()  # queued writes commit before the connection closes
        async with self._lock:
            db, self._db, self._state = self._db, None, "closed"
            if db is not None:  # a concurrent aclose() may have won the lock
                with storage_errors():
                    await db.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        if self._db is None:
            return
        # Stop the worker thread first (a warning turned into an error must not leak it); the loop may
        # be gone, so nothing is awaited. `stop()` is public from aiosqlite 0.22.1.
        stop = getattr(self._db, "stop", None)
        if stop is not None:
            stop()
        warnings.warn(
            f"{self!r} was never closed; use 'async with' or 'await aclose()'", ResourceWarning, stacklevel=1
        )

    def __repr__(self) -> str:
        return f"<LocalStore path={self.path!r} state={self._state}>"

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
        """Insert `msg`, or replace the one with its locator (`replace=False` keeps the existing one).

        Returns the message as stored, with its conversation, status and read mark filled in.
        `siblings`: how many other saves the caller expects soon (its other sends in flight): 0
        commits at once, several wait a moment to share one commit (writer.py). It returns after
        the commit that holds the row either way.
        """
        conv, status = check_conv(conv), check_status(status)
        stored = stamp(msg, conv, status, self._now())
        row = row_of(conv, stored, msg_key)
        if replace:
            is_read = await self._submit(partial(save_row, row=row), small=True, siblings=siblings)
            stored.is_read = bool(is_read)
            return stored
        kept = await self._submit(partial(insert_or_get, row), small=True, siblings=siblings)
        return stored if kept is None else message_of(kept, conv)

    async def insert_many(
        self,
        conv: Conv,
        msgs: Sequence[Message],
        *,
        status: int,
        msg_keys: Sequence[str | None] | None = None,
    ) -> int:
        """Insert `msgs` in one transaction, skipping locators already stored; return how many were new."""
        conv, status, keys = check_many(conv, msgs, status, msg_keys)
        if not msgs:
            return 0
        # The rows are encoded lazily on the database thread, not on the event loop.
        rows = rows_of(conv, msgs, status, keys, self._now())
        return await self._submit(InsertRows(rows, one_class=True), small=len(msgs) <= _SMALL_WRITE)

    async def insert_fanout(
        self, conv_type: int, conv_ids: Sequence[str], msg: Message, *, status: int, msg_key: str | None
    ) -> int:
        """Like `insert_many`, for one message delivered to many conversations (a batch send: a row
        per recipient, each with `msg` in that conversation) in one transaction; how many were new."""
        if not conv_ids:
            return 0
        fanout = Fanout(conv_type, conv_ids, msg, check_status(status), msg_key, now=self._now())
        return await self._submit(partial(insert_fanout, fanout=fanout))

    async def set_status(self, conv: Conv, locator_key: LocatorKey, status: int) -> bool:
        """Set a message's status (tombstones included); False if no message has that locator."""
        conv, status = check_conv(conv), check_status(status)
        return await self._update(sql.SET_STATUS, (status, *conv, *check_key(locator_key)), small=True) > 0

    async def delete(self, conv: Conv, locator_key: LocatorKey) -> bool:
        """Mark a message deleted (a tombstone, see the module docstring); False if absent or deleted."""
        return await self._update(sql.DELETE, (*check_conv(conv), *check_key(locator_key)), small=True) > 0

    async def delete_conversation(self, conv: Conv) -> int:
        """Remove every message of the conversation; return how many rows went."""
        return await self._update(sql.DELETE_CONVERSATION, check_conv(conv))

    async def mark_read(self, conv: Conv, up_to: LocatorKey | None) -> int:
        """Mark read every message at or before `up_to` (None: all); return how many changed."""
        conv = check_conv(conv)
        if up_to is None:
            return await self._update(sql.MARK_READ_ALL, conv)
        return await self._update(sql.MARK_READ, (*conv, *check_key(up_to)))

    async def next_seq(self, conv: Conv) -> int:
        """The conversation's next C2C MsgSeq: a persistent uint32 counter from a random start,
        reserved on disk in blocks (seqs.py); a restart skips the rest of a block."""
        return await self._seqs.next(check_conv(conv))

    async def _reserve_seqs(
        self, conv: Conv, first: int | None, wanted: Callable[[], int]
    ) -> tuple[int, int]:
        """Persist the end of the next block of seqs and return it as [start, limit): one job."""
        return await self._submit(partial(reserve_seqs, conv, first, wanted), small=True)

    # --- the outbox (Client(outbox=True)) ----------------------------------------------------------

    async def outbox_add(self, conv: Conv, msg: Message) -> int:
        """Commit `msg` (keys already fixed) as a queued outbox row; return its id once committed."""
        conv, now = check_conv(conv), self._now()
        async with self._write() as db:
            cur = await db.execute(outbox_sql.INSERT, (*conv, carry.stamped(encode(msg)), now, now))
            row_id = cur.lastrowid
        assert row_id is not None
        return row_id

    async def outbox_claim(
        self, limit: int, *, owner: str | None = None, lease: int = 30
    ) -> list[tuple[int, Conv, Message]]:
        """Lease up to `limit` of the oldest claimable rows to `owner` for `lease` seconds (queued
        rows, and inflight rows whose lease ended); return them in id order."""
        now = self._now()
        params = {"owner": owner, "until": now + lease, "now": now, "limit": limit}
        async with self._write() as db:
            rows = await db.execute_fetchall(outbox_sql.CLAIM, params)
        claimed = [(int(r[0]), (int(r[1]), str(r[2])), carry.claimed(r[3])) for r in rows]
        return sorted(claimed, key=lambda row: row[0])

    async def outbox_renew(self, owner: str, lease: int) -> int:
        """Extend the lease of every row `owner` has inflight to `lease` seconds from now; how many."""
        until = self._now() + lease
        async with self._write() as db:
            return (await db.execute(outbox_sql.RENEW, (until, owner))).rowcount

    async def outbox_owners(self) -> set[str]:
        """The owners holding inflight rows (leased, or with a lease that has ended)."""
        async with self._read() as db:
            rows = await db.execute_fetchall(outbox_sql.OWNERS)
        return {str(r[0]) for r in rows}

    async def outbox_sent(
        self, row_id: int, conv: Conv, sent: Message, *, status: int, msg_key: str | None
    ) -> None:
        """In one transaction: the row is sent and `sent` is saved in the messages table."""
        conv, status, now = check_conv(conv), check_status(status), self._now()
        row = row_of(conv, stamp(sent, conv, status, now), msg_key)
        async with self._write() as db:
            await in_transaction(db, partial(save_row, row=row))
            await db.execute(outbox_sql.SET_SENT, (row[-1], now, row_id))

    async def outbox_failed(
        self, row_id: int, conv: Conv, msg: Message, *, status: int, code: int, desc: str
    ) -> None:
        """In one transaction: the row failed (keeping `code` and `desc`) and `msg` is saved as failed."""
        conv, status, now = check_conv(conv), check_status(status), self._now()
        async with self._write() as db:
            await in_transaction(db, partial(save_row, row=row_of(conv, stamp(msg, conv, status, now), None)))
            await db.execute(outbox_sql.SET_STATE, (outbox_sql.FAILED, code, desc, now, row_id))

    async def outbox_requeue(self, row_ids: Sequence[int] | None = None, *, owner: str | None = None) -> int:
        """Put inflight rows back in the queue; return how many. `row_ids=None`: all of `owner`'s
        (all of everyone's when `owner` is None too: only for a store no live client shares)."""
        now = self._now()
        async with self._write() as db:
            if row_ids is None:
                if owner is None:
                    return (await db.execute(outbox_sql.REQUEUE_INFLIGHT, (now,))).rowcount
                return (await db.execute(outbox_sql.REQUEUE_OWNER, (now, owner))).rowcount
            if owner is None:
                cur = await db.executemany(outbox_sql.REQUEUE, [(now, row_id) for row_id in row_ids])
            else:
                params = [(now, row_id, owner) for row_id in row_ids]
                cur = await db.executemany(outbox_sql.REQUEUE_OWNED, params)
            return cur.rowcount

    async def outbox_counts(self) -> dict[str, int]:
        """How many outbox rows are in each state (every state is present, 0 if none)."""
        async with self._read() as db:
            rows = await db.execute_fetchall(outbox_sql.COUNTS)
        return {state: 0 for state in outbox_sql.STATES} | {str(r[0]): int(r[1]) for r in rows}

    async def outbox_cancel(self, conv: Conv, keys: tuple[int, int, int]) -> bool:
        """Fail the queued (not yet claimed) row with these (rand, seq, client time) keys as
        cancelled (8021); whether there was one."""
        async with self._write() as db:
            rows = await db.execute_fetchall(outbox_sql.CANCEL, (self._now(), *check_conv(conv), *keys))
        return bool(rows)

    async def outbox_outcome(self, conv: Conv, rand: int, seq: int) -> tuple[str, int, str, bytes] | None:
        """A queued message's row by its idempotency keys: (state, error code, error desc, JSON)."""
        async with self._read() as db:
            rows = await db.execute_fetchall(outbox_sql.OUTCOME, (*check_conv(conv), rand, seq))
        return next(((str(r[0]), int(r[1] or 0), str(r[2] or ""), bytes(r[3])) for r in rows), None)

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
        """Up to `count` messages strictly before `anchor`, newest first (or after it, oldest first).

        `anchor=None` starts at the newest end (backward) or the oldest (forward). The next page's
        anchor is the last message's `locator_key`.
        """
        conv = check_conv(conv)
        if count < 0:
            raise UsageError(TIM_ERR_PARAM, f"count must be >= 0, not {count}")  # LIMIT -1 means all
        query = sql.page_sql(forward=forward, anchored=anchor is not None)
        params = (*conv, *(() if anchor is None else check_key(anchor)), not include_deleted, count)
        rows = await self._query(partial(fetch_all, query, params), small=count <= LOOP_READ_MAX)
        return [message_of(row, conv) for row in rows]

    async def find(self, conv: Conv, locators: Sequence[MsgLocator]) -> list[Message]:
        """The stored message for each locator, in locator order; locators not found are left out."""
        conv = check_conv(conv)
        params = [(*conv, *key_of_locator(loc)) for loc in locators]
        rows = await self._query(partial(fetch_each, sql.GET, params), small=len(params) <= LOOP_READ_MAX)
        return [message_of(row, conv) for row in rows]

    async def get(self, conv: Conv, locator_key: LocatorKey) -> Message | None:
        """The stored message with that locator, or None (also for a deleted one)."""
        conv = check_conv(conv)
        rows = await self._query(partial(fetch_all, sql.GET, (*conv, *check_key(locator_key))))
        return message_of(rows[0], conv) if rows else None

    async def msg_key_of(self, conv: Conv, locator_key: LocatorKey) -> str | None:
        """The server's MsgKey for a message (tombstones included), or None if unknown."""
        key: str | None = await self._scalar(sql.MSG_KEY, (*check_conv(conv), *check_key(locator_key)))
        return key

    async def newest(self, conv: Conv) -> Message | None:
        """The conversation's newest stored message, or None."""
        newest = await self.page(conv, anchor=None, count=1, forward=False)
        return newest[0] if newest else None

    async def count(self, conv: Conv) -> int:
        """How many messages the conversation has here (deleted ones not counted)."""
        return int(await self._scalar(sql.COUNT, check_conv(conv)) or 0)

    async def unread_count(self, conv: Conv) -> int:
        """Messages from others, not read, neither deleted nor revoked."""
        return int(await self._scalar(sql.UNREAD_COUNT, check_conv(conv)) or 0)

    # --- plumbing --------------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        db = self._require_open()
        # One lock for reads too: on a shared connection, a read between a writer's statements
        # would see its uncommitted rows.
        async with self._lock:
            with storage_errors():
                # What runs under the lock runs on aiosqlite's thread, where it may wait out another
                # process's lock; an inline commit or read may have left the timeout at 0.
                self._require_busy().patient()
                yield db

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; any failure, commit included, rolls it back so the next one can start."""
        async with self._read() as db:
            try:
                # Inside the try: a task cancelled while BEGIN is queued must still queue the ROLLBACK
                # (the worker runs them in order), or every later BEGIN would fail.
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.commit()
                if self._checkpoints.due():  # PASSIVE: never waits for readers; on aiosqlite's thread
                    await db.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")  # its cursor closed
            except BaseException:
                await db.rollback()  # a no-op when no transaction is open (e.g. SQLite rolled back)
                raise

    def _require_busy(self) -> BusyTimeout:
        assert self._busy is not None  # set with the connection, in __aenter__
        return self._busy

    async def _submit(self, job: Job[T], *, small: bool = False, siblings: int | None = None) -> T:
        """Commit `job` with whatever else is queued (see writer.py); its result once committed.
        `small` (a row or a few) lets it commit on the loop thread; `siblings` says when."""
        self._require_open()
        assert self._writer is not None
        return await self._writer.submit(job, small=small, siblings=siblings)

    async def _update(self, query: str, params: Sequence[Any], *, small: bool = False) -> int:
        return await self._submit(partial(rowcount, query, params), small=small)

    async def _query(self, fn: Callable[[sqlite3.Connection], T], *, small: bool = True) -> T:
        """Run a read: on the loop thread if it is small and nothing holds the connection, else
        (or if the database is busy) on aiosqlite's thread under the lock."""
        db = self._require_open()
        raw = raw_connection(db)
        if small and not self._lock.locked():
            # No await from the check to the end: no job can start on the thread meanwhile.
            with storage_errors():
                try:
                    self._require_busy().never()
                    return fn(raw)
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc):
                        raise
        async with self._read():
            return await run_on_thread(db, partial(fn, raw))

    async def _scalar(self, query: str, params: Sequence[Any]) -> Any:
        rows = await self._query(partial(fetch_all, query, params))
        return rows[0][0] if rows else None

    def _require_open(self) -> aiosqlite.Connection:
        if self._db is None:
            raise UsageError(TIM_ERR_SDKUNINIT, f"{self!r} is not open")
        return self._db

    def _now(self) -> int:
        return int(self._clock())
