"""The web inspector's read-only queries: accounts, groups, conversations, a page of messages, search.

Every list is bounded (a dev server may hold 100,000 messages and the page shows a screenful), and
every query runs outside the writers' lock: the inspector reads what is committed, or what the
one connection has written so far, and never holds up a REST call for long.
"""

from __future__ import annotations

from typing import Any, Final

from .db import Database
from .feature_queries import c2c_ref, group_ref
from .rows import json_list

__all__ = ["PAGE", "InspectQueries"]

PAGE: Final = 50  # messages (and search hits) per page
LISTED: Final = 200  # accounts, groups, conversations per list

_C2C_MSG: Final = (
    "SELECT id, from_account, to_account, msg_seq, msg_random, msg_time, msg_key, body, cloud_custom_data, "
    "kind, recalled FROM c2c_msgs"
)
_GROUP_MSG: Final = (
    "SELECT group_id, msg_seq, from_account, msg_random, msg_time, body, cloud_custom_data, kind, recalled, "
    "online_only FROM group_msgs"
)
_C2C_CONVERSATIONS: Final = (
    "SELECT conv_lo, conv_hi, COUNT(*), MAX(msg_time) FROM c2c_msgs "
    "GROUP BY conv_lo, conv_hi ORDER BY MAX(msg_time) DESC, MAX(id) DESC LIMIT ?"
)
_GROUP_CONVERSATIONS: Final = (
    "SELECT g.group_id, g.name, g.type, COUNT(m.msg_seq), COALESCE(MAX(m.msg_time), g.created) "
    "FROM chat_groups AS g LEFT JOIN group_msgs AS m ON m.group_id = g.group_id "
    "GROUP BY g.group_id ORDER BY 5 DESC LIMIT ?"
)

# The words of a message: its elements' text fields and its custom data, not the JSON's keys.
_TEXT_HOLDS: Final = (
    "(EXISTS (SELECT 1 FROM json_tree(body) WHERE key IN ('Text', 'Data', 'Desc', 'Ext', 'FileName') "
    "AND atom LIKE ? ESCAPE '\\') OR cloud_custom_data LIKE ?1 ESCAPE '\\')"
)


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally (ESCAPE '\\')."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _c2c_message(row: Any) -> dict[str, Any]:
    keys = ("id", "from", "to", "seq", "random", "time", "key", "body", "custom", "kind", "recalled")
    message = dict(zip(keys, row, strict=True))
    message["conversation"] = ["c2c", *sorted((row[1], row[2]))]
    message["recalled"] = bool(message["recalled"])
    return message


def _group_message(row: Any) -> dict[str, Any]:
    keys = ("group", "seq", "from", "random", "time", "body", "custom", "kind", "recalled", "online_only")
    message = dict(zip(keys, row, strict=True))
    message["conversation"] = ["group", row[0]]
    message["recalled"] = bool(message["recalled"])
    message["online_only"] = bool(message["online_only"])
    return message


