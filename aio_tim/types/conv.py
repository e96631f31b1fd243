"""The C SDK's conversation objects (TIMCloudDef.h, `TIMConv*`) for `tim.conv`.

JSON keys are the C SDK's, so a `ConvInfo` reads as `TIMConvGetConvList` hands it to its callback:

    >>> from aio_tim.types import encode
    >>> encode(ConvInfo(conv_id="bob", conv_type=1, conv_unread_num=2, conv_is_pinned=True))
    b'{"conv_id":"bob","conv_type":1,"conv_unread_num":2,"conv_is_pinned":true}'

Conversation ids in the newer array-taking functions (`TIMConvDeleteConversationList`,
`TIMConvMarkConversation`, the conversation groups) are `c2c_<UserID>` or `group_<GroupID>`
(`conversation_id_of`, `parse_conversation_id`).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from ..errors import TIM_ERR_CONV, UsageError
from ._base import TIMStruct, UInt, UInt64, prefixed
from .enums import Conv, ConvType
from .message import Message

__all__ = [
    "ConvInfo",
    "ConvListFilter",
    "ConvListResult",
    "ConvMarkType",
    "ConvOperationResult",
    "Draft",
    "GetConvInfoParam",
    "TotalUnreadResult",
    "conversation_id_of",
    "parse_conversation_id",
]

_PREFIXES: Final = {"c2c_": ConvType.C2C, "group_": ConvType.GROUP}


class ConvMarkType(IntEnum):
    """`TIMConversationMarkType`: the standard marks (bit n of REST's StandardMark is 1 << n)."""

    STAR = 0x1
    UNREAD = 0x2
    FOLD = 0x4
    HIDE = 0x8


class Draft(TIMStruct, rename=prefixed("draft_")):
    """`Draft` (TIMConvSetDraft's `json_draft_param`): the unsent message, app data, edit time."""

    msg: Message | None = None
    user_define: str | None = None
    edit_time: UInt64 | None = None


class ConvInfo(TIMStruct, rename=prefixed("conv_")):
    """`ConvInfo`: one conversation as the local conversation table keeps it."""

    id: str
    type: UInt
    unread_num: UInt | None = None
    active_time: UInt64 | None = None
    is_has_lastmsg: bool | None = None
    last_msg: Message | None = None
    is_has_draft: bool | None = None
    draft: Draft | None = None
    is_pinned: bool | None = None
    mark_array: list[UInt64] | None = None
    custom_data: str | None = None
    conversation_group_array: list[str] | None = None
    order_key: UInt64 | None = None


class GetConvInfoParam(TIMStruct, rename=prefixed("get_conv_list_param_")):
    """One item of TIMConvGetConvInfo's `json_get_conv_list_param` array."""

    conv_id: str
    conv_type: UInt


class ConvListFilter(TIMStruct, rename=prefixed("conversation_list_filter_")):
    """TIMConvGetConversationListByFilter's and TIMConvGetUnreadMessageCountByFilter's filter;
    an absent (or 0, "") key filters nothing."""

    conv_type: UInt | None = None
    mark_type: UInt64 | None = None  # every one of these mark bits set
    conversation_group: str | None = None
    has_unread_count: bool | None = None
    has_group_at_info: bool | None = None


class ConvListResult(TIMStruct, rename=prefixed("conversation_list_result_")):
    """TIMConvGetConversationListByFilter's page: the conversations, the next page's seq, the end."""

    conv_list: list[ConvInfo]
    next_seq: UInt64 = 0
    is_finished: bool = True


class ConvOperationResult(TIMStruct, rename=prefixed("conversation_operation_result_")):
    """One conversation's outcome in a mark, delete-list or conversation-group operation."""

    conversation_id: str
    result_code: int = 0
    result_info: str = ""


class TotalUnreadResult(TIMStruct, rename=prefixed("conv_get_total_unread_message_count_result_")):
    """TIMConvGetTotalUnreadMessageCount's result."""

    unread_count: UInt


def conversation_id_of(conv: Conv) -> str:
    """`c2c_<UserID>` or `group_<GroupID>`, the C SDK's conversation id."""
    return ("c2c_" if conv[0] == ConvType.C2C else "group_") + conv[1]


def parse_conversation_id(conversation_id: object) -> Conv:
    """`(conv_type, conv_id)` of a `c2c_...`/`group_...` id (UsageError TIM_ERR_CONV otherwise)."""
    if isinstance(conversation_id, str):
        for prefix, conv_type in _PREFIXES.items():
            if conversation_id.startswith(prefix) and len(conversation_id) > len(prefix):
                return int(conv_type), conversation_id[len(prefix) :]
    raise UsageError(
        TIM_ERR_CONV, f"a conversation id is 'c2c_<UserID>' or 'group_<GroupID>', not {conversation_id!r}"
    )
