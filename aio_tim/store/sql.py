"""The store's SQL, fixed at import time: statements vary only by bound parameters.

Every conversation-scoped statement starts `conv_type = ? AND conv_id = ?` so that it uses the
`messages_by_locator` index, and ranges are row values `(time, seq, rand) < (?, ?, ?)`, which SQLite
turns into one index range (no scan, no sort).
"""

from __future__ import annotations

from functools import cache
from typing import Final

__all__ = [
    "COUNT",
    "DELETE",
    "DELETE_CONVERSATION",
    "GET",
    "GET_ANY",
    "INSERT_FANOUT",
    "INSERT_IGNORE",
    "MARK_READ",
    "MARK_READ_ALL",
    "MSG_KEY",
    "READ_SEQ",
    "SET_SEQ",
    "SET_STATUS",
    "UNREAD_COUNT",
    "page_sql",
]

_CONV: Final = "conv_type = ? AND conv_id = ?"
_LOCATOR: Final = f"{_CONV} AND time = ? AND seq = ? AND rand = ?"
_LIVE: Final = "status != 4"
_COLUMNS: Final = "conv_type, conv_id, time, seq, rand, is_self, status, is_read, msg_key, msg_id, json"
_VALUES: Final = "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"

# The first writer of a locator wins: re-imports and roaming re-syncs never duplicate or resurrect.
# Run it only through store/counts.py, which keeps `conv_counts` in step. (A save that finds its
# locator taken updates the row there instead: it keeps its id and read mark, and its MsgKey.)
INSERT_IGNORE: Final = f"INSERT OR IGNORE INTO messages ({_COLUMNS}) VALUES ({_VALUES})"
# One message into many conversations (a batch send), as one statement: the conversation ids come
# as a JSON array, every row holds the same JSON (its conversation is the column). Binding every
# row from Python (INSERT_IGNORE in executemany) cost twice the CPU. Parameters: conv_type, time,
# seq, rand, is_self, status, is_read, msg_key, msg_id, json, the ids.
INSERT_FANOUT: Final = f"""
INSERT OR IGNORE INTO messages ({_COLUMNS})
SELECT ?, value, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM json_each(?)
"""

GET: Final = f"SELECT json, status, is_read FROM messages WHERE {_LOCATOR} AND {_LIVE}"
GET_ANY: Final = f"SELECT json, status, is_read FROM messages WHERE {_LOCATOR}"
MSG_KEY: Final = f"SELECT msg_key FROM messages WHERE {_LOCATOR}"
SET_STATUS: Final = f"UPDATE messages SET status = ? WHERE {_LOCATOR}"
DELETE: Final = f"UPDATE messages SET status = 4 WHERE {_LOCATOR} AND {_LIVE}"
DELETE_CONVERSATION: Final = f"DELETE FROM messages WHERE {_CONV}"
_UNREAD_LIVE: Final = f"is_read = 0 AND {_LIVE}"  # tombstones are not counted as newly read
MARK_READ: Final = (
    f"UPDATE messages SET is_read = 1 WHERE {_CONV} AND (time, seq, rand) <= (?, ?, ?) AND {_UNREAD_LIVE}"
)
MARK_READ_ALL: Final = f"UPDATE messages SET is_read = 1 WHERE {_CONV} AND {_UNREAD_LIVE}"
# Counts kept up to date (schema migration 6, store/counts.py): one row read, whatever the size.
COUNT: Final = f"SELECT live FROM conv_counts WHERE {_CONV}"
UNREAD_COUNT: Final = f"SELECT unread FROM conv_counts WHERE {_CONV}"

# MsgSeq is a uint32 on the wire: after 2**32 - 1 it wraps to 1 (0 means "let the server choose").
READ_SEQ: Final = f"SELECT last FROM seq_counters WHERE {_CONV}"
SET_SEQ: Final = """
INSERT INTO seq_counters (conv_type, conv_id, last) VALUES (?, ?, ?)
ON CONFLICT (conv_type, conv_id) DO UPDATE SET last = excluded.last
"""


@cache
def page_sql(*, forward: bool, anchored: bool) -> str:
    """One page of a conversation in (time, seq, rand) order; the trailing `?`s are (live_only, limit)."""
    op, order = (">", "ASC") if forward else ("<", "DESC")
    anchor = f" AND (time, seq, rand) {op} (?, ?, ?)" if anchored else ""
    return (
        f"SELECT json, status, is_read FROM messages WHERE {_CONV}{anchor} AND (status != 4 OR NOT ?)"
        f" ORDER BY time {order}, seq {order}, rand {order} LIMIT ?"
    )
