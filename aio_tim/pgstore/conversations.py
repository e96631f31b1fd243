"""The conversation table of the PostgreSQL store (migration 0003): `PgConversations`.

As in the SQLite store (store/conversations.py), the message writes keep it: the triggers of
migration 0003 move a conversation's newest message in the transaction that writes the messages,
and the unread count is `conv_counts`'. What the messages do not decide (pin, marks, draft, custom
data, groups) is written here, one transaction per call. Every worker of the store sees one table.

    convs = store.conversation_table()
    page = await convs.conv_page(None, 100)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

import asyncpg

from ..seams.conversations import ConvCursor, ConvRecord
from ..store.rows import Conv, message_of
from .errors import pg_conv, pg_errors
from .schema import quoted

__all__ = ["PgConversations"]


class PgStore(Protocol):
    """What the table needs of `store.PgStore` (named here, not imported: store.py imports us)."""

    schema: str
    _id: int

    @property
    def pool(self) -> asyncpg.Pool: ...

    async def _fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def _fetchrow(self, query: str, *args: Any) -> Any: ...

    async def _fetchval(self, query: str, *args: Any) -> Any: ...


_TOP: Final = (2**63 - 1, 32767, "")  # a cursor before the first conversation
_DRAFT_KEY: Final = "(draft_time << 20 | 1048575 * (draft IS NOT NULL)::int)"
_CONVS: Final = "unnest($2::smallint[], $3::text[]) AS k (conv_type, conv_id)"
_MATCH: Final = "store = $1 AND (conv_type, conv_id) IN (SELECT conv_type, conv_id FROM {convs})"


def _sql(schema: str) -> dict[str, str]:
    s = quoted(schema)
    match = _MATCH.format(convs=_CONVS)
    columns = f"""
    c.conv_type, c.conv_id, c.pinned, c.order_key, c.listed, c.mark, c.draft, c.draft_time,
    c.custom_data, coalesce(n.unread, 0), m.json, m.status, m.is_read,
    (SELECT array_agg(g.name ORDER BY g.name) FROM {s}.conv_group_members g
     WHERE g.store = c.store AND g.conv_type = c.conv_type AND g.conv_id = c.conv_id)
