"""Before-send callbacks: the bodies the dev server posts before storing a message, and what the
app's answer decides (allow, possibly rewritten; refuse with a code; drop silently)."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ..errors import error_for
from ..protocol import callbacks as cb
from ..protocol.envelope import Envelope
from ..protocol.group import SendGroupMsg, SendGroupMsgResponse
from ..protocol.openim import SendMsg, SendMsgResponse

__all__ = ["ERR_C2C_REFUSED", "ERR_GROUP_REFUSED", "c2c_before", "group_before", "verdict"]

ERR_C2C_REFUSED: Final = 20006
ERR_GROUP_REFUSED: Final = 10016


def verdict(call: SendMsg | SendGroupMsg, answer: cb.CallbackAnswer | None, now: int) -> Any:
    if answer is None or answer.ErrorCode == cb.ALLOW:
        if answer is not None and answer.MsgBody:
            custom = answer.CloudCustomData if answer.CloudCustomData is not None else call.CloudCustomData
            return msgspec.structs.replace(call, MsgBody=answer.MsgBody, CloudCustomData=custom)
        return call  # allowed, or the callback failed: TIM lets the message through
    if answer.ErrorCode == cb.DISCARD:
        return _silent_success(call, now)
    group = isinstance(call, SendGroupMsg)
    code = (
        answer.ErrorCode
        if answer.ErrorCode in cb.CUSTOM_REJECT_CODES
        else (ERR_GROUP_REFUSED if group else ERR_C2C_REFUSED)
    )
    raise error_for(code, answer.ErrorInfo or "refused by the app's before-send callback")


def _silent_success(call: SendMsg | SendGroupMsg, now: int) -> Envelope:
    if isinstance(call, SendGroupMsg):
        return SendGroupMsgResponse(MsgTime=now, MsgSeq=0)
    return SendMsgResponse(MsgTime=now, MsgKey=f"{call.MsgSeq or 0}_{call.MsgRandom}_{now}")


def c2c_before(call: SendMsg, admin: str, now: int) -> cb.C2CBeforeSendMsg:
    seq = call.MsgSeq or 0
    return cb.C2CBeforeSendMsg(
        From_Account=call.From_Account or admin,
        To_Account=call.To_Account,
        MsgSeq=seq,
        MsgRandom=call.MsgRandom,
        MsgTime=now,
        MsgKey=f"{seq}_{call.MsgRandom}_{now}",
        MsgId=f"{seq}_{call.MsgRandom}_{now}",  # no client here: the key stands in for its id
        OnlineOnlyFlag=int(call.OnlineOnlyFlag == 1),
        MsgBody=call.MsgBody,
        CloudCustomData=call.CloudCustomData,
        EventTime=now * 1000,
    )


def group_before(call: SendGroupMsg, admin: str, group_type: str, now: int) -> cb.GroupBeforeSendMsg:
    return cb.GroupBeforeSendMsg(
        GroupId=call.GroupId,
        Type=group_type,
        EventTime=now * 1000,
        Operator_Account=admin,
        From_Account=call.From_Account or admin,
        Random=call.Random,
        OnlineOnlyFlag=int(call.OnlineOnlyFlag == 1),
        MsgBody=call.MsgBody,
        CloudCustomData=call.CloudCustomData,
    )
