"""The parameter and result objects of the ten TIMMsg functions (TIM-PROTOCOL.md §1.7).

Both the seed's `..._is_remble` and v7's `..._is_ramble` spellings decode; the seed's is emitted.
"""

from __future__ import annotations

from typing import Any

from ._base import TIMStruct, UInt, UInt64, prefixed
from .message import Message

__all__ = [
    "BatchSendParam",
    "BatchSendResult",
    "DownloadElemParam",
    "DownloadElemResult",
    "GetMsgListParam",
    "MsgDeleteParam",
    "MsgLocator",
]


class MsgLocator(TIMStruct, rename=prefixed("message_locator_")):
    """Exactly one message: its conversation, (time, seq, rand, is_self) and whether it is revoked."""

    conv_id: str | None = None
    conv_type: UInt | None = None
    is_revoked: bool | None = None
    time: UInt64 | None = None
    seq: UInt64 | None = None
    is_self: bool | None = None
    rand: UInt64 | None = None
    unique_id: UInt64 | None = None


def _fold_ramble(obj: Any) -> None:
    # v7 renamed `is_remble` to `is_ramble`; keep one field so callers read one spelling.
    if obj.is_ramble is not None:
        if obj.is_remble is None:
            obj.is_remble = obj.is_ramble
        obj.is_ramble = None


class GetMsgListParam(TIMStruct, rename=prefixed("msg_getmsglist_param_")):
    """Which page of a conversation's history `get_msg_list` returns."""

    last_msg: Message | None = None
    count: UInt | None = None
    is_remble: bool | None = None
    is_forward: bool | None = None
    last_msg_seq: UInt64 | None = None
    time_begin: UInt64 | None = None
    time_period: UInt64 | None = None
    message_type_array: list[UInt] | None = None
    message_seq_array: list[UInt64] | None = None
    is_ramble: bool | None = None

    def __post_init__(self) -> None:
        _fold_ramble(self)


class MsgDeleteParam(TIMStruct, rename=prefixed("msg_delete_param_")):
    """One message (`msg`) or the whole conversation; local, or also roaming with `is_remble`."""

    msg: Message | None = None
    is_remble: bool | None = None
    is_ramble: bool | None = None

    def __post_init__(self) -> None:
        _fold_ramble(self)


class DownloadElemParam(TIMStruct, rename=prefixed("msg_download_elem_param_")):
    """Where an element's file lives; every field comes from the received element."""

    flag: UInt | None = None
    type: UInt | None = None
    id: str | None = None
    business_id: UInt | None = None
    url: str | None = None


class DownloadElemResult(TIMStruct, rename=prefixed("msg_download_elem_result_"), omit_defaults=False):
    """Download progress: bytes written so far and the total."""

    current_size: UInt64 = 0
    total_size: UInt64 = 0


class BatchSendParam(TIMStruct, rename=prefixed("msg_batch_send_param_")):
    """One message to many C2C identifiers."""

    identifier_array: list[str]
    msg: Message


class BatchSendResult(TIMStruct, rename=prefixed("msg_batch_send_result_")):
    """The outcome for one identifier of a batch send: `code` 0 means delivered."""

    identifier: str
    code: int
    desc: str
    msg: Message | None = None
