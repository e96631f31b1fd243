"""Read receipts: acknowledging messages that asked for one, and reading who did.

A message asks for receipts when it is sent with `need_read_receipt` (TIM's IsNeedReadReceipt /
NeedReadReceipt). The recipient sends them (`send_message_read_receipts`: openim/c2c_msg_read_receipt
by MsgKey, group_open_http_svc/group_msg_receipt by seq); the sender reads them
(`get_message_read_receipts`: a group's counts from get_group_msg_receipt, a C2C message's from its
roaming copy's IsPeerRead; `iter_group_message_read_members`: get_group_msg_receipt_detail's pages).
Every call names the messages of one conversation, 1 to 100 of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError, error_for
from ..protocol.openim import AdminGetRoamMsg, AdminGetRoamMsgResponse
from ..protocol.receipts import (
    RECEIPT_MAX_MSGS,
    C2CMsgInfo,
    C2CMsgReadReceipt,
    GetGroupMsgReceipt,
    GetGroupMsgReceiptDetail,
    GetGroupMsgReceiptDetailResponse,
    GetGroupMsgReceiptResponse,
    GroupMsgReceipt,
    GroupMsgReceiptResponse,
    ReceiptSeq,
)
from ..store import Conv, locator_key
from ..types import (
    ConvType,
    GroupMessageReadMembersFilter,
    Message,
    MessageInput,
    MessageReceipt,
    MsgStatus,
    coerce,
)
from ..types._base import coerce_list
from ..types.group import GroupMemberInfo
from .context import SendContext, anchor_of, checked_conv, server_key_of

__all__ = [
    "check_read_members",
    "get_message_read_receipts",
    "iter_group_message_read_members",
    "read_member_page",
    "send_message_read_receipts",
]

MEMBER_PAGE_MAX: Final = 100  # the C SDK's cap on TIMMsgGetGroupMessageReadMemberList's count
_ROAM_PAGE: Final = 100


def _messages(msgs: Any) -> tuple[Conv, list[Message]]:
    """1 to 100 messages of one conversation, each with its locator (UsageError, no I/O)."""
    messages = coerce_list(msgs, Message, what="json_msg_array")
    if not 0 < len(messages) <= RECEIPT_MAX_MSGS:
        raise UsageError(TIM_ERR_PARAM, f"json_msg_array must hold 1 to {RECEIPT_MAX_MSGS} messages")
    convs = {(m.conv_type, m.conv_id) for m in messages}
    if len(convs) != 1:
        raise UsageError(TIM_ERR_PARAM, "the messages must all be of one conversation")
    conv_type, conv_id = convs.pop()
    if conv_id is None or conv_type is None:
        raise UsageError(TIM_ERR_PARAM, "each message needs message_conv_id and message_conv_type")
    conv = checked_conv(conv_id, conv_type)
    for m in messages:
        if anchor_of(m) is None or (conv[0] == ConvType.GROUP and not m.seq):
            raise UsageError(TIM_ERR_PARAM, "each message needs its seq, rand and server time")
    return conv, messages


def _is_mine(ctx: SendContext, msg: Message) -> bool:
    return (msg.sender or ctx.user_id) == ctx.user_id if msg.is_from_self is None else msg.is_from_self


# --- sending receipts ----------------------------------------------------------------------------


async def send_message_read_receipts(ctx: SendContext, msgs: Any) -> None:
    """Acknowledge received messages that asked for a receipt; recorded locally as sent."""
    conv, messages = _messages(msgs)
    for m in messages:
        if _is_mine(ctx, m):
            raise UsageError(TIM_ERR_PARAM, "a read receipt acknowledges a received message, not one's own")
        if m.need_read_receipt is False:
            raise UsageError(TIM_ERR_PARAM, "the message asked for no read receipt")
    if conv[0] == ConvType.C2C:
        await _send_c2c(ctx, conv, messages)
    else:
        await _send_group(ctx, conv, messages)
    await _mark_sent(ctx, conv, messages)


async def _send_c2c(ctx: SendContext, conv: Conv, messages: list[Message]) -> None:
    peer = conv[1]
    infos = [
        C2CMsgInfo(peer, ctx.user_id, await server_key_of(ctx, conv, m, locator_key(m))) for m in messages
    ]
    # A receipt is given once: sent again after a lost reply, nothing changes.
    request = C2CMsgReadReceipt(Operator_Account=ctx.user_id, Peer_Account=peer, C2CMsgInfo=infos)
    await ctx.pipeline.submit(request)


async def _send_group(ctx: SendContext, conv: Conv, messages: list[Message]) -> None:
    seqs = [ReceiptSeq(m.seq or 0) for m in messages]
    request = GroupMsgReceipt(GroupId=conv[1], Operator_Account=ctx.user_id, MsgSeqList=seqs)
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, GroupMsgReceiptResponse)
    for result in reply.MsgSeqList:
        if result.Code:
            raise error_for(result.Code, f"group_msg_receipt of seq {result.MsgSeq}")


async def _mark_sent(ctx: SendContext, conv: Conv, messages: list[Message]) -> None:
    """The local copies remember the receipt went out (`message_has_sent_receipt`)."""
    for m in messages:
        key = locator_key(m)
        stored = await ctx.store.get(conv, key)
        if stored is None or stored.has_sent_receipt:
            continue
        status = stored.status if stored.status is not None else int(MsgStatus.SEND_SUCC)
        updated = msgspec.structs.replace(stored, has_sent_receipt=True)
        await ctx.store.save(conv, updated, status=status, msg_key=await ctx.store.msg_key_of(conv, key))


# --- reading receipts ----------------------------------------------------------------------------


async def get_message_read_receipts(ctx: SendContext, msgs: Any) -> list[MessageReceipt]:
    """One receipt per message, in input order: a group's read/unread counts, a C2C message's
    `is_peer_read`."""
    conv, messages = _messages(msgs)
    if conv[0] == ConvType.GROUP:
        return await _group_counts(ctx, conv, messages)
    return [await _c2c_receipt(ctx, conv, m) for m in messages]


async def _group_counts(ctx: SendContext, conv: Conv, messages: list[Message]) -> list[MessageReceipt]:
    request = GetGroupMsgReceipt(GroupId=conv[1], MsgSeqList=[ReceiptSeq(m.seq or 0) for m in messages])
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, GetGroupMsgReceiptResponse)
    by_seq = {count.MsgSeq: count for count in reply.GroupMsgReceiptList}
    receipts = []
    for m in messages:
        count = by_seq.get(m.seq or 0)
        if count is None or count.Code:
            raise error_for(count.Code if count else 10062, f"get_group_msg_receipt of seq {m.seq}")
        receipts.append(
            MessageReceipt(conv_id=conv[1], conv_type=conv[0], msg_id=m.msg_id,
                           read_count=count.ReadNum, unread_count=count.UnreadNum)
        )  # fmt: skip
    return receipts


async def _c2c_receipt(ctx: SendContext, conv: Conv, msg: Message) -> MessageReceipt:
    """Whether the peer read `msg`: its roaming copy's IsPeerRead (set by a receipt or read mark)."""
    time = msg.server_time or msg.client_time or 0
    key = await server_key_of(ctx, conv, msg, locator_key(msg))
    request = AdminGetRoamMsg(Operator_Account=ctx.user_id, Peer_Account=conv[1], MaxCnt=_ROAM_PAGE,
                              MinTime=time, MaxTime=time)  # fmt: skip
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, AdminGetRoamMsgResponse)
    found = next((r for r in reply.MsgList if r.MsgKey == key), None)
    if found is None:
        raise error_for(20022, f"message {key} is not in the roaming history")
    return MessageReceipt(conv_id=conv[1], conv_type=conv[0], msg_id=msg.msg_id or key,
                          time_stamp=time, is_peer_read=bool(found.IsPeerRead))  # fmt: skip


