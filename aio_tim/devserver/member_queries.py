"""The dev server's group administration queries: roles and owners, member profiles, mutes,
the app's group list, deleting a sender's messages and system notifications."""

from __future__ import annotations

import msgspec

from .db import Database
from .rows import GroupRow, json_list

__all__ = ["MemberQueries"]


class MemberQueries(Database):
    """Queries over group_members, group_mutes, group_notices (and chat_groups, group_msgs)."""

    async def set_role(self, group_id: str, account: str, role: str) -> None:
        await self._run(
            "UPDATE group_members SET role = ? WHERE group_id = ? AND account = ?", (role, group_id, account)
        )

    async def set_owner(self, group_id: str, owner: str) -> None:
        """Hand the group to `owner` (a member): the old owner, if any, becomes a plain member."""
        await self._run(
            "UPDATE group_members SET role = 'Member' WHERE group_id = ? AND role = 'Owner'", (group_id,)
        )
        await self.set_role(group_id, owner, "Owner")
        await self._run("UPDATE chat_groups SET owner = ? WHERE group_id = ?", (owner, group_id))

    async def set_member_profile(
        self, group_id: str, account: str, name_card: str | None, msg_flag: str | None
    ) -> None:
        """Set a member's NameCard and/or MsgFlag; None keeps a field."""
        await self._run(
            "UPDATE group_members SET name_card = coalesce(?, name_card), msg_flag = coalesce(?, msg_flag) "
            "WHERE group_id = ? AND account = ?",
            (name_card, msg_flag, group_id, account),
        )

    async def join_member(self, group_id: str, account: str, role: str, joined: int) -> bool:
        """Add a member with its own join time (import_group_member); False if it already was one."""
        row = await self._one(
            "INSERT INTO group_members (group_id, account, role, joined) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (group_id, account, role, joined),
        )
        return row is not None

    # --- mutes -----------------------------------------------------------------------------------

    async def mute(self, group_id: str, accounts: list[str], until: int) -> None:
        """Mute `accounts` in the group until `until` (unix seconds); 0 lifts their mutes."""
        if until == 0:
            await self._run(
                "DELETE FROM group_mutes WHERE group_id = ? AND account IN (SELECT value FROM json_each(?))",
                (group_id, json_list(accounts)),
            )
            return
        await self._run(
            "INSERT INTO group_mutes (group_id, account, until) SELECT ?, value, ? FROM json_each(?) "
            "WHERE true ON CONFLICT (group_id, account) DO UPDATE SET until = excluded.until",
            (group_id, until, json_list(accounts)),
        )

    async def muted_until(self, group_id: str, account: str) -> int:
        row = await self._one(
            "SELECT until FROM group_mutes WHERE group_id = ? AND account = ?", (group_id, account)
        )
        return 0 if row is None else int(row[0])

    async def mutes(self, group_id: str, now: int) -> dict[str, int]:
        """The group's members muted at `now`, and until when."""
        rows = await self._all(
            "SELECT u.account, u.until FROM group_mutes AS u JOIN group_members AS m "
            "ON m.group_id = u.group_id AND m.account = u.account "
            "WHERE u.group_id = ? AND u.until > ? ORDER BY m.joined, u.account",
            (group_id, now),
        )
        return {str(account): int(until) for account, until in rows}

    # --- the app's groups, messages by sender, notices ---------------------------------------------

    async def groups_page(self, offset: int, limit: int, types: tuple[str, ...]) -> list[GroupRow]:
        """Up to `limit` of the app's groups (of `types`; () for any) from `offset`, oldest first."""
        rows = await self._all(
            "SELECT group_id, type, name, owner, created FROM chat_groups "
            "WHERE (? = '[]' OR type IN (SELECT value FROM json_each(?))) "
            "ORDER BY created, group_id LIMIT ? OFFSET ?",
            (json_list(list(types)), json_list(list(types)), limit, offset),
        )
        return [GroupRow(*r) for r in rows]

    async def count_groups(self, types: tuple[str, ...]) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM chat_groups WHERE (? = '[]' OR type IN (SELECT value FROM json_each(?)))",
            (json_list(list(types)), json_list(list(types))),
        )
        return int(row[0])

    async def recall_msgs_by_sender(self, group_id: str, sender: str, window: int) -> int:
        """Silently recall what `sender` sent among the group's last `window` messages (recalled
        and online-only ones aside); how many were recalled."""
        rows = await self._all(
            "UPDATE group_msgs SET recalled = 1 WHERE group_id = ? AND from_account = ? "
            "AND recalled = 0 AND online_only = 0 "
            "AND msg_seq > (SELECT last_seq FROM chat_groups WHERE group_id = ?) - ? RETURNING msg_seq",
            (group_id, sender, group_id, window),
        )
        return len(rows)

    async def insert_notice(self, group_id: str, content: str, to_members: list[str], sent: int) -> None:
        await self._run(
            "INSERT INTO group_notices (group_id, content, to_members, sent) VALUES (?, ?, ?, ?)",
            (group_id, content, json_list(to_members), sent),
        )

    async def notices(self, group_id: str) -> list[tuple[str, list[str], int]]:
        """The group's system notifications as sent: (Content, recipients, time), oldest first."""
        rows = await self._all(
            "SELECT content, to_members, sent FROM group_notices WHERE group_id = ? ORDER BY id", (group_id,)
        )
        return [(str(c), _names(t), int(s)) for c, t, s in rows]


def _names(text: str) -> list[str]:
    return msgspec.json.decode(text, type=list[str])
