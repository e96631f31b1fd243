"""Group management endpoints (`group_open_http_svc/*`): profiles, member lists, dismissal.

What a service needs around messaging: read a group's profile and members, change the profile,
remove members, dismiss the group, and list the groups an account is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.group import (
    DELETE_MEMBER_MAX,
    GROUP_INFO_MAX,
    CreateGroup,
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
    ModifyGroupBaseInfo,
    SelfInfo,
)
from ..protocol.group_admin import ImportGroup
from .accounts import valid_user_id
from .context import Context, Handler
from .rows import GroupProfile, GroupRow, MemberRow
from .webhooks import group_destroyed, members_left

__all__ = ["HANDLERS", "SAME_TYPE", "check_room", "member_cap", "profile_changes"]

ERR_PARAMS: Final = 10004
ERR_NO_GROUP: Final = 10010
# A group's member cap until it is set (create_group's MaxMemberCount, modify's MaxMemberNum).
DEFAULT_MAX_MEMBERS: Final = 6000
ERR_GROUP_FULL: Final = 10014
# TIM's ApplyJoinOption per group type until it is set.
DEFAULT_JOIN_OPTION: Final = {"Public": "NeedPermission", "Private": "DisableApply", "Work": "DisableApply"}
JOIN_OPTIONS: Final = frozenset({"FreeAccess", "NeedPermission", "DisableApply"})
# TIM's byte limits on the profile's text fields.
TEXT_LIMITS: Final = {"Name": 30, "Introduction": 240, "Notification": 300, "FaceUrl": 100}
# Old and new names of the same group types (GroupType filters match either).
SAME_TYPE: Final = {"Private": "Work", "Work": "Private", "ChatRoom": "Meeting", "Meeting": "ChatRoom"}
_BASE_FIELDS: Final = frozenset(f.name for f in msgspec.structs.fields(JoinedGroup)) - {"GroupId", "SelfInfo"}
_SELF_FIELDS: Final = frozenset(f.name for f in msgspec.structs.fields(SelfInfo))
_MEMBER_FIELDS: Final = frozenset(f.name for f in msgspec.structs.fields(GroupMember)) - {"Member_Account"}


def member_cap(group: GroupRow, profile: GroupProfile) -> int | None:
    """How many members the group may hold (None: no cap, as for AVChatRoom)."""
    return None if group.type == "AVChatRoom" else profile.max_member_num or DEFAULT_MAX_MEMBERS


def check_room(cap: int | None, members: int) -> None:
    """Refuse to grow a group past its cap (TIM: 10014, the group is full)."""
    if cap is not None and members > cap:
        raise error_for(ERR_GROUP_FULL, f"the group is full: at most {cap} members")


def base_filter(names: list[str] | None) -> set[str]:
    """A GroupBaseInfoFilter's names; the old ShutUpAllMember asks for MuteAllMember."""
    return {"MuteAllMember" if name == "ShutUpAllMember" else name for name in names or ()}


def _bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


async def _group(ctx: Context, group_id: str) -> GroupRow:
    group = await ctx.state.group(group_id)
    if group is None:
        raise error_for(ERR_NO_GROUP, "group not found or dismissed")
    return group


async def _profile(ctx: Context, group_id: str) -> GroupProfile:
    profile = await ctx.state.group_profile(group_id)
    assert profile is not None  # the caller found the group in this transaction
    return profile


# --- profile fields, shared with create_group -----------------------------------------------------


def profile_changes(req: ModifyGroupBaseInfo | CreateGroup | ImportGroup) -> dict[str, Any]:
    """The profile fields `req` sets, checked against TIM's limits, as stored values."""
    changes: dict[str, Any] = {}
    for name, limit in TEXT_LIMITS.items():
        value = getattr(req, name)
        if value is not None:
            if _bytes(value) > limit or (name == "Name" and not value):
                raise error_for(ERR_PARAMS, f"{name} must be at most {limit} bytes (Name: at least 1)")
            changes[name] = value
    cap = req.MaxMemberNum if isinstance(req, ModifyGroupBaseInfo) else req.MaxMemberCount
    if cap is not None:
        if cap <= 0:
            raise error_for(ERR_PARAMS, "the member cap (MaxMemberCount, MaxMemberNum) must be positive")
        changes["MaxMemberNum"] = cap
    if req.ApplyJoinOption is not None:
        if req.ApplyJoinOption not in JOIN_OPTIONS:
            raise error_for(ERR_PARAMS, f"ApplyJoinOption must be one of {', '.join(sorted(JOIN_OPTIONS))}")
        changes["ApplyJoinOption"] = req.ApplyJoinOption
    return changes