# --- who read a group message --------------------------------------------------------------------


def check_read_members(msg: MessageInput, filter_: int, count: int) -> None:
    """Refuse a bad read-member query before any I/O (an iterator's body runs only when iterated)."""
    _read_members_param(msg, filter_, count)


def _read_members_param(msg: MessageInput, filter_: int, count: int) -> tuple[Conv, Message, int]:
    message = coerce(msg, Message, what="json_msg")
    conv, [message] = _messages([message])
    if conv[0] != ConvType.GROUP:
        raise UsageError(TIM_ERR_PARAM, "read member lists are kept for group messages only")
    if filter_ not in tuple(GroupMessageReadMembersFilter):
        raise UsageError(TIM_ERR_PARAM, "filter must be 0 (read) or 1 (unread)")
    if not 0 < count <= MEMBER_PAGE_MAX:
        raise UsageError(TIM_ERR_PARAM, f"count must be 1 to {MEMBER_PAGE_MAX}")
    return conv, message, int(filter_)


async def read_member_page(
    ctx: SendContext, msg: MessageInput, filter_: int, next_seq: int, count: int
) -> tuple[list[GroupMemberInfo], int, bool]:
    """One page (`TIMMsgGetGroupMessageReadMemberList`'s answer): the members, the `next_seq` to
    pass for the next page and whether this was the last."""
    conv, message, which = _read_members_param(msg, filter_, count)
    if not isinstance(next_seq, int) or next_seq < 0:
        raise UsageError(TIM_ERR_PARAM, "next_seq must be a non-negative int")
    request = GetGroupMsgReceiptDetail(GroupId=conv[1], MsgSeq=message.seq or 0, Count=count,
                                       Cursor=str(next_seq) if next_seq else "", Filter=which)  # fmt: skip
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, GetGroupMsgReceiptDetailResponse)
    listed = reply.ReadList if which == GroupMessageReadMembersFilter.READ else reply.UnreadList
    members = [GroupMemberInfo(identifier=m.Member_Account) for m in listed]
    finished = bool(reply.IsFinished) or not reply.Cursor
    return members, 0 if finished else _cursor_seq(reply.Cursor), finished


def _cursor_seq(cursor: str) -> int:
    """The C SDK's next_seq is a number; TIM's cursor is text. Digits pass through."""
    if not cursor.isdigit():
        raise error_for(9519, "get_group_msg_receipt_detail answered a cursor that is not a number")
    return int(cursor)


async def iter_group_message_read_members(
    ctx: SendContext, msg: MessageInput, filter_: int, page_size: int
) -> AsyncIterator[GroupMemberInfo]:
    """Every member who read (or has not read) a group message, page by page over the cursor."""
    next_seq, finished = 0, False
    while not finished:
        members, next_seq, finished = await read_member_page(ctx, msg, filter_, next_seq, page_size)
        for member in members:
            yield member