class InspectQueries(Database):
    """Mixed into `State`; bodies come back as stored (MsgBody JSON text) for the page to parse."""

    async def inspect_totals(self) -> dict[str, int]:
        row = await self._one(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM chat_groups), "
            "(SELECT COUNT(*) FROM c2c_msgs), (SELECT COUNT(*) FROM group_msgs)"
        )
        return dict(zip(("accounts", "groups", "c2c_messages", "group_messages"), row, strict=True))

    async def inspect_accounts(self, limit: int = LISTED) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT user_id, nick, created FROM accounts ORDER BY created DESC, user_id LIMIT ?", (limit,)
        )
        return [{"id": r[0], "nick": r[1], "created": r[2]} for r in rows]

    async def inspect_groups(self, limit: int = LISTED) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT g.group_id, g.type, g.name, g.owner, g.created, "
            "(SELECT COUNT(*) FROM group_members AS m WHERE m.group_id = g.group_id) "
            "FROM chat_groups AS g ORDER BY g.created DESC, g.group_id LIMIT ?",
            (limit,),
        )
        keys = ("id", "type", "name", "owner", "created", "members")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def inspect_members(self, group_id: str, limit: int = LISTED) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT account, role, joined FROM group_members WHERE group_id = ? "
            "ORDER BY joined, account LIMIT ?",
            (group_id, limit),
        )
        return [{"account": r[0], "role": r[1], "joined": r[2]} for r in rows]

    async def inspect_conversations(self, limit: int = LISTED) -> list[dict[str, Any]]:
        """The busiest-lately conversations, C2C pairs and groups together, newest first."""
        pairs = await self._all(_C2C_CONVERSATIONS, (limit,))
        groups = await self._all(_GROUP_CONVERSATIONS, (limit,))
        listed = [{"conversation": ["c2c", r[0], r[1]], "messages": r[2], "last": r[3]} for r in pairs]
        listed += [
            {"conversation": ["group", r[0]], "name": r[1], "type": r[2], "messages": r[3], "last": r[4]}
            for r in groups
        ]
        listed.sort(key=lambda c: c["last"], reverse=True)
        return listed[:limit]

    async def inspect_messages(self, conversation: list[str], offset: int = 0) -> list[dict[str, Any]]:
        """A page of a conversation's messages, newest first (recalled ones too, marked)."""
        if conversation[0] == "group":
            rows = await self._all(
                f"{_GROUP_MSG} WHERE group_id = ? ORDER BY msg_seq DESC LIMIT ? OFFSET ?",
                (conversation[1], PAGE, offset),
            )
            messages = [_group_message(r) for r in rows]
            refs = [group_ref(conversation[1], m["seq"]) for m in messages]
            return await self._with_features(messages, refs)
        low, high = sorted(conversation[1:3])
        rows = await self._all(
            f"{_C2C_MSG} WHERE conv_lo = ? AND conv_hi = ? "
            "ORDER BY msg_time DESC, msg_seq DESC, id DESC LIMIT ? OFFSET ?",
            (low, high, PAGE, offset),
        )
        messages = [_c2c_message(r) for r in rows]
        return await self._with_features(messages, [c2c_ref(m["id"]) for m in messages])

    async def _with_features(self, messages: list[dict[str, Any]], refs: list[str]) -> list[dict[str, Any]]:
        """Each message with who sent a read receipt for it and its extensions (key -> value)."""
        wanted = json_list(refs)
        readers = await self._all(
            "SELECT msg_ref, reader FROM msg_receipts WHERE msg_ref IN (SELECT value FROM json_each(?)) "
            "ORDER BY read_time, reader",
            (wanted,),
        )
        extensions = await self._all(
            "SELECT msg_ref, key, value FROM msg_extensions "
            "WHERE msg_ref IN (SELECT value FROM json_each(?)) ORDER BY key",
            (wanted,),
        )
        by_ref = {ref: message for ref, message in zip(refs, messages, strict=True)}
        for message in messages:
            message["receipts"], message["extensions"] = [], {}
        for ref, reader in readers:
            by_ref[ref]["receipts"].append(reader)
        for ref, key, value in extensions:
            by_ref[ref]["extensions"][key] = value
        return messages

    async def inspect_read_marks(self, conversation: list[str]) -> dict[str, int]:
        """reader -> the time up to which it has read the C2C conversation (groups keep none)."""
        if conversation[0] != "c2c":
            return {}
        low, high = sorted(conversation[1:3])
        rows = await self._all(
            "SELECT reader, read_time FROM c2c_read "
            "WHERE (reader = ? AND peer = ?) OR (reader = ? AND peer = ?)",
            (low, high, high, low),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    async def inspect_search(self, field: str, text: str) -> list[dict[str, Any]]:
        """Messages whose body holds `text` ("text"), sent or received by a UserID holding it
        ("user"), or in a group whose id or name holds it ("group"); newest first, one page."""
        pattern = _like(text)
        c2c_where, group_where = {
            "text": (_TEXT_HOLDS, _TEXT_HOLDS),
            "user": (
                "(from_account LIKE ? ESCAPE '\\' OR to_account LIKE ?1 ESCAPE '\\')",
                "from_account LIKE ? ESCAPE '\\'",
            ),
            "group": (
                "0 AND ?",
                "group_id IN (SELECT group_id FROM chat_groups WHERE group_id LIKE ?1 ESCAPE '\\' "
                "OR name LIKE ?1 ESCAPE '\\')",
            ),
        }[field]
        c2c = await self._all(
            f"{_C2C_MSG} WHERE {c2c_where} ORDER BY msg_time DESC, id DESC LIMIT ?2", (pattern, PAGE)
        )
        group = await self._all(
            f"{_GROUP_MSG} WHERE {group_where} ORDER BY msg_time DESC, msg_seq DESC LIMIT ?2", (pattern, PAGE)
        )
        found = [_c2c_message(r) for r in c2c] + [_group_message(r) for r in group]
        found.sort(key=lambda m: m["time"], reverse=True)
        return found[:PAGE]
