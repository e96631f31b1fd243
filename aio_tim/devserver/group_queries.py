"""The dev server's group queries: groups, their profiles, members and messages."""

from __future__ import annotations

from typing import Any, Final

from .db import Database, Params
from .rows import GROUP_PROFILE_COLUMNS, GroupMsgRow, GroupProfile, GroupRow, MemberRow, values_of

__all__ = ["GroupQueries"]

_GROUP_MSG_COLUMNS: Final = (
    "group_id, msg_seq, from_account, msg_random, msg_time, priority, body, cloud_custom_data, "
    "kind, online_only, recalled"
)


class GroupQueries(Database):
    """Queries over chat_groups, group_members and group_msgs."""

    async def insert_group(self, group: GroupRow) -> None:
        await self._run(
            "INSERT INTO chat_groups (group_id, type, name, owner, created) VALUES (?, ?, ?, ?, ?)",
            values_of(group),
        )

    async def group(self, group_id: str) -> GroupRow | None:
        row = await self._one(
            "SELECT group_id, type, name, owner, created FROM chat_groups WHERE group_id = ?",
            (group_id,),
        )
        return None if row is None else GroupRow(*row)

    async def group_type(self, group_id: str) -> str | None:
        row = await self._one("SELECT type FROM chat_groups WHERE group_id = ?", (group_id,))
        return None if row is None else str(row[0])

    async def add_member(self, group_id: str, account: str, role: str, now: int) -> bool:
        """Add `account` to the group; False if it already was a member."""
        if await self.is_member(group_id, account):
            return False
        await self._run(
            "INSERT INTO group_members (group_id, account, role, joined) VALUES (?, ?, ?, ?)",
            (group_id, account, role, now),
        )
        return True

    async def remove_member(self, group_id: str, account: str) -> bool:
        """Remove `account` from the group; False if it was not a member."""
        row = await self._one(
            "DELETE FROM group_members WHERE group_id = ? AND account = ? RETURNING 1", (group_id, account)
        )
        return row is not None

    async def members(self, group_id: str) -> list[MemberRow]:
        """The group's members: the owner, then the others in the order they joined."""
        rows = await self._all(
            "SELECT account, role, joined, name_card, msg_flag FROM group_members WHERE group_id = ? "
            "ORDER BY role != 'Owner', joined, account",
            (group_id,),
        )
        return [MemberRow(*r) for r in rows]

    async def member(self, group_id: str, account: str) -> MemberRow | None:
        row = await self._one(
            "SELECT account, role, joined, name_card, msg_flag FROM group_members "
            "WHERE group_id = ? AND account = ?",
            (group_id, account),
        )
        return None if row is None else MemberRow(*row)

    async def unread_in_group(self, group_id: str, account: str, since: int) -> int:
        """Messages others sent to the group from `since` on (the dev server keeps no group read
        marks: what arrived after joining counts as unread), recalled and online-only ones aside."""
        row = await self._one(
            "SELECT COUNT(*) FROM group_msgs WHERE group_id = ? AND from_account != ? AND msg_time >= ? "
            "AND recalled = 0 AND online_only = 0",
            (group_id, account, since),
        )
        return int(row[0])

    async def last_send_times(self, group_id: str) -> dict[str, int]:
        """When each member last sent to the group (imports are not sends)."""
        rows = await self._all(
            "SELECT from_account, MAX(msg_time) FROM group_msgs WHERE group_id = ? AND kind = 'send' "
            "GROUP BY from_account",
            (group_id,),
        )
        return {str(account): int(time) for account, time in rows}

    async def group_profile(self, group_id: str) -> GroupProfile | None:
        row = await self._one(
            "SELECT introduction, notification, face_url, max_member_num, apply_join_option, "
            "shut_up_all, info_seq, last_info_time, last_seq, "
            "(SELECT COUNT(*) FROM group_members AS m WHERE m.group_id = g.group_id), "
            "(SELECT MAX(msg_time) FROM group_msgs AS s WHERE s.group_id = g.group_id) "
            "FROM chat_groups AS g WHERE group_id = ?",
            (group_id,),
        )
        return None if row is None else GroupProfile(*row)

    async def update_group(self, group_id: str, changes: dict[str, Any], now: int) -> None:
        """Set profile fields (keys of GROUP_PROFILE_COLUMNS); each change bumps InfoSeq."""
        columns = [GROUP_PROFILE_COLUMNS[name] for name in changes]
        assignments = "".join(f"{column} = ?, " for column in columns)
        await self._run(
            f"UPDATE chat_groups SET {assignments}info_seq = info_seq + 1, last_info_time = ? "
            "WHERE group_id = ?",
            (*changes.values(), now, group_id),
        )

    async def delete_group(self, group_id: str) -> None:
        """Dismiss the group: its members, mutes, notices and messages go with it."""
        await self._run("DELETE FROM group_mutes WHERE group_id = ?", (group_id,))
        await self._run("DELETE FROM group_notices WHERE group_id = ?", (group_id,))
        await self._run("DELETE FROM group_msgs WHERE group_id = ?", (group_id,))
        await self._run("DELETE FROM group_members WHERE group_id = ?", (group_id,))
        await self._run("DELETE FROM chat_groups WHERE group_id = ?", (group_id,))

    async def joined_groups(self, account: str) -> list[GroupRow]:
        """The groups `account` is a member of, in the order it joined them."""
        rows = await self._all(
            "SELECT g.group_id, g.type, g.name, g.owner, g.created FROM group_members AS m "
            "JOIN chat_groups AS g ON g.group_id = m.group_id WHERE m.account = ? "
            "ORDER BY m.joined, g.group_id",
            (account,),
        )
        return [GroupRow(*r) for r in rows]

    async def is_member(self, group_id: str, account: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM group_members WHERE group_id = ? AND account = ?", (group_id, account)
        )
        return row is not None

    async def next_group_seq(self, group_id: str) -> int:
        row = await self._one(
            "UPDATE chat_groups SET last_seq = last_seq + 1 WHERE group_id = ? RETURNING last_seq",
            (group_id,),
        )
        return int(row[0])

    async def insert_group_msg(self, msg: GroupMsgRow) -> None:
        await self._run(
            f"INSERT INTO group_msgs ({_GROUP_MSG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values_of(msg),
        )

    async def first_group_send(self, group_id: str, msg_random: int, since: int) -> GroupMsgRow | None:
        """The first message sent to the group with this Random at or after `since`."""
        return await self._group_msg_where(
            "group_id = ? AND msg_random = ? AND msg_time >= ? AND kind = 'send'",
            (group_id, msg_random, since),
        )

    async def imported_group_msg(
        self, group_id: str, from_account: str, send_time: int, msg_random: int
    ) -> GroupMsgRow | None:
        return await self._group_msg_where(
            "group_id = ? AND from_account = ? AND msg_time = ? AND msg_random = ? AND kind = 'import'",
            (group_id, from_account, send_time, msg_random),
        )

    async def group_msg(self, group_id: str, msg_seq: int) -> GroupMsgRow | None:
        return await self._group_msg_where("group_id = ? AND msg_seq = ?", (group_id, msg_seq))

    async def _group_msg_where(self, condition: str, params: Params) -> GroupMsgRow | None:
        row = await self._one(
            f"SELECT {_GROUP_MSG_COLUMNS} FROM group_msgs WHERE {condition} ORDER BY msg_seq LIMIT 1",
            params,
        )
        return None if row is None else GroupMsgRow(*row)

    async def latest_group_msg_time(self, group_id: str) -> int | None:
        row = await self._one(
            "SELECT msg_time FROM group_msgs WHERE group_id = ? ORDER BY msg_seq DESC LIMIT 1",
            (group_id,),
        )
        return None if row is None else int(row[0])

    async def group_msgs_upto(self, group_id: str, max_seq: int | None, limit: int) -> list[GroupMsgRow]:
        """Up to `limit` messages with seq <= `max_seq` (None: the latest), newest first."""
        rows = await self._all(
            f"SELECT {_GROUP_MSG_COLUMNS} FROM group_msgs WHERE group_id = ? "
            "AND (? IS NULL OR msg_seq <= ?) ORDER BY msg_seq DESC LIMIT ?",
            (group_id, max_seq, max_seq, limit),
        )
        return [GroupMsgRow(*r) for r in rows]

    async def recall_group_msg(self, group_id: str, msg_seq: int) -> None:
        await self._run(
            "UPDATE group_msgs SET recalled = 1 WHERE group_id = ? AND msg_seq = ?",
            (group_id, msg_seq),
        )

    async def set_group_msg_content(
        self, group_id: str, msg_seq: int, body: str | None, cloud_custom_data: str | None
    ) -> None:
        """Overwrite a message's body and/or CloudCustomData (modify_group_msg); None keeps a field."""
        await self._run(
            "UPDATE group_msgs SET body = coalesce(?, body), "
            "cloud_custom_data = coalesce(?, cloud_custom_data) WHERE group_id = ? AND msg_seq = ?",
            (body, cloud_custom_data, group_id, msg_seq),
        )
