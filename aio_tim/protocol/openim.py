"""C2C endpoints of REST v4 (`openim/*`): one request Struct per endpoint, with its reply type."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32
from .msgbody import MsgBodyItem

__all__ = [
    "AdminGetRoamMsg",
    "AdminGetRoamMsgResponse",
    "AdminMsgWithdraw",
    "AdminSetMsgRead",
    "BatchSendMsg",
    "BatchSendMsgResponse",
    "DeleteC2CMsgRamble",
    "DeleteC2CMsgRambleResponse",
    "GetC2CUnreadMsgNum",
    "GetC2CUnreadMsgNumResponse",
    "ImportMsg",
    "RecipientError",
    "RoamMsg",
    "SendMsg",
    "SendMsgResponse",
    "UnreadCount",
]

BATCH_MAX_RECIPIENTS = 500
MSG_FLAG_RECALLED = 8


class SendMsgResponse(Envelope):
    MsgTime: int = 0
    MsgKey: str = ""
    MsgId: str | None = None


class SendMsg(Request):
    endpoint: ClassVar[str] = "openim/sendmsg"
    Response: ClassVar[type[Envelope]] = SendMsgResponse

    To_Account: str
    MsgRandom: UInt32
    MsgBody: list[MsgBodyItem]
    From_Account: str | None = None
    SyncOtherMachine: int | None = None
    MsgLifeTime: int | None = None
    MsgSeq: UInt32 | None = None
    MsgTimeStamp: int | None = None
    CloudCustomData: str | None = None
    SendMsgControl: list[str] | None = None
    OnlineOnlyFlag: int | None = None
    IsNeedReadReceipt: int | None = None
    SupportMessageExtension: int | None = None
    ForbidCallbackControl: list[str] | None = None  # ForbidBeforeSendMsgCallback, ForbidAfterSendMsgCallback


class RecipientError(msgspec.Struct):
    To_Account: str
    ErrorCode: int


class BatchSendMsgResponse(Envelope):
    MsgKey: str = ""
    MsgTime: int | None = None  # in the official spec; older servers leave it out
    MsgId: str | None = None
    ErrorList: list[RecipientError] | None = None


class BatchSendMsg(Request):
    endpoint: ClassVar[str] = "openim/batchsendmsg"
    Response: ClassVar[type[Envelope]] = BatchSendMsgResponse

    To_Account: list[str]
    MsgRandom: UInt32
    MsgBody: list[MsgBodyItem]
    From_Account: str | None = None
    SyncOtherMachine: int | None = None
    MsgLifeTime: int | None = None
    MsgSeq: UInt32 | None = None
    CloudCustomData: str | None = None
    SendMsgControl: list[str] | None = None
    ForbidCallbackControl: list[str] | None = None


class ImportMsg(Request):
    endpoint: ClassVar[str] = "openim/importmsg"

    SyncFromOldSystem: int
    From_Account: str
    To_Account: str
    MsgRandom: UInt32
    MsgTimeStamp: int
    MsgBody: list[MsgBodyItem]
    MsgSeq: UInt32 | None = None
    CloudCustomData: str | None = None


class RoamMsg(msgspec.Struct, omit_defaults=True):
    From_Account: str
    To_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgKey: str
    MsgBody: list[MsgBodyItem]
    MsgFlagBits: int = 0
    IsPeerRead: int = 0
    MsgClientTime: int | None = None
    CloudCustomData: str | None = None


class AdminGetRoamMsgResponse(Envelope):
    Complete: int = 0  # a reply without it is not proof that paging is done
    MsgCnt: int = 0
    LastMsgTime: int = 0
    LastMsgKey: str = ""
    MsgList: list[RoamMsg] = msgspec.field(default_factory=list)


class AdminGetRoamMsg(Request):
    endpoint: ClassVar[str] = "openim/admin_getroammsg"
    Response: ClassVar[type[Envelope]] = AdminGetRoamMsgResponse

    Operator_Account: str
    Peer_Account: str
    MaxCnt: int
    MinTime: int
    MaxTime: int
    LastMsgKey: str | None = None


class AdminMsgWithdraw(Request):
    endpoint: ClassVar[str] = "openim/admin_msgwithdraw"

    From_Account: str
    To_Account: str
    MsgKey: str


class AdminSetMsgRead(Request):
    endpoint: ClassVar[str] = "openim/admin_set_msg_read"

    Report_Account: str
    Peer_Account: str
    # TIM documents a string of unix seconds; clients also send a JSON integer, which it takes.
    MsgReadTime: str | int | None = None


class UnreadCount(msgspec.Struct):
    Peer_Account: str
    C2CUnreadMsgNum: int


class PeerError(msgspec.Struct):
    Peer_Account: str
    ErrorCode: int


class GetC2CUnreadMsgNumResponse(Envelope):
    AllC2CUnreadMsgNum: int | None = None
    C2CUnreadMsgNumList: list[UnreadCount] | None = None
    ErrorList: list[PeerError] | None = None


class GetC2CUnreadMsgNum(Request):
    endpoint: ClassVar[str] = "openim/get_c2c_unread_msg_num"
    Response: ClassVar[type[Envelope]] = GetC2CUnreadMsgNumResponse

    To_Account: str
    Peer_Account: list[str] | None = None


class DeleteC2CMsgRambleResponse(Envelope):
    InvalidMsgKeyList: list[str] | None = None


class DeleteC2CMsgRamble(Request):
    endpoint: ClassVar[str] = "openim/delete_c2c_msg_ramble"
    Response: ClassVar[type[Envelope]] = DeleteC2CMsgRambleResponse

    Operator_Account: str
    Peer_Account: str
    MsgKeyList: list[str]
