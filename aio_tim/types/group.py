"""The C SDK's group objects (TIMCloudDef.h) for `tim.group`: create, invite, delete members,
modify a member's profile, list members.

JSON keys are the C SDK's, so parameters written for `TIMGroupCreate` & co. work as they are:

    >>> from aio_tim.types import encode
    >>> encode(CreateGroupParam(group_name="team", group_id="g1"))
    b'{"create_group_param_group_name":"team","create_group_param_group_id":"g1"}'
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from ._base import TIMStruct, UInt, prefixed

__all__ = [
    "CreateGroupParam",
    "CreateGroupResult",
    "GroupAddOption",
    "GroupDeleteMemberParam",
    "GroupDeleteMemberResult",
    "GroupGetMemberInfoListParam",
    "GroupGetMemberInfoListResult",
    "GroupInviteMemberParam",
    "GroupInviteMemberResult",
    "GroupMemberGetInfoOption",
    "GroupMemberInfo",
    "GroupMemberModifyInfoFlag",
    "GroupMemberRole",
    "GroupMemberRoleFlag",
    "GroupModifyMemberInfoParam",
    "GroupReceiveMessageOpt",
    "GroupType",
    "HandleGroupMemberResult",
]


class GroupType(IntEnum):
    """`TIMGroupType`; the REST API names them (`Public`, `Private` ...) instead."""

    PUBLIC = 0
    PRIVATE = 1
    CHATROOM = 2
    BCHATROOM = 3
    AVCHATROOM = 4


class GroupAddOption(IntEnum):
    """`TIMGroupAddOption`: who may join."""

    FORBID = 0
    AUTH = 1
    ANY = 2


class GroupMemberRole(IntEnum):
    """`TIMGroupMemberRole`."""

    NORMAL = 0
    ADMIN = 1
    SUPER_ADMIN = 2


class HandleGroupMemberResult(IntEnum):
    """`HandleGroupMemberResult`: the outcome for one member of an invite or removal."""

    HANDLED_ERR = 0
    HANDLED_SUC = 1
    INCLUDED = 2  # already a member
    INVITED = 3


class GroupReceiveMessageOpt(IntEnum):
    """`TIMReceiveMessageOpt` for groups; the REST API's MsgFlag names them."""

    RECEIVE_AND_NOTIFY = 0  # AcceptAndNotify
    NOT_RECEIVE = 1  # Discard
    RECEIVE_NOT_NOTIFY = 2  # AcceptNotNotify


class GroupMemberModifyInfoFlag(IntFlag):
    """`TIMGroupMemberModifyInfoFlag`: which fields a TIMGroupModifyMemberInfo sets."""

    NONE = 0x00
    MSG_FLAG = 0x01
    MEMBER_ROLE = 0x02
    SHUTUP_TIME = 0x04
    NAME_CARD = 0x08
    CUSTOM = 0x10


class GroupMemberRoleFlag(IntFlag):
    """`TIMGroupMemberRoleFlag`: which members a TIMGroupGetMemberInfoList lists (0: all)."""

    ALL = 0x00
    OWNER = 0x01
    ADMIN = 0x02
    MEMBER = 0x04


class GroupMemberInfo(TIMStruct, rename=prefixed("group_member_info_")):
    identifier: str
    member_role: GroupMemberRole | None = None
    join_time: UInt | None = None
    name_card: str | None = None
    msg_flag: GroupReceiveMessageOpt | None = None
    shutup_time: UInt | None = None  # muted until (unix seconds); 0: not muted


class GroupModifyMemberInfoParam(TIMStruct, rename=prefixed("group_modify_member_info_")):
    """`TIMGroupModifyMemberInfo`'s parameter: `modify_flag` says which of the fields apply."""

    group_id: str
    identifier: str
    modify_flag: GroupMemberModifyInfoFlag = GroupMemberModifyInfoFlag.NONE
    msg_flag: GroupReceiveMessageOpt | None = None
    member_role: GroupMemberRole | None = None
    shutup_time: UInt | None = None  # seconds from now; 0 lifts the mute
    name_card: str | None = None


class GroupMemberGetInfoOption(TIMStruct, rename=prefixed("group_member_get_info_option_")):
    role_flag: GroupMemberRoleFlag = GroupMemberRoleFlag.ALL


class GroupGetMemberInfoListParam(TIMStruct, rename=prefixed("group_get_members_info_list_param_")):
    """`TIMGroupGetMemberInfoList`'s parameter: the named members, or every one (paged by next_seq)."""

    group_id: str
    identifier_array: list[str] | None = None
    option: GroupMemberGetInfoOption | None = None
    next_seq: UInt = 0


class GroupGetMemberInfoListResult(TIMStruct, rename=prefixed("group_get_memeber_info_list_result_")):
    """The C SDK spells this prefix `memeber`; so does aio_tim, so its JSON reads the same."""

    next_seq: UInt
    info_array: list[GroupMemberInfo]


class CreateGroupParam(TIMStruct, rename=prefixed("create_group_param_")):
    """`TIMGroupCreate`'s parameter; the caller (the Client's user_id) becomes the owner."""

    group_name: str
    group_id: str | None = None
    group_type: GroupType = GroupType.PUBLIC
    group_member_array: list[GroupMemberInfo] | None = None
    notification: str | None = None
    introduction: str | None = None
    face_url: str | None = None
    add_option: GroupAddOption | None = None
    max_member_num: UInt | None = None


class CreateGroupResult(TIMStruct, rename=prefixed("create_group_result_")):
    groupid: str


class GroupInviteMemberParam(TIMStruct, rename=prefixed("group_invite_member_param_")):
    """`TIMGroupInviteMember`'s parameter."""

    group_id: str
    identifier_array: list[str]
    user_data: str | None = None


class GroupInviteMemberResult(TIMStruct, rename=prefixed("group_invite_member_result_")):
    identifier: str
    result: HandleGroupMemberResult


class GroupDeleteMemberParam(TIMStruct, rename=prefixed("group_delete_member_param_")):
    """`TIMGroupDeleteMember`'s parameter."""

    group_id: str
    identifier_array: list[str]
    user_data: str | None = None


class GroupDeleteMemberResult(TIMStruct, rename=prefixed("group_delete_member_result_")):
    identifier: str
    result: HandleGroupMemberResult