FROM {s}.conversations c
LEFT JOIN {s}.conv_counts n ON n.store = c.store AND n.conv_type = c.conv_type AND n.conv_id = c.conv_id
LEFT JOIN {s}.messages m ON m.store = c.store AND m.conv_type = c.conv_type AND m.conv_id = c.conv_id
    AND m.time = c.last_time AND m.seq = c.last_seq AND m.rand = c.last_rand"""
    return {
        "page": f"SELECT {columns} WHERE c.store = $1 AND (c.listed, c.conv_type, c.conv_id) < ($2, $3, $4)"
        " ORDER BY c.listed DESC, c.conv_type DESC, c.conv_id DESC LIMIT $5",
        "get": f"SELECT {columns} WHERE c.store = $1 AND c.conv_type = $2 AND c.conv_id = $3",
        "total": f"SELECT coalesce(sum(n.unread), 0) FROM {s}.conv_counts n JOIN {s}.conversations c"
        " USING (store, conv_type, conv_id) WHERE n.store = $1",
        "ensure": f"INSERT INTO {s}.conversations (store, conv_type, conv_id) SELECT $1, * FROM {_CONVS}"
        " ON CONFLICT DO NOTHING",
        "delete": f"DELETE FROM {s}.conversations WHERE {match}",
        "delete_members": f"DELETE FROM {s}.conv_group_members WHERE {match}",
        "delete_counts": f"DELETE FROM {s}.conv_counts WHERE {match}",
        "delete_messages": f"DELETE FROM {s}.messages WHERE {match}",
        "roaming_key": f"UPDATE {s}.conversations SET order_key = greatest(order_key, $4)"
        f" WHERE {match} AND last_time IS NULL",
        "mark": f"UPDATE {s}.conversations SET mark = (mark & ~$4::bigint) | $5::bigint WHERE {match}",
        "pinned": f"UPDATE {s}.conversations SET pinned = $4 WHERE {match}",
        "custom_data": f"UPDATE {s}.conversations SET custom_data = $4 WHERE {match}",
        "relist": f"UPDATE {s}.conversations SET listed = pinned::bigint << 52 | order_key WHERE {match}",
        "draft": f"UPDATE {s}.conversations SET draft = $4, draft_time = $5 WHERE {match}",
        "draft_key": f"UPDATE {s}.conversations SET order_key = CASE WHEN last_time IS NULL"
        f" THEN greatest(order_key, {_DRAFT_KEY})"
        f" ELSE greatest(last_time << 20 | (last_seq & 1048575), {_DRAFT_KEY}) END WHERE {match}",
        "names": f"SELECT name FROM {s}.conv_groups WHERE store = $1 ORDER BY name",
        "group_add": f"INSERT INTO {s}.conv_groups (store, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        "group_exists": f"SELECT 1 FROM {s}.conv_groups WHERE store = $1 AND name = $2",
        "group_delete": f"DELETE FROM {s}.conv_groups WHERE store = $1 AND name = $2",
        "members_of_delete": f"DELETE FROM {s}.conv_group_members WHERE store = $1 AND name = $2",
        "rename": f"UPDATE {s}.conv_groups SET name = $3 WHERE store = $1 AND name = $2",
        "rename_members": f"UPDATE {s}.conv_group_members SET name = $3 WHERE store = $1 AND name = $2",
        "members_add": f"INSERT INTO {s}.conv_group_members (store, conv_type, conv_id, name)"
        f" SELECT $1, conv_type, conv_id, $4 FROM {_CONVS} ON CONFLICT DO NOTHING",
        "members_remove": f"DELETE FROM {s}.conv_group_members WHERE {match} AND name = $4",
    }


def _record(row: Sequence[Any]) -> ConvRecord:
    conv = (int(row[0]), str(row[1]))
    last = None if row[10] is None else message_of(row[10:13], conv)
    return ConvRecord(
        conv, bool(row[2]), int(row[3]), int(row[4]), int(row[5]), row[6], int(row[7]), str(row[8]),
        int(row[9]), last, list(row[13] or []),
    )  # fmt: skip


def _columns(convs: Sequence[Conv]) -> tuple[list[int], list[str]]:
    checked = [pg_conv(conv) for conv in convs]
    return [c[0] for c in checked], [c[1] for c in checked]


class PgConversations:
    """`ConversationStore` over a `PgStore`: its pool and its store id."""

    def __init__(self, store: PgStore) -> None:
        self._store = store
        self._q = _sql(store.schema)

    async def conv_page(self, after: ConvCursor | None, count: int) -> list[ConvRecord]:
        cursor = _TOP if after is None else tuple(after)
        rows = await self._store._fetch(self._q["page"], self._store._id, *cursor, count)
        return [_record(row) for row in rows]

    async def conv_get(self, convs: Sequence[Conv]) -> list[ConvRecord]:
        found = []
        for conv in convs:
            row = await self._store._fetchrow(self._q["get"], self._store._id, *pg_conv(conv))
            if row is not None:
                found.append(_record(row))
        return found

    async def conv_total_unread(self) -> int:
        return int(await self._store._fetchval(self._q["total"], self._store._id))

    async def conv_delete(self, convs: Sequence[Conv], *, clear_messages: bool) -> int:
        """The conversation rows first: the message-delete trigger then finds no row to refresh."""
        keys = _columns(convs)
        names = ["delete", "delete_members"] + (
            ["delete_counts", "delete_messages"] if clear_messages else []
        )
        done = await self._transaction([(self._q[name], keys) for name in names])
        return done[0]

    async def conv_update(
        self,
        convs: Sequence[Conv],
        *,
        pinned: bool | None = None,
        mark_set: int = 0,
        mark_clear: int = 0,
        custom_data: str | None = None,
        order_key: int | None = None,
    ) -> None:
        keys = _columns(convs)
        steps: list[tuple[str, tuple[Any, ...]]] = [(self._q["ensure"], keys)]
        if order_key is not None:
            steps.append((self._q["roaming_key"], (*keys, order_key)))
        if mark_set or mark_clear:
            steps.append((self._q["mark"], (*keys, mark_clear, mark_set)))
        if pinned is not None:
            steps.append((self._q["pinned"], (*keys, int(pinned))))
        if custom_data is not None:
            steps.append((self._q["custom_data"], (*keys, custom_data)))
        steps.append((self._q["relist"], keys))
        await self._transaction(steps)

    async def conv_set_draft(self, conv: Conv, draft: bytes | None, edit_time: int) -> None:
        keys = _columns([conv])
        await self._transaction([
            (self._q["ensure"], keys),
            (self._q["draft"], (*keys, draft, edit_time if draft else 0)),
            (self._q["draft_key"], keys),
            (self._q["relist"], keys),
        ])  # fmt: skip

    async def conv_group_names(self) -> list[str]:
        return [str(r[0]) for r in await self._store._fetch(self._q["names"], self._store._id)]

    async def conv_group_create(self, name: str, convs: Sequence[Conv]) -> bool:
        keys = _columns(convs)
        with pg_errors():
            async with self._store.pool.acquire() as conn, conn.transaction():
                if _count(await conn.execute(self._q["group_add"], self._store._id, name)) == 0:
                    return False
                await conn.execute(self._q["ensure"], self._store._id, *keys)
                await conn.execute(self._q["members_add"], self._store._id, *keys, name)
        return True

    async def conv_group_delete(self, name: str) -> bool:
        done = await self._transaction(
            [(self._q["members_of_delete"], (name,)), (self._q["group_delete"], (name,))]
        )
        return done[1] > 0

    async def conv_group_rename(self, old: str, new: str) -> int:
        store = self._store._id
        with pg_errors():
            async with self._store.pool.acquire() as conn, conn.transaction():
                if await conn.fetchval(self._q["group_exists"], store, old) is None:
                    return 1
                if await conn.fetchval(self._q["group_exists"], store, new) is not None:
                    return 2
                await conn.execute(self._q["rename"], store, old, new)
                await conn.execute(self._q["rename_members"], store, old, new)
        return 0

    async def conv_group_members(self, name: str, convs: Sequence[Conv], *, add: bool) -> bool:
        keys = _columns(convs)
        store = self._store._id
        with pg_errors():
            async with self._store.pool.acquire() as conn, conn.transaction():
                if await conn.fetchval(self._q["group_exists"], store, name) is None:
                    return False
                if add:
                    await conn.execute(self._q["ensure"], store, *keys)
                    await conn.execute(self._q["members_add"], store, *keys, name)
                else:
                    await conn.execute(self._q["members_remove"], store, *keys, name)
        return True

    async def _transaction(self, steps: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
        """The statements in one transaction, each with the store id first; their row counts."""
        with pg_errors():
            async with self._store.pool.acquire() as conn, conn.transaction():
                return [_count(await conn.execute(query, self._store._id, *args)) for query, args in steps]


def _count(status: str) -> int:
    """The row count of a command tag ("DELETE 3", "INSERT 0 1")."""
    return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


if TYPE_CHECKING:  # the PostgreSQL table is one implementation of the conversation seam (mypy)
    from ..seams.conversations import ConversationStore

    def _check(store: PgStore) -> ConversationStore:
        return PgConversations(store)
