"""Sending: one message to a conversation (now, or through the durable outbox) and one message to
many C2C recipients (`batch_send`).

Every send validates and coerces the C SDK JSON (no I/O), fixes the idempotency keys once (rand,
seq, client time: a retry or a resend after a crash repeats them, so TIM drops the copy it already
has), hands the REST request to the pipeline and records the outcome in the local store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import msgspec

from ..errors import TIM_ERR_PARAM, TIMError, UsageError, error_for
from ..protocol import MsgBodyItem, Request
from ..protocol.group import SendGroupMsgResponse
from ..protocol.openim import BATCH_MAX_RECIPIENTS, BatchSendMsgResponse, SendMsgResponse
from ..protocol.outgoing import (
    batch_send_request,
    c2c_send_request,
    group_send_request,
    msg_key,
    sent_message,
)
from ..protocol.validate import check_conversation, check_identifier, check_identifiers, check_sendable
from ..seams import TransactionalOutbox
from ..store import Conv
from ..telemetry.names import SEND
from ..types import (
    BatchSendParam,
    BatchSendResult,
    ConvType,
    Message,
    MessageInput,
    MsgStatus,
    TextElem,
    coerce,
)
from .context import SendContext, chunks

__all__ = ["batch_send", "deliver", "enqueue_new_msg", "iter_batch_send", "send_new_msg", "send_text"]

BATCH_RECIPIENT_ROUNDS: Final = 3  # a recipient failing transiently this often is reported


# --- one conversation ----------------------------------------------------------------------------


async def send_new_msg(
    ctx: SendContext,
    conv_id: str,
    conv_type: int,
    msg: MessageInput,
    on_start: Callable[[], None] | None = None,
) -> Message:
    """Send `msg` now; the sent message as stored (SendFail stored, and raised, on failure).
    `on_start` is told when the send request leaves the pipeline's queue (`send_message`)."""
    conv = check_conversation(conv_id, conv_type)
    outgoing = coerce(msg, Message, what="json_msg_param")
    if ctx.transfers is not None:  # local files named in elements go up first
        outgoing = await ctx.transfers.upload_attachments(outgoing)
    message, body = await outgoing_with_body(ctx, outgoing, (conv, conv_id))
    sender = message.sender or ""
    request: Request = (
        c2c_send_request(conv_id, sender, message, body)
        if conv is ConvType.C2C
        else group_send_request(conv_id, sender, message, body)
    )
    try:
        reply = await ctx.pipeline.submit(request, order_key=(conv, conv_id), on_start=on_start)
    except TIMError:
        await ctx.store.save((conv, conv_id), message, status=int(MsgStatus.SEND_FAIL))
        raise
    assert isinstance(reply, SendMsgResponse | SendGroupMsgResponse)
    sent = sent_message(message, conv_id, conv, reply)
    # The other sends under way are the saves that may share this one's commit (writer.py).
    return await ctx.store.save(
        (conv, conv_id),
        sent,
        status=int(MsgStatus.SEND_SUCC),
        msg_key=sent.msg_id,
        siblings=ctx.pipeline.outstanding,
    )


async def send_text(ctx: SendContext, conv_id: str, conv_type: int, text: str) -> Message:
    """`send_new_msg` with one `TextElem`; a text that is not a str is refused before any I/O."""
    if not isinstance(text, str):
        raise UsageError(TIM_ERR_PARAM, f"text must be a str, not {type(text).__name__}")
    return await send_new_msg(ctx, conv_id, conv_type, Message(elem_array=[TextElem(content=text)]))


