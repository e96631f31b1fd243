"""Message ⇄ table row: the locator key, the stored form of a message, and decoding a row back.

A conversation is `(conv_type, conv_id)`; a message's identity in it is its locator key
`(time, seq, rand)`, where time is the server time, or the client time before the server has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec

from ..errors import TIM_ERR_CONV, TIM_ERR_PARAM, UsageError
from ..types import Conv, ConvType, Message, MsgLocator, MsgStatus, encode
from ..types._base import decoder_for

__all__ = [
    "Conv",
    "Fanout",
    "LocatorKey",
    "Row",
    "check_conv",
    "check_key",
    "check_many",
    "check_status",
    "columns_of",
    "key_of_locator",
    "locator_key",
    "message_of",
    "rows_of",
    "stamp",
]

LocatorKey = tuple[int, int, int]
Row = tuple[int, str, int, int, int, int, int, int, str | None, str | None, bytes]

_VALID_CONV_TYPES: Final = frozenset({ConvType.C2C, ConvType.GROUP, ConvType.SYSTEM})
_VALID_STATUSES: Final = frozenset(MsgStatus)
_DECODER: Final = decoder_for(Message)


def check_conv(conv: Conv) -> Conv:
    """`conv` as `(int, str)`, or UsageError(TIM_ERR_CONV) like the C SDK's synchronous result."""
    conv_type, conv_id = conv
    if conv_type not in _VALID_CONV_TYPES or not isinstance(conv_id, str) or not conv_id:
        raise UsageError(TIM_ERR_CONV, f"invalid conversation {conv!r}")
    return int(conv_type), conv_id


def check_key(key: LocatorKey) -> LocatorKey:
    """A (time, seq, rand) triple of ints, or UsageError(TIM_ERR_PARAM) rather than a binding error."""
    if not (isinstance(key, tuple) and len(key) == 3 and all(isinstance(v, int) for v in key)):
        raise UsageError(TIM_ERR_PARAM, f"a locator key is (time, seq, rand), not {key!r}")
    return key


def check_status(status: int) -> int:
    if status not in _VALID_STATUSES:
        raise UsageError(TIM_ERR_PARAM, f"invalid message status {status!r}")
    return int(status)


def check_many(
    conv: Conv, msgs: Sequence[Message], status: int, msg_keys: Sequence[str | None] | None
) -> tuple[Conv, int, Sequence[str | None]]:
    """`insert_many`'s arguments, checked before any I/O (every store's): the conversation, the
    status, and one MsgKey per message (all None when `msg_keys` is not given)."""
    conv, status = check_conv(conv), check_status(status)
    if msg_keys is not None and len(msg_keys) != len(msgs):
        raise UsageError(TIM_ERR_PARAM, f"{len(msg_keys)} msg_keys for {len(msgs)} messages")
    return conv, status, msg_keys if msg_keys is not None else [None] * len(msgs)


def locator_key(msg: Message) -> LocatorKey:
    """The (time, seq, rand) identity of a message; absent parts count as 0."""
    return (msg.server_time or msg.client_time or 0, msg.seq or 0, msg.rand or 0)


def key_of_locator(loc: MsgLocator) -> LocatorKey:
    return (loc.time or 0, loc.seq or 0, loc.rand or 0)


def stamp(msg: Message, conv: Conv, status: int, now: int) -> Message:
    """The message as stored: its conversation and status filled in, and a client time if it had none.

    A shallow copy: the caller's message is left as it was, and its elements are shared, not copied.
    (`structs.replace`, not copy-then-set: half the cost, and bulk imports stamp every row.)
    """
    timed = bool(msg.server_time or msg.client_time)
    if timed and msg.is_read is not None:
        return msgspec.structs.replace(msg, conv_type=conv[0], conv_id=conv[1], status=status)
    return msgspec.structs.replace(
        msg,
        conv_type=conv[0],
        conv_id=conv[1],
        status=status,
        client_time=msg.client_time if timed else now,
        # your own messages need no read mark
        is_read=bool(msg.is_from_self) if msg.is_read is None else msg.is_read,
    )


