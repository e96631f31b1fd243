"""`SqliteInbox`: the inbox of received webhooks in the local store (schema migration 5).

It implements `aio_tim.seams.Inbox`. Appends and acknowledgements from every caller are
written by one writer task in shared transactions (group commit): under load, a hundred webhooks
cost one commit, and each caller still gets its answer only once its entry is durable. An entry's
store effects (the received message, a recall, a read report, group membership) are applied in the
same transaction as the entry, and only when the entry is new, so a redelivered webhook changes
nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Final

import aiosqlite
import msgspec

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import Appended, InboxEntry, NewEntry
from .counts import insert_rows
from .effects import (
    JOIN,
    KINDS,
    LEAVE,
    MARK_READ,
    MODIFY_C2C,
    PEER_READ_C2C,
    REVOKE_C2C,
    REVOKE_GROUP,
    SAVE,
    groups_of,
    plan_effects,
    timed_effects,
)
from .fileid import FileIdentity
from .group_commit import GroupCommit, InboxState, answers, fresh_entries, position_of
from .local import LocalStore
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
# The statement of each kind of effect; saves go through store/counts.py, which keeps each
# conversation's counts (schema migration 6).
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
_STATEMENTS: Final = {
    JOIN: _JOIN, LEAVE: _LEAVE, REVOKE_C2C: _REVOKE_C2C, REVOKE_GROUP: _REVOKE_GROUP, MARK_READ: _MARK_READ,
    MODIFY_C2C: _MODIFY_C2C, PEER_READ_C2C: _PEER_READ_C2C,
}  # fmt: skip
_POLL: Final = 0.25  # seconds: how often a blocked read looks for entries another process wrote
_QUERY_CODEC: Final = msgspec.json.Encoder()
_QUERY_DECODER: Final = msgspec.json.Decoder(dict[str, str])


class SqliteInbox(InboxState):
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
        self._writes = GroupCommit(self._commit, max_batch=max_batch, name="inbox-writer")
        self._closed = False
        self._known: set[str] = set()  # consumers known to have a cursor row

    # --- writes (through the writer task) ----------------------------------------------------------

    async def append(self, entries: Sequence[NewEntry]) -> list[Appended]:
        """Commit `entries` (one transaction shared with concurrent callers); one answer per entry."""
        self._require_open()
        return await self._writes.append(entries)

    async def ack(self, consumer: str, positions: Sequence[str]) -> None:
        """Move `consumer`'s cursor to the last of `positions` (never backwards); durable on return."""
        self._require_open()
        if positions:
            await self._writes.ack(consumer, max(position_of(p) for p in positions))

    async def _commit(self, entries: list[NewEntry], acks: dict[str, int]) -> list[Appended]:
        async with self._store._write() as db:
            results = await _insert_batch(db, entries) if entries else []
            for consumer, position in acks.items():
                await db.execute(_ACK, (consumer, position))
        self._files.check()  # committed to a file still at the store's path, not one deleted under us
        return results

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
        read_once = partial(self._read_once, consumer, after, limit)
        return await self._writes.read(read_once, block, poll=_POLL, closed=lambda: self._closed)

    async def _read_once(self, consumer: str, after: str | None, limit: int) -> list[InboxEntry]:
        async with self._store._read() as db:
            start = position_of(after) if after is not None else await _cursor(db, consumer)
            rows = await db.execute_fetchall(_READ, (start, limit))
        return [_entry(row) for row in rows]

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
        await self._writes.close()
        self._closed = True
        self._writes.announce()

    def __repr__(self) -> str:
        appended = self._writes.appended
        return f"<SqliteInbox path={self._store.path!r} appended={appended} closed={self._closed}>"


async def _insert_batch(db: aiosqlite.Connection, entries: Sequence[NewEntry]) -> list[Appended]:
    """Insert the entries whose keys are new, apply their effects; one answer per entry.

    A few statements per batch rather than per entry: each statement is a round trip to the
    database thread, and the batch shares one transaction anyway.
    """
    positions = await _positions_of(db, [e.key for e in entries])
    fresh = fresh_entries(entries, positions)
    new: dict[str, int] = {}
    if fresh:
        rows = [(e.key, e.command, _QUERY_CODEC.encode(e.query), e.body, e.received) for e in fresh.values()]
        await db.executemany(_INSERT_PLAIN, rows)
        new = await _positions_of(db, list(fresh))
        await _apply_effects(db, list(fresh.values()))
    return answers(entries, positions, fresh, new)


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
    """The store effects of new entries, a statement per kind (store/effects.py), in one transaction."""
    effects = timed_effects(entries)
    if not effects:
        return
    plan = plan_effects(effects, await _member_groups(db, groups_of(effects)))
    for kind in KINDS:
        if plan[kind] and kind == SAVE:
            await run_on_thread(db, partial(insert_rows, raw_connection(db), plan[kind]))
        elif plan[kind]:
            await db.executemany(_STATEMENTS[kind], plan[kind])


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
