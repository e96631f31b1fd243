"""`SqliteInbox`: the inbox of received webhooks in the local store (schema migration 4).

It implements `aio_tim.events.inbox.Inbox`. Appends and acknowledgements from every caller are
written by one writer task in shared transactions (group commit): under load, a hundred webhooks
cost one commit, and each caller still gets its answer only once its entry is durable. An entry's
store effects (the received message, a recall, a read report, group membership) are applied in the
same transaction as the entry, and only when the entry is new, so a redelivered webhook changes
nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import aiosqlite
import msgspec

from ..errors import TIM_ERR_PARAM, UsageError
from ..events.inbox import (
    Appended,
    InboxEntry,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    NewEntry,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
    StoreEffect,
)
from ..types import ConvType, MsgStatus
from . import sql
from .local import LocalStore
from .rows import check_conv, row_of, stamp

__all__ = ["SqliteInbox"]

_INSERT: Final = """
INSERT INTO inbox (key, command, query, body, received) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (key) DO NOTHING RETURNING id
"""
_POSITION_OF: Final = "SELECT id FROM inbox WHERE key = ?"
_READ: Final = "SELECT id, key, command, query, body, received FROM inbox WHERE id > ? ORDER BY id LIMIT ?"
_CURSOR: Final = "SELECT position FROM inbox_cursors WHERE consumer = ?"
_ACK: Final = """
INSERT INTO inbox_cursors (consumer, position) VALUES (?, ?)
ON CONFLICT (consumer) DO UPDATE SET position = max(position, excluded.position)
"""
_BACKLOG: Final = "SELECT count(*) FROM inbox WHERE id > ?"
_IS_MEMBER: Final = "SELECT 1 FROM inbox_groups WHERE group_id = ?"
_JOIN: Final = "INSERT OR IGNORE INTO inbox_groups (group_id) VALUES (?)"
_LEAVE: Final = "DELETE FROM inbox_groups WHERE group_id = ?"
_REVOKE_C2C: Final = (
    "UPDATE messages SET status = 6 WHERE conv_type = 1 AND conv_id = ? AND msg_key = ? AND status != 4"
)
_REVOKE_GROUP: Final = (
    "UPDATE messages SET status = 6 WHERE conv_type = 2 AND conv_id = ? AND seq = ? AND status != 4"
)
_MARK_READ: Final = (
    "UPDATE messages SET is_read = 1 WHERE conv_type = 1 AND conv_id = ? AND time <= ? "
    "AND is_read = 0 AND is_self = 0 AND status != 4"
)
_POLL: Final = 0.25  # seconds: how often a blocked read looks for entries another process wrote
_QUERY_CODEC: Final = msgspec.json.Encoder()
_QUERY_DECODER: Final = msgspec.json.Decoder(dict[str, str])


@dataclass
class _Work:
    """What the writer commits in its next transaction."""

    appends: list[tuple[NewEntry, asyncio.Future[Appended]]] = field(default_factory=list)
    acks: dict[str, int] = field(default_factory=dict)
    ack_waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.appends or self.acks)


class SqliteInbox:
    """The default `Inbox`: tables `inbox`, `inbox_cursors`, `inbox_groups` of a `LocalStore`.

        inbox = SqliteInbox(tim.store)
        [appended] = await inbox.append([NewEntry(key="k1", command="C2C.CallbackAfterSendMsg", body=b"{}")])
        entries = await inbox.read("default", block=1.0)
        await inbox.ack("default", [entries[-1].position])

    `max_batch` bounds the entries one transaction commits.
    """

    def __init__(self, store: LocalStore, *, max_batch: int = 1000) -> None:
        if max_batch < 1:
            raise UsageError(TIM_ERR_PARAM, f"max_batch must be at least 1, not {max_batch}")
        self._store = store
        self._max_batch = max_batch
        self._work = _Work()
        self._wake: asyncio.Event | None = None
        self._arrival: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self.appended = 0
        self.duplicates = 0
        self.commits = 0

    # --- writes (through the writer task) ----------------------------------------------------------

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Commit `entries` (one transaction shared with concurrent callers); one answer per entry."""
        self._require_open()
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in entries]
        self._work.appends.extend(zip(entries, futures, strict=True))
        self._kick()
        return list(await asyncio.gather(*futures))

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """Move `consumer`'s cursor to the last of `positions` (never backwards); durable on return."""
        self._require_open()
        if not positions:
            return
        last = max(_position(p) for p in positions)
        self._work.acks[consumer] = max(last, self._work.acks.get(consumer, 0))
        waiter = asyncio.get_running_loop().create_future()
        self._work.ack_waiters.append(waiter)
        self._kick()
        await waiter

    def _kick(self) -> None:
        if self._writer is None:
            self._wake = asyncio.Event()
            self._writer = asyncio.get_running_loop().create_task(self._write_forever(), name="inbox-writer")
        assert self._wake is not None
        self._wake.set()

    async def _write_forever(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._work:
                await self._commit(self._take())

    def _take(self) -> _Work:
        work, rest = self._work, _Work()
        if len(work.appends) > self._max_batch:
            rest.appends = work.appends[self._max_batch :]
            work.appends = work.appends[: self._max_batch]
        self._work = rest
        return work

    async def _commit(self, work: _Work) -> None:
        try:
            async with self._store._write() as db:
                results = [await self._insert(db, entry) for entry, _ in work.appends]
                for consumer, position in work.acks.items():
                    await db.execute(_ACK, (consumer, position))
        except Exception as exc:  # every caller of this batch learns it failed; none is told "durable"
            _fail([f for _, f in work.appends], exc)
            _fail(work.ack_waiters, exc)
            return
        self.commits += 1
        for (_, future), result in zip(work.appends, results, strict=True):
            if not future.done():
                future.set_result(result)
        for waiter in work.ack_waiters:
            if not waiter.done():
                waiter.set_result(None)
        if any(not r.duplicate for r in results):
            self._announce()

    async def _insert(self, db: aiosqlite.Connection, entry: NewEntry) -> Appended:
        params = (entry.key, entry.command, _QUERY_CODEC.encode(entry.query), entry.body, entry.received)
        async with db.execute(_INSERT, params) as cur:
            row = await cur.fetchone()
        if row is None:
            self.duplicates += 1
            async with db.execute(_POSITION_OF, (entry.key,)) as cur:
                existing = await cur.fetchone()
            assert existing is not None  # the conflict was on this key
            return Appended(str(existing[0]), duplicate=True)
        self.appended += 1
        for effect in entry.effects:
            await _apply(db, effect, int(entry.received or time.time()))
        return Appended(str(row[0]), duplicate=False)

    def _announce(self) -> None:
        arrival, self._arrival = self._arrival, None
        if arrival is not None and not arrival.done():
            arrival.set_result(None)

    # --- reads -------------------------------------------------------------------------------------

    async def read(
        self, consumer: str, *, after: str | None = None, limit: int = 100, block: float | None = None
    ) -> list[InboxEntry]:
        """Entries after `after` (default: `consumer`'s cursor), waiting up to `block` seconds for one."""
        self._require_open()
        deadline = None if block is None else asyncio.get_running_loop().time() + block
        while True:
            arrival = self._arrival_future()  # before reading: an append after the read still wakes us
            entries = await self._read_once(consumer, after, limit)
            remaining = 0.0 if deadline is None else deadline - asyncio.get_running_loop().time()
            if entries or remaining <= 0 or self._closed:
                return entries
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(arrival), min(remaining, _POLL))

    async def _read_once(self, consumer: str, after: str | None, limit: int) -> list[InboxEntry]:
        async with self._store._read() as db:
            start = _position(after) if after is not None else await _cursor(db, consumer)
            rows = await db.execute_fetchall(_READ, (start, limit))
        return [_entry(row) for row in rows]

    def _arrival_future(self) -> asyncio.Future[None]:
        if self._arrival is None:
            self._arrival = asyncio.get_running_loop().create_future()
        return self._arrival

    async def cursor(self, consumer: str) -> str:
        """The last position `consumer` acknowledged ("0": none)."""
        async with self._store._read() as db:
            return str(await _cursor(db, consumer))

    async def backlog(self, consumer: str) -> int:
        """Entries after `consumer`'s cursor: the inbox's size as that consumer sees it."""
        async with self._store._read() as db:
            start = await _cursor(db, consumer)
            async with db.execute(_BACKLOG, (start,)) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    # --- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Commit what is pending, stop the writer; reads blocked in `read` return."""
        if self._closed:
            return
        if self._writer is not None:
            while self._work:
                await self._commit(self._take())
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        self._closed = True
        self._announce()

    @property
    def closed(self) -> bool:
        return self._closed

    def _require_open(self) -> None:
        if self._closed:
            raise UsageError(TIM_ERR_PARAM, "the inbox is closed")

    def statistics(self) -> dict[str, int]:
        """Counters since this inbox was made: entries appended, duplicates skipped, commits."""
        return {"appended": self.appended, "duplicates": self.duplicates, "commits": self.commits}

    def __repr__(self) -> str:
        return f"<SqliteInbox path={self._store.path!r} appended={self.appended} closed={self._closed}>"


