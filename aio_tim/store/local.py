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
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Final, Self

import aiosqlite

from ..errors import TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, UsageError
from ..types import Message, MsgLocator, encode
from ..types._base import decoder_for
from . import outbox as outbox_sql
from . import sql
from .errors import storage_errors
from .rows import (
    Conv,
    LocatorKey,
    check_conv,
    check_key,
    check_status,
    key_of_locator,
    locator_key,
    message_of,
    row_of,
    rows_of,
    stamp,
)
from .schema import migrate

__all__ = ["LocalStore"]

_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_BUSY_TIMEOUT_MS: Final = 5000
_FIRST_SEQ_BELOW: Final = 2**24
_UINT32_MAX: Final = 2**32 - 1
SEQ_BLOCK: Final = 32
_MESSAGE_DECODER: Final = decoder_for(Message)


class LocalStore:
    """The local message database: messages by conversation and locator, read marks, MsgSeq counters.

    `synchronous="FULL"` survives power loss; the default NORMAL (with WAL) survives a process crash.
    `clock` (seconds) stamps messages that carry no time; `rng` picks each conversation's first MsgSeq.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        synchronous: str = "NORMAL",
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._db: aiosqlite.Connection | None = None  # first: __del__ reads it even if __init__ fails
        self.path = os.fspath(path)
        self._synchronous = _check_synchronous(synchronous)
        self._clock = clock
        self._rng = rng or random.Random()
        self._state = "new"
        self._lock = asyncio.Lock()
        self._seq_lock = asyncio.Lock()
        self._seq_blocks: dict[Conv, tuple[int, int]] = {}

    # --- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> Self:
        """Connect, set the pragmas, run pending migrations. `store = await LocalStore(p).open()`."""
        if self._db is not None:
            raise UsageError(TIM_ERR_PARAM, f"{self!r} is already open")
        with storage_errors():
            _prepare_file(self.path)
            db = await aiosqlite.connect(self.path, isolation_level=None)  # we issue BEGIN/COMMIT
            try:
                await self._configure(db)
                await migrate(db)
            except BaseException:
                await db.close()
                raise
        self._db, self._state, self._lock = db, "open", asyncio.Lock()  # a lock per opening loop
        self._seq_lock = asyncio.Lock()
        return self

    async def aclose(self) -> None:
        """Close the database (idempotent); waits for the operation in progress."""
        if self._db is None:
            return
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
        self, conv: Conv, msg: Message, *, status: int, msg_key: str | None = None, replace: bool = True
    ) -> Message:
        """Insert `msg`, or replace the one with its locator (`replace=False` keeps the existing one).

        Returns the message as stored, with its conversation, status and read mark filled in.
        """
        conv, status = check_conv(conv), check_status(status)
        stored = stamp(msg, conv, status, self._now())
        async with self._write() as db:
            await db.execute(sql.UPSERT if replace else sql.INSERT_IGNORE, row_of(conv, stored, msg_key))
            found = await _fetch_one(db, sql.GET_ANY, (*conv, *locator_key(stored)))
        assert found is not None  # just written in this transaction
        return found

    async def insert_many(
        self,
        conv: Conv,
        msgs: Sequence[Message],
        *,
        status: int,
        msg_keys: Sequence[str | None] | None = None,
    ) -> int:
        """Insert `msgs` in one transaction, skipping locators already stored; return how many were new."""
        conv, status = check_conv(conv), check_status(status)
        if msg_keys is not None and len(msg_keys) != len(msgs):
            raise UsageError(TIM_ERR_PARAM, f"{len(msg_keys)} msg_keys for {len(msgs)} messages")
        if not msgs:
            return 0
        keys = msg_keys if msg_keys is not None else [None] * len(msgs)
        rows = rows_of(conv, msgs, status, keys, self._now())
        async with self._write() as db:
            # The rows are encoded lazily on the database thread, not on the event loop.
            cur = await db.executemany(sql.INSERT_IGNORE, rows)
            return cur.rowcount

    async def insert_spread(self, items: Sequence[tuple[Conv, Message, str | None]], *, status: int) -> int:
        """Like `insert_many`, for messages of many conversations (one batch send, one row per
        recipient) in one transaction; return how many were new."""
        status = check_status(status)
        now = self._now()
        rows = [row_of(check_conv(conv), stamp(msg, conv, status, now), key) for conv, msg, key in items]
        async with self._write() as db:
            cur = await db.executemany(sql.INSERT_IGNORE, rows)
            return cur.rowcount

    async def set_status(self, conv: Conv, locator_key: LocatorKey, status: int) -> bool:
        """Set a message's status (tombstones included); False if no message has that locator."""
        conv, status = check_conv(conv), check_status(status)
        return await self._update(sql.SET_STATUS, (status, *conv, *check_key(locator_key))) > 0

    async def delete(self, conv: Conv, locator_key: LocatorKey) -> bool:
        """Mark a message deleted (a tombstone, see the module docstring); False if absent or deleted."""
        return await self._update(sql.DELETE, (*check_conv(conv), *check_key(locator_key))) > 0

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
        """The conversation's next C2C MsgSeq: a persistent uint32 counter from a random start.

        Seqs are reserved on disk in blocks of `SEQ_BLOCK`, so a send costs no counter write most
        of the time; a restart skips the rest of a block (seqs must increase, not be dense).
        """
        conv = check_conv(conv)
        async with self._seq_lock:
            start, limit = self._seq_blocks.get(conv, (0, 0))
            if start >= limit:
                start, limit = await self._reserve_seqs(conv)
            self._seq_blocks[conv] = (start + 1, limit)
            return start

    async def _reserve_seqs(self, conv: Conv) -> tuple[int, int]:
        """Persist the end of the next block of seqs and return it as [start, limit)."""
        async with self._write() as db:
            async with db.execute(sql.READ_SEQ, conv) as cur:
                row = await cur.fetchone()
            start = self._rng.randrange(1, _FIRST_SEQ_BELOW) if row is None else int(row[0]) + 1
            if start > _UINT32_MAX:
                start = 1  # 0 would mean "the server chooses"
            limit = min(start + SEQ_BLOCK, _UINT32_MAX + 1)
            await db.execute(sql.SET_SEQ, (*conv, limit - 1))
        return start, limit

    # --- the outbox (Client(outbox=True)) ----------------------------------------------------------

    async def outbox_add(self, conv: Conv, msg: Message) -> int:
        """Commit `msg` (keys already fixed) as a queued outbox row; return its id once committed."""
        conv, now = check_conv(conv), self._now()
        async with self._write() as db:
            cur = await db.execute(outbox_sql.INSERT, (*conv, encode(msg), now, now))
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
        claimed = [(int(r[0]), (int(r[1]), str(r[2])), _MESSAGE_DECODER.decode(r[3])) for r in rows]
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
        async with self._write() as db:
            await db.execute(sql.UPSERT, row_of(conv, stamp(sent, conv, status, now), msg_key))
            await db.execute(outbox_sql.SET_STATE, (outbox_sql.SENT, None, None, now, row_id))

    async def outbox_failed(
        self, row_id: int, conv: Conv, msg: Message, *, status: int, code: int, desc: str
    ) -> None:
        """In one transaction: the row failed (keeping `code` and `desc`) and `msg` is saved as failed."""
        conv, status, now = check_conv(conv), check_status(status), self._now()
        async with self._write() as db:
            await db.execute(sql.UPSERT, row_of(conv, stamp(msg, conv, status, now), None))
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
        async with self._read() as db:
            rows = await db.execute_fetchall(query, params)
        return [message_of(row) for row in rows]

    async def find(self, conv: Conv, locators: Sequence[MsgLocator]) -> list[Message]:
        """The stored message for each locator, in locator order; locators not found are left out."""
        conv = check_conv(conv)
        found: list[Message] = []
        async with self._read() as db:
            for loc in locators:
                msg = await _fetch_one(db, sql.GET, (*conv, *key_of_locator(loc)))
                if msg is not None:
                    found.append(msg)
        return found

    async def get(self, conv: Conv, locator_key: LocatorKey) -> Message | None:
        """The stored message with that locator, or None (also for a deleted one)."""
        async with self._read() as db:
            return await _fetch_one(db, sql.GET, (*check_conv(conv), *check_key(locator_key)))

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
        conv = check_conv(conv)
        return int(await self._scalar(sql.COUNT, (*conv, *conv)) or 0)

    async def unread_count(self, conv: Conv) -> int:
        """Messages from others, not read, neither deleted nor revoked."""
        return int(await self._scalar(sql.UNREAD_COUNT, check_conv(conv)) or 0)

    # --- plumbing --------------------------------------------------------------------------------

    async def _configure(self, db: aiosqlite.Connection) -> None:
        # PRAGMA values cannot be bound; these come from our constants and a validated whitelist.
        await db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS:d}")
        await db.execute("PRAGMA journal_mode = WAL")  # a no-op for :memory:
        await db.execute(f"PRAGMA synchronous = {self._synchronous}")

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        db = self._require_open()
        # One lock for reads too: on a shared connection, a read between a writer's statements
        # would see its uncommitted rows.
        async with self._lock:
            with storage_errors():
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
            except BaseException:
                await db.rollback()  # a no-op when no transaction is open (e.g. SQLite rolled back)
                raise

    async def _update(self, query: str, params: Sequence[Any]) -> int:
        async with self._write() as db:
            cur = await db.execute(query, params)
            return cur.rowcount

    async def _scalar(self, query: str, params: Sequence[Any]) -> Any:
        async with self._read() as db, db.execute(query, params) as cur:
            row = await cur.fetchone()
        return None if row is None else row[0]

    def _require_open(self) -> aiosqlite.Connection:
        if self._db is None:
            raise UsageError(TIM_ERR_SDKUNINIT, f"{self!r} is not open")
        return self._db

    def _now(self) -> int:
        return int(self._clock())


async def _fetch_one(db: aiosqlite.Connection, query: str, params: Sequence[Any]) -> Message | None:
    async with db.execute(query, params) as cur:
        row = await cur.fetchone()
    return None if row is None else message_of(row)


def _check_synchronous(value: str) -> str:
    mode = value.upper()
    if mode not in _SYNCHRONOUS:
        raise UsageError(TIM_ERR_PARAM, f"synchronous must be one of {sorted(_SYNCHRONOUS)}, not {value!r}")
    return mode


def _prepare_file(path: str) -> None:
    """Owner-only folder and file (0700, 0600): the database holds the user's message history.

    SQLite gives its -wal and -shm files the database file's mode, so they are 0600 too.
    """
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if os.name == "posix" and os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # a store made by an older version, with the umask's mode
    finally:
        os.close(fd)
