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
    "DeleteGroupMember",
    "DestroyGroup",
    "GetGroupInfo",
    "GetGroupInfoResponse",
    "GetGroupMemberInfo",
    "GetGroupMemberInfoResponse",
    "GetJoinedGroupList",
    "GetJoinedGroupListResponse",
    "GroupAtInfo",
    "GroupInfo",
    "GroupMember",
    "GroupMsgGetSimple",
    "GroupMsgGetSimpleResponse",
    "GroupMsgRecall",
    "GroupMsgRecallResponse",
    "GroupRoamMsg",
    "ImportGroupMsg",
    "ImportGroupMsgResponse",
    "JoinedGroup",
    "MemberAccount",
    "ModifyGroupBaseInfo",
    "SelfInfo",
    "SendGroupMsg",
    "SendGroupMsgResponse",
]

GROUP_HISTORY_MAX = 20
GROUP_RECALL_MAX = 10
GROUP_IMPORT_MAX = 7
GROUP_INFO_MAX = 50  # get_group_info: 50 groups a request
DELETE_MEMBER_MAX = 100


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
    Introduction: str | None = None
    Notification: str | None = None
    FaceUrl: str | None = None
    MaxMemberCount: int | None = None  # create_group's name; the profile reports it as MaxMemberNum
    ApplyJoinOption: str | None = None


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
    ForbidCallbackControl: list[str] | None = None  # ForbidBeforeSendMsgCallback, ForbidAfterSendMsgCallback
    NeedReadReceipt: int | None = None
    SupportMessageExtension: int | None = None


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


# --- group management: info, members, profile, dismissal --------------------------------------------


class GroupMember(msgspec.Struct, omit_defaults=True):
    """A member as get_group_member_info (and get_group_info's MemberList) report it."""

    Member_Account: str
    Role: str | None = None  # "Owner", "Admin" or "Member"
    JoinTime: int | None = None
    MsgSeq: int | None = None
    MsgFlag: str | None = None
    LastSendMsgTime: int | None = None
    ShutUpUntil: int | None = None
    NameCard: str | None = None


class GroupProfile(msgspec.Struct, omit_defaults=True):
    """A group's base profile fields, as get_group_info and get_joined_group_list list them."""

    GroupId: str
    Type: str | None = None
    Name: str | None = None
    Introduction: str | None = None
    Notification: str | None = None
    FaceUrl: str | None = None
    Owner_Account: str | None = None
    CreateTime: int | None = None
    InfoSeq: int | None = None
    LastInfoTime: int | None = None
    LastMsgTime: int | None = None
    NextMsgSeq: int | None = None
    MemberNum: int | None = None
    MaxMemberNum: int | None = None
    ApplyJoinOption: str | None = None
    MuteAllMember: str | None = None


class GroupInfo(GroupProfile, omit_defaults=True):
    """One group of get_group_info: its profile, or ErrorCode 10010 when there is no such group."""

    ErrorCode: int = 0
    ErrorInfo: str = ""
    MemberList: list[GroupMember] | None = None


class GetGroupInfoFilter(msgspec.Struct, omit_defaults=True):
    GroupBaseInfoFilter: list[str] | None = None
    MemberInfoFilter: list[str] | None = None
    AppDefinedDataFilter_Group: list[str] | None = None
    AppDefinedDataFilter_GroupMember: list[str] | None = None


class GetGroupInfoResponse(Envelope):
    GroupInfo: list[GroupInfo] = msgspec.field(default_factory=list)


class GetGroupInfo(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_group_info"
    Response: ClassVar[type[Envelope]] = GetGroupInfoResponse

    GroupIdList: list[str]
    ResponseFilter: GetGroupInfoFilter | None = None


class GetGroupMemberInfoResponse(Envelope):
    MemberNum: int = 0
    MemberList: list[GroupMember] = msgspec.field(default_factory=list)


class GetGroupMemberInfo(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_group_member_info"
    Response: ClassVar[type[Envelope]] = GetGroupMemberInfoResponse

    GroupId: str
    Limit: int | None = None
    Offset: int | None = None
    MemberInfoFilter: list[str] | None = None
    MemberRoleFilter: list[str] | None = None


class ModifyGroupBaseInfo(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/modify_group_base_info"

    GroupId: str
    Name: str | None = None
    Introduction: str | None = None
    Notification: str | None = None
    FaceUrl: str | None = None
    MaxMemberNum: int | None = None
    ApplyJoinOption: str | None = None
    MuteAllMember: str | None = None  # "On" or "Off"; older docs and clients say ShutUpAllMember


class DeleteGroupMember(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/delete_group_member"

    GroupId: str
    MemberToDel_Account: list[str]
    Silence: int | None = None
    Reason: str | None = None


class DestroyGroup(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/destroy_group"

    GroupId: str


class SelfInfo(msgspec.Struct, omit_defaults=True):
    """The listed account's own membership, as get_joined_group_list's SelfInfoFilter asks."""

    Role: str | None = None
    JoinTime: int | None = None
    MsgFlag: str | None = None
    UnreadMsgNum: int | None = None


class JoinedGroup(GroupProfile, omit_defaults=True):
    """A group of get_joined_group_list: its GroupId, plus the fields ResponseFilter asked for."""

    SelfInfo: SelfInfo | None = None


class JoinedGroupFilter(msgspec.Struct, omit_defaults=True):
    GroupBaseInfoFilter: list[str] | None = None
    SelfInfoFilter: list[str] | None = None


class GetJoinedGroupListResponse(Envelope):
    TotalCount: int = 0
    GroupIdList: list[JoinedGroup] = msgspec.field(default_factory=list)


class GetJoinedGroupList(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_joined_group_list"
    Response: ClassVar[type[Envelope]] = GetJoinedGroupListResponse

    Member_Account: str
    Limit: int | None = None
    Offset: int | None = None
    GroupType: str | None = None
    WithHugeGroups: int | None = None
    WithNoActiveGroups: int | None = None
    ResponseFilter: JoinedGroupFilter | None = None
