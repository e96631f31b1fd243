"""MsgManager: the C SDK's `TIMMsg*` functions as coroutines on `tim.msg`.

Each operation is a thin builder: validate and coerce the C SDK JSON (no I/O), fix the
idempotency keys, build the REST request, hand it to the pipeline, and turn the reply back into
the C SDK's JSON shapes.

    async with Client(...) as tim:
        sent = await tim.msg.send_new_msg("bob", ConvType.C2C, {
            "message_elem_array": [{"elem_type": 0, "text_elem_content": "hi"}]})
        print(sent.seq, sent.server_time, sent.msg_id)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from .errors import TIM_ERR_PARAM, TIMError, UsageError
from .pipeline import MessagePipeline
from .protocol import Request
from .protocol.group import SendGroupMsgResponse
from .protocol.openim import BATCH_MAX_RECIPIENTS, BatchSendMsgResponse, SendMsgResponse
from .protocol.outgoing import (
    batch_send_request,
    c2c_send_request,
    group_send_request,
    msg_key,
    sent_message,
)
from .types import (
    BatchSendParam,
    BatchSendResult,
    ConvType,
    Message,
    MsgStatus,
    coerce,
)
from .validate import check_conversation, check_identifier, check_sendable

__all__ = ["MsgManager", "SendContext"]

_UINT32_MAX: Final = 2**32 - 1


@dataclass
class SendContext:
    """What the operations share with the client that owns them."""

    user_id: str
    pipeline: MessagePipeline
    clock: Callable[[], float]
    rng: random.Random


class _Sequencer:
    """A `MsgSeq` that increases within each conversation.

    TIM orders C2C history by time, then MsgSeq: increasing seqs keep same-second messages in
    the order they were sent.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._last: dict[tuple[int, str], int] = {}

    def next(self, conv_type: ConvType, conv_id: str) -> int:
        key = (int(conv_type), conv_id)
        # Start low in a random spot so seqs from separate runs rarely collide.
        seq = self._last.get(key) or self._rng.randrange(1, 2**24)
        seq = seq + 1 if seq < _UINT32_MAX else 1
        self._last[key] = seq
        return seq


class MsgManager:
    """`tim.msg`: the ten TIMMsg functions. Every parameter may be a Struct, dict or JSON text."""

    def __init__(self, ctx: SendContext) -> None:
        self._ctx = ctx
        self._seqs = _Sequencer(ctx.rng)

    async def send_new_msg(self, conv_id: str, conv_type: int, msg: Any) -> Message:
        """`TIMMsgSendNewMsg`: send `msg` to a C2C peer or a group; returns the sent message.

        sent = await tim.msg.send_new_msg("group1", ConvType.GROUP,
                                          Message(elem_array=[TextElem(content="hi")]))
        assert sent.status == MsgStatus.SEND_SUCC
        """
        conv = check_conversation(conv_id, conv_type)
        message = self._outgoing(coerce(msg, Message, what="json_msg_param"), conv, conv_id)
        sender = message.sender or ""
        request: Request = (
            c2c_send_request(conv_id, sender, message)
            if conv is ConvType.C2C
            else group_send_request(conv_id, sender, message)
        )
        reply = await self._ctx.pipeline.submit(request, order_key=(conv, conv_id))
        assert isinstance(reply, SendMsgResponse | SendGroupMsgResponse)
        return sent_message(message, conv_id, conv, reply)

    async def batch_send(self, param: Any) -> list[BatchSendResult]:
        """`TIMMsgBatchSend`: one C2C message to many identifiers, a result per identifier.

        Identifiers go out in chunks of 500 (TIM's cap) under the pipeline's limits; results come
        back in input order with each identifier's own code (0 = delivered). Errors that concern
        the whole call (bad credentials, bad parameters) are raised instead.

            results = await tim.msg.batch_send({
                "msg_batch_send_param_identifier_array": ["u1", "u2"],
                "msg_batch_send_param_msg": {"message_elem_array": [
                    {"elem_type": 0, "text_elem_content": "hello"}]}})
        """
        batch = coerce(param, BatchSendParam, what="json_batch_send_param")
        if not batch.identifier_array:
            raise UsageError(TIM_ERR_PARAM, "msg_batch_send_param_identifier_array is empty")
        for identifier in batch.identifier_array:
            check_identifier(identifier, "msg_batch_send_param_identifier_array item")
        message = self._outgoing(batch.msg, ConvType.C2C, None)
        chunks = list(_chunks(batch.identifier_array, BATCH_MAX_RECIPIENTS))
        outcomes = await asyncio.gather(*(self._send_chunk(chunk, message) for chunk in chunks))
        return [result for chunk_results in outcomes for result in chunk_results]

    async def _send_chunk(self, recipients: list[str], message: Message) -> list[BatchSendResult]:
        request = batch_send_request(recipients, message.sender or "", message)
        try:
            reply = await self._ctx.pipeline.submit(request)
        except TIMError as error:
            if not error.retryable:
                raise
            # Retries are spent: report the chunk's recipients as failed, keep the others.
            return [BatchSendResult(r, error.code, error.desc) for r in recipients]
        assert isinstance(reply, BatchSendMsgResponse)
        return _batch_results(recipients, message, reply)

    def _outgoing(self, msg: Message, conv: ConvType, conv_id: str | None) -> Message:
        """Validate `msg` and fix its idempotency keys once, before the first attempt."""
        check_sendable(msg)
        sender = check_identifier(msg.sender or self._ctx.user_id, "message_sender")
        rand = msg.rand if msg.rand is not None else self._ctx.rng.randrange(1, _UINT32_MAX)
        client_time = msg.client_time or int(self._ctx.clock())
        seq = msg.seq
        if conv is ConvType.C2C and seq is None:
            seq = self._seqs.next(conv, conv_id or "")
        return msgspec.structs.replace(
            msg,
            sender=sender,
            rand=rand,
            seq=seq,
            client_time=client_time,
            status=int(MsgStatus.SENDING),
        )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batch_results(
    recipients: list[str], message: Message, reply: BatchSendMsgResponse
) -> list[BatchSendResult]:
    if reply.ErrorList is None:
        # Without an error list nothing says who got it: unknown is not "delivered".
        unknown = TIMError(60013, "reply lists no outcome per recipient")
        return [BatchSendResult(r, unknown.code, unknown.desc) for r in recipients]
    failed = {e.To_Account: e.ErrorCode for e in reply.ErrorList or ()}
    results = []
    for recipient in recipients:
        code = failed.get(recipient, 0)
        if code:
            results.append(BatchSendResult(recipient, code, TIMError(code).desc))
        else:
            sent = _delivered(message, recipient, reply)
            results.append(BatchSendResult(recipient, 0, "", sent))
    return results


def _delivered(message: Message, recipient: str, reply: BatchSendMsgResponse) -> Message:
    server_time = _time_from_key(reply.MsgKey) or message.client_time or 0
    return msgspec.structs.replace(
        message,
        conv_id=recipient,
        conv_type=int(ConvType.C2C),
        server_time=server_time,
        is_from_self=True,
        is_read=True,
        status=int(MsgStatus.SEND_SUCC),
        msg_id=reply.MsgKey or msg_key(message.seq or 0, message.rand or 0, server_time),
    )


def _time_from_key(key: str) -> int | None:
    tail = key.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None
