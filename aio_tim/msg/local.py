"""The local store's own operations: save a self-built message, import history (optionally to the
server's too), and find messages by locator (local first, then roaming)."""

from __future__ import annotations

from typing import Any

import msgspec

from ..errors import TIM_ERR_PARAM, UsageError, error_for
from ..protocol.group import GROUP_IMPORT_MAX, ImportGroupMsg, ImportGroupMsgResponse
from ..protocol.incoming import c2c_import_request, group_import_item
from ..protocol.validate import check_sendable
from ..store import Conv, locator_key
from ..types import ConvType, Message, MessageInput, MsgLocator, MsgStatus, coerce, coerce_list
from .context import SendContext, checked_conv, chunks
from .roaming import Roaming

__all__ = ["find_by_msg_locator_list", "import_msg_list", "save_msg"]


async def save_msg(ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
    """Store a self-built message (no network); its status, else LocalImported."""
    conv = checked_conv(conv_id, conv_type)
    message = await _local(ctx, coerce(msg, Message, what="json_msg_param"), conv)
    status = message.status or int(MsgStatus.LOCAL_IMPORTED)
    return await ctx.store.save(conv, message, status=status)


async def import_msg_list(ctx: SendContext, conv_id: str, conv_type: int, msgs: Any, *, cloud: bool) -> None:
    """Store messages as LocalImported (same locators ignored); `cloud` imports them to TIM first."""
    conv = checked_conv(conv_id, conv_type)
    messages = [await _local(ctx, m, conv) for m in coerce_list(msgs, Message, what="json_msg_array")]
    if cloud:
        messages = await _import_to_cloud(ctx, conv, messages)
    await ctx.store.insert_many(conv, messages, status=int(MsgStatus.LOCAL_IMPORTED))


async def find_by_msg_locator_list(
    ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int, locators: Any
) -> list[Message]:
    """One message per locator found, in the locators' order; each needs its time, seq and rand."""
    conv = checked_conv(conv_id, conv_type)
    wanted = coerce_list(locators, MsgLocator, what="json_msg_Locator_array")
    for index, loc in enumerate(wanted):
        if loc.time is None or loc.seq is None or loc.rand is None:
            raise UsageError(TIM_ERR_PARAM, f"locator {index} needs message_locator_time, _seq and _rand")
    found = {locator_key(m): m for m in await ctx.store.find(conv, wanted)}
    results = []
    for loc in wanted:
        key = (loc.time or 0, loc.seq or 0, loc.rand or 0)
        msg = found.get(key) or await roaming.find(conv, loc)
        if msg is not None:
            results.append(msg)
    return results


async def _import_to_cloud(ctx: SendContext, conv: Conv, messages: list[Message]) -> list[Message]:
    for msg in messages:
        check_sendable(msg)
    ordered = sorted(messages, key=locator_key)  # TIM wants history in chronological order
    if conv[0] == ConvType.C2C:
        for msg in ordered:
            await ctx.pipeline.submit(c2c_import_request(msg, ctx.user_id, conv[1]))
        return ordered
    imported: list[Message] = []
    for chunk in chunks(ordered, GROUP_IMPORT_MAX):
        items = [group_import_item(m, ctx.user_id) for m in chunk]
        reply = await ctx.pipeline.submit(ImportGroupMsg(GroupId=conv[1], MsgList=items))
        assert isinstance(reply, ImportGroupMsgResponse)
        imported += _with_group_seqs(chunk, reply)
    return imported


async def _local(ctx: SendContext, msg: Message, conv: Conv) -> Message:
    """A message for the local store: sender, times, rand and seq filled in when absent."""
    if not msg.elem_array:
        raise UsageError(TIM_ERR_PARAM, "message_elem_array is empty: a message needs an element")
    sender = msg.sender or ctx.user_id
    client_time = msg.client_time or msg.server_time or ctx.now()
    seq = msg.seq
    if seq is None:
        seq = await ctx.store.next_seq(conv) if conv[0] == ConvType.C2C else 0
    return msgspec.structs.replace(
        msg,
        sender=sender,
        is_from_self=sender == ctx.user_id,
        client_time=client_time,
        server_time=msg.server_time or client_time,
        rand=msg.rand if msg.rand is not None else ctx.random_u32(),
        seq=seq,
    )


def _with_group_seqs(chunk: list[Message], reply: ImportGroupMsgResponse) -> list[Message]:
    """Imported group messages take the seq and time the server gave them."""
    imported = []
    for msg, result in zip(chunk, reply.ImportMsgResult, strict=False):
        if result.Result:
            raise error_for(result.Result, f"import_group_msg of the message at {msg.server_time}")
        imported.append(msgspec.structs.replace(msg, seq=result.MsgSeq, server_time=result.MsgTime))
    return imported
