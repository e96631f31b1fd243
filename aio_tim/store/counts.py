"""Every insert into `messages`, and the per-conversation counts it adds to (`conv_counts`).

`count()` and `unread_count()` read one row of `conv_counts` (schema migration 6). Updates and
deletes keep it right through triggers; inserts do it here, without a per-row trigger: an
AFTER INSERT trigger made a bulk import 2.5x slower. A job's rows go in with one `executemany`,
in the caller's order (B-tree appends stay sequential; grouping them cost 30%): if `rowcount`
says all were new, or none, the counts follow from the rows. Otherwise (INSERT OR IGNORE skipped
some locators already stored, or repeated in the job) the insert is rolled back to a savepoint and
done again in runs of one class (conversation, live or not, unread or not), each run's rowcount
counting its class; the order, and so which of a repeated locator wins, is kept.

The search index is not written here: new rows are indexed before the next search
(store/search.py), so an insert costs what it did before search existed.

So every statement that inserts messages must come from this module (tests/test_store.py checks
that no other module names the insert statements).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache
from itertools import groupby
from typing import Final

from . import sql
from .rows import Conv, Fanout, Row
from .search import keep_local

__all__ = ["insert_fanout", "insert_rows", "save_row"]

# SQLite's JSON functions end a string at an escaped NUL: ids holding one take the row path.
_NUL: Final = "\\u0000"
_TOMBSTONE: Final = 4
_REVOKED: Final = 6

ADD_COUNTS: Final = """
INSERT INTO conv_counts (conv_type, conv_id, live, unread) VALUES (?, ?, ?, ?)
ON CONFLICT (conv_type, conv_id) DO UPDATE SET live = live + excluded.live, unread = unread + excluded.unread
"""
# A fan-out's conversations are as many as its rows: their counts go in as one statement too.
# (`WHERE true` tells SQLite's parser that ON CONFLICT is the upsert's, not the join's.)
_ADD_FANOUT_COUNTS: Final = """
INSERT INTO conv_counts (conv_type, conv_id, live, unread) SELECT ?, value, ?, ? FROM json_each(?) WHERE true
ON CONFLICT (conv_type, conv_id) DO UPDATE SET live = live + excluded.live, unread = unread + excluded.unread
"""
# A re-save of a stored locator, as an UPDATE (whose trigger moves the counts), not INSERT OR REPLACE:
# the row keeps its id, a read mark is never undone, and a re-save without a MsgKey keeps the one we
# had (revoke needs it). It answers the read mark as stored, and the row's local custom data
# (store/search.py puts that back into the new JSON): no read-back.
_RESAVE: Final = """
UPDATE messages SET
    is_self = ?, status = ?, is_read = max(is_read, ?),
    msg_key = coalesce(?, msg_key), msg_id = coalesce(?, msg_id), json = ?
WHERE conv_type = ? AND conv_id = ? AND time = ? AND seq = ? AND rand = ?
RETURNING is_read, local_int, local_str
"""


def row_class(row: Row) -> tuple[int, int]:
    """(live, unread) of a row: 1 or 0 each, as the `messages_unread` index and COUNT define them."""
    return _class_of(status=row[6], is_self=row[5], is_read=row[7])


def _class_of(*, status: int, is_self: int, is_read: int) -> tuple[int, int]:
    """`row_class` from the three columns it reads."""
    live = status != _TOMBSTONE
    return int(live), int(live and status != _REVOKED and not is_read and not is_self)


def insert_rows(conn: sqlite3.Connection, rows: Sequence[Row], *, one_class: bool = False) -> int:
    """INSERT OR IGNORE `rows` (the first of a repeated locator wins) and add the new ones to their
    conversations' counts; how many were new. Runs inside the caller's transaction.
    `one_class`: the caller built every row for one conversation and status (an import), so that
    is not checked row by row."""
    conn.execute("SAVEPOINT insert_rows")
    inserted = conn.executemany(sql.INSERT_IGNORE, rows).rowcount
    if inserted == len(rows):
        _add_counts(conn, _one_class_counts(rows) if one_class else _count_classes(rows))
    elif inserted:
        conn.execute("ROLLBACK TO insert_rows")
        inserted = _insert_in_runs(conn, rows)
    conn.execute("RELEASE insert_rows")
    return inserted


def insert_fanout(conn: sqlite3.Connection, fanout: Fanout) -> int:
    """`insert_rows` for a fan-out: the rows and their counts built by SQLite from the message's
    columns and the list of conversation ids, two statements in all. If some of the locators are
    stored (or an id repeats), the rows go through `insert_rows`' runs instead; so do ids that
    SQLite's JSON cannot carry."""
    if _NUL in fanout.conv_ids_json or not _has_json1():
        return insert_rows(conn, fanout.rows())
    columns, conv_ids = fanout.columns, fanout.conv_ids_json
    conn.execute("SAVEPOINT insert_fanout")
    inserted = conn.execute(sql.INSERT_FANOUT, (fanout.conv_type, *columns, conv_ids)).rowcount
    if inserted == len(fanout.conv_ids):
        _, _, _, is_self, status, is_read, _, _, _ = columns
        live, unread = _class_of(status=status, is_self=is_self, is_read=is_read)
        if live or unread:
            conn.execute(_ADD_FANOUT_COUNTS, (fanout.conv_type, live, unread, conv_ids))
    elif inserted:
        conn.execute("ROLLBACK TO insert_fanout")
        inserted = _insert_in_runs(conn, fanout.rows())
    conn.execute("RELEASE insert_fanout")
    return inserted


