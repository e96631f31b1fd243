"""`PgInbox`: the inbox of received webhooks in PostgreSQL (schema migration 4), any worker receiving.

It implements `aio_tim.seams.Inbox` as the SQLite inbox does: an append is committed before the
receiver answers TIM, a key already in the inbox (whichever worker received it) is not added
again, and each consumer name has a cursor of its own, shared by every worker. Appends and
acknowledgements are group-committed (`store.group_commit`); an entry's store effects (the
received message, a recall, a read report, group membership) are applied to the PostgreSQL
history in the same transaction, once.

Positions are the entries' ids. An append takes the row lock of its store's `inbox_tail` row
before its ids are drawn, so ids become visible in the order they were drawn: a reader past id
n never finds a smaller id committed later. Concurrent appends of one store thus commit one
after another, each holding a whole batch. A blocked read wakes on NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, Final, Protocol

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.inbox import Appended, InboxEntry, NewEntry
from ..store.effects import (
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
from ..store.group_commit import GroupCommit, InboxState, answers, fresh_entries, position_of
from ..store.rows import columns_of
from .errors import pg_errors
from .listen import listen_forever
from .schema import quoted
from .sql import statements

__all__ = ["InboxHome", "PgInbox"]

_POLL: Final = 1.0  # seconds: a blocked read looks again even without a NOTIFY (one lost in a restart)
_QUERY_CODEC: Final = msgspec.json.Encoder()
_QUERY_DECODER: Final = msgspec.json.Decoder(dict[str, str])
_CURSOR: Final = "SELECT position FROM {s}.inbox_cursors WHERE store = $1 AND consumer = $2"
# The position after which a consumer (parameter $%d) reads: its cursor, else the start.
_AFTER_CURSOR: Final = f"coalesce(({_CURSOR.replace('$2', '$%d')}), 0)"
_INSERT: Final = """
WITH ins AS (
    INSERT INTO {s}.inbox (store, key, command, query, body, received)
    SELECT $1, k, c, q, b, r
    FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::float8[])
        WITH ORDINALITY AS e (k, c, q, b, r, n)
    ORDER BY n
    RETURNING key, id
)
SELECT key, id, pg_notify($7, '') FROM ins
"""
# Each kind of effect as one statement over arrays (store/effects.py gives the rows, in this order).
_EFFECTS: Final = {
    JOIN: (
        "INSERT INTO {s}.inbox_groups (store, group_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING"
    ),
    LEAVE: "DELETE FROM {s}.inbox_groups WHERE store = $1 AND group_id = ANY($2::text[])",
    REVOKE_C2C: (
        "UPDATE {s}.messages AS m SET status = 6 FROM unnest($2::text[], $3::text[]) AS k (conv_id, msg_key)"
        " WHERE m.store = $1 AND m.conv_type = 1 AND m.conv_id = k.conv_id AND m.msg_key = k.msg_key"
        " AND m.status <> 4"
    ),
    REVOKE_GROUP: (
        "UPDATE {s}.messages AS m SET status = 6 FROM unnest($2::text[], $3::bigint[]) AS k (conv_id, seq)"
        " WHERE m.store = $1 AND m.conv_type = 2 AND m.conv_id = k.conv_id AND m.seq = k.seq"
        " AND m.status <> 4"
    ),
    MARK_READ: (
        "UPDATE {s}.messages AS m SET is_read = 1 FROM unnest($2::text[], $3::bigint[]) AS k (conv_id, up_to)"
        " WHERE m.store = $1 AND m.conv_type = 1 AND m.conv_id = k.conv_id AND m.time <= k.up_to"
        " AND m.is_read = 0 AND m.is_self = 0 AND m.status <> 4"
    ),
    # The stored JSON (bytea) as jsonb, keys replaced: the elements and, when the webhook carries
    # it, the cloud data (store/effects.py's rows: elements JSON, cloud or NULL, conv_id, MsgKey).
    MODIFY_C2C: (
        "UPDATE {s}.messages AS m SET json = convert_to((convert_from(m.json, 'UTF8')::jsonb"
        " || jsonb_build_object('message_elem_array', k.elems::jsonb)"
        " || CASE WHEN k.cloud IS NULL THEN '{}'::jsonb"
        " ELSE jsonb_build_object('message_cloud_custom_str', k.cloud) END)::text, 'UTF8')"
        " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS k (elems, cloud, conv_id, msg_key)"
        " WHERE m.store = $1 AND m.conv_type = 1 AND m.conv_id = k.conv_id AND m.msg_key = k.msg_key"
        " AND m.status NOT IN (4, 6)"
    ),
    PEER_READ_C2C: (
        "UPDATE {s}.messages AS m SET json = convert_to((convert_from(m.json, 'UTF8')::jsonb"
        " || '{\"message_receipt_peer_read\": true}'::jsonb)::text, 'UTF8')"
        " FROM unnest($2::text[], $3::text[]) AS k (conv_id, msg_key)"
        " WHERE m.store = $1 AND m.conv_type = 1 AND m.conv_id = k.conv_id AND m.msg_key = k.msg_key"
        " AND m.is_self = 1 AND m.status <> 4"
    ),
}


class InboxHome(Protocol):
    """What the inbox needs of its `PgStore`: the schema, the store's id in it, the pool."""

    @property
    def schema(self) -> str: ...

    @property
    def store_id(self) -> int: ...

    @property
    def pool(self) -> asyncpg.Pool: ...


