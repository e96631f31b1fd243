"""The sends as messaging operations: a span and a duration point each while telemetry is on
(`aio_tim.telemetry`), the plain call otherwise. Span names follow the messaging conventions:
`send c2c`, `send group`, `send batch` (a `send batch_chunk` child per chunk of 500),
`enqueue c2c` and `deliver c2c` (the outbox drainer's send, linked to its enqueue), and
`get_msg_list c2c` (a page of history)."""

from __future__ import annotations

from typing import Any

from ..store import Conv
from ..telemetry import names as n
from ..telemetry.carry import ENQUEUE_TRACE, claimed_trace, key_of
from ..types import BatchSendResult, Message, MessageInput
from . import history, send
from .context import SendContext
from .roaming import Roaming

__all__ = ["batch_send", "deliver", "enqueue_new_msg", "get_msg_list", "send_new_msg", "send_text"]

_TEMPLATES = {1: "c2c", 2: "group"}


def template_of(conv_type: int) -> str:
    """The conversation kind that labels metrics (the id itself is unbounded: spans only)."""
    return _TEMPLATES.get(int(conv_type), "unknown")


async def send_new_msg(ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput) -> Message:
    if not ctx.telemetry.active:
        return await send.send_new_msg(ctx, conv_id, conv_type, msg)
    with ctx.telemetry.operation("send", n.SEND, template_of(conv_type), destination=conv_id) as op:
        sent = await send.send_new_msg(ctx, conv_id, conv_type, msg)
        op.span.set_attribute(n.MESSAGING_MESSAGE_ID, sent.msg_id or "")
        return sent


async def send_text(ctx: SendContext, conv_id: str, conv_type: int, text: str) -> Message:
    if not ctx.telemetry.active:
        return await send.send_text(ctx, conv_id, conv_type, text)
    with ctx.telemetry.operation("send", n.SEND, template_of(conv_type), destination=conv_id) as op:
        sent = await send.send_text(ctx, conv_id, conv_type, text)
        op.span.set_attribute(n.MESSAGING_MESSAGE_ID, sent.msg_id or "")
        return sent


async def enqueue_new_msg(
    ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput, *, connection: Any = None
) -> Message:
    telemetry = ctx.telemetry
    if not telemetry.active:
        return await send.enqueue_new_msg(ctx, conv_id, conv_type, msg, connection=connection)
    with telemetry.operation(
        "enqueue", n.CREATE, template_of(conv_type), destination=conv_id
    ) as op:  # fmt: skip
        carried = ENQUEUE_TRACE.set(telemetry.trace_header(op))  # stamped into the outbox row
        try:
            queued = await send.enqueue_new_msg(ctx, conv_id, conv_type, msg, connection=connection)
        finally:
            ENQUEUE_TRACE.reset(carried)
        telemetry.remember(key_of(queued), op)
        return queued


async def deliver(ctx: SendContext, conv: Conv, message: Message) -> tuple[Message, str | None]:
    telemetry = ctx.telemetry
    carried = claimed_trace(message)  # taken even when off: the claim kept it for this delivery
    if not telemetry.active:
        return await send.deliver(ctx, conv, message)
    links = telemetry.recall(key_of(message), carried)
    with telemetry.operation("deliver", n.SEND, template_of(conv[0]), destination=conv[1], links=links) as op:
        sent, msg_key = await send.deliver(ctx, conv, message)
        op.span.set_attribute(n.MESSAGING_MESSAGE_ID, msg_key or "")
        return sent, msg_key


async def batch_send(ctx: SendContext, param: Any) -> list[BatchSendResult]:
    if not ctx.telemetry.active:
        return await send.batch_send(ctx, param)
    with ctx.telemetry.operation("send", n.SEND, "batch") as op:
        results = await send.batch_send(ctx, param)
        op.count = len(results)
        op.span.set_attribute("tim.batch.failed", sum(1 for r in results if r.code))
        return results


async def get_msg_list(
    ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int, param: Any
) -> list[Message]:
    """A page of history: `receive c2c` (INTERNAL: the local store, then roaming REST calls as
    children), counting the messages it returns."""
    if not ctx.telemetry.active:
        return await history.get_msg_list(ctx, roaming, conv_id, conv_type, param)
    template = template_of(conv_type)
    with ctx.telemetry.operation(
        "get_msg_list", n.RECEIVE, template, destination=conv_id, kind="internal"
    ) as op:  # fmt: skip
        page = await history.get_msg_list(ctx, roaming, conv_id, conv_type, param)
        op.count = len(page)
        return page
