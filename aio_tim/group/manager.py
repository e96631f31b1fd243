"""`tim.group`: set up group conversations (create, dismiss, invite, remove, profile, lists).

Where the C SDK has the function, the method takes and returns its JSON (`TIMGroupCreate`,
`TIMGroupDelete`, `TIMGroupInviteMember`, `TIMGroupDeleteMember`): a Struct, a dict in the C
SDK's keys, or JSON text. The rest speak the REST API's shapes (`aio_tim.protocol.group`).

    async with Client(...) as tim:
        created = await tim.group.create({"create_group_param_group_name": "team",
                                          "create_group_param_group_member_array": [
                                              {"group_member_info_identifier": "bob"}]})
        await tim.group.invite_member({"group_invite_member_param_group_id": created.groupid,
                                       "group_invite_member_param_identifier_array": ["carol"]})
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.group import (
    AddGroupMember,
    AddGroupMemberResponse,
    CreateGroup,
    CreateGroupResponse,
    DeleteGroupMember,
    DestroyGroup,
    GetGroupInfo,
    GetGroupInfoResponse,
    GetGroupMemberInfo,
    GetGroupMemberInfoResponse,
    GetJoinedGroupList,
    GetJoinedGroupListResponse,
    GroupInfo,
    GroupMember,
    JoinedGroup,
    MemberAccount,
    ModifyGroupBaseInfo,
)
from ..types._base import coerce
from ..types.group import (
    CreateGroupParam,
    CreateGroupResult,
    GroupAddOption,
    GroupDeleteMemberParam,
    GroupDeleteMemberResult,
    GroupInviteMemberParam,
    GroupInviteMemberResult,
    GroupMemberRole,
    GroupType,
    HandleGroupMemberResult,
)
from .admin import GroupAdmin

__all__ = ["GroupManager"]

# TIMGroupType -> the REST API's Type (BChatRoom has no REST equivalent).
REST_TYPES: Final = {
    GroupType.PUBLIC: "Public",
    GroupType.PRIVATE: "Private",
    GroupType.CHATROOM: "ChatRoom",
    GroupType.AVCHATROOM: "AVChatRoom",
}
JOIN_OPTIONS: Final = {
    GroupAddOption.FORBID: "DisableApply",
    GroupAddOption.AUTH: "NeedPermission",
    GroupAddOption.ANY: "FreeAccess",
}
ERR_NO_GROUP: Final = 10010
ERR_GROUP_ID_TAKEN: Final = 10021
INVITE_CHUNK: Final = 500  # add_group_member's limit per call
DELETE_CHUNK: Final = 100  # delete_group_member's
INFO_CHUNK: Final = 50  # get_group_info's


class GroupManager(GroupAdmin):
    """Group administration over REST, through the Client's pipeline (paced, retried); the
    administration calls (owner, roles, mutes, imports ...) come from `GroupAdmin`."""

    # --- the C SDK's functions ---------------------------------------------------------------------

    async def create(self, param: Any) -> CreateGroupResult:
        """`TIMGroupCreate`: create a group owned by this Client's user; its id."""
        p = coerce(param, CreateGroupParam, what="json_group_create_param")
        request = CreateGroup(
            Type=_rest_type(p.group_type), Name=p.group_name, GroupId=p.group_id,
            Owner_Account=self._user_id, MemberList=_members(p), Introduction=p.introduction,
            Notification=p.notification, FaceUrl=p.face_url, MaxMemberCount=p.max_member_num,
            ApplyJoinOption=None if p.add_option is None else JOIN_OPTIONS[p.add_option],
        )  # fmt: skip
        # A retried create of a named group that answers "id taken" was our own first attempt.
        taken = frozenset({ERR_GROUP_ID_TAKEN}) if p.group_id else frozenset()
        reply: CreateGroupResponse = await self._call(request, taken)
        return CreateGroupResult(groupid=reply.GroupId or p.group_id or "")

    async def delete(self, group_id: str) -> None:
        """`TIMGroupDelete`: dismiss the group (its members and history go with it)."""
        await self._call(DestroyGroup(GroupId=_group_id(group_id)), frozenset({ERR_NO_GROUP}))

    async def invite_member(self, param: Any) -> list[GroupInviteMemberResult]:
        """`TIMGroupInviteMember`: add members; one result per identifier (INCLUDED: already in)."""
        p = coerce(param, GroupInviteMemberParam, what="json_group_invite_param")
        results: list[GroupInviteMemberResult] = []
        for chunk in _chunks(p.identifier_array, INVITE_CHUNK):
            members = [MemberAccount(Member_Account=m) for m in chunk]
            reply: AddGroupMemberResponse = await self._call(
                AddGroupMember(GroupId=p.group_id, MemberList=members)
            )
            results += [
                GroupInviteMemberResult(r.Member_Account, HandleGroupMemberResult(r.Result))
                for r in reply.MemberList
            ]
        return results

    async def delete_member(self, param: Any) -> list[GroupDeleteMemberResult]:
        """`TIMGroupDeleteMember`: remove members (TIM counts a non-member's removal as done)."""
        p = coerce(param, GroupDeleteMemberParam, what="json_group_delete_param")
        for chunk in _chunks(p.identifier_array, DELETE_CHUNK):
            await self._call(DeleteGroupMember(GroupId=p.group_id, MemberToDel_Account=chunk))
        done = HandleGroupMemberResult.HANDLED_SUC
        return [GroupDeleteMemberResult(identifier, done) for identifier in p.identifier_array]

    # --- REST shapes -------------------------------------------------------------------------------

    async def info(self, group_ids: list[str]) -> list[GroupInfo]:
        """`get_group_info`: each group's profile and members (ErrorCode 10010: no such group)."""
        infos: list[GroupInfo] = []
        for chunk in _chunks(group_ids, INFO_CHUNK):
            reply: GetGroupInfoResponse = await self._call(GetGroupInfo(GroupIdList=chunk))
            infos += reply.GroupInfo
        return infos

    async def members(self, group_id: str) -> list[GroupMember]:
        """`get_group_member_info`: every member with role and join time."""
        reply: GetGroupMemberInfoResponse = await self._call(GetGroupMemberInfo(GroupId=group_id))
        return reply.MemberList

    async def modify(self, group_id: str, **fields: Any) -> None:
        """`modify_group_base_info`: set Name, Introduction, Notification, FaceUrl, ... by REST name."""
        await self._call(ModifyGroupBaseInfo(GroupId=group_id, **fields))

    async def joined(self, user_id: str | None = None) -> list[JoinedGroup]:
        """`get_joined_group_list`: the groups `user_id` (default: this Client's user) is in."""
        request = GetJoinedGroupList(Member_Account=user_id or self._user_id, WithHugeGroups=1)
        reply: GetJoinedGroupListResponse = await self._call(request)
        return reply.GroupIdList


def _rest_type(group_type: GroupType) -> str:
    if group_type not in REST_TYPES:
        raise UsageError(TIM_ERR_PARAM, f"group type {group_type.name} cannot be created over REST")
    return REST_TYPES[group_type]


def _members(p: CreateGroupParam) -> list[MemberAccount] | None:
    if p.group_member_array is None:
        return None
    admin = GroupMemberRole.ADMIN
    return [
        MemberAccount(Member_Account=m.identifier, Role="Admin" if m.member_role == admin else None)
        for m in p.group_member_array
    ]


def _group_id(group_id: str) -> str:
    if not isinstance(group_id, str) or not group_id:
        raise UsageError(TIM_ERR_PARAM, "group_id must be a non-empty string")
    return group_id


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]
