"""Message extensions: a key-value set on a sent message that everyone in the conversation shares.

The message must have been sent with `support_message_extension`. A C2C message is named to the
server by its MsgKey (openim_msg_ext_http_svc/set_key_values, get_key_values), a group message by
its seq (group_set_key_values, group_get_key_values).

TIM orders the writes with a Seq per key: a write names the Seq it last read, and a key written
by someone else in between is refused with 23001 (ERR_SVR_MSG_EXTENSION_CONFLICT) and answered as
it now is. `set_message_extensions` reads the keys' Seqs first and writes with them, so a result
with code 23001 means another writer got in between: its `item` holds their value (the C SDK's
"only the first user succeeds ... others receive 23001 and the updated extension"; retry if the
value should still be yours). Caps (trtc.io/document/51195): 1 to 20 keys a call, keys up to 100
bytes, values up to 1 KB, 300 keys a message (checked here before any I/O, except the last).
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol import Request
from ..protocol.extensions import (
    EXT_MAX_KEY_BYTES,
    EXT_MAX_PER_REQUEST,
    EXT_MAX_VALUE_BYTES,
    OP_CLEAR,
    OP_DELETE,
    OP_SET,
    ExtItem,
    ExtResult,
    GetKeyValues,
    GetKeyValuesResponse,
    GroupGetKeyValues,
    GroupSetKeyValues,
    SetKeyValues,
    SetKeyValuesResponse,
)
from ..store import Conv
from ..types import ConvType, Message, MessageExtension, MessageExtensionResult, MessageInput, coerce
from ..types._base import coerce_list
from .context import SendContext, anchor_of, checked_conv, server_key_of

__all__ = ["delete_message_extensions", "get_message_extensions", "set_message_extensions"]

_CONFLICT_INFO: Final = "written by someone else first"


def _target(msg: MessageInput) -> tuple[Conv, Message]:
    """The message, checked: its conversation, locator, and that it takes extensions."""
    message = coerce(msg, Message, what="json_msg")
    if not message.conv_id or message.conv_type is None:
        raise UsageError(TIM_ERR_PARAM, "the message needs message_conv_id and message_conv_type")
    conv = checked_conv(message.conv_id, message.conv_type)
    if anchor_of(message) is None or (conv[0] == ConvType.GROUP and not message.seq):
        raise UsageError(TIM_ERR_PARAM, "the message needs its seq, rand and server time")
    if message.support_message_extension is False:
        raise UsageError(TIM_ERR_PARAM, "the message was not sent with support_message_extension")
    return conv, message


def _check_keys(keys: list[str]) -> None:
    if not 0 < len(keys) <= EXT_MAX_PER_REQUEST:
        raise UsageError(TIM_ERR_PARAM, f"give 1 to {EXT_MAX_PER_REQUEST} extensions a call")
    if len(set(keys)) != len(keys):
        raise UsageError(TIM_ERR_PARAM, "an extension key is given twice")
    for key in keys:
        if not key or len(key.encode()) > EXT_MAX_KEY_BYTES:
            raise UsageError(TIM_ERR_PARAM, f"an extension key must be 1 to {EXT_MAX_KEY_BYTES} bytes")


async def _names(ctx: SendContext, conv: Conv, message: Message) -> tuple[str, str, str]:
    """A C2C message's sender, recipient and MsgKey, as the REST API names it."""
    key = anchor_of(message)
    assert key is not None
    server_key = await server_key_of(ctx, conv, message, key)
    sender = message.sender or ctx.user_id
    receiver = conv[1] if sender == ctx.user_id else ctx.user_id
    return sender, receiver, server_key


# --- reading -------------------------------------------------------------------------------------


