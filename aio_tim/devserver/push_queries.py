"""The dev server's push-to-all-users queries: attribute names, user attributes and tags, pushes."""

from __future__ import annotations

from typing import Any

import msgspec

from .db import Database
from .rows import json_list

__all__ = ["PushQueries"]


class PushQueries(Database):
    """Queries over push_attr_names, push_user_attrs, push_user_tags and push_tasks."""

    async def set_attr_names(self, names: dict[int, str]) -> None:
        await self._db.executemany(
            "INSERT INTO push_attr_names (slot, name) VALUES (?, ?) "
            "ON CONFLICT (slot) DO UPDATE SET name = excluded.name",
            list(names.items()),
        )

    async def attr_names(self) -> dict[int, str]:
        rows = await self._all("SELECT slot, name FROM push_attr_names ORDER BY slot")
        return {int(slot): str(name) for slot, name in rows}

    async def set_user_attrs(self, account: str, attrs: dict[str, Any]) -> None:
        await self._db.executemany(
            "INSERT INTO push_user_attrs (account, name, value) VALUES (?, ?, ?) "
            "ON CONFLICT (account, name) DO UPDATE SET value = excluded.value",
            [(account, name, msgspec.json.encode(value).decode()) for name, value in attrs.items()],
        )

    async def user_attrs(self, account: str) -> dict[str, Any]:
        rows = await self._all(
            "SELECT name, value FROM push_user_attrs WHERE account = ? ORDER BY name", (account,)
        )
        return {str(name): msgspec.json.decode(value) for name, value in rows}

    async def remove_user_attrs(self, account: str, names: list[str]) -> None:
        await self._run(
            "DELETE FROM push_user_attrs WHERE account = ? AND name IN (SELECT value FROM json_each(?))",
            (account, json_list(names)),
        )

    async def add_user_tags(self, account: str, tags: list[str], now: int) -> None:
        await self._db.executemany(
            "INSERT OR IGNORE INTO push_user_tags (account, tag, added) VALUES (?, ?, ?)",
            [(account, tag, now) for tag in tags],
        )

    async def user_tags(self, account: str) -> list[str]:
        rows = await self._all(
            "SELECT tag FROM push_user_tags WHERE account = ? ORDER BY added, tag", (account,)
        )
        return [str(r[0]) for r in rows]

    async def remove_user_tags(self, account: str, tags: list[str] | None) -> None:
        """Remove the named tags (None: every tag) of `account`."""
        if tags is None:
            await self._run("DELETE FROM push_user_tags WHERE account = ?", (account,))
            return
        await self._run(
            "DELETE FROM push_user_tags WHERE account = ? AND tag IN (SELECT value FROM json_each(?))",
            (account, json_list(tags)),
        )

    async def all_accounts(self) -> list[str]:
        rows = await self._all("SELECT user_id FROM accounts ORDER BY user_id")
        return [str(r[0]) for r in rows]

    async def insert_push(self, task: tuple[str, str, int, str, str | None, list[str], int]) -> None:
        """Record a push: (TaskId, sender, MsgRandom, body JSON, condition JSON, recipients, time)."""
        task_id, sender, msg_random, body, condition, recipients, created = task
        await self._run(
            "INSERT INTO push_tasks (task_id, from_account, msg_random, body, condition, recipients, "
            "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (task_id, sender, msg_random, body, condition, json_list(recipients), created),
        )

    async def push_recipients(self, task_id: str) -> list[str] | None:
        row = await self._one("SELECT recipients FROM push_tasks WHERE task_id = ?", (task_id,))
        return None if row is None else msgspec.json.decode(row[0], type=list[str])
