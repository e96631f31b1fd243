"""The C SDK's read receipt and message extension objects (TIMCloudDef.h's MessageReceipt,
MessageExtension and MessageExtensionResult)."""

from __future__ import annotations

from enum import IntEnum

import msgspec

from ._base import TIMStruct, UInt, UInt64, prefixed

__all__ = ["GroupMessageReadMembersFilter", "MessageExtension", "MessageExtensionResult", "MessageReceipt"]


class GroupMessageReadMembersFilter(IntEnum):
    """`TIMGroupMessageReadMembersFilter`: which members `get_group_message_read_member_list` lists."""

    READ = 0
    UNREAD = 1


class MessageReceipt(TIMStruct, rename=prefixed("msg_receipt_")):
    """One message's read state: a C2C message's `is_peer_read`, a group message's counts.

    >>> from aio_tim.types import encode
    >>> encode(MessageReceipt(conv_id="g1", conv_type=2, msg_id="7_1_1700000000", read_count=1,
    ...                       unread_count=2))
    b'{"msg_receipt_conv_id":"g1","msg_receipt_conv_type":2,"msg_receipt_msg_id":"7_1_1700000000","msg_receipt_read_count":1,"msg_receipt_unread_count":2}'
    """

    conv_id: str | None = None
    conv_type: UInt | None = None
    msg_id: str | None = None
    time_stamp: UInt64 | None = None
    is_peer_read: bool | None = None
    read_count: UInt | None = None
    unread_count: UInt | None = None


class MessageExtension(TIMStruct, rename=prefixed("message_extension_")):
    """One key-value pair of a message's extensions."""

    key: str = ""
    value: str = ""


class MessageExtensionResult(TIMStruct, rename=prefixed("message_extension_result_")):
    """One key's outcome of `set_message_extensions` / `delete_message_extensions`: code 0, or
    23001 when someone else wrote the key first (`item` then holds it as it now is)."""

    code: int  # required: a success carries its 0 and "" as the C SDK's JSON does
    info: str
    item: MessageExtension | None = msgspec.field(default=None, name="message_extension_item")