@cache
def _has_json1() -> bool:
    """SQLite's JSON functions: built in since 3.38, but a build may leave them out."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("SELECT value FROM json_each('[1]')")
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()
    return True


def _one_class_counts(rows: Sequence[Row]) -> dict[Conv, list[int]]:
    """The counts of rows of one conversation and status, in one cheap pass."""
    first = rows[0]
    status = first[6]
    # is_self | is_read is 0 only for an unread message from the peer
    unread = [r[5] | r[7] for r in rows].count(0) if status not in (_TOMBSTONE, _REVOKED) else 0
    return {(first[0], first[1]): [len(rows) if status != _TOMBSTONE else 0, unread]}


def _count_classes(rows: Sequence[Row]) -> dict[Conv, list[int]]:
    first = rows[0]
    conv, status = (first[0], first[1]), first[6]
    if all(r[6] == status and r[1] == conv[1] and r[0] == conv[0] for r in rows):
        return _one_class_counts(rows)
    added: dict[Conv, list[int]] = {}
    for row in rows:  # row_class inlined: a batch send has one conversation per row
        status = row[6]
        if status == _TOMBSTONE:
            continue
        conv = (row[0], row[1])
        counts = added.get(conv)
        if counts is None:
            counts = added[conv] = [0, 0]
        counts[0] += 1
        if status != _REVOKED and not row[7] and not row[5]:
            counts[1] += 1
    return added


def _insert_in_runs(conn: sqlite3.Connection, rows: Sequence[Row]) -> int:
    """The slow path: consecutive rows of one class per executemany, whose rowcount counts it."""
    added: dict[Conv, list[int]] = {}
    inserted = 0
    for (conv, (live, unread)), run in groupby(rows, key=lambda r: ((r[0], r[1]), row_class(r))):
        new = conn.executemany(sql.INSERT_IGNORE, run).rowcount
        inserted += new
        counts = added.setdefault(conv, [0, 0])
        counts[0] += live * new
        counts[1] += unread * new
    _add_counts(conn, added)
    return inserted


def _add_counts(conn: sqlite3.Connection, added: dict[Conv, list[int]]) -> None:
    # One executemany: a batch send adds to as many conversations as it has rows.
    changes = [(*conv, live, unread) for conv, (live, unread) in added.items() if live or unread]
    if changes:
        conn.executemany(ADD_COUNTS, changes)


def save_row(conn: sqlite3.Connection, row: Row) -> int:
    """Insert the row, or update the stored one with its locator (keeping its read mark, MsgKey and
    msg_id if the row has none); the row's read mark as stored."""
    if conn.execute(sql.INSERT_IGNORE, row).rowcount:
        live, unread = row_class(row)
        if live or unread:
            conn.execute(ADD_COUNTS, (row[0], row[1], live, unread))
        return row[7]
    params = (row[5], row[6], row[7], row[8], row[9], row[10], *row[:5])
    is_read, local_int, local_str = conn.execute(_RESAVE, params).fetchall()[0]
    if local_int is not None or local_str is not None:  # TIMMsgSetLocalCustomData's, kept
        keep_local(conn, row[:5], row[10], (local_int, local_str))
    return int(is_read)
