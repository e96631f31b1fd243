"""TIM's webhooks ("third-party callbacks"): request bodies, answers and the signature (pure).

TIM POSTs to the app's callback URL with `SdkAppid`, `CallbackCommand`, `contenttype`, `ClientIP`
and `OptPlatform` in the query; when a webhook token is configured it adds `RequestTime` (unix
seconds) and `Sign` = hex SHA-256 of `token + RequestTime`, and the app refuses a request whose
RequestTime is more than a minute away from its clock (replay protection). The body is JSON, one
shape per command, tagged by its own `CallbackCommand`; the app answers `{"ActionStatus",
"ErrorCode", "ErrorInfo"}` (a before-callback may add a rewritten `MsgBody` / `CloudCustomData`).

The Structs decode leniently (unknown keys ignored, optional fields optional): TIM adds fields
over time and a receiver must not refuse them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Final, Literal

import msgspec

from .msgbody import MsgBodyItem

__all__ = [
    "AFTER_CREATE_GROUP",
    "AFTER_GROUP_DESTROYED",
    "AFTER_MEMBER_EXIT",
    "AFTER_MEMBER_FIELD_CHANGED",
    "AFTER_NEW_MEMBER_JOIN",
    "ALLOW",
    "BEFORE_COMMANDS",
    "BEFORE_TIMEOUT",
    "C2C_AFTER_MODIFY_MSG",
    "C2C_AFTER_MSG_READ_RECEIPT",
    "C2C_AFTER_MSG_REPORT",
    "C2C_AFTER_MSG_WITHDRAW",
    "C2C_AFTER_SEND_MSG",
    "C2C_BEFORE_SEND_MSG",
    "CUSTOM_REJECT_CODES",
    "DISCARD",
    "GROUP_AFTER_RECALL_MSG",
    "GROUP_AFTER_SEND_MSG",
    "GROUP_BEFORE_SEND_MSG",
    "GROUP_SEND_MSG_EXCEPTION",
    "KNOWN_COMMANDS",
    "MAX_CLOCK_SKEW",
    "REJECT",
    "C2CAfterModifyMsg",
    "C2CAfterMsgReadReceipt",
    "C2CAfterMsgReport",
    "C2CAfterMsgWithDraw",
    "C2CAfterSendMsg",
    "C2CBeforeSendMsg",
    "C2CMsgInfoItem",
    "Callback",
    "CallbackAnswer",
    "GroupAfterCreateGroup",
    "GroupAfterGroupDestroyed",
    "GroupAfterMemberExit",
    "GroupAfterMemberFieldChanged",
    "GroupAfterNewMemberJoin",
    "GroupAfterRecallMsg",
    "GroupAfterSendMsg",
    "GroupBeforeSendMsg",
    "GroupSendMsgException",
    "Member",
    "SeqItem",
    "UserDefinedData",
    "sign",
    "sign_matches",
]

C2C_BEFORE_SEND_MSG: Final = "C2C.CallbackBeforeSendMsg"
C2C_AFTER_SEND_MSG: Final = "C2C.CallbackAfterSendMsg"
C2C_AFTER_MSG_WITHDRAW: Final = "C2C.CallbackAfterMsgWithDraw"
C2C_AFTER_MSG_REPORT: Final = "C2C.CallbackAfterMsgReport"
# After a C2C message is modified, by a client or by openim/modify_c2c_msg (cloud.tencent.com 269/128224).
C2C_AFTER_MODIFY_MSG: Final = "C2C.CallbackAfterModifyMsg"
C2C_AFTER_MSG_READ_RECEIPT: Final = "C2C.CallbackAfterMsgReadReceipt"  # 269/128223
GROUP_BEFORE_SEND_MSG: Final = "Group.CallbackBeforeSendMsg"
GROUP_AFTER_SEND_MSG: Final = "Group.CallbackAfterSendMsg"
GROUP_AFTER_RECALL_MSG: Final = "Group.CallbackAfterRecallMsg"
GROUP_SEND_MSG_EXCEPTION: Final = "Group.CallbackSendMsgException"
AFTER_NEW_MEMBER_JOIN: Final = "Group.CallbackAfterNewMemberJoin"
AFTER_MEMBER_EXIT: Final = "Group.CallbackAfterMemberExit"
AFTER_CREATE_GROUP: Final = "Group.CallbackAfterCreateGroup"
AFTER_GROUP_DESTROYED: Final = "Group.CallbackAfterGroupDestroyed"
# After a member's Role or NameCard changes, by a client or modify_group_member_info (trtc.io 60393).
AFTER_MEMBER_FIELD_CHANGED: Final = "Group.CallbackAfterMemberFieldChanged"
BEFORE_COMMANDS: Final = frozenset({C2C_BEFORE_SEND_MSG, GROUP_BEFORE_SEND_MSG})

MAX_CLOCK_SKEW: Final = 60  # seconds: TIM's docs have the app refuse a RequestTime further away
BEFORE_TIMEOUT: Final = 2.0  # seconds: TIM waits this long for a before-callback (not adjustable)

# A before-callback's ErrorCode: 0 lets the message through (rewritten when the answer carries a
# MsgBody), 1 refuses it (the sender gets 20006 C2C / 10016 group), 2 drops it silently (the sender
# sees success); a code in 120001..130000 refuses it and reaches the sender as that code.
ALLOW: Final = 0
REJECT: Final = 1
DISCARD: Final = 2
CUSTOM_REJECT_CODES: Final = range(120001, 130001)

_Time = int | str | None  # EventTime is milliseconds; some commands send it as a string


class Member(msgspec.Struct):
    Member_Account: str


class SeqItem(msgspec.Struct):
    MsgSeq: int


class UserDefinedData(msgspec.Struct):
    Key: str
    Value: str


class _Body(msgspec.Struct, tag_field="CallbackCommand", omit_defaults=True):
    EventTime: _Time = None


class C2CBeforeSendMsg(_Body, tag=C2C_BEFORE_SEND_MSG):
    From_Account: str = ""
    To_Account: str = ""
    MsgSeq: int = 0
    MsgRandom: int = 0
    MsgTime: int = 0
    MsgKey: str = ""
    MsgId: str | None = None
    OnlineOnlyFlag: int = 0
    MsgBody: list[MsgBodyItem] = msgspec.field(default_factory=list)
    CloudCustomData: str | None = None


class C2CAfterSendMsg(C2CBeforeSendMsg, tag=C2C_AFTER_SEND_MSG):
    SendMsgResult: int = 0
    ErrorInfo: str | None = None
    UnreadMsgNum: int | None = None


class C2CAfterMsgWithDraw(_Body, tag=C2C_AFTER_MSG_WITHDRAW):
    From_Account: str = ""
    To_Account: str = ""
    MsgKey: str = ""
    UnreadMsgNum: int | None = None


class C2CAfterMsgReport(_Body, tag=C2C_AFTER_MSG_REPORT):
    Report_Account: str = ""
    Peer_Account: str = ""
    LastReadTime: int = 0
    UnreadMsgNum: int | None = None


class C2CAfterModifyMsg(_Body, tag=C2C_AFTER_MODIFY_MSG):
    Operator_Account: str = ""
    From_Account: str = ""
    To_Account: str = ""
    MsgSeq: int = 0
    MsgRandom: int = 0
    MsgTime: int = 0
    MsgKey: str = ""
    MsgBody: list[MsgBodyItem] = msgspec.field(default_factory=list)
    CloudCustomData: str | None = None


class C2CMsgInfoItem(msgspec.Struct, omit_defaults=True):
    From_Account: str = ""
    To_Account: str = ""
    MsgKey: str = ""
    MsgId: str | None = None


class C2CAfterMsgReadReceipt(_Body, tag=C2C_AFTER_MSG_READ_RECEIPT):
    """A recipient acknowledged C2C messages (cloud.tencent.com/document/product/269/128223)."""

    Operator_Account: str = ""  # who sent the receipt: the messages' recipient
    Peer_Account: str = ""
    C2CMsgInfo: list[C2CMsgInfoItem] = msgspec.field(default_factory=list)


class _GroupBody(_Body):
    GroupId: str = ""
    Type: str | None = None
    Operator_Account: str | None = None
    TopicId: str | None = None


class GroupBeforeSendMsg(_GroupBody, tag=GROUP_BEFORE_SEND_MSG):
    From_Account: str = ""
    Random: int = 0
    OnlineOnlyFlag: int = 0
    MsgBody: list[MsgBodyItem] = msgspec.field(default_factory=list)
    CloudCustomData: str | None = None


class GroupAfterSendMsg(GroupBeforeSendMsg, tag=GROUP_AFTER_SEND_MSG):
    MsgSeq: int = 0
    MsgTime: int = 0
    MsgId: str | None = None


class GroupSendMsgException(GroupAfterSendMsg, tag=GROUP_SEND_MSG_EXCEPTION):
    ErrorCode: int = 0
    ErrorInfo: str | None = None


class GroupAfterRecallMsg(_GroupBody, tag=GROUP_AFTER_RECALL_MSG):
    MsgSeqList: list[SeqItem] = msgspec.field(default_factory=list)


class GroupAfterNewMemberJoin(_GroupBody, tag=AFTER_NEW_MEMBER_JOIN):
    JoinType: str | None = None
    NewMemberList: list[Member] = msgspec.field(default_factory=list)


class GroupAfterMemberExit(_GroupBody, tag=AFTER_MEMBER_EXIT):
    ExitType: str | None = None
    ExitMemberList: list[Member] = msgspec.field(default_factory=list)


class GroupAfterCreateGroup(_GroupBody, tag=AFTER_CREATE_GROUP):
    Name: str | None = None
    Owner_Account: str | None = None
    MemberList: list[Member] = msgspec.field(default_factory=list)
    UserDefinedDataList: list[UserDefinedData] = msgspec.field(default_factory=list)


class GroupAfterGroupDestroyed(_GroupBody, tag=AFTER_GROUP_DESTROYED):
    Name: str | None = None
    Owner_Account: str | None = None
    MemberList: list[Member] = msgspec.field(default_factory=list)


class GroupAfterMemberFieldChanged(_GroupBody, tag=AFTER_MEMBER_FIELD_CHANGED):
    Member_Account: str = ""
    Role: str | None = None  # the member's role after the change
    NameCard: str | None = None  # the member's name card after the change


Callback = (
    C2CBeforeSendMsg
    | C2CAfterSendMsg
    | C2CAfterMsgWithDraw
    | C2CAfterMsgReport
    | C2CAfterModifyMsg
    | C2CAfterMsgReadReceipt
    | GroupBeforeSendMsg
    | GroupAfterSendMsg
    | GroupSendMsgException
    | GroupAfterRecallMsg
    | GroupAfterNewMemberJoin
    | GroupAfterMemberExit
    | GroupAfterCreateGroup
    | GroupAfterGroupDestroyed
    | GroupAfterMemberFieldChanged
)
"""The tagged union of every command aio_tim types; other commands stay raw."""

KNOWN_COMMANDS: Final = frozenset(
    {
        C2C_BEFORE_SEND_MSG,
        C2C_AFTER_SEND_MSG,
        C2C_AFTER_MSG_WITHDRAW,
        C2C_AFTER_MSG_REPORT,
        C2C_AFTER_MODIFY_MSG,
        C2C_AFTER_MSG_READ_RECEIPT,
        GROUP_BEFORE_SEND_MSG,
        GROUP_AFTER_SEND_MSG,
        GROUP_AFTER_RECALL_MSG,
        GROUP_SEND_MSG_EXCEPTION,
        AFTER_NEW_MEMBER_JOIN,
        AFTER_MEMBER_EXIT,
        AFTER_CREATE_GROUP,
        AFTER_GROUP_DESTROYED,
        AFTER_MEMBER_FIELD_CHANGED,
    }
)
"""The commands of `Callback`, the ones decoded into typed bodies."""


class CallbackAnswer(msgspec.Struct, omit_defaults=True):
    """The app's answer. TIM reads ErrorCode (and, for before-callbacks, MsgBody)."""

    ActionStatus: Literal["OK", "FAIL"]
    ErrorCode: Annotated[int, msgspec.Meta(ge=0)]
    ErrorInfo: str
    MsgBody: list[MsgBodyItem] | None = None
    CloudCustomData: str | None = None


def sign(token: str, request_time: int | str) -> str:
    """The `Sign` query value: hex SHA-256 of the token followed by RequestTime's decimal digits.

    >>> sign("xxxxyyyy", 1669872112)[:16]
    '17773bc39a671d7b'
    """
    return hashlib.sha256(f"{token}{request_time}".encode()).hexdigest()


def sign_matches(token: str, request_time: str, given: str) -> bool:
    """Whether `given` is the Sign for (token, request_time), compared in constant time."""
    return hmac.compare_digest(sign(token, request_time).encode(), given.lower().encode("utf-8", "replace"))
