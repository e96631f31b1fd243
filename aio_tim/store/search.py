"""`LocalStore`'s search family (the `SearchStore` seam): keyword search over the trigram FTS5
index, messages by msg_id, local custom data, and pages filtered by element type in SQL.

The index changes in the transaction of the write that changes a row: inserts through
`index_after`, called by every insert path of counts.py (one statement per job), re-saves and
deletions of rows by triggers (schema migration 8).
Tombstones and revoked messages stay indexed and are left out by the query, as `page` leaves
them out. A message's type and sender are generated columns of its JSON.

Local custom data (`TIMMsgSetLocalCustomData`) is written into the row's JSON and kept in its
own columns, so a re-save of the message (a send's reply, a modify) puts it back (`keep_local`);
a roaming re-fetch never replaces a stored row at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, Final, TypeVar

from ..seams.search import SearchGroup, SearchPage, SearchQuery
from ..types import Message, encode
from ..types._base import decoder_for
from .rows import Conv, LocatorKey, check_conv, check_key, message_of
from .schema import INDEX_AFTER
from .search_sql import query_sql, types_page_sql
from .writer import Job

__all__ = ["SearchMixin", "index_after", "keep_local", "last_id"]

T = TypeVar("T")
_DECODER: Final = decoder_for(Message)
_LOCATOR: Final = "conv_type = ? AND conv_id = ? AND time = ? AND seq = ? AND rand = ?"
_BY_MSG_ID: Final = (
    "SELECT json, status, is_read, conv_type, conv_id FROM messages "
    "WHERE msg_id = ? AND status != 4 ORDER BY id LIMIT 1"
)
_LOCAL_OF: Final = f"SELECT json, local_int, local_str FROM messages WHERE {_LOCATOR} AND status != 4"
_SET_LOCAL: Final = f"UPDATE messages SET json = ?, local_int = ?, local_str = ? WHERE {_LOCATOR}"
_SET_JSON: Final = f"UPDATE messages SET json = ? WHERE {_LOCATOR}"
_READ_MAX: Final = 200  # as LocalStore.LOOP_READ_MAX: reads up to this many rows stay on the loop


def last_id(conn: sqlite3.Connection) -> int:
    """The newest row's id: rows inserted after this call have larger ones (AUTOINCREMENT)."""
    return int(conn.execute("SELECT max(id) FROM messages").fetchone()[0] or 0)


def index_after(conn: sqlite3.Connection, before: int) -> None:
    """Add the rows inserted after id `before` to the search index (in the inserting transaction)."""
    conn.execute(INDEX_AFTER, (before,))


def keep_local(
    conn: sqlite3.Connection, locator: Sequence[Any], json: bytes, local: tuple[int | None, str | None]
) -> None:
    """After a re-save wrote `json` over a row with local custom data `local` (the columns the
    re-save returned): put the data back. (`locator`: conv_type, conv_id, time, seq, rand.)
    Runs in the re-save's transaction."""
    msg: Message = _DECODER.decode(json)
    msg.custom_int, msg.custom_str = local
    conn.execute(_SET_JSON, (encode(msg), *locator))


def _set_local(
    conv: Conv, key: LocatorKey, custom: tuple[int | None, str | None], conn: sqlite3.Connection
) -> bool:
    locator = (*conv, *key)
    row = conn.execute(_LOCAL_OF, locator).fetchone()
    if row is None:
        return False
    msg: Message = _DECODER.decode(row[0])
    msg.custom_int, msg.custom_str = custom
    conn.execute(_SET_LOCAL, (encode(msg), *custom, *locator))
    return True


def _search(query: SearchQuery, conn: sqlite3.Connection) -> SearchPage:
    statement, params = query_sql(query)
    rows = conn.execute(statement, params).fetchall()
    total = int(rows[0][-1]) if rows else 0
    if not rows and query.offset:  # a page past the end carries no window count: count alone
        first, more = query_sql(replace(query, offset=0, limit=1))
        total = next((int(row[-1]) for row in conn.execute(first, more)), 0)
    if query.conv is not None:
        messages = [message_of(row, query.conv) for row in rows]
        return SearchPage(total, [SearchGroup(query.conv, total, messages)] if total else [])
    groups = []
    for conv_type, conv_id, count, json, status, is_read, _ in rows:
        conv = (int(conv_type), str(conv_id))
        one = [message_of((json, status, is_read), conv)] if json is not None else []
        groups.append(SearchGroup(conv, int(count), one))
    return SearchPage(total, groups)


def _by_msg_ids(msg_ids: Sequence[str], conn: sqlite3.Connection) -> list[Message]:
    found = []
    for msg_id in dict.fromkeys(msg_ids):  # each id once, in the order given
        row = conn.execute(_BY_MSG_ID, (msg_id,)).fetchone()
        if row is not None:
            msg = message_of(row, (int(row[3]), str(row[4])))
            msg.msg_id = msg.msg_id or msg_id  # the column names it even where the JSON did not
            found.append(msg)
    return found


class SearchMixin:
    """The search family of `LocalStore`; the store provides `_query` and `_submit`."""

    async def _query(self, fn: Callable[[sqlite3.Connection], T], *, small: bool = True) -> T:
        raise NotImplementedError  # LocalStore's

    async def _submit(self, job: Job[T], *, small: bool = False, siblings: int | None = None) -> T:
        raise NotImplementedError  # LocalStore's

    async def search_messages(self, query: SearchQuery) -> SearchPage:
        """The page of `query`'s matches (seams/search.py)."""
        if query.conv is not None:
            query = _with_conv(query, check_conv(query.conv))
        return await self._query(partial(_search, query), small=False)

    async def find_by_msg_ids(self, msg_ids: Sequence[str]) -> list[Message]:
        """The stored message with each msg_id, in the ids' order (deleted ones left out)."""
        return await self._query(partial(_by_msg_ids, list(msg_ids)), small=len(msg_ids) <= _READ_MAX)

    async def set_local_custom(
        self, conv: Conv, locator_key: LocatorKey, custom_int: int | None, custom_str: str | None
    ) -> bool:
        """Keep the message's local custom data; False if no live message has that locator."""
        job = partial(_set_local, check_conv(conv), check_key(locator_key), (custom_int, custom_str))
        return await self._submit(job, small=True)

    async def page_of_types(
        self,
        conv: Conv,
        *,
        anchor: LocatorKey | None,
        count: int,
        forward: bool,
        types: Sequence[int],
        low: int | None = None,
        high: int | None = None,
    ) -> list[Message]:
        """A page of the messages whose first element has one of `types` (seams/search.py)."""
        conv = check_conv(conv)
        kinds = sorted(set(types))
        if count <= 0 or not kinds:
            return []
        statement = types_page_sql(
            len(kinds),
            forward=forward,
            anchored=anchor is not None,
            low=low is not None,
            high=high is not None,
        )
        params: list[Any] = []
        for kind in kinds:
            params += [*conv, kind, *(check_key(anchor) if anchor is not None else ())]
            params += [v for v in (low, high) if v is not None] + [count]
        params.append(count)
        rows = await self._query(partial(fetch_all, statement, params), small=count * len(kinds) <= _READ_MAX)
        return [message_of(row, conv) for row in rows]


def _with_conv(query: SearchQuery, conv: Conv) -> SearchQuery:
    return replace(query, conv=conv)


def fetch_all(query: str, params: Sequence[Any], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(query, params).fetchall()
