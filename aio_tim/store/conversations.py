"""The conversation table of the SQLite store (schema migration 7): `SqliteConversations`.

The messages keep it: the triggers of migration 7 move a conversation's newest message (and its
order key) in the same transaction as the message rows, whatever wrote them (a send, a save, an
import, a receive, a delete, a tombstone), and the unread count is `conv_counts`', which the same
writes keep (counts.py). A revoke or a modify changes the message's JSON, which a read joins, so
they show at once. What the messages do not decide (pin, marks, draft, custom data, groups) is
written here, through the store's writer (one transaction each, committed before the answer).

    convs = SqliteConversations(store)
    page = await convs.conv_page(None, 100)     # pinned first, then by order key, newest first
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from ..seams.conversations import ConvCursor, ConvRecord
from .local import LOOP_READ_MAX, LocalStore
from .rows import Conv, check_conv, message_of

__all__ = ["SqliteConversations"]

# `listed` = pinned << 52 | order_key; the order key is at most (2**32 << 20) | 2**20 - 1 < 2**52.
PIN_SHIFT: Final = 52
_DRAFT_KEY: Final = "(draft_time << 20 | 1048575 * (draft IS NOT NULL))"
_MSG_KEY: Final = "(last_time << 20 | (last_seq & 1048575))"

_COLUMNS: Final = """
    c.conv_type, c.conv_id, c.pinned, c.order_key, c.listed, c.mark, c.draft, c.draft_time,
    c.custom_data, coalesce(n.unread, 0), m.json, m.status, m.is_read,
    CASE WHEN c.in_groups THEN (SELECT json_group_array(g.name) FROM conv_group_members g
                                WHERE g.conv_type = c.conv_type AND g.conv_id = c.conv_id) END
