"""Deletes: removing messages here and, where TIM's REST API allows it, from this user's roaming.

`delete` removes one message or a conversation's (from C2C roaming too with `is_remble`);
`list_delete` removes up to 50 named messages here and from C2C roaming;
`clear_history_message` empties a conversation here and on the server. TIM deletes C2C
roaming per user (openim/delete_c2c_msg_ramble: the peer keeps theirs) and has no REST command
that deletes one user's copy of group messages, so a group's are deleted here only. A message
deleted here leaves a tombstone: fetching roaming again does not bring it back.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, NotFoundError, UsageError
from ..protocol.edits import ClearGroupMsg
from ..protocol.openim import DeleteC2CMsgRamble, DeleteC2CMsgRambleResponse
from ..store import Conv, locator_key
from ..types import ConvType, Message, MsgDeleteInput, MsgDeleteParam, coerce, coerce_list
from .context import SendContext, anchor_of, checked_conv, chunks, server_key_of
from .roaming import Roaming

__all__ = ["clear_history_message", "delete", "delete_roaming", "list_delete"]

MSG_NOT_FOUND: Final = 20022
DELETE_KEYS_PER_CALL: Final = 100  # openim/delete_c2c_msg_ramble's MsgKeyList cap
# TIMMsgListDelete's cap in the current C SDK header; older SDK pages (cloud.tencent.com 269/76662,
# the Electron SDK's TIMMsgListDelete) say 30 a call and at most one call a second.
LIST_DELETE_MAX: Final = 50
CLEAR_PAGE: Final = 500  # tombstones written per round when a group is cleared here


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
    server_key = await server_key_of(ctx, conv, msg, key)
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


# --- list_delete ---------------------------------------------------------------------------------


async def list_delete(ctx: SendContext, conv_id: str, conv_type: int, msgs: Any) -> None:
    """Up to 50 messages of one conversation: from C2C roaming first, then here."""
    conv = checked_conv(conv_id, conv_type)
    messages = _listed(conv, coerce_list(msgs, Message, what="json_msg_array"))
    if conv[0] == ConvType.C2C:
        # Roaming first: should the call fail, nothing is gone here and it can simply be repeated.
        keys = [await server_key_of(ctx, conv, m, locator_key(m)) for m in messages]
        await delete_roaming(ctx, conv, list(dict.fromkeys(keys)))
    for msg in messages:
        await ctx.store.delete(conv, locator_key(msg))


def _listed(conv: Conv, messages: list[Message]) -> list[Message]:
    """The messages of a list delete, checked: 1 to 50, each named by its locator and, when it
    says which conversation it is in, in this one (TIM deletes one conversation's at a time)."""
    if not 0 < len(messages) <= LIST_DELETE_MAX:
        raise UsageError(TIM_ERR_PARAM, f"json_msg_array must hold 1 to {LIST_DELETE_MAX} messages")
    for index, msg in enumerate(messages):
        if anchor_of(msg) is None:
            raise UsageError(TIM_ERR_PARAM, f"message {index} needs its seq, rand and time")
        elsewhere = msg.conv_type is not None and msg.conv_type != conv[0]
        if elsewhere or (msg.conv_id is not None and msg.conv_id != conv[1]):
            raise UsageError(TIM_ERR_PARAM, f"message {index} belongs to another conversation")
    return messages


# --- clear_history_message -----------------------------------------------------------------------


async def clear_history_message(ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int) -> None:
    """Empty a conversation: a C2C one from this user's roaming and the store; a group's history
    for every member's SDK (clear_group_msg), then here."""
    conv = checked_conv(conv_id, conv_type)
    if conv[0] == ConvType.C2C:
        await _delete_all(ctx, roaming, conv, True)
        return
    await ctx.pipeline.submit(ClearGroupMsg(GroupId=conv[1]))
    await _tombstone_all(ctx, conv)


async def _tombstone_all(ctx: SendContext, conv: Conv) -> None:
    """Mark every stored message deleted, keeping the rows: TIM still hands cleared group messages
    to the admin (65970), so roaming would bring them back if the rows went."""
    while page := await ctx.store.page(conv, anchor=None, count=CLEAR_PAGE, forward=False):
        for msg in page:
            await ctx.store.delete(conv, locator_key(msg))
