"""Group endpoints of REST v4 (`group_open_http_svc/*`) used by the message API."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32
from .msgbody import MsgBodyItem

__all__ = [
    "AddGroupMember",
    "AddGroupMemberResponse",
    "CreateGroup",
    "CreateGroupResponse",
    "GroupAtInfo",
    "GroupMsgGetSimple",
    "GroupMsgGetSimpleResponse",
    "GroupMsgRecall",
    "GroupMsgRecallResponse",
    "GroupRoamMsg",
    "ImportGroupMsg",
    "ImportGroupMsgResponse",
    "MemberAccount",
    "SendGroupMsg",
    "SendGroupMsgResponse",
]

GROUP_HISTORY_MAX = 20
GROUP_RECALL_MAX = 10
GROUP_IMPORT_MAX = 7


class MemberAccount(msgspec.Struct, omit_defaults=True):
    Member_Account: str
    Role: str | None = None


class CreateGroupResponse(Envelope):
    GroupId: str = ""


class CreateGroup(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/create_group"
    Response: ClassVar[type[Envelope]] = CreateGroupResponse

    Type: str
    Name: str
    GroupId: str | None = None
    Owner_Account: str | None = None
    MemberList: list[MemberAccount] | None = None


class MemberResult(msgspec.Struct):
    Member_Account: str
    Result: int  # 0 failed, 1 added, 2 already a member


class AddGroupMemberResponse(Envelope):
    MemberList: list[MemberResult] = msgspec.field(default_factory=list)


class AddGroupMember(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/add_group_member"
    Response: ClassVar[type[Envelope]] = AddGroupMemberResponse

    GroupId: str
    MemberList: list[MemberAccount]
    Silence: int | None = None


class GroupAtInfo(msgspec.Struct, omit_defaults=True):
    GroupAtAllFlag: int
    GroupAt_Account: str | None = None


class SendGroupMsgResponse(Envelope):
    MsgTime: int = 0
    MsgSeq: int = 0
    MsgDropReason: str | None = None


class SendGroupMsg(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/send_group_msg"
    Response: ClassVar[type[Envelope]] = SendGroupMsgResponse

    GroupId: str
    Random: UInt32
    MsgBody: list[MsgBodyItem]
    From_Account: str | None = None
    MsgPriority: str | None = None
    CloudCustomData: str | None = None
    OnlineOnlyFlag: int | None = None
    SendMsgControl: list[str] | None = None
    GroupAtInfo: list[GroupAtInfo] | None = None


class GroupRoamMsg(msgspec.Struct, omit_defaults=True):
    From_Account: str
    MsgSeq: int
    MsgRandom: int
    MsgTimeStamp: int
    MsgBody: list[MsgBodyItem]
    IsPlaceMsg: int = 0  # 1 deleted or expired, 2 recalled
    IsSystemMsg: int = 0
    MsgPriority: int | None = None
    MsgKey: str | None = None
    CloudCustomData: str | None = None


class GroupMsgGetSimpleResponse(Envelope):
    GroupId: str = ""
    IsFinished: int = 0
    RspMsgList: list[GroupRoamMsg] = msgspec.field(default_factory=list)


class GroupMsgGetSimple(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/group_msg_get_simple"
    Response: ClassVar[type[Envelope]] = GroupMsgGetSimpleResponse

    GroupId: str
    ReqMsgNumber: int
    ReqMsgSeq: int | None = None
    WithRecalledMsg: int | None = None


class MsgSeqItem(msgspec.Struct):
    MsgSeq: int


class RecallResult(msgspec.Struct, omit_defaults=True):
    MsgSeq: int
    RetCode: int
    MsgKey: str | None = None


class GroupMsgRecallResponse(Envelope):
    RecallRetList: list[RecallResult] = msgspec.field(default_factory=list)


class GroupMsgRecall(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/group_msg_recall"
    Response: ClassVar[type[Envelope]] = GroupMsgRecallResponse

    GroupId: str
    MsgSeqList: list[MsgSeqItem]
    Reason: str | None = None


class ImportGroupMsgItem(msgspec.Struct, omit_defaults=True):
    From_Account: str
    SendTime: int
    MsgBody: list[MsgBodyItem]
    Random: UInt32 | None = None


class ImportResult(msgspec.Struct):
    MsgSeq: int
    MsgTime: int
    Result: int


class ImportGroupMsgResponse(Envelope):
    ImportMsgResult: list[ImportResult] = msgspec.field(default_factory=list)


class ImportGroupMsg(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/import_group_msg"
    Response: ClassVar[type[Envelope]] = ImportGroupMsgResponse

    GroupId: str
    MsgList: list[ImportGroupMsgItem]
    RecentContactFlag: int | None = None
