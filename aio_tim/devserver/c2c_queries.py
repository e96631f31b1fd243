"""The dev server's C2C message queries: sends (single and batch), dedup, recalls, roaming, read marks."""

from __future__ import annotations

from typing import Final

from .db import Database
from .rows import C2CRow, Cursor, NewC2C, conversation, json_list, values_of

__all__ = ["C2CQueries"]

_C2C_COLUMNS: Final = (
    "id, from_account, to_account, msg_seq, msg_random, msg_time, client_time, msg_key, body, "
    "cloud_custom_data, recalled"
)
_NOT_HIDDEN: Final = "NOT EXISTS (SELECT 1 FROM c2c_hidden AS h WHERE h.msg_id = m.id AND h.account = ?)"
_ROAM_ORDER: Final = "ORDER BY m.msg_time DESC, m.msg_seq DESC, m.id DESC LIMIT ?"
_ROAM_FIRST_PAGE: Final = (
    f"SELECT {_C2C_COLUMNS} FROM c2c_msgs AS m "
    f"WHERE m.conv_lo = ? AND m.conv_hi = ? AND m.msg_time BETWEEN ? AND ? AND {_NOT_HIDDEN} "
    f"{_ROAM_ORDER}"
)
_ROAM_NEXT_PAGE: Final = (
    f"SELECT {_C2C_COLUMNS} FROM c2c_msgs AS m "
    f"WHERE m.conv_lo = ? AND m.conv_hi = ? AND m.msg_time BETWEEN ? AND ? AND {_NOT_HIDDEN} "
    f"AND (m.msg_time, m.msg_seq, m.id) < (?, ?, ?) {_ROAM_ORDER}"
)
_UNREAD_MSGS: Final = (
    "FROM c2c_msgs AS m LEFT JOIN c2c_read AS r ON r.reader = m.to_account AND r.peer = m.from_account "
    "WHERE m.to_account = ? AND m.recalled = 0 AND m.counts_unread = 1 "
    "AND m.msg_time > COALESCE(r.read_time, -1) AND NOT EXISTS (SELECT 1 FROM c2c_hidden AS h "
    "WHERE h.msg_id = m.id AND h.account = m.to_account)"
)
_UNREAD: Final = f"SELECT m.from_account, COUNT(*) {_UNREAD_MSGS}"
_UNREAD_TOTAL: Final = f"SELECT COUNT(*) {_UNREAD_MSGS}"

