-- 4: the inbox of received webhooks, any worker receiving. `key` is the event's natural identity
-- (MsgKey, GroupId + MsgSeq, ...): a redelivered webhook, on whichever worker, is not added again.
-- `id` is the entry's position. Appends of one store take the row lock of its `inbox_tail` row
-- first, so their ids are handed out in commit order: a reader never passes an id that a slower
-- transaction has yet to commit below it.
CREATE TABLE {schema}.inbox (
    store    integer          NOT NULL REFERENCES {schema}.stores (id),
    id       bigint           GENERATED ALWAYS AS IDENTITY,
    key      text             NOT NULL,
    command  text             NOT NULL,
    query    bytea            NOT NULL,  -- the request's query, a JSON object
    body     bytea            NOT NULL,
    received double precision NOT NULL,  -- unix seconds
    PRIMARY KEY (store, id),
    UNIQUE (store, key)
);

CREATE TABLE {schema}.inbox_tail (
    store   integer NOT NULL PRIMARY KEY,
    appends bigint  NOT NULL  -- append transactions committed (the row exists for its lock)
);

-- Each consumer's acknowledged position: it reads after it; purge keeps what any has not passed.
CREATE TABLE {schema}.inbox_cursors (
    store    integer NOT NULL,
    consumer text    NOT NULL,
    position bigint  NOT NULL,
    PRIMARY KEY (store, consumer)
);

-- The groups known to hold the user: their messages are kept in the history.
CREATE TABLE {schema}.inbox_groups (
    store    integer NOT NULL,
    group_id text    NOT NULL,
    PRIMARY KEY (store, group_id)
);
