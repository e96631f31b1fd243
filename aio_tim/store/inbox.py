"""`SqliteInbox`: the inbox of received webhooks in the local store (schema migration 5).

It implements `aio_tim.seams.Inbox`. Appends and acknowledgements from every caller are
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
from functools import partial
from typing import Any, Final

import aiosqlite
import msgspec

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import (
    Appended,
    InboxEntry,
    JoinGroup,
    LeaveGroup,
    MarkRead,
    ModifyC2C,
    NewEntry,
    PeerReadC2C,
    RevokeC2C,
    RevokeGroup,
    SaveMessage,
    StoreEffect,
)
from ..types import ConvType, MsgStatus, encode
from .counts import insert_rows
from .fileid import FileIdentity
from .local import LocalStore
from .rows import check_conv, row_of, stamp
from .writer import raw_connection, run_on_thread

__all__ = ["SqliteInbox", "apply_effects"]

_INSERT_PLAIN: Final = "INSERT INTO inbox (key, command, query, body, received) VALUES (?, ?, ?, ?, ?)"
_KEYS_PER_QUERY: Final = 500  # bound parameters per IN (...) query
_READ: Final = "SELECT id, key, command, query, body, received FROM inbox WHERE id > ? ORDER BY id LIMIT ?"
_CURSOR: Final = "SELECT position FROM inbox_cursors WHERE consumer = ?"
_ACK: Final = """
INSERT INTO inbox_cursors (consumer, position) VALUES (?, ?)
ON CONFLICT (consumer) DO UPDATE SET position = max(position, excluded.position)
"""
_BACKLOG: Final = "SELECT count(*) FROM inbox WHERE id > ?"
_PURGE: Final = (
    "DELETE FROM inbox WHERE received < ? AND id <= (SELECT coalesce(min(position), 0) FROM inbox_cursors)"
)
_MEMBER_GROUPS: Final = "SELECT group_id FROM inbox_groups WHERE group_id IN ({marks})"
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
# Effects run grouped by statement in this order: saves first, so that a recall or a read mark in
# the same batch finds the message it is about.
# Saves go through store/counts.py, which keeps each conversation's counts (schema migration 6).
_SAVE: Final = "save messages"
# A modify rewrites the stored JSON's elements (and its cloud data when the webhook carries it);
# a read receipt sets the message's receipt_peer_read. The JSON goes through TEXT: sqlite 3.45+
# would read a BLOB as JSONB.
_CLOUD: Final = "'$.message_cloud_custom_str'"
_MODIFY_C2C: Final = (
    "UPDATE messages SET json = CAST(json_set(CAST(json AS TEXT), '$.message_elem_array', json(?1), "
    f"{_CLOUD}, COALESCE(?2, json_extract(CAST(json AS TEXT), {_CLOUD}))) AS BLOB) "
    "WHERE conv_type = 1 AND conv_id = ?3 AND msg_key = ?4 AND status NOT IN (4, 6)"
)
_PEER_READ_C2C: Final = (
    "UPDATE messages SET json = CAST(json_set(CAST(json AS TEXT), '$.message_receipt_peer_read', "
    "json('true')) AS BLOB) WHERE conv_type = 1 AND conv_id = ? AND msg_key = ? AND is_self = 1 "
    "AND status != 4"
)
_EFFECT_ORDER: Final = (
    _SAVE, _JOIN, _LEAVE, _REVOKE_C2C, _REVOKE_GROUP, _MARK_READ, _MODIFY_C2C, _PEER_READ_C2C
)  # fmt: skip
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
        self._files = FileIdentity(store.path)
        self._max_batch = max_batch
        self._work = _Work()
        self._wake: asyncio.Event | None = None
        self._arrival: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._known: set[str] = set()  # consumers known to have a cursor row
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
        if len(futures) == 1:  # the receiver's case: skip gather's bookkeeping
            return [await futures[0]]
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
        entries = [entry for entry, _ in work.appends]
        try:
            async with self._store._write() as db:
                results = await _insert_batch(db, entries) if entries else []
                for consumer, position in work.acks.items():
                    await db.execute(_ACK, (consumer, position))
            self._files.check()  # committed to a file still at the store's path, not one deleted under us
        except Exception as exc:  # every caller of this batch learns it failed; none is told "durable"
            _fail([f for _, f in work.appends], exc)
            _fail(work.ack_waiters, exc)
            return
        self.commits += 1
        fresh = sum(not r.duplicate for r in results)
        self.appended += fresh
        self.duplicates += len(results) - fresh
        for (_, future), result in zip(work.appends, results, strict=True):
            if not future.done():
                future.set_result(result)
        for waiter in work.ack_waiters:
            if not waiter.done():
                waiter.set_result(None)
        if fresh:
            self._announce()

    def _announce(self) -> None:
        arrival, self._arrival = self._arrival, None
        if arrival is not None and not arrival.done():
            arrival.set_result(None)

    # --- reads -------------------------------------------------------------------------------------

    async def read(
        self, consumer: str, *, after: str | None = None, limit: int = 100, block: float | None = None
    ) -> list[InboxEntry]:
        """Entries after `after` (default: `consumer`'s cursor), waiting up to `block` seconds for one.

        A consumer's first read gives it a cursor (at 0), so `purge()` keeps what it has not read."""
        self._require_open()
        if consumer not in self._known:
            await self.ack(consumer, ["0"])  # the cursor's row; never moves a cursor back
            self._known.add(consumer)
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

    async def purge(self, received_before: float) -> int:
        """Delete entries received before that time which every consumer has acknowledged
        (every consumer that has read or acknowledged, with this inbox or before); return how many
        went. A consumer that never read is unknown: start it before the first purge. Their keys
        no longer deduplicate, so keep a margin far longer than any redelivery (hours, not seconds):

            await inbox.purge(time.time() - 7 * 86400)
        """
        self._require_open()
        async with self._store._write() as db:
            cur = await db.execute(_PURGE, (received_before,))
            return cur.rowcount

    async def forget(self, consumer: str) -> None:
        """Drop `consumer`'s cursor (a consumer retired for good): `purge()` stops keeping entries
        for it; should it read again, it starts from the first entry left."""
        self._require_open()
        async with self._store._write() as db:
            await db.execute("DELETE FROM inbox_cursors WHERE consumer = ?", (consumer,))
        self._known.discard(consumer)

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


async def _insert_batch(db: aiosqlite.Connection, entries: Sequence[NewEntry]) -> list[Appended]:
    """Insert the entries whose keys are new, apply their effects; one answer per entry.

    A few statements per batch rather than per entry: each statement is a round trip to the
    database thread, and the batch shares one transaction anyway.
    """
    positions = await _positions_of(db, [e.key for e in entries])
    fresh: dict[str, NewEntry] = {}
    for entry in entries:
        if entry.key not in positions:
            fresh.setdefault(entry.key, entry)
    new: dict[str, int] = {}
    if fresh:
        rows = [(e.key, e.command, _QUERY_CODEC.encode(e.query), e.body, e.received) for e in fresh.values()]
        await db.executemany(_INSERT_PLAIN, rows)
        new = await _positions_of(db, list(fresh))
        await _apply_effects(db, list(fresh.values()))
    answers: list[Appended] = []
    for entry in entries:
        if fresh.get(entry.key) is entry:
            answers.append(Appended(str(new[entry.key]), duplicate=False))
        else:  # already stored, or repeated within this batch
            answers.append(Appended(str(positions.get(entry.key) or new[entry.key]), duplicate=True))
    return answers


async def _positions_of(db: aiosqlite.Connection, keys: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        marks = ",".join("?" * len(chunk))
        rows = await db.execute_fetchall(f"SELECT key, id FROM inbox WHERE key IN ({marks})", chunk)
        found.update((str(row[0]), int(row[1])) for row in rows)
    return found


async def apply_effects(store: LocalStore, entries: Sequence[NewEntry]) -> None:
    """Apply new entries' effects to `store` by the SQLite inbox's own rules, in one write transaction
    (for inboxes kept elsewhere, e.g. on Redis, whose workers keep their own local store)."""
    async with store._write() as db:
        await _apply_effects(db, entries)


async def _apply_effects(db: aiosqlite.Connection, entries: Sequence[NewEntry]) -> None:
    """The store effects of new entries: memberships decide which group messages are kept; saves run
    before recalls and read marks, so those find messages saved in the same batch."""
    effects = [(effect, int(entry.received or time.time())) for entry in entries for effect in entry.effects]
    if not effects:
        return
    groups = {e.group_id for e, _ in effects if isinstance(e, JoinGroup | LeaveGroup)}
    groups |= {
        e.member_of for e, _ in effects if isinstance(e, SaveMessage) and e.conv_type == ConvType.GROUP
    }
    members = await _member_groups(db, groups)
    plan: dict[str, list[tuple[Any, ...]]] = {statement: [] for statement in _EFFECT_ORDER}
    for effect, now in effects:
        _plan(effect, now, members, plan)
    for statement in _EFFECT_ORDER:
        if plan[statement] and statement == _SAVE:
            await run_on_thread(db, partial(insert_rows, raw_connection(db), plan[statement]))
        elif plan[statement]:
            await db.executemany(statement, plan[statement])


def _plan(effect: StoreEffect, now: int, members: set[str], plan: dict[str, list[tuple[Any, ...]]]) -> None:
    """Add the rows `effect` writes to `plan`, keeping `members` (the user's groups) current."""
    if isinstance(effect, SaveMessage):
        conv = check_conv((effect.conv_type, effect.conv_id))
        if conv[0] == ConvType.GROUP and effect.member_of not in members:
            return  # not (known to be) the user's group
        status = effect.message.status or int(MsgStatus.SEND_SUCC)
        # INSERT OR IGNORE: our own sent message is already stored under the same locator.
        plan[_SAVE].append(row_of(conv, stamp(effect.message, conv, status, now), effect.msg_key))
    elif isinstance(effect, JoinGroup):
        members.add(effect.group_id)
        plan[_JOIN].append((effect.group_id,))
    elif isinstance(effect, LeaveGroup):
        members.discard(effect.group_id)
        plan[_LEAVE].append((effect.group_id,))
    elif isinstance(effect, RevokeC2C):
        plan[_REVOKE_C2C].append((effect.conv_id, effect.msg_key))
    elif isinstance(effect, RevokeGroup):
        plan[_REVOKE_GROUP].extend((effect.group_id, seq) for seq in effect.seqs)
    elif isinstance(effect, MarkRead):
        plan[_MARK_READ].append((effect.conv_id, effect.up_to))
    elif isinstance(effect, ModifyC2C):
        elems = encode(list(effect.elems)).decode()
        plan[_MODIFY_C2C].append((elems, effect.cloud_custom_str, effect.conv_id, effect.msg_key))
    elif isinstance(effect, PeerReadC2C):
        plan[_PEER_READ_C2C].extend((effect.conv_id, key) for key in effect.msg_keys)


async def _member_groups(db: aiosqlite.Connection, groups: set[str]) -> set[str]:
    if not groups:
        return set()
    marks = ",".join("?" * len(groups))
    rows = await db.execute_fetchall(_MEMBER_GROUPS.format(marks=marks), list(groups))
    return {str(row[0]) for row in rows}


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