FROM conversations c
LEFT JOIN conv_counts n ON n.conv_type = c.conv_type AND n.conv_id = c.conv_id
LEFT JOIN messages m ON m.id = c.last_id
"""
# The list is `listed` descending with (conv_type, conv_id) descending as the tie-break, so a
# cursor is one row-value range of the `conversations_listed` index (no sort, no offset).
PAGE: Final = f"SELECT {_COLUMNS} ORDER BY c.listed DESC, c.conv_type DESC, c.conv_id DESC LIMIT ?"
PAGE_AFTER: Final = (
    f"SELECT {_COLUMNS} WHERE (c.listed, c.conv_type, c.conv_id) < (?, ?, ?)"
    " ORDER BY c.listed DESC, c.conv_type DESC, c.conv_id DESC LIMIT ?"
)
GET: Final = f"SELECT {_COLUMNS} WHERE c.conv_type = ? AND c.conv_id = ?"
TOTAL_UNREAD: Final = (
    "SELECT coalesce(sum(n.unread), 0) FROM conv_counts n JOIN conversations c"
    " ON c.conv_type = n.conv_type AND c.conv_id = n.conv_id"
)
_ENSURE: Final = "INSERT OR IGNORE INTO conversations (conv_type, conv_id) VALUES (?, ?)"
_RELIST: Final = f"UPDATE conversations SET listed = pinned << {PIN_SHIFT} | order_key"
_WHERE: Final = " WHERE conv_type = ? AND conv_id = ?"


def _record(row: Sequence[Any]) -> ConvRecord:
    conv = (int(row[0]), str(row[1]))
    last = None if row[10] is None else message_of(row[10:13], conv)
    groups = _groups(row[13])
    return ConvRecord(
        conv, bool(row[2]), int(row[3]), int(row[4]), int(row[5]), row[6], int(row[7]), str(row[8]),
        int(row[9]), last, groups,
    )  # fmt: skip


def _groups(text: str | None) -> list[str]:
    if not text or text == "[]":  # most conversations are in no group: no JSON decode
        return []
    return [str(name) for name in json.loads(text)]


# --- jobs (run inside the writer's transaction) ---------------------------------------------------


def _page(after: ConvCursor | None, count: int, conn: sqlite3.Connection) -> list[ConvRecord]:
    if after is None:
        rows = conn.execute(PAGE, (count,)).fetchall()
    else:
        rows = conn.execute(PAGE_AFTER, (*after, count)).fetchall()
    return [_record(row) for row in rows]


def _get(convs: Sequence[Conv], conn: sqlite3.Connection) -> list[ConvRecord]:
    found = (conn.execute(GET, conv).fetchone() for conv in convs)
    return [_record(row) for row in found if row is not None]


def _delete(convs: Sequence[Conv], clear_messages: bool, conn: sqlite3.Connection) -> int:
    """The conversation rows go first: the message-delete trigger then finds no row to refresh."""
    gone = conn.executemany("DELETE FROM conversations" + _WHERE, convs).rowcount
    conn.executemany("DELETE FROM conv_group_members" + _WHERE, convs)
    if clear_messages:
        conn.executemany("DELETE FROM messages" + _WHERE, convs)
    return int(gone)


def _update(convs: Sequence[Conv], given: dict[str, Any], conn: sqlite3.Connection) -> None:
    conn.executemany(_ENSURE, convs)
    changes = dict(given)  # a job may run twice (writer.py): `given` stays as it was
    order_key = changes.pop("order_key", None)
    if order_key is not None:  # a roaming fill: only where no local message decides the order
        conn.executemany(
            "UPDATE conversations SET order_key = max(order_key, ?)" + _WHERE + " AND last_time IS NULL",
            [(order_key, *conv) for conv in convs],
        )
    mark_set, mark_clear = changes.pop("mark_set", 0), changes.pop("mark_clear", 0)
    if mark_set or mark_clear:
        conn.executemany(
            "UPDATE conversations SET mark = (mark & ~?) | ?" + _WHERE,  # clear, then set
            [(mark_clear, mark_set, *conv) for conv in convs],
        )
    for column, value in changes.items():  # column names are ours (ConversationStore's keywords)
        conn.executemany(f"UPDATE conversations SET {column} = ?" + _WHERE, [(value, *c) for c in convs])
    conn.executemany(_RELIST + _WHERE, convs)


def _set_draft(conv: Conv, draft: bytes | None, edit_time: int, conn: sqlite3.Connection) -> None:
    conn.execute(_ENSURE, conv)
    conn.execute(
        "UPDATE conversations SET draft = ?, draft_time = ?" + _WHERE,
        (draft, edit_time if draft else 0, *conv),
    )
    # The order key follows the newest of message and draft; with neither, it keeps its value.
    conn.execute(
        f"UPDATE conversations SET order_key = CASE WHEN last_time IS NULL THEN max(order_key, {_DRAFT_KEY})"
        f" ELSE max({_MSG_KEY}, {_DRAFT_KEY}) END" + _WHERE,
        conv,
    )
    conn.execute(_RELIST + _WHERE, conv)


def _group_create(name: str, convs: Sequence[Conv], conn: sqlite3.Connection) -> bool:
    if not conn.execute("INSERT OR IGNORE INTO conv_groups (name) VALUES (?)", (name,)).rowcount:
        return False
    _add_members(name, convs, conn)
    return True


def _add_members(name: str, convs: Sequence[Conv], conn: sqlite3.Connection) -> None:
    conn.executemany(_ENSURE, convs)
    conn.executemany(
        "INSERT OR IGNORE INTO conv_group_members (conv_type, conv_id, name) VALUES (?, ?, ?)",
        [(*conv, name) for conv in convs],
    )


def _group_delete(name: str, conn: sqlite3.Connection) -> bool:
    conn.execute("DELETE FROM conv_group_members WHERE name = ?", (name,))
    return bool(conn.execute("DELETE FROM conv_groups WHERE name = ?", (name,)).rowcount)


def _group_rename(old: str, new: str, conn: sqlite3.Connection) -> int:
    if conn.execute("SELECT 1 FROM conv_groups WHERE name = ?", (old,)).fetchone() is None:
        return 1
    if conn.execute("SELECT 1 FROM conv_groups WHERE name = ?", (new,)).fetchone() is not None:
        return 2
    conn.execute("UPDATE conv_groups SET name = ? WHERE name = ?", (new, old))
    conn.execute("UPDATE conv_group_members SET name = ? WHERE name = ?", (new, old))
    return 0


def _group_members(name: str, convs: Sequence[Conv], add: bool, conn: sqlite3.Connection) -> bool:
    if conn.execute("SELECT 1 FROM conv_groups WHERE name = ?", (name,)).fetchone() is None:
        return False
    if add:
        _add_members(name, convs, conn)
    else:
        conn.executemany(
            "DELETE FROM conv_group_members WHERE conv_type = ? AND conv_id = ? AND name = ?",
            [(*conv, name) for conv in convs],
        )
    return True


def _scalar(query: str, conn: sqlite3.Connection) -> Any:
    return conn.execute(query).fetchone()[0]


def _names(conn: sqlite3.Connection) -> list[str]:
    return [str(r[0]) for r in conn.execute("SELECT name FROM conv_groups ORDER BY name")]


class SqliteConversations:
    """`ConversationStore` over a `LocalStore`: its connection, lock and writer (local.py)."""

    def __init__(self, store: LocalStore) -> None:
        self._store = store

    async def conv_page(self, after: ConvCursor | None, count: int) -> list[ConvRecord]:
        return await self._store._query(partial(_page, after, count), small=count <= LOOP_READ_MAX)

    async def conv_get(self, convs: Sequence[Conv]) -> list[ConvRecord]:
        checked = [check_conv(conv) for conv in convs]
        return await self._store._query(partial(_get, checked), small=len(checked) <= LOOP_READ_MAX)

    async def conv_total_unread(self) -> int:
        return int(await self._store._query(partial(_scalar, TOTAL_UNREAD), small=False))

    async def conv_delete(self, convs: Sequence[Conv], *, clear_messages: bool) -> int:
        checked = [check_conv(conv) for conv in convs]
        return await self._store._submit(partial(_delete, checked, clear_messages))

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
        changes: dict[str, Any] = {"mark_set": mark_set, "mark_clear": mark_clear, "order_key": order_key}
        if pinned is not None:
            changes["pinned"] = int(pinned)
        if custom_data is not None:
            changes["custom_data"] = custom_data
        checked = [check_conv(conv) for conv in convs]
        await self._store._submit(partial(_update, checked, changes), small=len(checked) <= 8)

    async def conv_set_draft(self, conv: Conv, draft: bytes | None, edit_time: int) -> None:
        await self._store._submit(partial(_set_draft, check_conv(conv), draft, edit_time), small=True)

    async def conv_group_names(self) -> list[str]:
        return await self._store._query(_names)

    async def conv_group_create(self, name: str, convs: Sequence[Conv]) -> bool:
        return await self._store._submit(partial(_group_create, name, [check_conv(c) for c in convs]))

    async def conv_group_delete(self, name: str) -> bool:
        return await self._store._submit(partial(_group_delete, name), small=True)

    async def conv_group_rename(self, old: str, new: str) -> int:
        return await self._store._submit(partial(_group_rename, old, new), small=True)

    async def conv_group_members(self, name: str, convs: Sequence[Conv], *, add: bool) -> bool:
        checked = [check_conv(conv) for conv in convs]
        return await self._store._submit(partial(_group_members, name, checked, add))


if TYPE_CHECKING:  # the SQLite table is one implementation of the conversation seam (mypy checks)
    from ..seams.conversations import ConversationStore

    _: ConversationStore = SqliteConversations(LocalStore())
