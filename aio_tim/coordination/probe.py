"""Was a queued C2C message delivered already? Asked before resending one a dead worker left.

A worker that dies between TIM's answer and its acknowledgement leaves an entry that another
worker resends `visibility_timeout` later, past TIM's one-second C2C dedup window: it would arrive
twice. So a claimed C2C entry is first looked up in the sender's roaming history
(`openim/admin_getroammsg`, by MsgRandom and MsgSeq); found, it counts as sent. Group sends need no
look-up: TIM drops a repeated group Random for five minutes.

    sent = await find_sent(pipeline.submit, (ConvType.C2C, "bob"), queued, time.time())
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from ..protocol import Envelope, Request
from ..protocol.openim import AdminGetRoamMsg, AdminGetRoamMsgResponse, SendMsgResponse
from ..protocol.outgoing import sent_message
from ..store import Conv
from ..types import ConvType, Message

__all__ = ["Submit", "find_sent"]

Submit = Callable[[Request], Awaitable[Envelope]]

SKEW: Final = 60  # seconds the enqueuer's clock may differ from TIM's
MAX_PAGES: Final = 10
PAGE: Final = 100


async def find_sent(submit: Submit, conv: Conv, message: Message, now: float) -> Message | None:
    """The message as TIM stored it, if a send of it (same sender, MsgRandom, MsgSeq) got through."""
    sender = message.sender
    if conv[0] != ConvType.C2C or not sender or message.rand is None:
        return None
    window = (max(0, (message.client_time or int(now)) - SKEW), int(now) + SKEW)
    last_key: str | None = None
    for _ in range(MAX_PAGES):
        request = AdminGetRoamMsg(
            Operator_Account=sender, Peer_Account=conv[1], MaxCnt=PAGE, MinTime=window[0],
            MaxTime=window[1], LastMsgKey=last_key,
        )  # fmt: skip
        reply = await submit(request)
        assert isinstance(reply, AdminGetRoamMsgResponse)
        for record in reply.MsgList:
            if (record.From_Account, record.MsgRandom, record.MsgSeq) == (sender, message.rand, message.seq):
                answer = SendMsgResponse(MsgTime=record.MsgTimeStamp, MsgKey=record.MsgKey)
                return sent_message(message, conv[1], ConvType.C2C, answer)
        if reply.Complete or not reply.MsgList:
            return None
        window, last_key = (window[0], reply.LastMsgTime), reply.LastMsgKey
    return None
