"""Edits: changing sent messages and the read mark, here and on the server.

`report_readed` moves the read mark, `revoke` recalls a sent message everywhere and
`modify_message` overwrites a sent message's elements and cloud custom data everywhere.
(Deleting is delete.py's.)
"""

from __future__ import annotations

from typing import Final

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError, error_for
from ..protocol import MsgBodyItem, Request
from ..protocol.edits import ModifyC2CMsg, ModifyGroupMsg
from ..protocol.group import GroupMsgRecall, GroupMsgRecallResponse, MsgSeqItem
from ..protocol.openim import AdminMsgWithdraw, AdminSetMsgRead
from ..protocol.validate import check_sendable
from ..store import Conv, LocatorKey
from ..types import ConvType, Message, MessageInput, MsgStatus, coerce
from .context import SendContext, anchor_of, checked_conv, server_key_of

__all__ = ["modify_message", "report_readed", "revoke"]

ALREADY_RECALLED: Final = frozenset({20023})


# --- read mark -----------------------------------------------------------------------------------


async def report_readed(ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput | None) -> None:
    """Read up to `msg` (everything without one); C2C tells the server too."""
    conv = checked_conv(conv_id, conv_type)
    message = None if msg is None or msg in ("", b"") else coerce(msg, Message, what="json_msg_param")
    anchor = anchor_of(message)
    await ctx.store.mark_read(conv, anchor)
    if conv[0] == ConvType.C2C:
        # Without a message the server reads up to its own now: our clock may lag behind its times.
        read_time = None if anchor is None else str(anchor[0])
        request = AdminSetMsgRead(Report_Account=ctx.user_id, Peer_Account=conv[1], MsgReadTime=read_time)
        await ctx.pipeline.submit(request)


# --- revoke --------------------------------------------------------------------------------------


async def revoke(ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput) -> None:
    """Recall a sent message (C2C by MsgKey, a group's by seq), then mark it Revoked here."""
    conv = checked_conv(conv_id, conv_type)
    message = coerce(msg, Message, what="json_msg_param")
    key = anchor_of(message)
    if key is None or (conv[0] == ConvType.GROUP and not message.seq):
        raise UsageError(TIM_ERR_PARAM, "the message to revoke needs its seq, rand and server time")
    if conv[0] == ConvType.C2C:
        await _revoke_c2c(ctx, conv, message, key)
    else:
        await _revoke_group(ctx, conv, message)
    await _mark_revoked(ctx, conv, message, key)


async def _revoke_c2c(ctx: SendContext, conv: Conv, message: Message, key: LocatorKey) -> None:
    sender, receiver, server_key = await _c2c_names(ctx, conv, message, key)
    request = AdminMsgWithdraw(From_Account=sender, To_Account=receiver, MsgKey=server_key)
    await ctx.pipeline.submit(request, done_codes=ALREADY_RECALLED)


async def _revoke_group(ctx: SendContext, conv: Conv, message: Message) -> None:
    request = GroupMsgRecall(GroupId=conv[1], MsgSeqList=[MsgSeqItem(message.seq or 0)])
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, GroupMsgRecallResponse)
    for result in reply.RecallRetList:
        if result.RetCode:
            raise error_for(result.RetCode, f"group_msg_recall of seq {result.MsgSeq}")


async def _mark_revoked(ctx: SendContext, conv: Conv, message: Message, key: LocatorKey) -> None:
    if await ctx.store.get(conv, key) is not None:
        await ctx.store.set_status(conv, key, int(MsgStatus.REVOKED))
    else:
        # Not stored here, or deleted here: record the recall without reviving a deleted message.
        await ctx.store.save(conv, message, status=int(MsgStatus.REVOKED), replace=False)


async def _c2c_names(ctx: SendContext, conv: Conv, message: Message, key: LocatorKey) -> tuple[str, str, str]:
    """How the REST API names a C2C message: its sender, its recipient and its MsgKey."""
    server_key = await server_key_of(ctx, conv, message, key)
    sender = message.sender or ctx.user_id
    receiver = conv[1] if sender == ctx.user_id else ctx.user_id
    return sender, receiver, server_key


# --- modify --------------------------------------------------------------------------------------


async def modify_message(ctx: SendContext, msg: MessageInput) -> Message:
    """Overwrite a sent message's elements (and cloud custom data when set) on the server, then
    in the local copy; the message as modified."""
    message = coerce(msg, Message, what="json_msg_param")
    if not message.conv_id or message.conv_type is None:
        raise UsageError(TIM_ERR_PARAM, "the message to modify needs message_conv_id and message_conv_type")
    conv = checked_conv(message.conv_id, message.conv_type)
    key = anchor_of(message)
    if key is None or (conv[0] == ConvType.GROUP and not message.seq):
        raise UsageError(TIM_ERR_PARAM, "the message to modify needs its seq, rand and server time")
    body = check_sendable(message)
    request: Request
    if conv[0] == ConvType.C2C:
        sender, receiver, server_key = await _c2c_names(ctx, conv, message, key)
        request = ModifyC2CMsg(
            From_Account=sender, To_Account=receiver, MsgKey=server_key,
            MsgBody=body, CloudCustomData=message.cloud_custom_str,
        )  # fmt: skip
    else:
        request = _modify_group_request(conv, message, body)
    # An overwrite: sent twice after a lost reply, the message ends the same.
    await ctx.pipeline.submit(request)
    return await _store_modified(ctx, conv, message, key)


def _modify_group_request(conv: Conv, message: Message, body: list[MsgBodyItem]) -> ModifyGroupMsg:
    return ModifyGroupMsg(
        GroupId=conv[1], MsgSeq=message.seq or 0, MsgBody=body, CloudCustomData=message.cloud_custom_str
    )


async def _store_modified(ctx: SendContext, conv: Conv, message: Message, key: LocatorKey) -> Message:
    """The local copy takes the new elements (and cloud data when given); the rest stays as stored."""
    stored = await ctx.store.get(conv, key)
    if stored is None:
        return message  # not kept here (or deleted here): nothing local to update
    cloud_data = stored.cloud_custom_str if message.cloud_custom_str is None else message.cloud_custom_str
    modified = msgspec.structs.replace(stored, elem_array=message.elem_array, cloud_custom_str=cloud_data)
    status = stored.status if stored.status is not None else int(MsgStatus.SEND_SUCC)
    server_key = await ctx.store.msg_key_of(conv, key)
    return await ctx.store.save(conv, modified, status=status, msg_key=server_key)
