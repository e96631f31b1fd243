"""The outbox table's SQL and row states (schema migrations 3 and 4; used by `LocalStore.outbox_*`).

A row is one queued send: the Message with its idempotency keys (MsgRandom, MsgSeq, client time)
already fixed, so every resend, after a retry or a restart, carries the same keys.

An inflight row is leased: `owner` (the sending client's id) holds it until `lease_until`, and
renews the lease while it sends. A claim takes queued rows and inflight rows whose lease has
ended (their owner died), never a row a live owner holds, and never a row queued after one a
live owner holds in the same conversation (that would send the conversation out of order).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CANCEL",
    "CLAIM",
    "COUNTS",
    "FAILED",
    "INFLIGHT",
    "INSERT",
    "OUTCOME",
    "OWNERS",
    "QUEUED",
    "RENEW",
    "REQUEUE",
    "REQUEUE_INFLIGHT",
    "REQUEUE_OWNED",
    "REQUEUE_OWNER",
    "SENT",
    "SET_SENT",
    "SET_STATE",
    "STATES",
]

QUEUED: Final = "queued"
INFLIGHT: Final = "inflight"
SENT: Final = "sent"
FAILED: Final = "failed"
STATES: Final = (QUEUED, INFLIGHT, SENT, FAILED)

INSERT: Final = (
    "INSERT INTO outbox (conv_type, conv_id, state, json, created, updated) VALUES (?, ?, 'queued', ?, ?, ?)"
)
# The oldest claimable rows become inflight under :owner in the same statement that reads them
# (RETURNING: SQLite 3.35). A NULL lease (a row left by a version without leases) has ended.
CLAIM: Final = """
UPDATE outbox SET state = 'inflight', owner = :owner, lease_until = :until, updated = :now
WHERE id IN (
    SELECT o.id FROM outbox AS o
    WHERE (o.state = 'queued' OR (o.state = 'inflight' AND coalesce(o.lease_until, 0) <= :now))
      AND NOT EXISTS (
        SELECT 1 FROM outbox AS held
        WHERE held.state = 'inflight' AND held.conv_type = o.conv_type AND held.conv_id = o.conv_id
          AND held.id < o.id AND held.lease_until > :now AND held.owner IS NOT :owner)
    ORDER BY o.id LIMIT :limit)
RETURNING id, conv_type, conv_id, json
"""
SET_STATE: Final = (
    "UPDATE outbox SET state = ?, error_code = ?, error_desc = ?, owner = NULL, lease_until = NULL, "
    "updated = ? WHERE id = ?"
)
# A sent row keeps the sent message (server time, seq, MsgKey), so its outcome can be read back.
SET_SENT: Final = (
    "UPDATE outbox SET state = 'sent', json = ?, error_code = NULL, error_desc = NULL, owner = NULL, "
    "lease_until = NULL, updated = ? WHERE id = ?"
)
# A queued message's row by its conversation and idempotency keys. Newest first: the walk back from
# the end of the table is short for a message enqueued lately (the usual `outbox_result` call).
OUTCOME: Final = """
SELECT state, error_code, error_desc, json FROM outbox
WHERE conv_type = ? AND conv_id = ?
  AND coalesce(json_extract(CAST(json AS TEXT), '$.message_rand'), 0) = ?
  AND coalesce(json_extract(CAST(json AS TEXT), '$.message_seq'), 0) = ?
ORDER BY id DESC LIMIT 1
"""
_BACK: Final = "UPDATE outbox SET state = 'queued', owner = NULL, lease_until = NULL, updated = ?"
REQUEUE: Final = f"{_BACK} WHERE id = ? AND state = 'inflight'"
REQUEUE_OWNED: Final = f"{_BACK} WHERE id = ? AND state = 'inflight' AND owner = ?"
REQUEUE_OWNER: Final = f"{_BACK} WHERE state = 'inflight' AND owner = ?"
REQUEUE_INFLIGHT: Final = f"{_BACK} WHERE state = 'inflight'"
RENEW: Final = "UPDATE outbox SET lease_until = ? WHERE state = 'inflight' AND owner = ?"
OWNERS: Final = "SELECT DISTINCT owner FROM outbox WHERE state = 'inflight' AND owner IS NOT NULL"
COUNTS: Final = "SELECT state, count(*) FROM outbox GROUP BY state"
# cancel_send: the newest queued row (never an inflight one: a drainer holds it) with these keys
# becomes failed with ERR_SDK_SEND_MESSAGE_FAILED_WITH_CANCEL; its id if there was one.
CANCEL: Final = """
UPDATE outbox SET state = 'failed', error_code = 8021, error_desc = 'sending was cancelled', updated = ?
WHERE id = (
    SELECT id FROM outbox
    WHERE conv_type = ? AND conv_id = ? AND state = 'queued'
      AND coalesce(json_extract(CAST(json AS TEXT), '$.message_rand'), 0) = ?
      AND coalesce(json_extract(CAST(json AS TEXT), '$.message_seq'), 0) = ?
      AND coalesce(json_extract(CAST(json AS TEXT), '$.message_client_time'), 0) = ?
    ORDER BY id DESC LIMIT 1)
RETURNING id
"""