# --- get_group_info -------------------------------------------------------------------------------


async def get_group_info(ctx: Context, req: GetGroupInfo) -> Envelope:
    if not 0 < len(req.GroupIdList) <= GROUP_INFO_MAX:
        raise error_for(ERR_PARAMS, f"GroupIdList must hold 1 to {GROUP_INFO_MAX} groups")
    flt = req.ResponseFilter
    base = None if flt is None else base_filter(flt.GroupBaseInfoFilter)
    member_fields = None if flt is None else flt.MemberInfoFilter
    infos = [await _group_info(ctx, group_id, base, member_fields) for group_id in req.GroupIdList]
    return GetGroupInfoResponse(GroupInfo=infos)


async def _group_info(
    ctx: Context, group_id: str, base: set[str] | None, member_fields: list[str] | None
) -> GroupInfo:
    group = await ctx.state.group(group_id)
    if group is None:
        return GroupInfo(GroupId=group_id, ErrorCode=ERR_NO_GROUP, ErrorInfo="group not found or dismissed")
    fields = _base_fields(group, await _profile(ctx, group_id), base)
    members = None
    if base is None or member_fields is not None:
        members = await _members(ctx, group_id, None if base is None else member_fields, roles=None)
    return GroupInfo(GroupId=group_id, MemberList=members, **fields)


def _base_fields(group: GroupRow, profile: GroupProfile, wanted: Iterable[str] | None) -> dict[str, Any]:
    """A group's base profile as TIM names it; only the `wanted` names (None: all of them)."""
    fields: dict[str, Any] = {
        "Type": group.type,
        "Name": group.name,
        "Introduction": profile.introduction,
        "Notification": profile.notification,
        "FaceUrl": profile.face_url,
        "Owner_Account": group.owner or "",
        "CreateTime": group.created,
        "InfoSeq": profile.info_seq,
        "LastInfoTime": profile.last_info_time,
        "LastMsgTime": profile.last_msg_time or 0,
        "NextMsgSeq": profile.last_seq + 1,
        "MemberNum": profile.member_num,
        "MaxMemberNum": profile.max_member_num or DEFAULT_MAX_MEMBERS,
        "ApplyJoinOption": profile.apply_join_option or DEFAULT_JOIN_OPTION.get(group.type, "FreeAccess"),
        "MuteAllMember": "On" if profile.shut_up_all else "Off",
    }
    if wanted is None:
        return fields
    return {name: value for name, value in fields.items() if name in wanted}


# --- get_group_member_info ------------------------------------------------------------------------


async def get_group_member_info(ctx: Context, req: GetGroupMemberInfo) -> Envelope:
    await _group(ctx, req.GroupId)
    limit, offset = req.Limit, req.Offset or 0
    if offset < 0 or (limit is not None and limit < 0):
        raise error_for(ERR_PARAMS, "Limit and Offset must not be negative")
    members = await _members(ctx, req.GroupId, req.MemberInfoFilter, req.MemberRoleFilter)
    total = len(await ctx.state.members(req.GroupId))
    page = members[offset:] if limit is None else members[offset : offset + limit]
    return GetGroupMemberInfoResponse(MemberNum=total, MemberList=page)


async def _members(
    ctx: Context, group_id: str, wanted: list[str] | None, roles: list[str] | None
) -> list[GroupMember]:
    last_sends = await ctx.state.last_send_times(group_id)
    mutes = await ctx.state.mutes(group_id, ctx.now())
    rows = [row for row in await ctx.state.members(group_id) if roles is None or row.role in roles]
    return [_member(row, (last_sends.get(row.account, 0), mutes.get(row.account, 0)), wanted) for row in rows]


def _member(row: MemberRow, times: tuple[int, int], wanted: list[str] | None) -> GroupMember:
    """`times` is (LastSendMsgTime, ShutUpUntil)."""
    fields: dict[str, Any] = {
        "Role": row.role,
        "JoinTime": row.joined,
        "MsgSeq": 0,
        "MsgFlag": row.msg_flag or "AcceptAndNotify",
        "LastSendMsgTime": times[0],
        "ShutUpUntil": times[1],
        "NameCard": row.name_card,
    }
    if wanted is not None:
        fields = {name: value for name, value in fields.items() if name in wanted}
    return GroupMember(Member_Account=row.account, **fields)


# --- modify_group_base_info -----------------------------------------------------------------------


async def modify_group_base_info(ctx: Context, req: ModifyGroupBaseInfo) -> Envelope:
    await _group(ctx, req.GroupId)
    changes = profile_changes(req)
    if req.MuteAllMember is not None:
        if req.MuteAllMember not in ("On", "Off"):
            raise error_for(ERR_PARAMS, "MuteAllMember must be On or Off")
        changes["MuteAllMember"] = int(req.MuteAllMember == "On")
    if changes:
        await ctx.state.update_group(req.GroupId, changes, ctx.now())
    return Envelope()