_FIRST_SEND: Final = (
    f"SELECT {_C2C_COLUMNS} FROM c2c_msgs WHERE from_account = ? AND to_account = ? "
    "AND msg_random = ? AND msg_time >= ? AND kind = 'send' ORDER BY id LIMIT 1"
)
_INSERT_C2C: Final = (
    "INSERT INTO c2c_msgs (conv_lo, conv_hi, from_account, to_account, msg_seq, "
    "msg_random, msg_time, client_time, msg_key, body, cloud_custom_data, kind, "
    "counts_unread) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class C2CQueries(Database):
    """Queries over c2c_msgs, c2c_hidden and c2c_read."""

    async def insert_c2c(self, msg: NewC2C) -> int:
        lo, hi = conversation(msg.from_account, msg.to_account)
        return await self._insert(_INSERT_C2C, (lo, hi, *values_of(msg)))

    # Batch forms for openim/batchsendmsg: one statement per chunk, not one per recipient. The
    # account list travels as one JSON parameter (json_each), so 500 names need no 500 `?`s.

    async def first_c2c_sends(
        self, from_account: str, to_accounts: list[str], msg_random: int, since: int
    ) -> dict[str, C2CRow]:
        """`first_c2c_send` for many recipients in one query: recipient -> its first such send."""
        rows = await self._all(
            f"SELECT {_C2C_COLUMNS} FROM c2c_msgs WHERE from_account = ? AND to_account IN "
            "(SELECT value FROM json_each(?)) AND msg_random = ? AND msg_time >= ? AND kind = 'send' "
            "ORDER BY id",
            (from_account, json_list(to_accounts), msg_random, since),
        )
        firsts: dict[str, C2CRow] = {}
        for row in rows:
            firsts.setdefault(row[2], C2CRow(*row))
        return firsts

    async def insert_c2c_to_many(self, msg: NewC2C, to_accounts: list[str], *, hide_for_sender: bool) -> None:
        """Insert `msg` once for each of `to_accounts`, whatever its own `to_account` (one
        executemany: a batch send's rows differ only in the recipient); optionally hidden from
        the sender."""
        if not to_accounts:
            return
        sender, _, *rest = values_of(msg)
        await self._db.executemany(
            _INSERT_C2C, [(*conversation(sender, to), sender, to, *rest) for to in to_accounts]
        )
        if hide_for_sender:
            await self._run(
                "INSERT OR IGNORE INTO c2c_hidden (msg_id, account) SELECT id, from_account FROM c2c_msgs "
                "WHERE from_account = ? AND msg_key = ? AND kind = 'send' "
                "AND to_account IN (SELECT value FROM json_each(?))",
                (sender, msg.msg_key, json_list(to_accounts)),
            )

    async def hide_c2c(self, msg_id: int, account: str) -> None:
        await self._run("INSERT OR IGNORE INTO c2c_hidden (msg_id, account) VALUES (?, ?)", (msg_id, account))

    async def recall_c2c(self, msg_id: int) -> None:
        await self._run("UPDATE c2c_msgs SET recalled = 1 WHERE id = ?", (msg_id,))

    async def set_c2c_content(self, msg_id: int, body: str | None, cloud_custom_data: str | None) -> None:
        """Overwrite a message's body and/or CloudCustomData (modify_c2c_msg); None keeps a field."""
        await self._run(
            "UPDATE c2c_msgs SET body = coalesce(?, body), "
            "cloud_custom_data = coalesce(?, cloud_custom_data) WHERE id = ?",
            (body, cloud_custom_data, msg_id),
        )

    async def first_c2c_send(
        self, from_account: str, to_account: str, msg_random: int, since: int
    ) -> C2CRow | None:
        """The first message sent from -> to with this MsgRandom at or after `since`."""
        row = await self._one(_FIRST_SEND, (from_account, to_account, msg_random, since))
        return None if row is None else C2CRow(*row)

    async def send_c2c_once(self, msg: NewC2C, since: int) -> C2CRow | int:
        """`first_c2c_send`, then `insert_c2c` if there was none, in one hop to the database thread
        (sendmsg's hot path): the earlier send this one duplicates, or the new row's id."""
        db = self._db
        lo, hi = conversation(msg.from_account, msg.to_account)

        def run() -> C2CRow | int:
            conn = db._conn  # on aiosqlite's thread, inside its `_execute`
            first = conn.execute(_FIRST_SEND, (msg.from_account, msg.to_account, msg.msg_random, since))
            row = first.fetchone()
            first.close()
            if row is not None:
                return C2CRow(*row)
            rowid = conn.execute(_INSERT_C2C, (lo, hi, *values_of(msg))).lastrowid
            assert rowid is not None
            return rowid

        result: C2CRow | int = await db._execute(run)  # type: ignore[no-untyped-call]
        return result

    async def c2c_exists(self, a: str, b: str, msg_seq: int | None, msg_random: int, msg_time: int) -> bool:
        """Whether the conversation holds a message with these keys (None: any MsgSeq)."""
        lo, hi = conversation(a, b)
        row = await self._one(
            "SELECT 1 FROM c2c_msgs WHERE conv_lo = ? AND conv_hi = ? AND msg_random = ? "
            "AND msg_time = ? AND (? IS NULL OR msg_seq = ?) LIMIT 1",
            (lo, hi, msg_random, msg_time, msg_seq, msg_seq),
        )
        return row is not None

    async def c2c_by_key(self, from_account: str, to_account: str, msg_key: str) -> C2CRow | None:
        """The message from -> to with this MsgKey (the first stored, should keys collide)."""
        lo, hi = conversation(from_account, to_account)
        row = await self._one(
            f"SELECT {_C2C_COLUMNS} FROM c2c_msgs WHERE conv_lo = ? AND conv_hi = ? "
            "AND msg_key = ? AND from_account = ? ORDER BY id LIMIT 1",
            (lo, hi, msg_key, from_account),
        )
        return None if row is None else C2CRow(*row)

    async def c2c_ids_by_key(self, a: str, b: str, msg_key: str) -> list[int]:
        """Ids of the conversation's messages (either direction) carrying `msg_key`."""
        lo, hi = conversation(a, b)
        rows = await self._all(
            "SELECT id FROM c2c_msgs WHERE conv_lo = ? AND conv_hi = ? AND msg_key = ?",
            (lo, hi, msg_key),
        )
        return [int(r[0]) for r in rows]

    async def c2c_cursor(self, a: str, b: str, msg_key: str) -> Cursor | None:
        """Roaming position of the conversation's message with `msg_key`, visible or not."""
        lo, hi = conversation(a, b)
        row = await self._one(
            "SELECT msg_time, msg_seq, id FROM c2c_msgs WHERE conv_lo = ? AND conv_hi = ? "
            "AND msg_key = ? ORDER BY id LIMIT 1",
            (lo, hi, msg_key),
        )
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    async def roam_page(
        self,
        operator: str,
        peer: str,
        time_range: tuple[int, int],
        after: Cursor | None,
        limit: int,
    ) -> list[C2CRow]:
        """Up to `limit` messages `operator` sees with `peer`, newest first, strictly after `after`."""
        lo, hi = conversation(operator, peer)
        head = (lo, hi, *time_range, operator)
        if after is None:
            rows = await self._all(_ROAM_FIRST_PAGE, (*head, limit))
        else:
            rows = await self._all(_ROAM_NEXT_PAGE, (*head, *after, limit))
        return [C2CRow(*r) for r in rows]

    async def read_mark(self, reader: str, peer: str) -> int | None:
        row = await self._one("SELECT read_time FROM c2c_read WHERE reader = ? AND peer = ?", (reader, peer))
        return None if row is None else int(row[0])

    async def set_read_mark(self, reader: str, peer: str, read_time: int) -> None:
        """Move the read mark forward only: a late or repeated report never unreads messages."""
        await self._run(
            "INSERT INTO c2c_read (reader, peer, read_time) VALUES (?, ?, ?) "
            "ON CONFLICT (reader, peer) DO UPDATE SET read_time = MAX(read_time, excluded.read_time)",
            (reader, peer, read_time),
        )

    async def unread_by_peer(self, reader: str) -> dict[str, int]:
        rows = await self._all(f"{_UNREAD} GROUP BY m.from_account", (reader,))
        return {str(peer): int(count) for peer, count in rows}

    async def unread_total(self, reader: str) -> int:
        """All of `reader`'s unread C2C messages, every conversation together (webhooks' UnreadMsgNum)."""
        row = await self._one(_UNREAD_TOTAL, (reader,))
        return int(row[0])

    async def unread_from(self, reader: str, peer: str) -> int:
        row = await self._one(f"{_UNREAD} AND m.from_account = ?", (reader, peer))
        return int(row[1])
