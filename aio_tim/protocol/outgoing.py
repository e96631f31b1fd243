"""C SDK `Message` -> REST send requests, and REST replies -> the sent `Message` (pure).

The caller fixes the idempotency keys (`rand`, `seq`, `client_time`) on the message before it
gets here, so a retried request is byte-for-byte the first one.
"""

from __future__ import annotations

import msgspec

from ..types import ConvType, Message, MsgPriority, MsgStatus
from .group import GroupAtInfo, SendGroupMsg, SendGroupMsgResponse
from .msgbody import MsgBodyItem, to_msg_body
from .openim import BatchSendMsg, SendMsg, SendMsgResponse

__all__ = [
    "AT_ALL",
    "batch_send_request",
    "c2c_send_request",
    "group_send_request",
    "msg_key",
    "sent_message",
]

# The C SDK's @all marker, in both spellings it has used.
AT_ALL = frozenset({"__kImSDK_MesssageAtALL__", "__kImSDK_MessageAtALL__"})

_PRIORITY_NAMES = {
    MsgPriority.HIGH: "High",
    MsgPriority.NORMAL: "Normal",
    MsgPriority.LOW: "Low",
    MsgPriority.LOWEST: "Low",
}


def msg_key(seq: int, rand: int, time: int) -> str:
    """TIM's C2C MsgKey as its examples show it: `{MsgSeq}_{MsgRandom}_{MsgTimeStamp}`."""
    return f"{seq}_{rand}_{time}"


def _online_only(msg: Message) -> int | None:
    return 1 if msg.is_online_msg else None


def c2c_send_request(to: str, sender: str, msg: Message, body: list[MsgBodyItem] | None = None) -> SendMsg:
    return SendMsg(
        To_Account=to,
        From_Account=sender,
        MsgRandom=msg.rand or 0,
        MsgSeq=msg.seq,
        MsgTimeStamp=msg.client_time,
        MsgBody=to_msg_body(msg.elem_array) if body is None else body,
        CloudCustomData=msg.cloud_custom_str,
        OnlineOnlyFlag=_online_only(msg),
        IsNeedReadReceipt=_flag(msg.need_read_receipt),
        SupportMessageExtension=_flag(msg.support_message_extension),
    )


def _flag(value: bool | None) -> int | None:
    """A C SDK bool as TIM's optional 0/1 field: absent unless set."""
    return 1 if value else None


def batch_send_request(
    to: list[str], sender: str, msg: Message, body: list[MsgBodyItem] | None = None
) -> BatchSendMsg:
    return BatchSendMsg(
        To_Account=to,
        From_Account=sender,
        MsgRandom=msg.rand or 0,
        MsgSeq=msg.seq,
        MsgBody=to_msg_body(msg.elem_array) if body is None else body,
        CloudCustomData=msg.cloud_custom_str,
    )


def group_send_request(
    group_id: str, sender: str, msg: Message, body: list[MsgBodyItem] | None = None
) -> SendGroupMsg:
    return SendGroupMsg(
        GroupId=group_id,
        From_Account=sender,
        Random=msg.rand or 0,
        MsgBody=to_msg_body(msg.elem_array) if body is None else body,
        MsgPriority=_priority_name(msg.priority),
        CloudCustomData=msg.cloud_custom_str,
        OnlineOnlyFlag=_online_only(msg),
        GroupAtInfo=_group_at_info(msg.group_at_user_array),
        NeedReadReceipt=_flag(msg.need_read_receipt),
        SupportMessageExtension=_flag(msg.support_message_extension),
    )


def _priority_name(priority: int | None) -> str | None:
    return None if priority is None else _PRIORITY_NAMES.get(priority, "Normal")  # type: ignore[call-overload]


def _group_at_info(users: list[str] | None) -> list[GroupAtInfo] | None:
    if not users:
        return None
    return [GroupAtInfo(GroupAtAllFlag=1) if user in AT_ALL else GroupAtInfo(0, user) for user in users]


def sent_message(
    msg: Message,
    conv_id: str,
    conv_type: ConvType,
    reply: SendMsgResponse | SendGroupMsgResponse,
) -> Message:
    """The message as the C SDK returns it after a successful send.

    The server accepted it, so it is recorded whatever the reply's numbers: a MsgTime or MsgSeq
    that cannot be a time or a sequence number (negative, past 32 bits) is replaced by the
    client time, or 0 (the server's own sequence is then unknown)."""
    seq = _u32(reply.MsgSeq, 0) if isinstance(reply, SendGroupMsgResponse) else msg.seq or 0
    key = reply.MsgKey if isinstance(reply, SendMsgResponse) and reply.MsgKey else None
    server_time = _u32(reply.MsgTime, msg.client_time or 0)
    return msgspec.structs.replace(
        msg,
        conv_id=conv_id,
        conv_type=int(conv_type),
        server_time=server_time,
        seq=seq,
        is_from_self=True,
        is_read=True,
        status=int(MsgStatus.SEND_SUCC),
        msg_id=key or msg_key(seq, msg.rand or 0, server_time),
    )


def _u32(value: int, fallback: int) -> int:
    return value if 0 < value <= 0xFFFFFFFF else fallback