@dataclass(frozen=True)
class _Sql:
    lock_tail: str
    positions: str
    insert: str
    effects: dict[str, str]
    members: str
    ack: str
    read: str
    cursor: str
    backlog: str
    purge: str
    forget: str
    channel: str


@cache
def _sql(schema: str) -> _Sql:
    s = quoted(schema)

    def of(template: str) -> str:
        return template.replace("{s}", s)

    return _Sql(
        lock_tail=of(
            "INSERT INTO {s}.inbox_tail AS t (store, appends) VALUES ($1, 1)"
            " ON CONFLICT (store) DO UPDATE SET appends = t.appends + 1"
        ),
        positions=of("SELECT key, id FROM {s}.inbox WHERE store = $1 AND key = ANY($2::text[])"),
        insert=of(_INSERT),
        effects={SAVE: statements(schema).insert_many, **{kind: of(sql) for kind, sql in _EFFECTS.items()}},
        members=of("SELECT group_id FROM {s}.inbox_groups WHERE store = $1 AND group_id = ANY($2::text[])"),
        ack=of(
            "INSERT INTO {s}.inbox_cursors AS c (store, consumer, position)"
            " SELECT $1, * FROM unnest($2::text[], $3::bigint[])"
            " ON CONFLICT (store, consumer) DO UPDATE SET position = greatest(c.position, excluded.position)"
        ),
        read=of(
            "SELECT id, key, command, query, body, received FROM {s}.inbox"
            f" WHERE store = $1 AND id > coalesce($2::bigint, {_AFTER_CURSOR % 3}) ORDER BY id LIMIT $4"
        ),
        cursor=of(_CURSOR),
        backlog=of(f"SELECT count(*) FROM {{s}}.inbox WHERE store = $1 AND id > {_AFTER_CURSOR % 2}"),
        purge=of(
            "DELETE FROM {s}.inbox WHERE store = $1 AND received < $2"
            " AND id <= (SELECT coalesce(min(position), 0) FROM {s}.inbox_cursors WHERE store = $1)"
        ),
        forget=of("DELETE FROM {s}.inbox_cursors WHERE store = $1 AND consumer = $2"),
        channel=f"{schema}.inbox",
    )