def row_of(conv: Conv, stored: Message, msg_key: str | None) -> Row:
    """The row of a stamped message: its status and read mark as the message holds them."""
    return row_with(conv, stored, stored.status or 0, 1 if stored.is_read else 0, msg_key)


def row_with(conv: Conv, msg: Message, status: int, is_read: int, msg_key: str | None) -> Row:
    """The row of `msg` in `conv` with that status and read mark (the columns' order, in one place)."""
    return (
        conv[0],
        conv[1],
        msg.server_time or msg.client_time or 0,  # locator_key, inlined: once per imported row
        msg.seq or 0,
        msg.rand or 0,
        1 if msg.is_from_self else 0,
        status,
        is_read,
        msg_key,
        msg.msg_id,
        encode(msg),
    )


class Fanout:
    """One message stored in many conversations of one type (a batch send's recipients).

    The rows differ only in the conversation, which is a column (`message_of` puts it on the
    decoded message), so every row holds the same JSON: the message is stamped and encoded once,
    and SQLite builds the rows from it and the JSON list of ids (counts.py).
    """

    def __init__(
        self,
        conv_type: int,
        conv_ids: Sequence[str],
        msg: Message,
        status: int,
        msg_key: str | None,
        *,
        now: int,
    ) -> None:
        conv_type = check_conv((conv_type, "any"))[0]  # the type; the ids are checked below
        for conv_id in conv_ids:
            if not conv_id or not isinstance(conv_id, str):  # check_conv's test, once per recipient
                raise UsageError(TIM_ERR_CONV, f"invalid conversation {(conv_type, conv_id)!r}")
        try:
            self.conv_ids_json = encode(conv_ids).decode()
        except UnicodeEncodeError:  # a lone surrogate: no JSON (nor SQLite text) can carry it
            raise UsageError(TIM_ERR_CONV, "a conversation id is not valid Unicode") from None
        self.conv_type, self.conv_ids, self.msg_key = conv_type, conv_ids, msg_key
        stamped = stamp(msg, (conv_type, "any"), status, now)
        template = msgspec.structs.replace(stamped, conv_id=None)  # each row's is its column
        # time, seq, rand, is_self, status, is_read, msg_key, msg_id, json: the same in every row
        self.columns = row_of((conv_type, ""), template, msg_key)[2:]

    def rows(self) -> list[Row]:
        """The rows one by one, for the paths that insert rows (ids SQLite's JSON cannot carry, a
        fan-out that meets stored locators)."""
        return [(self.conv_type, conv_id, *self.columns) for conv_id in self.conv_ids]


def rows_of(
    conv: Conv, msgs: Iterable[Message], status: int, msg_keys: Iterable[str | None], now: int
) -> Iterator[Row]:
    """Rows for a bulk insert, built lazily (executemany consumes them on the database thread).

    A message with a time is encoded as it came, not stamped: a row's conversation, status and
    read mark are its columns, which `message_of` puts on the decoded message, so a copy of each
    message only to write them into its JSON as well was a third of an import's Python time
    (bench_store.py: 1.6 -> 1.0 µs a row). One without a time is stamped: its locator needs `now`.
    """
    for msg, msg_key in zip(msgs, msg_keys, strict=True):
        if not (msg.server_time or msg.client_time):
            yield row_of(conv, stamp(msg, conv, status, now), msg_key)
            continue
        is_read = msg.is_from_self if msg.is_read is None else msg.is_read  # as `stamp` fills it
        yield row_with(conv, msg, status, 1 if is_read else 0, msg_key)


def message_of(row: Sequence[Any], conv: Conv) -> Message:
    """Decode a `(json, status, is_read)` row of conversation `conv`. The columns are the truth for
    the conversation, status and read mark: they change after the JSON was written (a read mark,
    a deletion) or were never written into it (`rows_of`)."""
    msg: Message = _DECODER.decode(row[0])
    msg.conv_type, msg.conv_id = conv
    msg.status = row[1]
    msg.is_read = bool(row[2])
    return msg


def columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column (the arrays PostgreSQL's `unnest` takes)."""
    return [list(column) for column in zip(*rows, strict=True)]
