"""Changing conversations: delete, pin, mark, clean unread (on the server, then here), and the
local-only draft and custom data.

- TIMConvDelete / TIMConvDeleteConversationList: `recentcontact/delete` (1047/43088), ClearRamble
  as asked; here the conversation, its group memberships and (clearing) its messages go.
- TIMConvPinConversation: `recentcontact/top` (tencentcloud.com/document/product/1047/78304).
- TIMConvMarkConversation: `recentcontact/mark_contact` with the mark's bits (1047/53438); the
  server answers per conversation, and only the ones it took change here.
- TIMConvCleanConversationUnreadMessageCount: C2C `openim/admin_set_msg_read`, group
  `group_open_http_svc/set_unread_msg_num` to 0; `c2c`, `group` or "" clean every such one.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, TIMError, UsageError
from ..protocol.openim import AdminSetMsgRead
from ..protocol.recentcontact import (
    DeleteRecentContact,
    MarkContact,
    MarkContactResponse,
    MarkItem,
    SetUnreadMsgNum,
    TopContact,
)
from ..types import Conv, ConvType, encode
from ..types._base import coerce
from ..types.conv import ConvOperationResult, Draft, conversation_id_of, parse_conversation_id
from .context import MARK_BITS, ConvContext, checked_conv, checked_conversation_ids, contact_item

__all__ = [
    "cancel_draft",
    "clean_conversation_unread_message_count",
    "delete_conversation",
    "delete_conversation_list",
    "mark_conversation",
    "pin_conversation",
    "set_conversation_custom_data",
    "set_draft",
]

_ALL: Final = {"": None, "c2c": ConvType.C2C, "group": ConvType.GROUP}
_MAX_CUSTOM_DATA: Final = 256  # bytes: the SDK's cap on conversation custom data


async def delete_conversation(ctx: ConvContext, conv_id: str, conv_type: int) -> None:
    """TIMConvDelete: the conversation and its messages, here and in roaming."""
    conv = checked_conv(conv_id, conv_type)
    await ctx.submit(_delete_request(ctx, conv, clear=True))
    await ctx.table.conv_delete([conv], clear_messages=True)


async def delete_conversation_list(
    ctx: ConvContext, conversation_ids: Any, clear_message: bool = True
) -> list[ConvOperationResult]:
    """TIMConvDeleteConversationList: each conversation on its own; a failure is its result."""
    convs = checked_conversation_ids(conversation_ids)
    _check_bool(clear_message, "clear_message")
    results, done = [], []
    for conv in convs:
        result = await _each(ctx.submit(_delete_request(ctx, conv, clear=clear_message)), conv)
        results.append(result)
        if not result.result_code:
            done.append(conv)
    if done:
        await ctx.table.conv_delete(done, clear_messages=clear_message)
    return results


def _delete_request(ctx: ConvContext, conv: Conv, *, clear: bool) -> DeleteRecentContact:
    c2c = conv[0] == ConvType.C2C
    return DeleteRecentContact(
        From_Account=ctx.user_id, Type=conv[0], To_Account=conv[1] if c2c else None,
        ToGroupid=None if c2c else conv[1], ClearRamble=int(clear),
    )  # fmt: skip


async def _each(call: Any, conv: Conv) -> ConvOperationResult:
    try:
        await call
    except TIMError as exc:
        return ConvOperationResult(conversation_id_of(conv), exc.code, exc.desc)
    return ConvOperationResult(conversation_id_of(conv))


async def pin_conversation(ctx: ConvContext, conv_id: str, conv_type: int, is_pinned: bool) -> None:
    """TIMConvPinConversation: pin (or unpin) on the server, then here."""
    conv = checked_conv(conv_id, conv_type)
    _check_bool(is_pinned, "is_pinned")
    await ctx.submit(
        TopContact(
            From_Account=ctx.user_id,
            OperationType=1 if is_pinned else 2,
            RecentContactItem=[contact_item(conv)],
        )
    )
    await ctx.table.conv_update([conv], pinned=is_pinned)


async def mark_conversation(
    ctx: ConvContext, conversation_ids: Any, mark_type: int, enable_mark: bool
) -> list[ConvOperationResult]:
    """TIMConvMarkConversation: set (or clear) the `mark_type` bits on each conversation."""
    convs = checked_conversation_ids(conversation_ids)
    _check_bool(enable_mark, "enable_mark")
    if isinstance(mark_type, bool) or not isinstance(mark_type, int) or not 0 < mark_type < 2**MARK_BITS:
        raise UsageError(TIM_ERR_PARAM, f"mark_type must be a non-zero uint64, not {mark_type!r}")
    if mark_type >= 2**63:
        raise UsageError(TIM_ERR_PARAM, "mark_type's bit 63 cannot be stored (SQLite integers are signed)")
    bits = [bit for bit in range(MARK_BITS) if mark_type >> bit & 1]
    items = [
        MarkItem(OptType=1, ContactItem=contact_item(conv, group_key="ToGroupId"),
                 SetMark=bits if enable_mark else None, ClearMark=None if enable_mark else bits)
        for conv in convs
    ]  # fmt: skip
    reply = await ctx.submit(MarkContact(From_Account=ctx.user_id, MarkItem=items))
    assert isinstance(reply, MarkContactResponse)
    codes = [item.ResultCode for item in reply.ResultItem] + [0] * (len(convs) - len(reply.ResultItem))
    done = [conv for conv, code in zip(convs, codes, strict=False) if not code]
    if done:
        if enable_mark:
            await ctx.table.conv_update(done, mark_set=mark_type)
        else:
            await ctx.table.conv_update(done, mark_clear=mark_type)
    return [
        ConvOperationResult(conversation_id_of(conv), code, "" if not code else "the server refused the mark")
        for conv, code in zip(convs, codes, strict=False)
    ]


async def clean_conversation_unread_message_count(
    ctx: ConvContext, conversation_id: str, clean_timestamp: int = 0, clean_sequence: int = 0
) -> None:
    """TIMConvCleanConversationUnreadMessageCount: one conversation (`c2c_...`/`group_...`), or
    every C2C (`c2c`), group (`group`) or any ("") conversation with unread messages."""
    for value, what in ((clean_timestamp, "clean_timestamp"), (clean_sequence, "clean_sequence")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(TIM_ERR_PARAM, f"{what} must be an integer >= 0, not {value!r}")
    if isinstance(conversation_id, str) and conversation_id in _ALL:
        convs = await _unread_convs(ctx, _ALL[conversation_id])
    else:
        conv_type, conv_id = parse_conversation_id(conversation_id)
        convs = [checked_conv(conv_id, conv_type)]
    for conv in convs:
        await _clean_one(ctx, conv, clean_timestamp)


async def _unread_convs(ctx: ConvContext, conv_type: int | None) -> list[Conv]:
    found, cursor = [], None
    while True:
        page = await ctx.table.conv_page(cursor, 200)
        found += [r.conv for r in page if r.unread and (conv_type is None or r.conv[0] == conv_type)]
        if len(page) < 200:
            return found
        cursor = page[-1].cursor


async def _clean_one(ctx: ConvContext, conv: Conv, clean_timestamp: int) -> None:
    if conv[0] == ConvType.C2C:
        read_time = str(clean_timestamp) if clean_timestamp else None
        await ctx.submit(
            AdminSetMsgRead(Report_Account=ctx.user_id, Peer_Account=conv[1], MsgReadTime=read_time)
        )
        up_to = (clean_timestamp, 2**32 - 1, 2**32 - 1) if clean_timestamp else None
    else:
        await ctx.submit(SetUnreadMsgNum(GroupId=conv[1], Member_Account=ctx.user_id, UnreadMsgNum=0))
        up_to = None
    await ctx.store.mark_read(conv, up_to)


async def set_draft(ctx: ConvContext, conv_id: str, conv_type: int, draft: Any) -> None:
    """TIMConvSetDraft (local): the draft, stamped with now if it has no edit time."""
    conv = checked_conv(conv_id, conv_type)
    value = coerce(draft, Draft, what="json_draft_param")
    if value.msg is None and not value.user_define:
        raise UsageError(TIM_ERR_PARAM, "a draft needs draft_msg or draft_user_define")
    value.edit_time = value.edit_time or ctx.now()
    await ctx.table.conv_set_draft(conv, encode(value), value.edit_time)


async def cancel_draft(ctx: ConvContext, conv_id: str, conv_type: int) -> None:
    """TIMConvCancelDraft (local)."""
    await ctx.table.conv_set_draft(checked_conv(conv_id, conv_type), None, 0)


async def set_conversation_custom_data(
    ctx: ConvContext, conversation_ids: Any, custom_data: str
) -> list[ConvOperationResult]:
    """TIMConvSetConversationCustomData (local): the same custom data on each conversation."""
    convs = checked_conversation_ids(conversation_ids)
    if not isinstance(custom_data, str) or len(custom_data.encode()) > _MAX_CUSTOM_DATA:
        raise UsageError(TIM_ERR_PARAM, f"custom_data must be a string of at most {_MAX_CUSTOM_DATA} bytes")
    await ctx.table.conv_update(convs, custom_data=custom_data)
    return [ConvOperationResult(conversation_id_of(conv)) for conv in convs]


def _check_bool(value: object, what: str) -> None:
    if not isinstance(value, bool):
        raise UsageError(TIM_ERR_PARAM, f"{what} must be true or false, not {value!r}")
