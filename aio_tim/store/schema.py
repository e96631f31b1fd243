"""Numbered migrations: `MIGRATIONS[n]` takes a database from `user_version` n to n + 1.

Append a script to change the schema; never edit a released one (databases in the field have run it).
All pending scripts run in one write transaction together with the `user_version` bump, so a crash
leaves the database at the old version or the new one, never in between.
"""

from __future__ import annotations

import sqlite3
from typing import Final

import aiosqlite

from ..errors import error_for
from .errors import ERR_IO

__all__ = ["INDEX_AFTER", "INDEX_RANGE", "MIGRATIONS", "SCHEMA_VERSION", "migrate", "statements"]

# The text a keyword search looks in (migration 8): per element, what a reader sees of it (a
# text's content, a custom element's description and extension, a file's name, a location's
# description, a merged message's title and abstracts), one line each. Faces, group tips and
# other system elements carry none. SQL over the stored JSON, so any connection's insert (and
# the migration's backfill) indexes a row the same way.
_SEARCH_TEXT: Final = """coalesce((SELECT group_concat(part, char(10)) FROM (
    SELECT CASE json_extract(e.value, '$.elem_type')
        WHEN 0 THEN json_extract(e.value, '$.text_elem_content')
        WHEN 3 THEN coalesce(json_extract(e.value, '$.custom_elem_desc'), '') || char(10)
                    || coalesce(json_extract(e.value, '$.custom_elem_ext'), '')
        WHEN 4 THEN json_extract(e.value, '$.file_elem_file_name')
        WHEN 7 THEN json_extract(e.value, '$.location_elem_desc')
        WHEN 12 THEN coalesce(json_extract(e.value, '$.merge_elem_title'), '') || char(10)
                     || coalesce((SELECT group_concat(a.value, char(10))
                                  FROM json_each(e.value, '$.merge_elem_abstract_array') AS a), '')
    END AS part
    FROM json_each(CAST({json} AS TEXT), '$.message_elem_array') AS e)), '')"""
# The C SDK searches every type but faces and group tips (5, 6): a message whose first element is
# one of those is not indexed at all.
_SEARCHABLE: Final = "{row}.elem_type NOT IN (5, 6)"
_INDEX_NEW: Final = (
    "INSERT INTO messages_fts (rowid, body) SELECT new.id, body FROM "
    f"(SELECT {_SEARCH_TEXT.format(json='new.json')} AS body) WHERE body != '';"
)
# Rows inserted after the row with id `?` (ids only grow): indexed by the statement that inserted
# them (store/counts.py), once per insert job. Not a trigger: a write to the FTS5 table from a
# trigger of an executemany'd INSERT flushes FTS5's pending segment once per row (its statement
# savepoint), which made a bulk import 30x slower.
INDEX_AFTER: Final = f"""INSERT INTO messages_fts (rowid, body)
    SELECT id, body FROM (SELECT id, {_SEARCH_TEXT.format(json="messages.json")} AS body FROM messages
                          WHERE id > ? AND {_SEARCHABLE.format(row="messages")})
    WHERE body != ''"""

