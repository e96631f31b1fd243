"""Edits and deletes: changing what history holds, here and on the server.

`delete` removes messages locally (and from this user's C2C roaming with `is_remble`),
`report_readed` moves the read mark, `revoke` recalls a sent message everywhere.
"""

from __future__ import annotations

from typing import Final

from ..errors import TIM_ERR_PARAM, NotFoundError, UsageError, error_for
from ..protocol.group import GroupMsgRecall, GroupMsgRecallResponse, MsgSeqItem
from ..protocol.openim import (
    AdminMsgWithdraw,
    AdminSetMsgRead,
    DeleteC2CMsgRamble,
    DeleteC2CMsgRambleResponse,
)
from ..protocol.outgoing import msg_key
from ..store import Conv, LocatorKey, locator_key
from ..types import ConvType, Message, MessageInput, MsgDeleteInput, MsgDeleteParam, MsgStatus, coerce
from .context import SendContext, anchor_of, checked_conv, chunks, key_order
from .roaming import Roaming

__all__ = ["delete", "report_readed", "revoke"]

ALREADY_RECALLED: Final = frozenset({20023})
MSG_NOT_FOUND: Final = 20022
DELETE_KEYS_PER_CALL: Final = 100


# --- delete --------------------------------------------------------------------------------------


async def delete(
    ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int, param: MsgDeleteInput
) -> None:
    """One message (`msg` set) or the whole conversation (`msg` absent or `{}`)."""
    conv = checked_conv(conv_id, conv_type)
    request = coerce(param, MsgDeleteParam, what="json_msgdel_param")
    in_roaming = bool(request.is_remble)
    if in_roaming and conv[0] != ConvType.C2C:
        raise UsageError(TIM_ERR_PARAM, "TIM has no REST call to delete a group's roaming messages")
    if request.msg is None or anchor_of(request.msg) is None:  # `{}`: as in the C SDK's example
        await _delete_all(ctx, roaming, conv, in_roaming)
    else:
        await _delete_one(ctx, conv, request.msg, in_roaming)


async def _delete_one(ctx: SendContext, conv: Conv, msg: Message, in_roaming: bool) -> None:
    key = locator_key(msg)
    server_key = await ctx.store.msg_key_of(conv, key) or msg.msg_id or msg_key(*key_order(key))
    deleted_here = await ctx.store.delete(conv, key)
    deleted_there = in_roaming and await delete_roaming(ctx, conv, [server_key]) > 0
    if not (deleted_here or deleted_there):
        where = "locally or in roaming history" if in_roaming else "locally"
        raise NotFoundError(MSG_NOT_FOUND, f"no message with locator {key} in {conv[1]!r} {where}")


async def _delete_all(ctx: SendContext, roaming: Roaming, conv: Conv, in_roaming: bool) -> None:
    if in_roaming:
        # The server's own list: it also holds messages this store never saw or already deleted.
        await delete_roaming(ctx, conv, await roaming.c2c_keys(conv))
    await ctx.store.delete_conversation(conv)


async def delete_roaming(ctx: SendContext, conv: Conv, keys: list[str]) -> int:
    """Delete `keys` from this user's C2C roaming history; how many the server knew."""
    deleted = 0
    for chunk in chunks(keys, DELETE_KEYS_PER_CALL):
        request = DeleteC2CMsgRamble(Operator_Account=ctx.user_id, Peer_Account=conv[1], MsgKeyList=chunk)
        reply = await ctx.pipeline.submit(request)
        assert isinstance(reply, DeleteC2CMsgRambleResponse)
        deleted += len(chunk) - len(reply.InvalidMsgKeyList or ())
    return deleted


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
    server_key = await ctx.store.msg_key_of(conv, key) or message.msg_id or msg_key(*key_order(key))
    sender = message.sender or ctx.user_id
    receiver = conv[1] if sender == ctx.user_id else ctx.user_id
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