class PgInbox(InboxState):
    """The inbox of `store`'s (sdk_app_id, user_id), in its schema: `PgStore.inbox()` makes one.

        inbox = store.inbox()
        [appended] = await inbox.append([NewEntry(key="k1", command="C2C.CallbackAfterSendMsg", body=b"{}")])
        entries = await inbox.read("default", block=1.0)
        await inbox.ack("default", [entries[-1].position])

    `max_batch` bounds the entries one transaction commits. Closing the inbox leaves the store open.
    """

    def __init__(self, store: InboxHome, *, max_batch: int = 1000) -> None:
        if max_batch < 1:
            raise UsageError(TIM_ERR_PARAM, f"max_batch must be at least 1, not {max_batch}")
        self._store = store
        self._sql = _sql(store.schema)
        self._writes = GroupCommit(self._commit, max_batch=max_batch, name="aio_tim pgstore inbox writer")
        self._closed = False
        self._known: set[str] = set()  # consumers known to have a cursor row
        self._listener: asyncio.Task[None] | None = None

    # --- writes (group-committed) ------------------------------------------------------------------

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
        store = self._store.store_id
        with pg_errors():
            async with self._store.pool.acquire() as conn, conn.transaction():
                results = await self._insert(conn, entries) if entries else []
                if acks:
                    await conn.execute(self._sql.ack, store, list(acks), list(acks.values()))
        return results

    async def _insert(self, conn: PoolConnectionProxy, entries: Sequence[NewEntry]) -> list[Appended]:
        """Insert the entries whose keys are new and apply their effects; one answer per entry."""
        store, sql = self._store.store_id, self._sql
        await conn.execute(sql.lock_tail, store)  # first: ids drawn after it commit in order
        found = await conn.fetch(sql.positions, store, list({e.key for e in entries}))
        stored = {str(r[0]): int(r[1]) for r in found}
        fresh = fresh_entries(entries, stored)
        new: dict[str, int] = {}
        if fresh:
            rows = fresh.values()
            columns = (
                list(fresh), [e.command for e in rows], [_QUERY_CODEC.encode(e.query) for e in rows],
                [e.body for e in rows], [float(e.received) for e in rows],
            )  # fmt: skip
            new = {str(r[0]): int(r[1]) for r in await conn.fetch(sql.insert, store, *columns, sql.channel)}
            await self._apply_effects(conn, list(rows))
        return answers(entries, stored, fresh, new)

    async def _apply_effects(self, conn: PoolConnectionProxy, entries: Sequence[NewEntry]) -> None:
        """The store effects of new entries, one statement per kind, in the append's transaction."""
        effects = timed_effects(entries)
        if not effects:
            return
        store, groups = self._store.store_id, groups_of(effects)
        found = await conn.fetch(self._sql.members, store, list(groups)) if groups else []
        members = {str(r[0]) for r in found}
        plan = plan_effects(effects, members)
        for kind in KINDS:
            if plan[kind]:
                await conn.execute(self._sql.effects[kind], store, *columns_of(plan[kind]))

    # --- reads -------------------------------------------------------------------------------------

    async def read(
        self, consumer: str, *, after: str | None = None, limit: int = 100, block: float | None = None
    ) -> list[InboxEntry]:
        """Entries after `after` (default: `consumer`'s cursor), waiting up to `block` seconds for one
        (woken by NOTIFY when another worker appends). A consumer's first read gives it a cursor."""
        self._require_open()
        start = None if after is None else position_of(after)
        if consumer not in self._known:
            await self.ack(consumer, ["0"])  # the cursor's row; never moves a cursor back
            self._known.add(consumer)
        if block and self._listener is None:
            listening = listen_forever(lambda: self._store.pool, self._sql.channel, self._writes.announce)
            self._listener = asyncio.create_task(listening, name="aio_tim pgstore inbox LISTEN")
        read_once = partial(self._read_once, consumer, start, limit)
        return await self._writes.read(read_once, block, poll=_POLL, closed=lambda: self._closed)

    async def _read_once(self, consumer: str, start: int | None, limit: int) -> list[InboxEntry]:
        with pg_errors():
            rows = await self._store.pool.fetch(self._sql.read, self._store.store_id, start, consumer, limit)
        return [_entry(row) for row in rows]

    async def cursor(self, consumer: str) -> str:
        """The last position `consumer` acknowledged ("0": none)."""
        with pg_errors():
            position = await self._store.pool.fetchval(self._sql.cursor, self._store.store_id, consumer)
        return str(position or 0)

    async def backlog(self, consumer: str) -> int:
        """Entries after `consumer`'s cursor: the inbox's size as that consumer sees it."""
        with pg_errors():
            return int(await self._store.pool.fetchval(self._sql.backlog, self._store.store_id, consumer))

    async def purge(self, received_before: float) -> int:
        """Delete entries received before that time which every consumer (with a cursor) has
        acknowledged; how many went. Their keys no longer deduplicate: keep a margin far longer
        than any redelivery (hours, not seconds)."""
        self._require_open()
        with pg_errors():
            status = await self._store.pool.execute(self._sql.purge, self._store.store_id, received_before)
        return int(status.rpartition(" ")[2] or 0)

    async def forget(self, consumer: str) -> None:
        """Drop `consumer`'s cursor (a consumer retired for good): `purge()` stops keeping entries for it."""
        self._require_open()
        with pg_errors():
            await self._store.pool.execute(self._sql.forget, self._store.store_id, consumer)
        self._known.discard(consumer)

    # --- lifecycle ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Commit what is pending, stop the writer and the listener; reads blocked in `read` return."""
        if self._closed:
            return
        await self._writes.close()
        self._closed = True
        self._writes.announce()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    def __repr__(self) -> str:
        return f"<PgInbox schema={self._store.schema!r} store={self._store.store_id} closed={self._closed}>"


def _entry(row: Any) -> InboxEntry:
    return InboxEntry(
        position=str(row[0]),
        key=str(row[1]),
        command=str(row[2]),
        body=bytes(row[4]),
        query=_QUERY_DECODER.decode(row[3]),
        received=float(row[5]),
    )
