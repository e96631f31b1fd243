"""The dev server's state in sqlite: lifecycle, transactions and every query (bound parameters only).

One aiosqlite connection, one writer: `transaction()` serializes whole handlers behind a lock,
so a dedup check and the insert it guards can never interleave with another request's.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

import aiosqlite
import msgspec

from ..protocol import MsgBodyItem
from .schema import MIGRATIONS

__all__ = [
    "C2CRow",
    "Cursor",
    "FileRow",
    "GroupMsgRow",
    "GroupProfile",
    "GroupRow",
    "MemberRow",
    "NewC2C",
    "State",
    "conversation",
    "decode_body",
    "encode_body",
]

Params = Sequence[Any]
Cursor = tuple[int, int, int]  # (msg_time, msg_seq, id) of a C2C message: its roaming position


@dataclass(frozen=True, slots=True)
class NewC2C:
    from_account: str
    to_account: str
    msg_seq: int
    msg_random: int
    msg_time: int
    client_time: int
    msg_key: str
    body: str
    cloud_custom_data: str | None
    kind: str
    counts_unread: bool


@dataclass(frozen=True, slots=True)
class C2CRow:
    id: int
    from_account: str
    to_account: str
    msg_seq: int
    msg_random: int
    msg_time: int
    client_time: int
    msg_key: str
    body: str
    cloud_custom_data: str | None
    recalled: int


@dataclass(frozen=True, slots=True)
class GroupRow:
    group_id: str
    type: str
    name: str
    owner: str | None
    created: int


@dataclass(frozen=True, slots=True)
class GroupProfile:
    """A group's editable profile and counters (schema v3); "" and 0 mean the type's default."""

    introduction: str
    notification: str
    face_url: str
    max_member_num: int
    apply_join_option: str
    shut_up_all: int
    info_seq: int
    last_info_time: int
    last_seq: int
    member_num: int
    last_msg_time: int | None


@dataclass(frozen=True, slots=True)
class MemberRow:
    account: str
    role: str
    joined: int


# modify_group_base_info's fields and their columns: the only names ever put into SQL text.
GROUP_PROFILE_COLUMNS: Final = {
    "Name": "name",
    "Introduction": "introduction",
    "Notification": "notification",
    "FaceUrl": "face_url",
    "MaxMemberNum": "max_member_num",
    "ApplyJoinOption": "apply_join_option",
    "ShutUpAllMember": "shut_up_all",
}


@dataclass(frozen=True, slots=True)
class GroupMsgRow:
    group_id: str
    msg_seq: int
    from_account: str
    msg_random: int
    msg_time: int
    priority: int
    body: str
    cloud_custom_data: str | None
    kind: str
    online_only: int = 0
    recalled: int = 0


@dataclass(frozen=True, slots=True)
class FileRow:
    file_id: str
    name: str
    kind: str
    size: int
    sha256: str  # hex
    created: int


_C2C_COLUMNS: Final = (
    "id, from_account, to_account, msg_seq, msg_random, msg_time, client_time, msg_key, body, "
    "cloud_custom_data, recalled"
)
_GROUP_MSG_COLUMNS: Final = (
    "group_id, msg_seq, from_account, msg_random, msg_time, priority, body, cloud_custom_data, "
    "kind, online_only, recalled"
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
_UNREAD: Final = (
    "SELECT m.from_account, COUNT(*) FROM c2c_msgs AS m "
    "LEFT JOIN c2c_read AS r ON r.reader = m.to_account AND r.peer = m.from_account "
    "WHERE m.to_account = ? AND m.recalled = 0 AND m.counts_unread = 1 "
    "AND m.msg_time > COALESCE(r.read_time, -1) AND NOT EXISTS (SELECT 1 FROM c2c_hidden AS h "
    "WHERE h.msg_id = m.id AND h.account = m.to_account)"
)


class _Unlogged(str):
    """A str bound as TEXT whose repr hides it: aiosqlite logs query parameters at DEBUG."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<redacted>'"


def _values(row: object) -> tuple[Any, ...]:
    """A row dataclass as query parameters, in field order (dataclasses.astuple deep-copies
    every field; one attrgetter per class reads them all in C)."""
    getter = _GETTERS.get(type(row))
    if getter is None:
        getter = _GETTERS[type(row)] = operator.attrgetter(*(f.name for f in fields(row)))  # type: ignore[arg-type]
    return getter(row)


_GETTERS: Final[dict[type, Callable[[object], Any]]] = {}  # row class -> its fields' attrgetter


