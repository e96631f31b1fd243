"""The outbox table's SQL and row states (schema migration 3; used by `LocalStore.outbox_*`).

A row is one queued send: the Message with its idempotency keys (MsgRandom, MsgSeq, client time)
already fixed, so every resend, after a retry or a restart, carries the same keys.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CLAIM",
    "COUNTS",
    "FAILED",
    "INFLIGHT",
    "INSERT",
    "QUEUED",
    "REQUEUE",
    "REQUEUE_INFLIGHT",
    "SENT",
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
# The oldest queued rows become inflight in the same statement that reads them (RETURNING: SQLite 3.35).
CLAIM: Final = """
UPDATE outbox SET state = 'inflight', updated = ?
WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' ORDER BY id LIMIT ?)
RETURNING id, conv_type, conv_id, json
"""
SET_STATE: Final = "UPDATE outbox SET state = ?, error_code = ?, error_desc = ?, updated = ? WHERE id = ?"
REQUEUE: Final = "UPDATE outbox SET state = 'queued', updated = ? WHERE id = ? AND state = 'inflight'"
REQUEUE_INFLIGHT: Final = "UPDATE outbox SET state = 'queued', updated = ? WHERE state = 'inflight'"
COUNTS: Final = "SELECT state, count(*) FROM outbox GROUP BY state"
