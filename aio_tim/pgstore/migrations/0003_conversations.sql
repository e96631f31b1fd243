-- 3: the conversation list (`tim.conv`; pgstore/conversations.py), as the SQLite store keeps it
-- (store/schema.py, migration 7): a row per conversation with the locator of its newest live
-- message (the JSON is joined when read), its order key, pin, marks, draft and custom data; the
-- unread count is conv_counts'. Triggers keep the newest message in the transaction that writes
-- the messages: on conv_counts when `live` grows (once per conversation per statement), on
-- messages when the newest one is deleted or made a tombstone. The order key is
-- (time << 20 | seq's low 20 bits) of the newest message, or of the draft's edit time when later;
-- `listed` (pinned << 52 | order_key) is the list's order.

CREATE TABLE {schema}.conversations (
    store       integer  NOT NULL,
    conv_type   smallint NOT NULL,
    conv_id     text     NOT NULL,
    last_time   bigint,             -- the newest live message's locator; NULL: none
    last_seq    bigint,
    last_rand   bigint,
    order_key   bigint   NOT NULL DEFAULT 0,
    pinned      smallint NOT NULL DEFAULT 0,
    listed      bigint   NOT NULL DEFAULT 0,
    mark        bigint   NOT NULL DEFAULT 0,  -- kTIMConvMarkArray as a bit mask
    draft       bytea,                        -- conv_draft JSON; NULL: no draft
    draft_time  bigint   NOT NULL DEFAULT 0,
    custom_data text     NOT NULL DEFAULT '',
    PRIMARY KEY (store, conv_type, conv_id)
);
CREATE INDEX conversations_listed ON {schema}.conversations (store, listed, conv_type, conv_id);

CREATE TABLE {schema}.conv_groups (
    store integer NOT NULL,
    name  text    NOT NULL,
    PRIMARY KEY (store, name)
);
CREATE TABLE {schema}.conv_group_members (
    store     integer  NOT NULL,
    conv_type smallint NOT NULL,
    conv_id   text     NOT NULL,
    name      text     NOT NULL,
    PRIMARY KEY (store, conv_type, conv_id, name)
);

INSERT INTO {schema}.conversations (store, conv_type, conv_id, last_time, last_seq, last_rand, order_key, listed)
SELECT DISTINCT ON (store, conv_type, conv_id) store, conv_type, conv_id, time, seq, rand,
       (time << 20) | (seq & 1048575), (time << 20) | (seq & 1048575)
FROM {schema}.messages WHERE status <> 4
ORDER BY store, conv_type, conv_id, time DESC, seq DESC, rand DESC;

-- The conversation's newest live message became (or may have become) a newer one.
CREATE FUNCTION {schema}.conversation_grew() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {schema}.conversations AS c
        (store, conv_type, conv_id, last_time, last_seq, last_rand, order_key, listed)
    SELECT NEW.store, NEW.conv_type, NEW.conv_id, m.time, m.seq, m.rand,
           (m.time << 20) | (m.seq & 1048575), (m.time << 20) | (m.seq & 1048575)
    FROM {schema}.messages m
    WHERE m.store = NEW.store AND m.conv_type = NEW.conv_type AND m.conv_id = NEW.conv_id AND m.status <> 4
    ORDER BY m.time DESC, m.seq DESC, m.rand DESC LIMIT 1
    ON CONFLICT (store, conv_type, conv_id) DO UPDATE SET
        last_time = excluded.last_time, last_seq = excluded.last_seq, last_rand = excluded.last_rand,
        order_key = greatest(excluded.order_key, c.draft_time << 20 | 1048575 * (c.draft IS NOT NULL)::int),
        listed = c.pinned::bigint << 52
                 | greatest(excluded.order_key, c.draft_time << 20 | 1048575 * (c.draft IS NOT NULL)::int)
    WHERE (c.last_time, c.last_seq, c.last_rand) IS DISTINCT FROM
          (excluded.last_time, excluded.last_seq, excluded.last_rand);
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_on_insert AFTER INSERT ON {schema}.conv_counts
    FOR EACH ROW WHEN (NEW.live > 0) EXECUTE FUNCTION {schema}.conversation_grew();
CREATE TRIGGER conversations_on_more AFTER UPDATE OF live ON {schema}.conv_counts
    FOR EACH ROW WHEN (NEW.live > OLD.live) EXECUTE FUNCTION {schema}.conversation_grew();

-- A message left (deleted or a tombstone): if it was the newest, the next one takes its place.
CREATE FUNCTION {schema}.conversation_shrank() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {schema}.conversations c SET (last_time, last_seq, last_rand) = (
        SELECT m.time, m.seq, m.rand FROM {schema}.messages m
        WHERE m.store = OLD.store AND m.conv_type = OLD.conv_type AND m.conv_id = OLD.conv_id
          AND m.status <> 4
        ORDER BY m.time DESC, m.seq DESC, m.rand DESC LIMIT 1)
    WHERE c.store = OLD.store AND c.conv_type = OLD.conv_type AND c.conv_id = OLD.conv_id
      AND c.last_time = OLD.time AND c.last_seq = OLD.seq AND c.last_rand = OLD.rand;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_on_tombstone AFTER UPDATE OF status ON {schema}.messages
    FOR EACH ROW WHEN (NEW.status = 4 AND OLD.status <> 4) EXECUTE FUNCTION {schema}.conversation_shrank();
CREATE TRIGGER conversations_on_delete AFTER DELETE ON {schema}.messages
    FOR EACH ROW WHEN (OLD.status <> 4) EXECUTE FUNCTION {schema}.conversation_shrank();
