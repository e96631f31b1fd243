"""The store's jobs and reads: plain functions of the sqlite3 connection.

A write job runs inside the `GroupWriter`'s transaction, on aiosqlite's thread or (a small one)
on the loop thread (writer.py); a read runs wherever `LocalStore._query` puts it. None of them
awaits, opens a transaction or touches the store object: `LocalStore` builds them with
`functools.partial` and hands them over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, TypeVar

import aiosqlite

from . import sql
from .counts import insert_rows
from .rows import Conv, Row
from .writer import Job, raw_connection, run_on_thread

__all__ = [
    "SEQ_BLOCK",
    "InsertRows",
    "fetch_all",
    "fetch_each",
    "in_transaction",
    "insert_or_get",
    "reserve_seqs",
    "rowcount",
]

SEQ_BLOCK: Final = 32  # MsgSeqs reserved on disk at a time, at least (seqs.py)
_UINT32_MAX: Final = 2**32 - 1
T = TypeVar("T")


async def in_transaction(db: aiosqlite.Connection, job: Job[T]) -> T:
    """Run a job inside a `_write()` transaction (one hop)."""
    raw = raw_connection(db)
    return await run_on_thread(db, lambda: job(raw))


def insert_or_get(row: Row, conn: sqlite3.Connection) -> Any:
    """Insert unless the locator is taken; None if inserted, else the row that stays."""
    if insert_rows(conn, [row]):
        return None
    return conn.execute(sql.GET_ANY, row[:5]).fetchone()


class InsertRows:
    """A bulk insert job. Rows are built on the database thread the first time it runs and kept:
    a job may run again if another job of its batch fails (writer.py)."""

    def __init__(self, rows: Iterator[Row], *, one_class: bool = False) -> None:
        self._source: Iterator[Row] | None = rows
        self._rows: list[Row] = []
        self._one_class = one_class  # every row of one conversation and status (counts.py)

    def __call__(self, conn: sqlite3.Connection) -> int:
        if self._source is not None:
            self._rows = list(self._source)
            self._source = None
        return insert_rows(conn, self._rows, one_class=self._one_class)


def reserve_seqs(
    conv: Conv, first: int | None, wanted: Callable[[], int], conn: sqlite3.Connection
) -> tuple[int, int]:
    """Move the conversation's counter `wanted()` seqs on (read now: callers may have joined since
    the job was built); the block as [start, limit)."""
    row = conn.execute(sql.READ_SEQ, conv).fetchone()
    # `first` is None only for a conversation whose counter this store has already used.
    start = int(row[0]) + 1 if row is not None else first or 1
    if start > _UINT32_MAX:
        start = 1  # 0 would mean "the server chooses"
    limit = min(start + wanted(), _UINT32_MAX + 1)
    conn.execute(sql.SET_SEQ, (*conv, limit - 1))
    return start, limit


def rowcount(query: str, params: Sequence[Any], conn: sqlite3.Connection) -> int:
    return int(conn.execute(query, params).rowcount)


def fetch_all(query: str, params: Sequence[Any], conn: sqlite3.Connection) -> list[Any]:
    return conn.execute(query, params).fetchall()


def fetch_each(query: str, each: Sequence[Sequence[Any]], conn: sqlite3.Connection) -> list[Any]:
    """The first row for each parameter set, in order, skipping sets that find nothing."""
    found = []
    for params in each:
        row = conn.execute(query, params).fetchone()
        if row is not None:
            found.append(row)
    return found