async def _read_all(ctx: SendContext, conv: Conv, message: Message) -> list[ExtItem]:
    """Every key as the server holds it now, paging on StartSeq (keys sharing a Seq may repeat)."""
    found: dict[str, ExtItem] = {}
    start = 0
    while True:
        request: Request
        if conv[0] == ConvType.C2C:
            sender, receiver, key = await _names(ctx, conv, message)
            request = GetKeyValues(From_Account=sender, To_Account=receiver, MsgKey=key, StartSeq=start)
        else:
            request = GroupGetKeyValues(GroupId=conv[1], MsgSeq=message.seq or 0, StartSeq=start)
        reply = await ctx.pipeline.submit(request)
        assert isinstance(reply, GetKeyValuesResponse)
        found.update((item.Key, item) for item in reply.ExtensionList)
        if reply.CompleteFlag or not reply.ExtensionList or reply.ExtensionList[-1].Seq <= start:
            return sorted(found.values(), key=lambda item: (item.Seq, item.Key))
        start = reply.ExtensionList[-1].Seq


async def get_message_extensions(ctx: SendContext, msg: MessageInput) -> list[MessageExtension]:
    """Every extension of the message, oldest write first."""
    conv, message = _target(msg)
    return [MessageExtension(item.Key, item.Value) for item in await _read_all(ctx, conv, message)]


# --- writing -------------------------------------------------------------------------------------


async def _write(
    ctx: SendContext, conv: Conv, message: Message, op: int, items: list[ExtItem] | None
) -> list[ExtResult]:
    request: Request
    if conv[0] == ConvType.C2C:
        sender, receiver, key = await _names(ctx, conv, message)
        request = SetKeyValues(From_Account=sender, To_Account=receiver, MsgKey=key, OperateType=op,
                               ExtensionList=items)  # fmt: skip
    else:
        request = GroupSetKeyValues(GroupId=conv[1], MsgSeq=message.seq or 0, OperateType=op,
                                    ExtensionList=items)  # fmt: skip
    # Not repeated blindly after a lost reply: a retry names Seqs its own first try moved on,
    # so it answers 23001 with the values that first try wrote.
    reply = await ctx.pipeline.submit(request)
    assert isinstance(reply, SetKeyValuesResponse)
    return reply.ResultList


def _result(result: ExtResult) -> MessageExtensionResult:
    item = MessageExtension(result.Extension.Key, result.Extension.Value)
    info = _CONFLICT_INFO if result.ErrorCode else ""
    return MessageExtensionResult(code=result.ErrorCode, info=info, item=item)


async def set_message_extensions(
    ctx: SendContext, msg: MessageInput, extensions: Any
) -> list[MessageExtensionResult]:
    """Set (add or overwrite) keys; one result per key, in input order."""
    conv, message = _target(msg)
    wanted = coerce_list(extensions, MessageExtension, what="json_extension_array")
    _check_keys([e.key for e in wanted])
    for e in wanted:
        if len(e.value.encode()) > EXT_MAX_VALUE_BYTES:
            raise UsageError(TIM_ERR_PARAM, f"an extension value must be at most {EXT_MAX_VALUE_BYTES} bytes")
    seqs = {item.Key: item.Seq for item in await _read_all(ctx, conv, message)}
    items = [ExtItem(e.key, e.value, seqs.get(e.key, 0)) for e in wanted]
    return [_result(r) for r in await _write(ctx, conv, message, OP_SET, items)]


async def delete_message_extensions(
    ctx: SendContext, msg: MessageInput, keys: Any
) -> list[MessageExtensionResult]:
    """Delete the named keys (one result per key), or every key when `keys` is empty (no results)."""
    conv, message = _target(msg)
    names = coerce_list(keys if keys is not None else [], str, what="json_extension_key_array")
    if not names:
        await _write(ctx, conv, message, OP_CLEAR, None)
        return []
    _check_keys(names)
    seqs = {item.Key: item.Seq for item in await _read_all(ctx, conv, message)}
    items = [ExtItem(name, "", seqs.get(name, 0)) for name in names]
    return [_result(r) for r in await _write(ctx, conv, message, OP_DELETE, items)]
