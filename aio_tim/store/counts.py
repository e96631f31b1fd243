"""Every insert into `messages`, and the per-conversation counts it adds to (`conv_counts`).

`count()` and `unread_count()` read one row of `conv_counts` (schema migration 4). Updates and
deletes keep it right through triggers; inserts do it here, without a per-row trigger: an
AFTER INSERT trigger made a bulk import 2.5x slower. Rows are inserted in groups of one class
(conversation, live or not, unread or not), so each group's `rowcount` says how many of that class
were new (INSERT OR IGNORE skips locators already stored), and each conversation's counts move once
per job. Grouping reorders rows, which is harmless unless a locator repeats within the job (then
the first must win): such a job is inserted in order, in runs of one class.

So every statement that inserts messages must come from this module (tests/test_store.py checks
that no other module names the insert statements).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Final

from . import sql
from .rows import Conv, Row

__all__ = ["insert_rows", "save_row"]

_TOMBSTONE: Final = 4
_REVOKED: Final = 6

ADD_COUNTS: Final = """
INSERT INTO conv_counts (conv_type, conv_id, live, unread) VALUES (?, ?, ?, ?)
ON CONFLICT (conv_type, conv_id) DO UPDATE SET live = live + excluded.live, unread = unread + excluded.unread
"""
# A re-save of a stored locator, as an UPDATE (whose trigger moves the counts), not INSERT OR REPLACE:
# the row keeps its id, a read mark is never undone, and a re-save without a MsgKey keeps the one we
# had (revoke needs it). It answers the read mark as stored: no read-back.
_RESAVE: Final = """
UPDATE messages SET
    is_self = ?, status = ?, is_read = max(is_read, ?),
    msg_key = coalesce(?, msg_key), msg_id = coalesce(?, msg_id), json = ?
WHERE conv_type = ? AND conv_id = ? AND time = ? AND seq = ? AND rand = ?
RETURNING is_read
"""


def row_class(row: Row) -> tuple[int, int]:
    """(live, unread) of a row: 1 or 0 each, as the `messages_unread` index and COUNT define them."""
    status = row[6]
    live = status != _TOMBSTONE
    return int(live), int(live and status != _REVOKED and not row[7] and not row[5])


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """INSERT OR IGNORE `rows` (the first of a repeated locator wins) and add the new ones to their
    conversations' counts; how many were new."""
    added: dict[Conv, list[int]] = {}
    inserted = 0
    for (conv, (live, unread)), group in _groups(rows):
        new = conn.executemany(sql.INSERT_IGNORE, group).rowcount
        inserted += new
        counts = added.setdefault(conv, [0, 0])
        counts[0] += live * new
        counts[1] += unread * new
    for conv, (live, unread) in added.items():
        if live or unread:
            conn.execute(ADD_COUNTS, (*conv, live, unread))
    return inserted


def _groups(rows: Sequence[Row]) -> Iterable[tuple[tuple[Conv, tuple[int, int]], Iterable[Row]]]:
    def key(row: Row) -> tuple[Conv, tuple[int, int]]:
        return (row[0], row[1]), row_class(row)

    if len(rows) < 2 or len({row[:5] for row in rows}) == len(rows):
        grouped: dict[tuple[Conv, tuple[int, int]], list[Row]] = {}
        for row in rows:
            grouped.setdefault(key(row), []).append(row)
        return grouped.items()
    return groupby(rows, key=key)  # a repeated locator: keep the order


def save_row(conn: sqlite3.Connection, row: Row) -> int:
    """Insert the row, or update the stored one with its locator (keeping its read mark, MsgKey and
    msg_id if the row has none); the row's read mark as stored."""
    if conn.execute(sql.INSERT_IGNORE, row).rowcount:
        live, unread = row_class(row)
        if live or unread:
            conn.execute(ADD_COUNTS, (row[0], row[1], live, unread))
        return row[7]
    params = (row[5], row[6], row[7], row[8], row[9], row[10], *row[:5])
    return int(conn.execute(_RESAVE, params).fetchall()[0][0])
