"""The PostgreSQL store's SQL, built once per schema: statements vary only by bound parameters.

Every conversation-scoped statement starts `store = $1 AND conv_type = $2 AND conv_id = $3`, the
leading columns of the messages' primary key, and ranges are row values `(time, seq, rand) < (...)`:
one index range, no scan, no sort. Rows go in as arrays (`unnest`), one statement per chunk, and
each statement that inserts messages adds them to `conv_counts` in a data-modifying CTE: the
counts move in the same statement, so in the same transaction, as the rows. Concurrency between
workers is the database's: unique keys and `ON CONFLICT`, no application lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Final

from .schema import quoted

__all__ = ["Statements", "statements"]

_CONV: Final = "store = $1 AND conv_type = $2 AND conv_id = $3"
_LOCATOR: Final = f"{_CONV} AND time = $4 AND seq = $5 AND rand = $6"
_COLUMNS: Final = (
    "store, conv_type, conv_id, time, seq, rand, is_self, status, is_read, msg_key, msg_id, json"
)
_UNREAD: Final = "is_read = 0 AND is_self = 0 AND status NOT IN (4, 6)"
# The rows an INSERT ... RETURNING gave (`ins`) added to their conversations' counts, in key order
# (two workers adding to the same conversations lock their count rows in the same order).
_COUNT_NEW: Final = f"""
counted AS (
    INSERT INTO {{s}}.conv_counts AS c (store, conv_type, conv_id, live, unread)
    SELECT store, conv_type, conv_id, count(*) FILTER (WHERE status <> 4), count(*) FILTER (WHERE {_UNREAD})
    FROM ins GROUP BY store, conv_type, conv_id ORDER BY conv_type, conv_id
    ON CONFLICT (store, conv_type, conv_id)
    DO UPDATE SET live = c.live + excluded.live, unread = c.unread + excluded.unread
)"""
_RETURNING: Final = "RETURNING store, conv_type, conv_id, status, is_self, is_read"

# A save: insert, or update the stored row with its locator, keeping its read mark, and its MsgKey
# and msg_id if the new row has none (revoke needs them); the read mark as stored. A new row is
# counted here; an updated one by the trigger (schema migration 1).
_SAVE: Final = f"""
WITH ins AS (
    INSERT INTO {{s}}.messages AS m ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
    ON CONFLICT (store, conv_type, conv_id, time, seq, rand) DO UPDATE SET
        is_self = excluded.is_self, status = excluded.status, is_read = greatest(m.is_read, excluded.is_read),
        msg_key = coalesce(excluded.msg_key, m.msg_key), msg_id = coalesce(excluded.msg_id, m.msg_id),
        json = excluded.json
    RETURNING store, conv_type, conv_id, status, is_self, is_read, xmax = 0 AS fresh
), new AS (SELECT * FROM ins WHERE fresh), {_COUNT_NEW.replace("FROM ins", "FROM new")}
SELECT is_read FROM ins
"""
# Many rows (an import, a roaming page): the first of a repeated locator wins, stored ones stay.
_INSERT_MANY: Final = f"""
WITH ins AS (
    INSERT INTO {{s}}.messages ({_COLUMNS})
    SELECT $1, * FROM unnest(
        $2::smallint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
        $7::smallint[], $8::smallint[], $9::smallint[], $10::text[], $11::text[], $12::bytea[])
    ON CONFLICT DO NOTHING {_RETURNING}
), {_COUNT_NEW}
SELECT count(*) FROM ins
"""
# One message in many conversations (a batch send): the ids as one array, the rest bound once.
_INSERT_FANOUT: Final = f"""
WITH ins AS (
    INSERT INTO {{s}}.messages ({_COLUMNS})
    SELECT $1, $2, conv_id, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM unnest($3::text[]) AS conv_id
    ON CONFLICT DO NOTHING {_RETURNING}
), {_COUNT_NEW}
SELECT count(*) FROM ins
"""
_ROW: Final = "SELECT json, status, is_read FROM {s}.messages"
_FIND: Final = """
SELECT m.json, m.status, m.is_read
FROM unnest($4::bigint[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS k (time, seq, rand, n)
JOIN {s}.messages AS m
  ON m.store = $1 AND m.conv_type = $2 AND m.conv_id = $3
 AND m.time = k.time AND m.seq = k.seq AND m.rand = k.rand AND m.status <> 4
ORDER BY k.n
"""
# A MsgSeq block of 32 for any worker, atomically: a new counter starts at $4 (random); after
# 2**32 - 1 it wraps to 1 (0 means "the server chooses"). The block is (last - 31 .. last).
_SEQ_BLOCK: Final = """
INSERT INTO {s}.seq_counters AS c (store, conv_type, conv_id, last) VALUES ($1, $2, $3, $4 + 31)
ON CONFLICT (store, conv_type, conv_id)
DO UPDATE SET last = CASE WHEN c.last + 32 > 4294967295 THEN 32 ELSE c.last + 32 END
RETURNING last
"""


@dataclass(frozen=True)
class Statements:
    """The store's statements for one schema."""

    save: str
    insert_many: str
    insert_fanout: str
    get: str
    get_any: str
    find: str
    msg_key: str
    set_status: str
    delete: str
    delete_conversation: str
    delete_counts: str
    mark_read: str
    mark_read_all: str
    count: str
    unread_count: str
    seq_block: str
    register: str
    pages: dict[tuple[bool, bool], str]


def _page(forward: bool, anchored: bool) -> str:
    """One page in (time, seq, rand) order; the last two parameters are (include_deleted, limit)."""
    op, order = (">", "ASC") if forward else ("<", "DESC")
    anchor = f" AND (time, seq, rand) {op} ($4, $5, $6)" if anchored else ""
    n = 7 if anchored else 4
    return (
        f"{_ROW} WHERE {_CONV}{anchor} AND (status <> 4 OR ${n}::boolean)"
        f" ORDER BY time {order}, seq {order}, rand {order} LIMIT ${n + 1}"
    )


@cache
def statements(schema: str) -> Statements:
    s = quoted(schema)

    def of(template: str) -> str:
        return template.replace("{s}", s)

    return Statements(
        save=of(_SAVE),
        insert_many=of(_INSERT_MANY),
        insert_fanout=of(_INSERT_FANOUT),
        get=of(f"{_ROW} WHERE {_LOCATOR} AND status <> 4"),
        get_any=of(f"{_ROW} WHERE {_LOCATOR}"),
        find=of(_FIND),
        msg_key=of(f"SELECT msg_key FROM {{s}}.messages WHERE {_LOCATOR}"),
        set_status=of(f"UPDATE {{s}}.messages SET status = $7 WHERE {_LOCATOR}"),
        delete=of(f"UPDATE {{s}}.messages SET status = 4 WHERE {_LOCATOR} AND status <> 4"),
        delete_conversation=of(f"DELETE FROM {{s}}.messages WHERE {_CONV}"),
        delete_counts=of(f"DELETE FROM {{s}}.conv_counts WHERE {_CONV}"),
        mark_read=of(
            f"UPDATE {{s}}.messages SET is_read = 1 WHERE {_CONV} AND (time, seq, rand) <= ($4, $5, $6)"
            " AND is_read = 0 AND status <> 4"
        ),
        mark_read_all=of(
            f"UPDATE {{s}}.messages SET is_read = 1 WHERE {_CONV} AND is_read = 0 AND status <> 4"
        ),
        count=of(f"SELECT live FROM {{s}}.conv_counts WHERE {_CONV}"),
        unread_count=of(f"SELECT unread FROM {{s}}.conv_counts WHERE {_CONV}"),
        seq_block=of(_SEQ_BLOCK),
        register=of(
            "INSERT INTO {s}.stores (sdk_app_id, user_id) VALUES ($1, $2) ON CONFLICT (sdk_app_id, user_id)"
            " DO UPDATE SET user_id = excluded.user_id RETURNING id"
        ),
        pages={(f, a): of(_page(f, a)) for f in (False, True) for a in (False, True)},
    )
