"""`send_message` (TIMMsgSendMessage) and `cancel_send` (TIMMsgCancelSend).

The C SDK's TIMMsgSendMessage writes the message's id into the caller's buffer at once and calls
back when the send is done; here `send_message` validates the message and fixes its keys (no
network I/O), then returns a `SendHandle`: its `msg_id` is known at once, awaiting it gives the
sent `Message` (as `send_new_msg` returns it).

The id is `{seq}_{rand}_{client_time}`, the MsgKey form: for a C2C message it is the MsgKey the
server gives when the server's clock agrees with ours (the awaited message carries the server's
own); a group message's real id has the seq the server hands out. `cancel_send` takes the
handle's `msg_id`: a message still waiting (for its uploads, or in the pipeline's queue behind its
conversation's earlier sends) is withdrawn and never sent; its handle raises 8021. It also takes
the same form of id for a message `enqueue_new_msg` queued in the durable SQLite outbox: a row no
drainer has claimed is failed with 8021 (`outbox_result` raises it) and never sent. One that has
left the queue, or that nothing holds, is refused with 8020.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError, error_for
from ..pipeline.outbox import Outbox
from ..protocol.outgoing import msg_key
from ..protocol.validate import check_conversation
from ..types import Message, MessageInput, coerce
from . import send
from .context import SendContext

__all__ = ["PendingSends", "SendHandle", "cancel_send", "send_message"]

ERR_INVALID_CANCEL: Final = 8020  # ERR_SDK_INVALID_CANCEL_MESSAGE
ERR_CANCELLED: Final = 8021  # ERR_SDK_SEND_MESSAGE_FAILED_WITH_CANCEL

_PendingKey = tuple[int, str, str]  # (conv type, conv id, msg id)


class SendHandle:
    """A message `send_message` is sending: `msg_id` now, the sent `Message` when awaited.

    handle = await tim.msg.send_message("bob", ConvType.C2C, msg)
    print(handle.msg_id)      # known before anything went out
    sent = await handle       # the sent message, as send_new_msg returns it
    """

    __slots__ = ("_started", "_task", "msg_id")

    def __init__(self, msg_id: str, task: asyncio.Task[Message]) -> None:
        self.msg_id = msg_id
        self._task = task
        self._started = False

    @property
    def on_the_wire(self) -> bool:
        """Whether the send request has left the queue (it can no longer be cancelled)."""
        return self._started

    def done(self) -> bool:
        return self._task.done()

    def _mark_started(self) -> None:
        self._started = True

    def __await__(self) -> Generator[Any, None, Message]:
        return self._result().__await__()

    async def _result(self) -> Message:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():  # cancel_send, not the awaiting caller
                raise error_for(ERR_CANCELLED, f"sending {self.msg_id} was cancelled") from None
            raise

    def __repr__(self) -> str:
        state = "done" if self.done() else "sending" if self._started else "queued"
        return f"<SendHandle msg_id={self.msg_id!r} {state}>"


class PendingSends:
    """The sends `send_message` started and that have not finished, by conversation and id."""

    def __init__(self) -> None:
        self._handles: dict[_PendingKey, SendHandle] = {}

    def add(self, key: _PendingKey, handle: SendHandle) -> None:
        self._handles[key] = handle

    def pop(self, key: _PendingKey) -> SendHandle | None:
        return self._handles.pop(key, None)

    def get(self, key: _PendingKey) -> SendHandle | None:
        return self._handles.get(key)

    def __len__(self) -> int:
        return len(self._handles)


async def send_message(
    ctx: SendContext, pending: PendingSends, conv_id: str, conv_type: int, msg: MessageInput
) -> SendHandle:
    """Validate `msg` and fix its keys (UsageError before any network I/O), then send it in the
    background; the handle names it at once."""
    conv = check_conversation(conv_id, conv_type)
    outgoing = coerce(msg, Message, what="json_msg_param")
    message, _ = await send.outgoing_with_body(ctx, outgoing, (conv, conv_id))
    msg_id = msg_key(message.seq or 0, message.rand or 0, message.client_time or 0)
    key = (int(conv), conv_id, msg_id)
    if pending.get(key) is not None:
        raise UsageError(TIM_ERR_PARAM, f"a message with id {msg_id} is already being sent")
    handle: SendHandle | None = None

    def started() -> None:
        assert handle is not None
        handle._mark_started()

    task = asyncio.ensure_future(send.send_new_msg(ctx, conv_id, int(conv), message, on_start=started))
    handle = SendHandle(msg_id, task)
    pending.add(key, handle)
    task.add_done_callback(lambda _: _forget(pending, key, handle))
    return handle


def _forget(pending: PendingSends, key: _PendingKey, handle: SendHandle) -> None:
    if pending.get(key) is handle:
        pending.pop(key)
    if not handle._task.cancelled():
        handle._task.exception()  # retrieved here: a handle nobody awaits logs no "never retrieved"


async def cancel_send(
    ctx: SendContext, pending: PendingSends, conv_id: str, conv_type: int, msg_id: str
) -> None:
    """Withdraw a message `send_message` has not yet put on the wire, or a durable outbox row no
    drainer has claimed yet (8020 otherwise)."""
    conv = check_conversation(conv_id, conv_type)
    if not isinstance(msg_id, str) or not msg_id:
        raise UsageError(TIM_ERR_PARAM, "message_id must be a non-empty str")
    handle = pending.get((int(conv), conv_id, msg_id))
    if handle is not None and not handle.done():
        if handle.on_the_wire:
            raise error_for(ERR_INVALID_CANCEL, f"message {msg_id} is already on the wire")
        handle._task.cancel()
        return
    keys = _outbox_keys(msg_id)
    outbox = ctx.outbox
    if keys is not None and isinstance(outbox, Outbox) and await outbox.cancel((int(conv), conv_id), keys):
        return
    raise error_for(ERR_INVALID_CANCEL, f"no message {msg_id} is waiting to be sent in {conv_id!r}")


def _outbox_keys(msg_id: str) -> tuple[int, int, int] | None:
    """An id of the `{seq}_{rand}_{client_time}` form as the outbox row's (rand, seq, client time)."""
    parts = msg_id.split("_")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    seq, rand, client_time = map(int, parts)
    return rand, seq, client_time
