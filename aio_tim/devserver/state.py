"""The dev server's state in sqlite: every query (bound parameters only), grouped by what it touches.

`State` is the database (`db.Database`: lifecycle, transactions) with the C2C, group, message
feature (receipts, extensions) and relationship chain queries mixed in, and the web inspector's
reads; accounts, settings and files live here.
"""

from __future__ import annotations

from .c2c_queries import C2CQueries
from .feature_queries import FeatureQueries
from .group_queries import GroupQueries
from .inspect_queries import InspectQueries
from .member_queries import MemberQueries
from .push_queries import PushQueries
from .recent_queries import RecentQueries
from .rows import FileRow, json_list, values_of
from .sns_queries import SnsQueries

__all__ = ["State"]


class _Unlogged(str):
    """A str bound as TEXT whose repr hides it: aiosqlite logs query parameters at DEBUG."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


class State(
    C2CQueries,
    GroupQueries,
    MemberQueries,
    PushQueries,
    RecentQueries,
    FeatureQueries,
    InspectQueries,
    SnsQueries,
):
    """Typed queries over the dev server's database; open with `await State.open(path)`."""

    # --- meta ----------------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        """Store a setting; the value (the secret key) never shows in aiosqlite's debug log."""
        await self._run(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, _Unlogged(value)),
        )

    # --- accounts ------------------------------------------------------------------------------

    async def add_account(
        self, user_id: str, now: int, nick: str | None = None, face_url: str | None = None
    ) -> None:
        """Create the account, or update the profile fields given for an existing one."""
        self._learned_accounts.add(user_id)
        await self._run(
            "INSERT INTO accounts (user_id, nick, face_url, created) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET nick = COALESCE(excluded.nick, nick), "
            "face_url = COALESCE(excluded.face_url, face_url)",
            (user_id, nick, face_url, now),
        )

    async def delete_account(self, user_id: str) -> None:
        """Delete the account and its group memberships; its messages stay in peers' roaming."""
        self._known_accounts.discard(user_id)
        self._learned_accounts.discard(user_id)
        await self._run("DELETE FROM accounts WHERE user_id = ?", (user_id,))
        await self._run("DELETE FROM group_members WHERE account = ?", (user_id,))
        await self.forget_sns(user_id)

    async def account_exists(self, user_id: str) -> bool:
        if user_id in self._known_accounts or user_id in self._learned_accounts:
            return True
        row = await self._one("SELECT 1 FROM accounts WHERE user_id = ?", (user_id,))
        if row is not None:
            self._learned_accounts.add(user_id)
        return row is not None

    # Batch forms for openim/batchsendmsg (see C2CQueries).

    async def existing_accounts(self, user_ids: list[str]) -> set[str]:
        """Which of `user_ids` are accounts (one query for those not already known)."""
        known = {u for u in user_ids if u in self._known_accounts or u in self._learned_accounts}
        unknown = [u for u in user_ids if u not in known]
        if unknown:
            rows = await self._all(
                "SELECT user_id FROM accounts WHERE user_id IN (SELECT value FROM json_each(?))",
                (json_list(unknown),),
            )
            found = {str(r[0]) for r in rows}
            self._learned_accounts |= found
            known |= found
        return known

    async def add_accounts_now(self, user_ids: list[str], now: int) -> None:
        """Create accounts that do not exist yet (one executemany)."""
        self._learned_accounts.update(user_ids)
        await self._db.executemany(
            "INSERT OR IGNORE INTO accounts (user_id, created) VALUES (?, ?)", [(u, now) for u in user_ids]
        )

    # --- files ---------------------------------------------------------------------------------

    async def insert_file(self, row: FileRow) -> None:
        await self._run(
            "INSERT INTO files (file_id, name, kind, size, sha256, created) VALUES (?, ?, ?, ?, ?, ?)",
            values_of(row),
        )

    async def file(self, file_id: str) -> FileRow | None:
        row = await self._one(
            "SELECT file_id, name, kind, size, sha256, created FROM files WHERE file_id = ?", (file_id,)
        )
        return None if row is None else FileRow(*row)

    async def set_file_content(self, file_id: str, size: int, sha256: str) -> None:
        await self._run("UPDATE files SET size = ?, sha256 = ? WHERE file_id = ?", (size, sha256, file_id))
