"""The queries behind recentcontact/* and set_unread_msg_num (mixed into `State`).

A user's conversation list is read from the messages, so every send, import, recall and
deletion the dev server handles keeps it without a write of its own: a C2C conversation for each
peer with a message the user can see (not hidden from them), a group conversation for each group
the user is in that has a stored message. A deleted conversation stays out of the list until a
message newer than the deletion arrives.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .db import Database

__all__ = ["RecentQueries", "RecentRow"]

C2C, GROUP = 1, 2

_C2C_LIST = """
SELECT peer, max(msg_time), max(id) FROM (
    SELECT to_account AS peer, msg_time, id FROM c2c_msgs m WHERE from_account = ?1
        AND NOT EXISTS (SELECT 1 FROM c2c_hidden h WHERE h.msg_id = m.id AND h.account = ?1)
    UNION ALL
    SELECT from_account AS peer, msg_time, id FROM c2c_msgs m WHERE to_account = ?1
        AND NOT EXISTS (SELECT 1 FROM c2c_hidden h WHERE h.msg_id = m.id AND h.account = ?1)
) GROUP BY peer
"""
_GROUP_LIST = """
SELECT g.group_id, max(g.msg_time), max(g.msg_seq) FROM group_members gm
JOIN group_msgs g ON g.group_id = gm.group_id AND g.online_only = 0
WHERE gm.account = ?1 GROUP BY g.group_id
"""


class RecentRow(NamedTuple):
    type: int
    peer: str
    msg_time: int
    top: bool
    standard: int
    custom: str | None


class RecentQueries(Database):
    """recentcontact/*: the list, deletions, pins, marks; group members' unread counts."""

    async def recent_list(self, account: str) -> list[RecentRow]:
        """The account's conversations, pinned first, then the newest message first."""
        deleted = {(r[0], r[1]): int(r[2]) for r in await self._per_account("upto", "deleted", account)}
        top = {(r[0], r[1]) for r in await self._per_account("top_time", "top", account)}
        marks = {
            (r[0], r[1]): (int(r[2]), r[3])
            for r in await self._per_account("standard, custom", "marks", account)
        }
        rows = []
        for conv_type, query in ((C2C, _C2C_LIST), (GROUP, _GROUP_LIST)):
            for peer, msg_time, newest in await self._all(query, (account,)):
                key = (conv_type, str(peer))
                if newest <= deleted.get(key, -1):
                    continue
                standard, custom = marks.get(key, (0, None))
                rows.append(RecentRow(conv_type, str(peer), int(msg_time), key in top, standard, custom))
        rows.sort(key=lambda r: (not r.top, -r.msg_time, r.type, r.peer))
        return rows

    async def _per_account(self, columns: str, table: str, account: str) -> list[Any]:
        """(type, peer, ...) rows of a recent_* table; `columns` and `table` are ours."""
        return await self._all(
            f"SELECT type, peer, {columns} FROM recent_{table} WHERE account = ?", (account,)
        )

    async def delete_recent(self, account: str, conv_type: int, peer: str) -> None:
        """Hide the conversation until a newer message; its newest message now is the mark."""
        if conv_type == C2C:
            row = await self._one(
                "SELECT max(id) FROM c2c_msgs WHERE (from_account = ?1 AND to_account = ?2)"
                " OR (from_account = ?2 AND to_account = ?1)",
                (account, peer),
            )
        else:
            row = await self._one("SELECT max(msg_seq) FROM group_msgs WHERE group_id = ?", (peer,))
        upto = int(row[0]) if row and row[0] is not None else 0
        await self._run(
            "INSERT INTO recent_deleted (account, type, peer, upto) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account, type, peer) DO UPDATE SET upto = excluded.upto",
            (account, conv_type, peer, upto),
        )

    async def hide_c2c_conversation(self, account: str, peer: str) -> None:
        """ClearRamble for C2C: every message of the conversation leaves `account`'s roaming."""
        await self._run(
            "INSERT OR IGNORE INTO c2c_hidden (msg_id, account) SELECT id, ?1 FROM c2c_msgs"
            " WHERE (from_account = ?1 AND to_account = ?2) OR (from_account = ?2 AND to_account = ?1)",
            (account, peer),
        )

    async def set_top(self, account: str, conv_type: int, peer: str, top: bool, now: int) -> None:
        if top:
            await self._run(
                "INSERT OR IGNORE INTO recent_top (account, type, peer, top_time) VALUES (?, ?, ?, ?)",
                (account, conv_type, peer, now),
            )
        else:
            await self._run(
                "DELETE FROM recent_top WHERE account = ? AND type = ? AND peer = ?",
                (account, conv_type, peer),
            )

    async def set_marks(
        self, account: str, conv_type: int, peer: str, set_bits: int, clear_bits: int, custom: str | None
    ) -> None:
        await self._run(
            "INSERT INTO recent_marks (account, type, peer, standard, custom)"
            " VALUES (?1, ?2, ?3, ?4 & ~?5, ?6)"
            " ON CONFLICT (account, type, peer) DO UPDATE SET standard = (standard & ~?5) | ?4,"
            " custom = coalesce(?6, custom)",
            (account, conv_type, peer, set_bits, clear_bits, custom),
        )

    async def set_group_unread(self, group_id: str, account: str, unread: int) -> None:
        """The member's unread count, capped at the group's message count (1047/34909)."""
        await self._run(
            "INSERT INTO group_unread (group_id, account, unread) VALUES (?1, ?2,"
            " min(?3, (SELECT count(*) FROM group_msgs WHERE group_id = ?1 AND online_only = 0)))"
            " ON CONFLICT (group_id, account) DO UPDATE SET unread = excluded.unread",
            (group_id, account, unread),
        )

    async def group_unread(self, group_id: str, account: str) -> int | None:
        row = await self._one(
            "SELECT unread FROM group_unread WHERE group_id = ? AND account = ?", (group_id, account)
        )
        return None if row is None else int(row[0])
