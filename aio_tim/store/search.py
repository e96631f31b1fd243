"""`LocalStore`'s search family (the `SearchStore` seam): keyword search over the trigram FTS5
index, messages by msg_id, local custom data, and pages filtered by element type in SQL.

The index is deferred (schema migration 9): a write never touches it for a new row, so a save
costs what it did before search existed. `search_indexed.upto` is the watermark, the id up to
which every row is indexed; a search first indexes the rows past it, in its own write
transaction through the store's writer (`catch_up`), then queries in that same transaction, so
it sees every write committed before it. With nothing to index, a search is a plain read.
A long backlog (a large import) is indexed in transactions of `CATCH_UP_ROWS` rows, each its own
writer job, so saves are let in between.
A row already indexed (at or below the watermark) is re-indexed or removed by triggers in the
transaction of the write that re-saves or deletes it.

With `LocalStore(index_idle=seconds)` the backlog is also indexed in the background: after that
long without a write, in batches of `IDLE_ROWS` rows (each a short writer job), stopping at the
first write by anyone else; so the first search after an import finds little left to do.
Tombstones and revoked messages stay indexed and are left out by the query, as `page` leaves
them out. A message's type and sender are generated columns of its JSON.

Local custom data (`TIMMsgSetLocalCustomData`) is written into the row's JSON and kept in its
own columns, so a re-save of the message (a send's reply, a modify) puts it back (`keep_local`);
a roaming re-fetch never replaces a stored row at all.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams.search import SearchGroup, SearchPage, SearchQuery
from ..types import Message, encode
from ..types._base import decoder_for
from .rows import Conv, LocatorKey, check_conv, check_key, message_of
from .schema import INDEX_RANGE
from .search_sql import query_sql, types_page_sql
from .writer import GroupWriter, Job

__all__ = [
    "CATCH_UP_ROWS",
    "IDLE_ROWS",
    "SearchMixin",
    "catch_up",
    "check_index_idle",
    "keep_local",
    "last_id",
]

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
# Rows indexed per catch-up transaction: ~0.3 s of the writer (about 16 us a row), after which
# queued saves commit before the next batch.
CATCH_UP_ROWS: Final = 20_000
IDLE_ROWS: Final = 1_000  # rows a background batch indexes: ~20 ms of the writer that a save may wait
_WATERMARK: Final = "SELECT upto FROM search_indexed"
_BATCH_END: Final = "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)"
_SET_WATERMARK: Final = "UPDATE search_indexed SET upto = ?"


def last_id(conn: sqlite3.Connection) -> int:
    """The newest row's id: rows inserted after this call have larger ones (AUTOINCREMENT)."""
    return int(conn.execute("SELECT max(id) FROM messages").fetchone()[0] or 0)


def check_index_idle(seconds: float | None) -> float | None:
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
    ):
        raise UsageError(
            TIM_ERR_PARAM, f"index_idle must be a positive number of seconds or None, not {seconds!r}"
        )
    return None if seconds is None else float(seconds)


def behind(conn: sqlite3.Connection) -> bool:
    """Whether rows wait to be indexed."""
    return last_id(conn) > int(conn.execute(_WATERMARK).fetchone()[0])


def catch_up(conn: sqlite3.Connection, limit: int | None = None) -> bool:
    """Index the rows past the watermark, at most `limit` of them (None: all), and move it;
    whether rows are left for another call. Runs in the caller's write transaction."""
    upto = int(conn.execute(_WATERMARK).fetchone()[0])
    newest = last_id(conn)
    if newest <= upto:
        return False
    end = newest if limit is None else int(conn.execute(_BATCH_END, (upto, limit)).fetchone()[0])
    conn.execute(INDEX_RANGE, (upto, end))
    conn.execute(_SET_WATERMARK, (end,))
    return end < newest


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


def _search_if_caught_up(query: SearchQuery, conn: sqlite3.Connection) -> SearchPage | None:
    """Search as a plain read when nothing waits to be indexed (the usual case: no write
    transaction); None otherwise."""
    return None if behind(conn) else _search(query, conn)


def _search_caught_up(query: SearchQuery, conn: sqlite3.Connection) -> SearchPage | None:
    """Catch the index up, then search, in one transaction; None if a batch of the backlog was
    indexed and more is left (the caller commits it and asks again)."""
    if catch_up(conn, CATCH_UP_ROWS):
        return None
    return _search(query, conn)


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
    """The search family of `LocalStore`; the store provides `_query`, `_submit` and `_writer`."""

    _writer: GroupWriter | None
    _indexer: asyncio.Task[None] | None = None

    if TYPE_CHECKING:  # LocalStore's own: declared for the type checker, nothing to call at run time

        async def _query(self, fn: Callable[[sqlite3.Connection], T], *, small: bool = True) -> T: ...

        async def _submit(self, job: Job[T], *, small: bool = False, siblings: int | None = None) -> T: ...

    async def search_messages(self, query: SearchQuery) -> SearchPage:
        """The page of `query`'s matches (seams/search.py)."""
        if query.conv is not None:
            query = _with_conv(query, check_conv(query.conv))
        page = await self._query(partial(_search_if_caught_up, query), small=False)
        job = partial(_search_caught_up, query)
        while page is None:  # rows to index: through the writer, in a transaction with the query
            page = await self._submit(job)  # None: a batch of the backlog is committed, more left
        return page

    async def index_backlog(self, limit: int = IDLE_ROWS) -> bool:
        """Index up to `limit` of the rows saved since the index was last caught up (a search does
        it anyway); whether more are left."""
        if not await self._query(behind):
            return False
        return await self._submit(partial(catch_up, limit=limit))

    def _start_indexer(self, idle: float | None) -> None:
        if idle is not None:
            self._indexer = asyncio.create_task(self._index_when_idle(idle), name="aio_tim search index")

    async def _stop_indexer(self) -> None:
        task, self._indexer = self._indexer, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _index_when_idle(self, idle: float) -> None:
        """Until cancelled: whenever no write has been committed for `idle` seconds, index the
        backlog a batch at a time while nobody else writes."""
        writer = self._writer
        assert writer is not None  # started by open()
        seen = writer.jobs
        while True:
            await asyncio.sleep(idle)
            if writer.jobs == seen:  # no write committed for `idle` seconds
                while await self._index_alone(writer):
                    pass
            seen = writer.jobs

    async def _index_alone(self, writer: GroupWriter) -> bool:
        """A background batch; whether to go on (more left, and no other write came meanwhile)."""
        before = writer.jobs
        return await self.index_backlog() and writer.jobs <= before + 1

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