async def _apply(db: aiosqlite.Connection, effect: StoreEffect, now: int) -> None:
    """One store effect of a new entry, inside the entry's transaction."""
    if isinstance(effect, SaveMessage):
        await _save(db, effect, now)
    elif isinstance(effect, RevokeC2C):
        await db.execute(_REVOKE_C2C, (effect.conv_id, effect.msg_key))
    elif isinstance(effect, RevokeGroup):
        await db.executemany(_REVOKE_GROUP, [(effect.group_id, seq) for seq in effect.seqs])
    elif isinstance(effect, MarkRead):
        await db.execute(_MARK_READ, (effect.conv_id, effect.up_to))
    elif isinstance(effect, JoinGroup):
        await db.execute(_JOIN, (effect.group_id,))
    elif isinstance(effect, LeaveGroup):
        await db.execute(_LEAVE, (effect.group_id,))


async def _save(db: aiosqlite.Connection, effect: SaveMessage, now: int) -> None:
    conv = check_conv((effect.conv_type, effect.conv_id))
    if conv[0] == ConvType.GROUP:
        async with db.execute(_IS_MEMBER, (effect.conv_id,)) as cur:
            if await cur.fetchone() is None:
                return
    status = effect.message.status or int(MsgStatus.SEND_SUCC)
    # INSERT OR IGNORE: our own sent message is already stored under the same locator.
    row = row_of(conv, stamp(effect.message, conv, status, now), effect.msg_key)
    await db.execute(sql.INSERT_IGNORE, row)


async def _cursor(db: aiosqlite.Connection, consumer: str) -> int:
    async with db.execute(_CURSOR, (consumer,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


def _entry(row: Any) -> InboxEntry:
    return InboxEntry(
        position=str(row[0]),
        key=str(row[1]),
        command=str(row[2]),
        body=bytes(row[4]),
        query=_QUERY_DECODER.decode(row[3]),
        received=float(row[5]),
    )


def _position(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UsageError(TIM_ERR_PARAM, f"not an inbox position: {text!r}") from None
    if value < 0:
        raise UsageError(TIM_ERR_PARAM, f"not an inbox position: {text!r}")
    return value


def _fail(futures: Sequence[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
