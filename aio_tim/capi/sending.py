"""`TIMMsgSendMessage` and `TIMMsgCancelSend`.

The C SDK's TIMMsgSendMessage writes the new message's id into the caller's `message_id_buffer`
(at least 128 bytes) before it returns, then calls back with the sent message. Here the buffer is
a `bytearray` (or any writable buffer) of at least 128 bytes; the id goes in NUL-terminated:

    buffer = bytearray(128)
    TIMMsgSendMessage("user2", kTIMConv_C2C, json.dumps(msg), buffer, cb, None)
    msg_id = buffer.split(b"\\0", 1)[0].decode()
    TIMMsgCancelSend("user2", kTIMConv_C2C, msg_id, cb, None)   # while it still waits

Fixing the id takes the local store (a C2C message's seq), so the call waits for aio_tim's loop;
from inside that loop (a TIMInit made within a running event loop) it cannot, and answers
TIM_ERR_PARAM: use `tim.msg.send_message` there.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from ..errors import TIM_ERR_NOTLOGIN, TIM_ERR_PARAM, TIM_ERR_SDKUNINIT, TIMError
from ..protocol.validate import check_conversation, check_sendable
from ..types import Message, coerce
from . import functions
from .functions import Operation, _as_json, _submit
from .runtime import Callback

__all__ = ["TIMMsgCancelSend", "TIMMsgSendMessage"]

MESSAGE_ID_BUFFER_MIN: Final = 128  # bytes, as the C SDK's header asks
_START_TIMEOUT: Final = 30.0  # seconds to fix the keys (local work only)


def _writable(buffer: Any) -> memoryview | None:
    try:
        view = memoryview(buffer).cast("B")
    except (TypeError, ValueError):
        return None
    return None if view.readonly or len(view) < MESSAGE_ID_BUFFER_MIN else view


def TIMMsgSendMessage(
    conv_id: str,
    conv_type: int,
    json_msg_param: str,
    message_id_buffer: Any,
    cb: Callback | None,
    user_data: Any = None,
) -> int:
    """`tim.msg.send_message`: the id in `message_id_buffer` at once, the sent Message's JSON in `cb`."""
    session = functions._session
    if session is None or not session.runtime.usable:
        return TIM_ERR_SDKUNINIT
    if session.client is None:
        return TIM_ERR_NOTLOGIN
    view = _writable(message_id_buffer)
    if view is None or _in_loop(session.runtime.loop):
        return TIM_ERR_PARAM
    try:
        check_conversation(conv_id, conv_type)
        msg = coerce(json_msg_param, Message, what="json_msg_param")
        check_sendable(msg)
    except TIMError as error:
        return error.code
    client = session.client
    starting = client.msg.send_message(conv_id, conv_type, msg)
    future = asyncio.run_coroutine_threadsafe(starting, session.runtime.loop)
    try:
        handle = future.result(_START_TIMEOUT)
    except TIMError as error:
        return error.code
    encoded = handle.msg_id.encode()[: MESSAGE_ID_BUFFER_MIN - 1]
    view[: len(encoded)] = encoded
    view[len(encoded)] = 0

    async def sent(tim: Any) -> str:
        return await _as_json(_awaited(handle))

    return _submit(lambda: sent, cb, user_data)


async def _awaited(handle: Any) -> Message:
    result: Message = await handle
    return result


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether this thread runs `loop` (waiting on it here would never end)."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def TIMMsgCancelSend(
    conv_id: str, conv_type: int, message_id: str, cb: Callback | None, user_data: Any = None
) -> int:
    """`tim.msg.cancel_send`: `cb` gets `""`, or 8020 when the message is on the wire, sent or
    unknown."""

    def check() -> Operation:
        check_conversation(conv_id, conv_type)

        async def cancel(tim: Any) -> str:
            await tim.msg.cancel_send(conv_id, conv_type, message_id)
            return ""

        return cancel

    return _submit(check, cb, user_data)