async def enqueue_new_msg(
    ctx: SendContext, conv_id: str, conv_type: int, msg: MessageInput, *, connection: Any = None
) -> Message:
    """Commit `msg` to the durable outbox with its keys fixed (in the caller's transaction when a
    `connection` is given); the drainer sends it (`deliver`)."""
    outbox = ctx.outbox
    if outbox is None:
        raise UsageError(TIM_ERR_PARAM, "enqueue_new_msg needs Client(outbox=True) or a coordinator")
    if connection is not None and not isinstance(outbox, TransactionalOutbox):
        raise UsageError(TIM_ERR_PARAM, "enqueue_new_msg(connection=...) needs a PostgreSQL store")
    conv = check_conversation(conv_id, conv_type)
    outgoing = coerce(msg, Message, what="json_msg_param")
    if ctx.transfers is not None:  # local files named in elements go up first
        outgoing = await ctx.transfers.upload_attachments(outgoing)
    message = await outgoing_of(ctx, outgoing, (conv, conv_id))
    message = msgspec.structs.replace(message, conv_id=conv_id, conv_type=int(conv))
    if isinstance(outbox, TransactionalOutbox) and connection is not None:
        await outbox.enqueue_in(connection, (int(conv), conv_id), message)
    else:
        await outbox.enqueue((int(conv), conv_id), message)
    return message


async def deliver(ctx: SendContext, conv: Conv, message: Message) -> tuple[Message, str | None]:
    """Send one outbox row's message with its fixed keys: the sent message and its MsgKey."""
    conv_type, conv_id = ConvType(conv[0]), conv[1]
    sender = message.sender or ""
    request: Request = (
        c2c_send_request(conv_id, sender, message)
        if conv_type is ConvType.C2C
        else group_send_request(conv_id, sender, message)
    )
    reply = await ctx.pipeline.submit(request, order_key=(conv_type, conv_id))
    assert isinstance(reply, SendMsgResponse | SendGroupMsgResponse)
    sent = sent_message(message, conv_id, conv_type, reply)
    return sent, sent.msg_id


async def outgoing_of(ctx: SendContext, msg: Message, conv: tuple[ConvType, str] | None) -> Message:
    """Validate `msg` and fix its idempotency keys once, before the first attempt."""
    return (await outgoing_with_body(ctx, msg, conv))[0]


async def outgoing_with_body(
    ctx: SendContext, msg: Message, conv: tuple[ConvType, str] | None
) -> tuple[Message, list[MsgBodyItem]]:
    """`outgoing_of`, and the REST MsgBody that validation built (a send builds it once)."""
    body = check_sendable(msg)
    sender = check_identifier(msg.sender or ctx.user_id, "message_sender")
    seq = msg.seq
    if seq is None and conv is None:
        seq = ctx.random_u32()  # a batch spans many conversations: no per-conversation counter
    elif seq is None and conv is not None and conv[0] is ConvType.C2C:
        seq = await ctx.store.next_seq(conv)  # groups get their seq from the server
    fixed = msgspec.structs.replace(
        msg,
        sender=sender,
        is_from_self=sender == ctx.user_id,
        rand=msg.rand if msg.rand is not None else ctx.random_u32(),
        seq=seq,
        client_time=msg.client_time or ctx.now(),
        server_time=None,
        status=int(MsgStatus.SENDING),
    )
    return fixed, body


# --- many recipients -----------------------------------------------------------------------------


async def batch_send(ctx: SendContext, param: Any) -> list[BatchSendResult]:
    """Every chunk at once under the pipeline's limits; the results in input order."""
    planned, message = await _batch_plan(ctx, param)
    outcomes = await asyncio.gather(*(_send_chunk(ctx, chunk, message) for chunk in planned))
    return [result for chunk_results in outcomes for result in chunk_results]


async def iter_batch_send(ctx: SendContext, param: Any) -> AsyncIterator[BatchSendResult]:
    """Each recipient's result as soon as its chunk is done; leaving early cancels the rest."""
    planned, message = await _batch_plan(ctx, param)
    tasks = [asyncio.ensure_future(_send_chunk(ctx, chunk, message)) for chunk in planned]
    try:
        for finished in asyncio.as_completed(tasks):
            for result in await finished:
                yield result
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _batch_plan(ctx: SendContext, param: Any) -> tuple[list[list[str]], Message]:
    """Validate a batch send; split its recipients into chunks and fix the message's keys once."""
    batch = coerce(param, BatchSendParam, what="json_batch_send_param")
    if not batch.identifier_array:
        raise UsageError(TIM_ERR_PARAM, "msg_batch_send_param_identifier_array is empty")
    check_identifiers(batch.identifier_array, "msg_batch_send_param_identifier_array item")
    message = await outgoing_of(ctx, batch.msg, None)
    return list(chunks(batch.identifier_array, BATCH_MAX_RECIPIENTS)), message


