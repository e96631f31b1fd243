"""A queued message's trace context, carried in its outbox row to whichever process delivers it.

The enqueueing side (`msg.traced.enqueue_new_msg`, telemetry on) sets `ENQUEUE_TRACE` to its span's
`traceparent`; an outbox writing a row (SQLite, PostgreSQL, Redis) passes the encoded message through
`stamped`, which puts the context first in the JSON, under a key the Message decoder ignores. A drainer
decoding a claimed row calls `claimed`, which remembers the context by the message's fixed keys, and
the delivery's span links to it (`claimed_trace`). No schema changes, no new columns: the row's bytes
carry it; with telemetry off nothing is stamped and a claim costs one `startswith`.
"""

from __future__ import annotations

from collections.abc import Hashable
from contextvars import ContextVar
from typing import Final

import msgspec

from ..types import Message

__all__ = ["ENQUEUE_TRACE", "claimed", "claimed_trace", "key_of", "stamped"]

ENQUEUE_TRACE: Final[ContextVar[str | None]] = ContextVar("aio_tim_enqueue_trace", default=None)
_PREFIX: Final = b'{"aio_tim_traceparent":"'
_LENGTH: Final = 55  # a version-00 traceparent: 2 + 1 + 32 + 1 + 16 + 1 + 2
MAX_CLAIMED: Final = 10_000
_DECODER: Final = msgspec.json.Decoder(Message)
_claimed: dict[Hashable, str] = {}


def key_of(message: Message) -> tuple[object, ...]:
    """What identifies a queued message between its enqueue and its delivery: its fixed keys."""
    return (message.conv_type, message.conv_id, message.rand, message.seq, message.client_time)


def stamped(encoded: bytes) -> bytes:
    """`encoded` (a JSON object) with the enqueue's trace context first, when there is one."""
    trace = ENQUEUE_TRACE.get()
    if trace is None or len(trace) != _LENGTH or not encoded.startswith(b"{"):
        return encoded
    rest = encoded[1:]
    return _PREFIX + trace.encode() + (b'"' + rest if rest == b"}" else b'",' + rest)


def claimed(encoded: bytes | str) -> Message:
    """The Message of a claimed row; its trace context, if stamped, is kept for its delivery."""
    data = encoded.encode() if isinstance(encoded, str) else encoded
    message = _DECODER.decode(data)
    if data.startswith(_PREFIX):
        _claimed[key_of(message)] = data[len(_PREFIX) : len(_PREFIX) + _LENGTH].decode()
        while len(_claimed) > MAX_CLAIMED:  # a row claimed and never delivered here: forget the oldest
            del _claimed[next(iter(_claimed))]
    return message


def claimed_trace(message: Message) -> str | None:
    """The enqueue's `traceparent` of a message this process claimed (once)."""
    return _claimed.pop(key_of(message), None)