_BODY_DECODER: Final = msgspec.json.Decoder(list[MsgBodyItem])
_FIRST_SEND: Final = (
    f"SELECT {_C2C_COLUMNS} FROM c2c_msgs WHERE from_account = ? AND to_account = ? "
    "AND msg_random = ? AND msg_time >= ? AND kind = 'send' ORDER BY id LIMIT 1"
)
_INSERT_C2C: Final = (
    "INSERT INTO c2c_msgs (conv_lo, conv_hi, from_account, to_account, msg_seq, "
    "msg_random, msg_time, client_time, msg_key, body, cloud_custom_data, kind, "
    "counts_unread) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _json_list(values: list[str]) -> str:
    """A list of names as one JSON parameter, for `IN (SELECT value FROM json_each(?))`."""
    return msgspec.json.encode(values).decode()


def encode_body(items: list[MsgBodyItem]) -> str:
    """A MsgBody as stored: its JSON text, already validated."""
    return msgspec.json.encode(items).decode()


def decode_body(text: str) -> list[MsgBodyItem]:
    return _BODY_DECODER.decode(text)


def conversation(a: str, b: str) -> tuple[str, str]:
    """The direction-free key of the C2C conversation between `a` and `b`."""
    return (a, b) if a <= b else (b, a)


class State:
    """Typed queries over the dev server's database; open with `await State.open(path)`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        # Accounts are never deleted, so existence is cached; what a transaction learns only
        # joins the cache when it commits.
        self._known_accounts: set[str] = set()
        self._learned_accounts: set[str] = set()

    @classmethod
    async def open(cls, path: str | os.PathLike[str]) -> State:
        """Connect (inside the running loop), tune and migrate the database at `path`."""
        # Implicit transactions: sqlite3 issues BEGIN together with the first write of a
        # transaction, which saves a thread hop per request on the hot path.
        db = await aiosqlite.connect(os.fspath(path), isolation_level="DEFERRED")
        try:
            state = cls(db)
            await state._configure(file_backed=str(path) != ":memory:")
            await state._migrate()
        except BaseException:
            await db.close()
            raise
        return state

    async def _configure(self, *, file_backed: bool) -> None:
        if file_backed:
            # WAL lets readers (sqlite3 shell, tests) look while the server writes.
            await self._run("PRAGMA journal_mode=WAL")
            await self._run("PRAGMA synchronous=NORMAL")
        await self._run("PRAGMA busy_timeout=5000")

    async def _migrate(self) -> None:
        version = int((await self._one("PRAGMA user_version"))[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema v{version} is newer than this aio_tim supports")
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            async with self.transaction():
                await self._run("BEGIN")  # DDL does not start a transaction implicitly
                for sql in statements:
                    await self._run(sql)
                # PRAGMA cannot take a bound parameter; `number` is our own int.
                await self._run(f"PRAGMA user_version = {int(number)}")

    async def close(self) -> None:
        await self._db.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """One writer at a time; commit on success, roll back on any exception.

        The lock makes a check and the write it guards atomic against other requests; the
        sqlite transaction (opened by the first write) makes a handler's writes all-or-nothing.
        """
        async with self._lock:
            self._learned_accounts.clear()
            try:
                yield
            except BaseException:
                # sqlite may already have rolled back (e.g. after SQLITE_FULL).
                if self._db.in_transaction:
                    await self._db.rollback()
                raise
            if self._db.in_transaction:  # read-only calls have nothing to commit
                await self._db.commit()
            self._known_accounts |= self._learned_accounts

    # --- low-level helpers ---------------------------------------------------------------------

    # One thread hop per query: aiosqlite's `async with execute()` + fetch costs three.

    async def _run(self, sql: str, params: Params = ()) -> None:
        await self._db.execute_fetchall(sql, params)

    async def _insert(self, sql: str, params: Params) -> int:
        """Execute an INSERT; the rowid it created."""
        row = await self._db.execute_insert(sql, params)
        assert row is not None  # execute_insert always answers last_insert_rowid()
        return int(row[0])

    async def _all(self, sql: str, params: Params = ()) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Params = ()) -> Any:
        rows = await self._db.execute_fetchall(sql, params)
        return next(iter(rows), None)

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

    async def account_exists(self, user_id: str) -> bool:
        if user_id in self._known_accounts or user_id in self._learned_accounts:
            return True
        row = await self._one("SELECT 1 FROM accounts WHERE user_id = ?", (user_id,))
        if row is not None:
            self._learned_accounts.add(user_id)
        return row is not None

    # --- C2C messages --------------------------------------------------------------------------

    async def insert_c2c(self, msg: NewC2C) -> int:
        lo, hi = conversation(msg.from_account, msg.to_account)
        return await self._insert(_INSERT_C2C, (lo, hi, *_values(msg)))

    # Batch forms for openim/batchsendmsg: one statement per chunk, not one per recipient. The
    # account list travels as one JSON parameter (json_each), so 500 names need no 500 `?`s.

    async def existing_accounts(self, user_ids: list[str]) -> set[str]:
        """Which of `user_ids` are accounts (one query for those not already known)."""
        known = {u for u in user_ids if u in self._known_accounts or u in self._learned_accounts}
        unknown = [u for u in user_ids if u not in known]
        if unknown:
            rows = await self._all(
                "SELECT user_id FROM accounts WHERE user_id IN (SELECT value FROM json_each(?))",
                (_json_list(unknown),),
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

    async def first_c2c_sends(
        self, from_account: str, to_accounts: list[str], msg_random: int, since: int
    ) -> dict[str, C2CRow]:
        """`first_c2c_send` for many recipients in one query: recipient -> its first such send."""
        rows = await self._all(
            f"SELECT {_C2C_COLUMNS} FROM c2c_msgs WHERE from_account = ? AND to_account IN "
            "(SELECT value FROM json_each(?)) AND msg_random = ? AND msg_time >= ? AND kind = 'send' "
            "ORDER BY id",
            (from_account, _json_list(to_accounts), msg_random, since),
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
        sender, _, *rest = _values(msg)
        await self._db.executemany(
            _INSERT_C2C, [(*conversation(sender, to), sender, to, *rest) for to in to_accounts]
        )
        if hide_for_sender:
            await self._run(
                "INSERT OR IGNORE INTO c2c_hidden (msg_id, account) SELECT id, from_account FROM c2c_msgs "
                "WHERE from_account = ? AND msg_key = ? AND kind = 'send' "
                "AND to_account IN (SELECT value FROM json_each(?))",
                (sender, msg.msg_key, _json_list(to_accounts)),
            )

    async def hide_c2c(self, msg_id: int, account: str) -> None:
        await self._run("INSERT OR IGNORE INTO c2c_hidden (msg_id, account) VALUES (?, ?)", (msg_id, account))

    async def recall_c2c(self, msg_id: int) -> None:
        await self._run("UPDATE c2c_msgs SET recalled = 1 WHERE id = ?", (msg_id,))

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
            rowid = conn.execute(_INSERT_C2C, (lo, hi, *_values(msg))).lastrowid
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

    async def unread_from(self, reader: str, peer: str) -> int:
        row = await self._one(f"{_UNREAD} AND m.from_account = ?", (reader, peer))
        return int(row[1])

    # --- groups --------------------------------------------------------------------------------

    async def insert_group(self, group: GroupRow) -> None:
        await self._run(
            "INSERT INTO chat_groups (group_id, type, name, owner, created) VALUES (?, ?, ?, ?, ?)",
            _values(group),
        )

    async def group(self, group_id: str) -> GroupRow | None:
        row = await self._one(
            "SELECT group_id, type, name, owner, created FROM chat_groups WHERE group_id = ?",
            (group_id,),
        )
        return None if row is None else GroupRow(*row)

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
            "SELECT account, role, joined FROM group_members WHERE group_id = ? "
            "ORDER BY role != 'Owner', joined, account",
            (group_id,),
        )
        return [MemberRow(*r) for r in rows]

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
        """Dismiss the group: its members and messages go with it."""
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
            _values(msg),
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

    # --- files ---------------------------------------------------------------------------------

    async def insert_file(self, row: FileRow) -> None:
        await self._run(
            "INSERT INTO files (file_id, name, kind, size, sha256, created) VALUES (?, ?, ?, ?, ?, ?)",
            _values(row),
        )

    async def file(self, file_id: str) -> FileRow | None:
        row = await self._one(
            "SELECT file_id, name, kind, size, sha256, created FROM files WHERE file_id = ?", (file_id,)
        )
        return None if row is None else FileRow(*row)

    async def set_file_content(self, file_id: str, size: int, sha256: str) -> None:
        await self._run("UPDATE files SET size = ?, sha256 = ? WHERE file_id = ?", (size, sha256, file_id))

    # --- edits (modify_c2c_msg, modify_group_msg) ----------------------------------------------

    async def set_c2c_content(self, msg_id: int, body: str | None, cloud_custom_data: str | None) -> None:
        """Overwrite a C2C message's body and/or CloudCustomData; None keeps a field as it is."""
        await self._run(
            "UPDATE c2c_msgs SET body = coalesce(?, body), "
            "cloud_custom_data = coalesce(?, cloud_custom_data) WHERE id = ?",
            (body, cloud_custom_data, msg_id),
        )

    async def set_group_msg_content(
        self, group_id: str, msg_seq: int, body: str | None, cloud_custom_data: str | None
    ) -> None:
        """`set_c2c_content` for the group message numbered `msg_seq`."""
        await self._run(
            "UPDATE group_msgs SET body = coalesce(?, body), "
            "cloud_custom_data = coalesce(?, cloud_custom_data) WHERE group_id = ? AND msg_seq = ?",
            (body, cloud_custom_data, group_id, msg_seq),
        )