# --- delete_group_member / destroy_group ----------------------------------------------------------


async def delete_group_member(ctx: Context, req: DeleteGroupMember) -> Envelope:
    group = await _group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(ERR_PARAMS, "AVChatRoom groups do not support deleting members")
    if not 0 < len(req.MemberToDel_Account) <= DELETE_MEMBER_MAX:
        raise error_for(ERR_PARAMS, f"MemberToDel_Account must hold 1 to {DELETE_MEMBER_MAX} accounts")
    if group.owner is not None and group.owner in req.MemberToDel_Account:
        raise error_for(ERR_PARAMS, "the group owner cannot be removed; dismiss the group instead")
    removed = [
        account
        for account in dict.fromkeys(req.MemberToDel_Account)
        if await ctx.state.remove_member(group.group_id, account)  # not a member: still success
    ]
    if removed and ctx.webhooks is not None:
        ctx.webhooks.after(members_left((group.group_id, group.type), ctx.admin, removed, ctx.now()))
    return Envelope()


async def destroy_group(ctx: Context, req: DestroyGroup) -> Envelope:
    group = await _group(ctx, req.GroupId)
    members = [m.account for m in await ctx.state.members(group.group_id)]
    await ctx.state.delete_group(group.group_id)
    if ctx.webhooks is not None:
        ctx.webhooks.after(group_destroyed(group, ctx.admin, members, ctx.now()))
    return Envelope()


# --- get_joined_group_list ------------------------------------------------------------------------


async def get_joined_group_list(ctx: Context, req: GetJoinedGroupList) -> Envelope:
    if not valid_user_id(req.Member_Account):
        raise error_for(ERR_PARAMS, "Member_Account is not a valid UserID")
    offset, limit = req.Offset or 0, req.Limit
    if offset < 0 or (limit is not None and limit < 0):
        raise error_for(ERR_PARAMS, "Limit and Offset must not be negative")
    groups = [g for g in await ctx.state.joined_groups(req.Member_Account) if _listed(g, req)]
    page = groups[offset:] if limit is None else groups[offset : offset + limit]
    flt = req.ResponseFilter
    wanted = base_filter(flt.GroupBaseInfoFilter if flt else None) & _BASE_FIELDS
    self_fields = set(flt.SelfInfoFilter or ()) & _SELF_FIELDS if flt else set()
    listed = [await _joined(ctx, group, wanted, req.Member_Account, self_fields) for group in page]
    return GetJoinedGroupListResponse(TotalCount=len(groups), GroupIdList=listed)


def _listed(group: GroupRow, req: GetJoinedGroupList) -> bool:
    """TIM leaves AVChatRoom groups out unless WithHugeGroups=1, and filters by GroupType."""
    if group.type == "AVChatRoom" and req.WithHugeGroups != 1:
        return False
    return req.GroupType is None or req.GroupType in (group.type, SAME_TYPE.get(group.type))


async def _joined(
    ctx: Context, group: GroupRow, wanted: set[str], account: str, self_fields: set[str]
) -> JoinedGroup:
    fields = _base_fields(group, await _profile(ctx, group.group_id), wanted) if wanted else {}
    if self_fields:
        fields["SelfInfo"] = await _self_info(ctx, group.group_id, account, self_fields)
    return JoinedGroup(GroupId=group.group_id, **fields)


async def _self_info(ctx: Context, group_id: str, account: str, wanted: set[str]) -> SelfInfo:
    """The account's own Role, JoinTime, MsgFlag and UnreadMsgNum in the group, as filtered."""
    member = await ctx.state.member(group_id, account)
    assert member is not None  # listed because it is a member, in this transaction
    fields: dict[str, Any] = {"Role": member.role, "JoinTime": member.joined,
                              "MsgFlag": member.msg_flag or "AcceptAndNotify"}  # fmt: skip
    if "UnreadMsgNum" in wanted:
        fields["UnreadMsgNum"] = await ctx.state.unread_in_group(group_id, account, member.joined)
    return SelfInfo(**{name: value for name, value in fields.items() if name in wanted})


HANDLERS: Final[dict[type[Request], Handler]] = {
    GetGroupInfo: get_group_info,
    GetGroupMemberInfo: get_group_member_info,
    ModifyGroupBaseInfo: modify_group_base_info,
    DeleteGroupMember: delete_group_member,
    DestroyGroup: destroy_group,
    GetJoinedGroupList: get_joined_group_list,
}
