"""The dev server's relationship chain, profile-tag and mute queries (sns/*, profile/*, openconfigsvr/*)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from .db import Database

__all__ = ["FriendRow", "SnsQueries"]

_FRIEND_COLUMNS: Final = "friend, add_source, add_wording, add_time, remark, remark_time, lists, custom"


@dataclass
class FriendRow:
    """One side of a friendship: what `owner` keeps about `friend`."""

    friend: str
    add_source: str = ""
    add_wording: str = ""
    add_time: int = 0
    remark: str = ""
    remark_time: int = 0
    lists: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Any) -> FriendRow:
        friend, source, wording, added, remark, remark_time, lists, custom = row
        return cls(str(friend), source, wording, added, remark, remark_time,
                   msgspec.json.decode(lists), msgspec.json.decode(custom))  # fmt: skip


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


class SnsQueries(Database):
    """Queries over friends, blacklist, friend_lists, sns_seqs, profile_tags and nospeaking."""

    # --- sequences ---------------------------------------------------------------------------

    async def bump_seq(self, owner: str, kind: str) -> int:
        """Count one change of `owner`'s `kind` ('friend', 'black', 'group'); the new sequence."""
        await self._run(
            "INSERT INTO sns_seqs (owner, kind, seq) VALUES (?, ?, 1) "
            "ON CONFLICT (owner, kind) DO UPDATE SET seq = seq + 1",
            (owner, kind),
        )
        return await self.seq(owner, kind)

    async def seq(self, owner: str, kind: str) -> int:
        row = await self._one("SELECT seq FROM sns_seqs WHERE owner = ? AND kind = ?", (owner, kind))
        return 0 if row is None else int(row[0])

    # --- friends -----------------------------------------------------------------------------

    async def friend(self, owner: str, friend: str) -> FriendRow | None:
        row = await self._one(
            f"SELECT {_FRIEND_COLUMNS} FROM friends WHERE owner = ? AND friend = ?", (owner, friend)
        )
        return None if row is None else FriendRow.of(row)

    async def friends(self, owner: str) -> list[FriendRow]:
        rows = await self._all(
            f"SELECT {_FRIEND_COLUMNS} FROM friends WHERE owner = ? ORDER BY add_time, friend", (owner,)
        )
        return [FriendRow.of(row) for row in rows]

    async def friend_count(self, owner: str) -> int:
        row = await self._one("SELECT count(*) FROM friends WHERE owner = ?", (owner,))
        return int(row[0])

    async def put_friend(self, owner: str, row: FriendRow) -> None:
        await self._run(
            f"INSERT OR REPLACE INTO friends (owner, {_FRIEND_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (owner, row.friend, row.add_source, row.add_wording, row.add_time, row.remark,
             row.remark_time, _json(row.lists), _json(row.custom)),
        )  # fmt: skip
        await self.bump_seq(owner, "friend")

    async def delete_friend(self, owner: str, friend: str) -> bool:
        """Remove `friend` from `owner`'s list; False if it was not there."""
        if await self.friend(owner, friend) is None:
            return False
        await self._run("DELETE FROM friends WHERE owner = ? AND friend = ?", (owner, friend))
        await self.bump_seq(owner, "friend")
        return True

    # --- blacklist ---------------------------------------------------------------------------

    async def blocks(self, owner: str, other: str) -> bool:
        row = await self._one("SELECT 1 FROM blacklist WHERE owner = ? AND blocked = ?", (owner, other))
        return row is not None

    async def block(self, owner: str, other: str, now: int) -> None:
        await self._run("INSERT INTO blacklist (owner, blocked, added) VALUES (?, ?, ?)", (owner, other, now))
        await self.bump_seq(owner, "black")

    async def unblock(self, owner: str, other: str) -> None:
        await self._run("DELETE FROM blacklist WHERE owner = ? AND blocked = ?", (owner, other))
        await self.bump_seq(owner, "black")

    async def blacklist(self, owner: str, offset: int, limit: int) -> list[tuple[str, int]]:
        rows = await self._all(
            "SELECT blocked, added FROM blacklist WHERE owner = ? ORDER BY added, blocked LIMIT ? OFFSET ?",
            (owner, limit, offset),
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    async def blacklist_size(self, owner: str) -> int:
        row = await self._one("SELECT count(*) FROM blacklist WHERE owner = ?", (owner,))
        return int(row[0])

    # --- friend lists ------------------------------------------------------------------------

    async def friend_lists(self, owner: str) -> list[str]:
        rows = await self._all(
            "SELECT name FROM friend_lists WHERE owner = ? ORDER BY created, name", (owner,)
        )
        return [str(r[0]) for r in rows]

    async def add_friend_list(self, owner: str, name: str, now: int) -> None:
        await self._run(
            "INSERT OR IGNORE INTO friend_lists (owner, name, created) VALUES (?, ?, ?)", (owner, name, now)
        )

    async def delete_friend_list(self, owner: str, name: str) -> None:
        await self._run("DELETE FROM friend_lists WHERE owner = ? AND name = ?", (owner, name))

    # --- profile tags ------------------------------------------------------------------------

    async def profile_tags(self, user_id: str) -> dict[str, Any]:
        """Every profile tag set for `user_id`, Nick and Image (FaceUrl) included."""
        rows = await self._all("SELECT tag, value FROM profile_tags WHERE user_id = ?", (user_id,))
        tags = {str(tag): msgspec.json.decode(value) for tag, value in rows}
        account = await self._one("SELECT nick, face_url FROM accounts WHERE user_id = ?", (user_id,))
        if account is not None:
            for tag, value in zip(("Tag_Profile_IM_Nick", "Tag_Profile_IM_Image"), account, strict=True):
                if value is not None:
                    tags[tag] = value
        return tags

    async def set_profile_tag(self, user_id: str, tag: str, value: Any) -> None:
        if tag == "Tag_Profile_IM_Nick":
            await self._run("UPDATE accounts SET nick = ? WHERE user_id = ?", (value, user_id))
        elif tag == "Tag_Profile_IM_Image":
            await self._run("UPDATE accounts SET face_url = ? WHERE user_id = ?", (value, user_id))
        else:
            await self._run(
                "INSERT OR REPLACE INTO profile_tags (user_id, tag, value) VALUES (?, ?, ?)",
                (user_id, tag, _json(value)),
            )

    # --- global mutes ------------------------------------------------------------------------

    async def global_mutes(self, user_id: str) -> tuple[int, int]:
        """(c2c_until, group_until): unix seconds, -1 for good, 0 not muted."""
        row = await self._one("SELECT c2c_until, group_until FROM nospeaking WHERE user_id = ?", (user_id,))
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    async def set_global_mutes(self, user_id: str, c2c_until: int, group_until: int) -> None:
        await self._run(
            "INSERT OR REPLACE INTO nospeaking (user_id, c2c_until, group_until) VALUES (?, ?, ?)",
            (user_id, c2c_until, group_until),
        )

    # --- an account's whole relationship chain -----------------------------------------------

    async def forget_sns(self, user_id: str) -> None:
        """Drop everything the chain, profile and mutes hold about a deleted account."""
        for sql in (
            "DELETE FROM friends WHERE owner = ?1 OR friend = ?1",
            "DELETE FROM blacklist WHERE owner = ?1 OR blocked = ?1",
            "DELETE FROM friend_lists WHERE owner = ?1",
            "DELETE FROM sns_seqs WHERE owner = ?1",
            "DELETE FROM profile_tags WHERE user_id = ?1",
            "DELETE FROM nospeaking WHERE user_id = ?1",
        ):
            await self._run(sql, (user_id,))

    async def count_rows(self, table: str) -> int:
        """Rows of one of the dev server's own tables (getappinfo's totals)."""
        if table not in {"accounts", "chat_groups", "c2c_msgs", "group_msgs", "friends"}:
            raise ValueError(f"not a countable table: {table}")
        row = await self._one(f"SELECT count(*) FROM {table}")
        return int(row[0])
