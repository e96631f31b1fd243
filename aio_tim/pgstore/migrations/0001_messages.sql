-- 1: who the rows belong to, the messages keyed by locator, their per-conversation counts, and the
-- C2C MsgSeq counters. `{schema}` is the store's schema (quoted), filled in by migrate().

-- One row per (sdk_app_id, user_id) a service acts as; every other table is keyed by its id.
CREATE TABLE {schema}.stores (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sdk_app_id bigint  NOT NULL,
    user_id    text    NOT NULL,
    UNIQUE (sdk_app_id, user_id)
);

CREATE TABLE {schema}.messages (
    store     integer  NOT NULL REFERENCES {schema}.stores (id),
    conv_type smallint NOT NULL,
    conv_id   text     NOT NULL,
    time      bigint   NOT NULL,  -- server_time, else client_time
    seq       bigint   NOT NULL,
    rand      bigint   NOT NULL,
    id        bigint   GENERATED ALWAYS AS IDENTITY,  -- arrival order; never reused
    is_self   smallint NOT NULL,
    status    smallint NOT NULL,  -- MsgStatus; 4 (deleted) is a tombstone
    is_read   smallint NOT NULL,
    msg_key   text,               -- the server's MsgKey, for revoke/delete
    msg_id    text,
    json      bytea    NOT NULL,  -- the C SDK Message JSON
    -- The locator is the message's identity and the conversation's order: one index serves
    -- uniqueness (ON CONFLICT) and pages in both directions (an index range, no sort).
    PRIMARY KEY (store, conv_type, conv_id, time, seq, rand)
);

-- count() and unread_count() read one row. Inserts add to it in the statement that inserts
-- (pgstore/sql.py); updates by this trigger, in the same transaction.
CREATE TABLE {schema}.conv_counts (
    store     integer  NOT NULL,
    conv_type smallint NOT NULL,
    conv_id   text     NOT NULL,
    live      bigint   NOT NULL,  -- rows that are not tombstones (status 4)
    unread    bigint   NOT NULL,  -- from others, not read, neither deleted (4) nor revoked (6)
    PRIMARY KEY (store, conv_type, conv_id)
);

CREATE FUNCTION {schema}.messages_recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {schema}.conv_counts SET
        live = live + (NEW.status <> 4)::int - (OLD.status <> 4)::int,
        unread = unread
            + (NEW.is_read = 0 AND NEW.is_self = 0 AND NEW.status NOT IN (4, 6))::int
            - (OLD.is_read = 0 AND OLD.is_self = 0 AND OLD.status NOT IN (4, 6))::int
    WHERE store = NEW.store AND conv_type = NEW.conv_type AND conv_id = NEW.conv_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_recounted AFTER UPDATE OF status, is_read, is_self ON {schema}.messages
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.is_read IS DISTINCT FROM NEW.is_read
          OR OLD.is_self IS DISTINCT FROM NEW.is_self)
    EXECUTE FUNCTION {schema}.messages_recount();

-- MsgSeq blocks: `last` is the end of the last block handed out (any worker, atomically).
CREATE TABLE {schema}.seq_counters (
    store     integer  NOT NULL,
    conv_type smallint NOT NULL,
    conv_id   text     NOT NULL,
    last      bigint   NOT NULL,
    PRIMARY KEY (store, conv_type, conv_id)
);
