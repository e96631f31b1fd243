"""Group administration endpoints of REST v4 (`group_open_http_svc/*`): owners, roles, member
profiles, muting, listing every group, deleting by sender, system notifications, imports."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from .envelope import Envelope, Request, UInt32

__all__ = [
    "ChangeGroupOwner",
    "DeleteGroupMsgBySender",
    "ForbidSendMsg",
    "GetAppidGroupList",
    "GetAppidGroupListResponse",
    "GetGroupShuttedUin",
    "GetGroupShuttedUinResponse",
    "GetRoleInGroup",
    "GetRoleInGroupResponse",
    "GroupIdItem",
    "ImportGroup",
    "ImportGroupMember",
    "ImportGroupMemberResponse",
    "ImportGroupResponse",
    "ImportedMember",
    "MemberImportResult",
    "ModifyGroupMemberInfo",
    "SendGroupSystemNotification",
    "ShuttedMember",
    "UserRole",
]

ROLE_QUERY_MAX = 500  # get_role_in_group: accounts a request
FORBID_MAX = 500  # forbid_send_msg: accounts a request
IMPORT_MEMBER_MAX = 300  # import_group_member: members a request (trtc.io 34969)
APPID_GROUP_LIST_MAX = 10000  # get_appid_group_list: groups a page
NOTIFICATION_MEMBERS_MAX = 500  # send_group_system_notification: recipients a request
SHUT_UP_FOREVER = 4294967295  # forbid_send_msg's ShutUpTime for "muted for good"


class ChangeGroupOwner(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/change_group_owner"

    GroupId: str
    NewOwner_Account: str


class UserRole(msgspec.Struct):
    Member_Account: str
    Role: str  # Owner, Admin, Member or NotMember


class GetRoleInGroupResponse(Envelope):
    UserIdList: list[UserRole] = msgspec.field(default_factory=list)


class GetRoleInGroup(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_role_in_group"
    Response: ClassVar[type[Envelope]] = GetRoleInGroupResponse

    GroupId: str
    User_Account: list[str]


class GroupIdItem(msgspec.Struct):
    GroupId: str


class GetAppidGroupListResponse(Envelope):
    TotalCount: int = 0
    GroupIdList: list[GroupIdItem] = msgspec.field(default_factory=list)
    Next: int = 0  # 0: the last page


class GetAppidGroupList(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_appid_group_list"
    Response: ClassVar[type[Envelope]] = GetAppidGroupListResponse

    Limit: int | None = None
    Next: int | None = None
    GroupType: str | None = None


class ModifyGroupMemberInfo(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/modify_group_member_info"

    GroupId: str
    Member_Account: str
    Role: str | None = None  # "Admin" or "Member"
    MsgFlag: str | None = None  # AcceptAndNotify, AcceptNotNotify, Discard
    NameCard: str | None = None
    ShutUpTime: UInt32 | None = None  # seconds from now; 0 lifts the mute


class ForbidSendMsg(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/forbid_send_msg"

    GroupId: str
    Members_Account: list[str]
    ShutUpTime: UInt32  # seconds; 0 lifts the mute, 4294967295 mutes for good


class ShuttedMember(msgspec.Struct):
    Member_Account: str
    ShuttedUntil: int  # unix seconds


class GetGroupShuttedUinResponse(Envelope):
    GroupId: str = ""
    ShuttedUinList: list[ShuttedMember] = msgspec.field(default_factory=list)


class GetGroupShuttedUin(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/get_group_shutted_uin"
    Response: ClassVar[type[Envelope]] = GetGroupShuttedUinResponse

    GroupId: str


class DeleteGroupMsgBySender(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/delete_group_msg_by_sender"

    GroupId: str
    Sender_Account: str


class SendGroupSystemNotification(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/send_group_system_notification"

    GroupId: str
    Content: str
    ToMembers_Account: list[str] | None = None  # absent or empty: every member


class ImportGroupResponse(Envelope):
    GroupId: str = ""


class ImportGroup(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/import_group"
    Response: ClassVar[type[Envelope]] = ImportGroupResponse

    Type: str
    Name: str
    GroupId: str | None = None
    Owner_Account: str | None = None
    Introduction: str | None = None
    Notification: str | None = None
    FaceUrl: str | None = None
    MaxMemberCount: int | None = None
    ApplyJoinOption: str | None = None
    CreateTime: int | None = None  # unix seconds; absent or 0: now


class ImportedMember(msgspec.Struct, omit_defaults=True):
    Member_Account: str
    Role: str | None = None  # "Admin" or "Member"
    JoinTime: int | None = None
    UnreadMsgNum: int | None = None


class MemberImportResult(msgspec.Struct):
    Member_Account: str
    Result: int  # 0 failed, 1 imported, 2 already a member


class ImportGroupMemberResponse(Envelope):
    MemberList: list[MemberImportResult] = msgspec.field(default_factory=list)


class ImportGroupMember(Request):
    endpoint: ClassVar[str] = "group_open_http_svc/import_group_member"
    Response: ClassVar[type[Envelope]] = ImportGroupMemberResponse

    GroupId: str
    MemberList: list[ImportedMember]
