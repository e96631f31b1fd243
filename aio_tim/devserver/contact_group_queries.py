"""The queries behind recentcontact/*_contact_group (mixed into `State`): a user's conversation
groups (numbered from 1 per user) and the conversations in each (migration 9)."""

from __future__ import annotations

from typing import NamedTuple

from .db import Database

__all__ = ["ContactGroupQueries", "GroupedContact"]


class GroupedContact(NamedTuple):
    type: int
    peer: str
    group_ids: list[int]
    added: int


class ContactGroupQueries(Database):
    """Conversation groups: create, rename, delete, members, the paged listing."""

    async def contact_groups(self, account: str) -> list[tuple[int, str]]:
        """(group_id, name) of each of the account's groups, by id."""
        rows = await self._all(
            "SELECT group_id, name FROM contact_groups WHERE account = ? ORDER BY group_id", (account,)
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def contact_group_create(self, account: str, name: str) -> int:
        """A new group's id (one more than the account's largest)."""
        row = await self._one(
            "SELECT coalesce(max(group_id), 0) + 1 FROM contact_groups WHERE account = ?", (account,)
        )
        group_id = int(row[0])
        await self._run(
            "INSERT INTO contact_groups (account, group_id, name) VALUES (?, ?, ?)", (account, group_id, name)
        )
        return group_id

    async def contact_group_rename(self, account: str, group_id: int, name: str) -> None:
        await self._run(
            "UPDATE contact_groups SET name = ? WHERE account = ? AND group_id = ?", (name, account, group_id)
        )

    async def contact_group_delete(self, account: str, group_id: int) -> None:
        for table in ("contact_group_members", "contact_groups"):  # our own table names
            await self._run(f"DELETE FROM {table} WHERE account = ? AND group_id = ?", (account, group_id))

    async def contact_group_size(self, account: str, group_id: int) -> int:
        row = await self._one(
            "SELECT count(*) FROM contact_group_members WHERE account = ? AND group_id = ?",
            (account, group_id),
        )
        return int(row[0])

    async def contact_group_add(self, account: str, group_id: int, conv: tuple[int, str], now: int) -> None:
        await self._run(
            "INSERT OR IGNORE INTO contact_group_members (account, group_id, type, peer, added)"
            " VALUES (?, ?, ?, ?, ?)",
            (account, group_id, *conv, now),
        )

    async def contact_group_remove(self, account: str, group_id: int, conv: tuple[int, str]) -> None:
        await self._run(
            "DELETE FROM contact_group_members WHERE account = ? AND group_id = ? AND type = ? AND peer = ?",
            (account, group_id, *conv),
        )

    async def grouped_contacts(self, account: str, start: int, count: int) -> list[GroupedContact]:
        """The account's grouped conversations, `count` from `start` (ordered by type, peer)."""
        rows = await self._all(
            "SELECT type, peer, group_concat(group_id), max(added) FROM contact_group_members"
            " WHERE account = ? GROUP BY type, peer ORDER BY type, peer LIMIT ? OFFSET ?",
            (account, count, start),
        )
        return [
            GroupedContact(int(r[0]), str(r[1]), sorted(int(g) for g in str(r[2]).split(",")), int(r[3]))
            for r in rows
        ]