# Rows with ids in (?, ?]: the catch-up before a search (store/search.py, migration 9). `LIMIT -1`
# keeps SQLite from flattening the subquery, which computed each row's text twice (~10% faster).
INDEX_RANGE: Final = INDEX_AFTER.replace("id > ?", "id > ? AND id <= ?").replace(
    "(5, 6))", "(5, 6) LIMIT -1)"
)
# A row already in the index (its id at or below the watermark) is re-indexed or removed with the
# write that changes it; a newer one is indexed by the next catch-up, as it is then.
_INDEXED: Final = "old.id <= (SELECT upto FROM search_indexed)"
_REINDEX: Final = _INDEX_NEW.replace("WHERE", f"WHERE {_SEARCHABLE.format(row='new')} AND")

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: messages keyed by locator, the per-conversation C2C MsgSeq counter.
    """
    CREATE TABLE messages (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order; never reused
        conv_type INTEGER NOT NULL,
        conv_id   TEXT    NOT NULL,
        time      INTEGER NOT NULL,                   -- server_time, else client_time
        seq       INTEGER NOT NULL,
        rand      INTEGER NOT NULL,
        is_self   INTEGER NOT NULL,
        status    INTEGER NOT NULL,                   -- MsgStatus; 4 (deleted) is a tombstone
        is_read   INTEGER NOT NULL,
        msg_key   TEXT,                               -- the server's MsgKey, for revoke/delete
        msg_id    TEXT,
        json      BLOB    NOT NULL                    -- the C SDK Message JSON
    );
    -- The locator is a message's identity, and (time, seq, rand) is the conversation's order:
    -- one index serves uniqueness and paging in both directions (scanned backward for newest first).
    CREATE UNIQUE INDEX messages_by_locator ON messages (conv_type, conv_id, time, seq, rand);
    -- Only unread messages are indexed, so unread_count stays cheap in a long, mostly read history.
    CREATE INDEX messages_unread ON messages (conv_type, conv_id)
        WHERE is_read = 0 AND is_self = 0 AND status NOT IN (4, 6);
    CREATE TABLE seq_counters (
        conv_type INTEGER NOT NULL,
        conv_id   TEXT    NOT NULL,
        last      INTEGER NOT NULL,
        PRIMARY KEY (conv_type, conv_id)
    ) WITHOUT ROWID;
    """,
    # 2: count() = locator-index entries minus tombstones, both read from indexes alone; counting live
    # rows directly reads every row of the conversation (0.2 s for 500k messages, holding the store).
    """
    CREATE INDEX messages_tombstones ON messages (conv_type, conv_id) WHERE status = 4;
    """,
    # 3: the durable outbox (`Client(outbox=True)`): a send is committed here before it is
    # acknowledged; rows go queued -> inflight -> sent | failed, in id order per conversation.
    """
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order; never reused
        conv_type  INTEGER NOT NULL,
        conv_id    TEXT    NOT NULL,
        state      TEXT    NOT NULL,                   -- queued, inflight, sent, failed
        json       BLOB    NOT NULL,                   -- the Message with its idempotency keys fixed
        error_code INTEGER,
        error_desc TEXT,
        created    INTEGER NOT NULL,
        updated    INTEGER NOT NULL
    );
    CREATE INDEX outbox_by_state ON outbox (state, id);
    """,
    # 4: outbox leases: an inflight row belongs to the client sending it (`owner`) until
    # `lease_until` (unix seconds; renewed while sending). Only a row whose lease ended is taken
    # by another client: two live clients on one store never resend each other's rows.
    """
    ALTER TABLE outbox ADD COLUMN owner TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
    CREATE INDEX outbox_inflight_by_conv ON outbox (conv_type, conv_id, id) WHERE state = 'inflight';
    """,
    # 5: the inbox of received webhooks (`tim.events()`): an event is committed here before the receiver
    # answers TIM; `key` (its natural identity) deduplicates redeliveries. Each consumer's cursor is
    # the last position it acknowledged; the groups the user belongs to decide which group messages
    # land in `messages`.
    """
    CREATE TABLE inbox (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,  -- the position; arrival order, never reused
        key      TEXT    NOT NULL UNIQUE,
        command  TEXT    NOT NULL,
        query    BLOB    NOT NULL,                   -- JSON object of the request's query
        body     BLOB    NOT NULL,                   -- the webhook body as received
        received REAL    NOT NULL
    );
    CREATE TABLE inbox_cursors (
        consumer TEXT    PRIMARY KEY,
        position INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE inbox_groups (
        group_id TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    """,
    # 6: count() and unread_count() read one row instead of counting index entries (55 ms for a
    # 500k-message conversation). Updates and deletes keep it by trigger; inserts add to it in
    # store/counts.py (a per-row insert trigger made bulk imports 2.5x slower).
    # A message counts as live unless a tombstone (4); as unread like the `messages_unread` index.
    """
    CREATE TABLE conv_counts (
        conv_type INTEGER NOT NULL,
        conv_id   TEXT    NOT NULL,
        live      INTEGER NOT NULL,
        unread    INTEGER NOT NULL,
        PRIMARY KEY (conv_type, conv_id)
    ) WITHOUT ROWID;
    INSERT INTO conv_counts (conv_type, conv_id, live, unread)
        SELECT conv_type, conv_id, sum(status != 4),
               sum(is_read = 0 AND is_self = 0 AND status NOT IN (4, 6))
        FROM messages GROUP BY conv_type, conv_id;
    CREATE TRIGGER messages_counted_update AFTER UPDATE OF status, is_read, is_self ON messages BEGIN
        UPDATE conv_counts SET
            live = live + (new.status != 4) - (old.status != 4),
            unread = unread + (new.is_read = 0 AND new.is_self = 0 AND new.status NOT IN (4, 6))
                            - (old.is_read = 0 AND old.is_self = 0 AND old.status NOT IN (4, 6))
        WHERE conv_type = new.conv_type AND conv_id = new.conv_id;
    END;
    CREATE TRIGGER messages_counted_delete AFTER DELETE ON messages BEGIN
        UPDATE conv_counts SET
            live = live - (old.status != 4),
            unread = unread - (old.is_read = 0 AND old.is_self = 0 AND old.status NOT IN (4, 6))
        WHERE conv_type = old.conv_type AND conv_id = old.conv_id;
    END;
    """,
    # 7: the conversation list (`tim.conv`, store/conversations.py): a row per conversation with its
    # newest live message (`last_id`, and its locator for the order key; the JSON is joined at read
    # time, so a revoke or a modify shows at once), order key, pin, marks, draft and custom data;
    # the unread count is conv_counts'. Triggers keep the newest message in the same transaction as
    # the message rows: on conv_counts when `live` grows (once per conversation per insert job, not
    # per row: bulk imports stay fast), on messages when the newest one is deleted or made a
    # tombstone. The order key is (time << 20 | seq's low 20 bits) of the newest message, or of the
    # draft's edit time when later (a draft lifts the conversation, as the C SDK's orderKey does);
    # deleting messages leaves it. `listed` (pinned << 52 | order_key) is the list's order, and its
    # index covers every column a page reads: a page is one index range, no table lookups.
    """
    CREATE TABLE conversations (
        conv_type   INTEGER NOT NULL,
        conv_id     TEXT    NOT NULL,
        last_id     INTEGER,                       -- messages.id of the newest live message; NULL: none
        last_time   INTEGER,
        last_seq    INTEGER,
        order_key   INTEGER NOT NULL DEFAULT 0,
        pinned      INTEGER NOT NULL DEFAULT 0,
        listed      INTEGER NOT NULL DEFAULT 0,
        mark        INTEGER NOT NULL DEFAULT 0,    -- kTIMConvMarkArray as a bit mask
        draft       BLOB,                          -- conv_draft JSON; NULL: no draft
        draft_time  INTEGER NOT NULL DEFAULT 0,
        custom_data TEXT    NOT NULL DEFAULT '',
        in_groups   INTEGER NOT NULL DEFAULT 0,    -- how many conversation groups hold it
        PRIMARY KEY (conv_type, conv_id)
    ) WITHOUT ROWID;
    CREATE INDEX conversations_listed ON conversations (
        listed, conv_type, conv_id, last_id, pinned, order_key, mark, draft_time, custom_data, in_groups,
        draft);
    CREATE TABLE conv_groups (
        name TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    CREATE TABLE conv_group_members (
        conv_type INTEGER NOT NULL,
        conv_id   TEXT    NOT NULL,
        name      TEXT    NOT NULL,
        PRIMARY KEY (conv_type, conv_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX conv_group_members_by_name ON conv_group_members (name);
    CREATE TRIGGER conv_group_members_in AFTER INSERT ON conv_group_members BEGIN
        UPDATE conversations SET in_groups = in_groups + 1
        WHERE conv_type = new.conv_type AND conv_id = new.conv_id;
    END;
    CREATE TRIGGER conv_group_members_out AFTER DELETE ON conv_group_members BEGIN
        UPDATE conversations SET in_groups = in_groups - 1
        WHERE conv_type = old.conv_type AND conv_id = old.conv_id;
    END;
    INSERT INTO conversations (conv_type, conv_id, last_id, last_time, last_seq, order_key, listed)
        SELECT conv_type, conv_id, id, time, seq, (time << 20) | (seq & 1048575),
               (time << 20) | (seq & 1048575)
        FROM (SELECT conv_type, conv_id, id, time, seq, row_number() OVER (
                  PARTITION BY conv_type, conv_id ORDER BY time DESC, seq DESC, rand DESC) AS n
              FROM messages WHERE status != 4)
        WHERE n = 1;
    CREATE TRIGGER conversations_on_insert AFTER INSERT ON conv_counts WHEN new.live > 0 BEGIN
        INSERT INTO conversations (conv_type, conv_id, last_id, last_time, last_seq, order_key, listed)
            SELECT * FROM (
                SELECT new.conv_type, new.conv_id, id, time, seq, (time << 20) | (seq & 1048575),
                       (time << 20) | (seq & 1048575)
                FROM messages WHERE conv_type = new.conv_type AND conv_id = new.conv_id AND status != 4
                ORDER BY time DESC, seq DESC, rand DESC LIMIT 1
            ) WHERE true
        ON CONFLICT (conv_type, conv_id) DO UPDATE SET
            last_id = excluded.last_id, last_time = excluded.last_time, last_seq = excluded.last_seq,
            order_key = max(excluded.order_key, draft_time << 20 | 1048575 * (draft IS NOT NULL)),
            listed = pinned << 52 | max(excluded.order_key, draft_time << 20 | 1048575 * (draft IS NOT NULL))
        WHERE last_id IS NOT excluded.last_id;  -- older history (an import): the row is not rewritten
    END;
    CREATE TRIGGER conversations_on_more AFTER UPDATE OF live ON conv_counts WHEN new.live > old.live BEGIN
        INSERT INTO conversations (conv_type, conv_id, last_id, last_time, last_seq, order_key, listed)
            SELECT * FROM (
                SELECT new.conv_type, new.conv_id, id, time, seq, (time << 20) | (seq & 1048575),
                       (time << 20) | (seq & 1048575)
                FROM messages WHERE conv_type = new.conv_type AND conv_id = new.conv_id AND status != 4
                ORDER BY time DESC, seq DESC, rand DESC LIMIT 1
            ) WHERE true
        ON CONFLICT (conv_type, conv_id) DO UPDATE SET
            last_id = excluded.last_id, last_time = excluded.last_time, last_seq = excluded.last_seq,
            order_key = max(excluded.order_key, draft_time << 20 | 1048575 * (draft IS NOT NULL)),
            listed = pinned << 52 | max(excluded.order_key, draft_time << 20 | 1048575 * (draft IS NOT NULL))
        WHERE last_id IS NOT excluded.last_id;  -- older history (an import): the row is not rewritten
    END;
    CREATE TRIGGER conversations_on_tombstone AFTER UPDATE OF status ON messages
    WHEN new.status = 4 AND old.status != 4 BEGIN
        UPDATE conversations SET (last_id, last_time, last_seq) = (
            SELECT id, time, seq FROM messages
            WHERE conv_type = old.conv_type AND conv_id = old.conv_id AND status != 4
            ORDER BY time DESC, seq DESC, rand DESC LIMIT 1)
        WHERE conv_type = old.conv_type AND conv_id = old.conv_id AND last_id = old.id;
    END;
    CREATE TRIGGER conversations_on_delete AFTER DELETE ON messages WHEN old.status != 4 BEGIN
        UPDATE conversations SET (last_id, last_time, last_seq) = (
            SELECT id, time, seq FROM messages
            WHERE conv_type = old.conv_type AND conv_id = old.conv_id AND status != 4
            ORDER BY time DESC, seq DESC, rand DESC LIMIT 1)
        WHERE conv_type = old.conv_type AND conv_id = old.conv_id AND last_id = old.id;
    END;
    """,
    # 8: local search (store/search.py). A message's type (its first element's) and sender are
    # columns computed from its JSON, so filters and indexes read them without decoding rows in
    # Python; `local_int`/`local_str` keep TIMMsgSetLocalCustomData's values across re-saves. The
    # searchable text of every message already stored is indexed here; later inserts are indexed
    # by the job that inserts them (counts.py; since migration 9, by the next search instead),
    # re-saves and removals by trigger: always in the transaction that changes the row.
    f"""
    ALTER TABLE messages ADD COLUMN elem_type INTEGER
        GENERATED ALWAYS AS (json_extract(CAST(json AS TEXT), '$.message_elem_array[0].elem_type')) VIRTUAL;
    ALTER TABLE messages ADD COLUMN sender TEXT
        GENERATED ALWAYS AS (json_extract(CAST(json AS TEXT), '$.message_sender')) VIRTUAL;
    ALTER TABLE messages ADD COLUMN local_int INTEGER;
    ALTER TABLE messages ADD COLUMN local_str TEXT;
    CREATE INDEX messages_by_type ON messages (conv_type, conv_id, elem_type, time, seq, rand);
    CREATE INDEX messages_by_sender ON messages (sender, time);
    CREATE INDEX messages_by_msg_id ON messages (msg_id) WHERE msg_id IS NOT NULL;
    CREATE VIRTUAL TABLE messages_fts USING fts5(body, tokenize = 'trigram', columnsize = 0);
    {INDEX_AFTER.replace("?", "0")};
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF json ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
        {_INDEX_NEW.replace("WHERE", f"WHERE {_SEARCHABLE.format(row='new')} AND")}
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;
    """,
    # 9: the search index is deferred (store/search.py): a write no longer touches it (indexing
    # in the insert's transaction took a save from ~120 to ~225 us of CPU and a bulk import from
    # 8.5 to 25 us a row). `search_indexed.upto` is the watermark: every row with an id at or
    # below it is indexed, and a search first indexes the rows past it, in its own transaction.
    # The triggers now fire only for rows below the watermark. Migration 8 indexed every row.
    f"""
    CREATE TABLE search_indexed (
        one  INTEGER PRIMARY KEY CHECK (one = 1),
        upto INTEGER NOT NULL                      -- messages.id: rows up to it are in messages_fts
    );
    INSERT INTO search_indexed (one, upto) VALUES (1, coalesce((SELECT max(id) FROM messages), 0));
    DROP TRIGGER messages_fts_update;
    DROP TRIGGER messages_fts_delete;
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF json ON messages WHEN {_INDEXED} BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
        {_REINDEX}
    END;
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN {_INDEXED} BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;
    """,
)

SCHEMA_VERSION: Final = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a script into statements; `complete_statement` keeps `;` inside strings or triggers whole.

    (`executescript` would do the splitting, but it commits first: the migration would not be atomic.)
    """
    done: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            done.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"unterminated SQL at the end of a migration: {pending[:60]!r}")
    return [s for s in done if s != ";"]


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring `db` to SCHEMA_VERSION; return the version it had. Refuses a newer-than-known database."""
    try:
        await db.execute("BEGIN IMMEDIATE")  # read the version under the write lock: no racing migrator
        found = await _user_version(db)
        for script in MIGRATIONS[found:]:
            for sql in statements(script):
                await db.execute(sql)
        # PRAGMA takes no bound parameters; the value is our own constant.
        await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
        await db.commit()
    except BaseException:
        await db.rollback()
        raise
    return found


async def _user_version(db: aiosqlite.Connection) -> int:
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    found = int(row[0]) if row else 0
    if found > SCHEMA_VERSION:
        raise error_for(
            ERR_IO,
            f"local store: database schema version {found} is newer than this aio_tim supports "
            f"({SCHEMA_VERSION}); upgrade aio_tim or open another path",
        )
    return found