async def _send_chunk(ctx: SendContext, recipients: list[str], message: Message) -> list[BatchSendResult]:
    if not ctx.telemetry.active:
        return await _send_chunk_rounds(ctx, recipients, message)
    with ctx.telemetry.operation("send", SEND, "batch_chunk", count=len(recipients)) as op:
        results = await _send_chunk_rounds(ctx, recipients, message)
        op.span.set_attribute("tim.batch.failed", sum(1 for r in results if r.code))
        return results


async def _send_chunk_rounds(
    ctx: SendContext, recipients: list[str], message: Message
) -> list[BatchSendResult]:
    """One batchsendmsg call; recipients that failed transiently are sent again (same random,
    so the server drops any copy it already delivered), permanent codes are reported."""
    first_results = await _send_chunk_once(ctx, recipients, message)
    pending = [r.identifier for r in first_results if r.code and error_for(r.code).retryable]
    if not pending:
        return first_results  # the usual case: no second round, no merging
    results = {r.identifier: r for r in first_results}
    for _ in range(BATCH_RECIPIENT_ROUNDS - 1):
        round_results = await _send_chunk_once(ctx, pending, message)
        results.update((r.identifier, r) for r in round_results)
        pending = [r.identifier for r in round_results if r.code and error_for(r.code).retryable]
        if not pending:
            break
    return [results[r] for r in recipients]


async def _send_chunk_once(
    ctx: SendContext, recipients: list[str], message: Message
) -> list[BatchSendResult]:
    request = batch_send_request(recipients, message.sender or "", message)
    try:
        reply = await ctx.pipeline.submit(request)
    except TIMError as error:
        if not error.retryable:
            raise
        # Retries are spent: report the chunk's recipients as failed, keep the others.
        return [BatchSendResult(r, error.code, error.desc) for r in recipients]
    assert isinstance(reply, BatchSendMsgResponse)
    results, delivered = _batch_results(recipients, message, reply)
    names = [r.identifier for r in results if r.msg is not None]
    if delivered is not None and names:
        await ctx.store.insert_fanout(
            ConvType.C2C, names, delivered, status=int(MsgStatus.SEND_SUCC), msg_key=reply.MsgKey
        )
    return results


def _batch_results(
    recipients: list[str], message: Message, reply: BatchSendMsgResponse
) -> tuple[list[BatchSendResult], Message | None]:
    """Each recipient's result, and the message as delivered (None if the reply does not say who
    got it): the recipients' copies differ only in the conversation, so it is built once a chunk."""
    if reply.ErrorList is None:
        # Without an error list nothing says who got it: unknown is not "delivered".
        unknown = TIMError(60013, "reply lists no outcome per recipient")
        return [BatchSendResult(r, unknown.code, unknown.desc) for r in recipients], None
    failed = {e.To_Account: e.ErrorCode for e in reply.ErrorList}
    delivered = _delivered(message, reply)
    replace = msgspec.structs.replace
    results = []
    for recipient in recipients:
        code = failed.get(recipient, 0)
        if code:
            results.append(BatchSendResult(recipient, code, error_for(code).desc))
        else:
            results.append(BatchSendResult(recipient, 0, "", replace(delivered, conv_id=recipient)))
    return results, delivered


def _delivered(message: Message, reply: BatchSendMsgResponse) -> Message:
    """`message` as every recipient got it; only the conversation (each recipient's id) is unset."""
    server_time = _time_from_key(reply.MsgKey) or message.client_time or 0
    return msgspec.structs.replace(
        message,
        conv_type=int(ConvType.C2C),
        server_time=server_time,
        is_read=True,
        status=int(MsgStatus.SEND_SUCC),
        msg_id=reply.MsgKey or msg_key(message.seq or 0, message.rand or 0, server_time),
    )


def _time_from_key(key: str) -> int | None:
    tail = key.rsplit("_", 1)[-1]
    # ASCII and at most 10 digits: a hostile MsgKey must not reach int() or the store's locator.
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 10 else None
