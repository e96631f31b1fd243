-- 2: the durable outbox. A row is one queued send, its idempotency keys fixed; it goes queued ->
-- inflight (leased to `owner` until `lease_until`, on the database's clock) -> sent | failed.
-- `result_key` finds a message's outcome for outbox_result(): its conversation, rand and seq.
CREATE TABLE {schema}.outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- enqueue order
    store       integer     NOT NULL REFERENCES {schema}.stores (id),
    conv_type   smallint    NOT NULL,
    conv_id     text        NOT NULL,
    state       text        NOT NULL DEFAULT 'queued',
    json        bytea       NOT NULL,  -- the Message as queued
    result_key  text        NOT NULL,
    sent        bytea,                 -- the sent Message (state sent)
    error_code  integer,
    error_desc  text,
    owner       text,
    lease_until timestamptz,
    taken_from  text,                  -- the owner whose expired lease this row was taken over from
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now(),
    CHECK (state IN ('queued', 'inflight', 'sent', 'failed'))
);
-- The unfinished rows of each conversation in order: a claim reads the head of each.
CREATE INDEX outbox_unfinished ON {schema}.outbox (store, conv_type, conv_id, id)
    WHERE state IN ('queued', 'inflight');
CREATE INDEX outbox_by_result ON {schema}.outbox (store, result_key);
