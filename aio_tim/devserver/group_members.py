"""Group member administration (`group_open_http_svc/*`): the owner, roles, member profiles, mutes
and imported members.

Error codes and caps follow TIM's page for each command (cited where a choice is not obvious).
"""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.group_admin import (
    FORBID_MAX,
    IMPORT_MEMBER_MAX,
    ROLE_QUERY_MAX,
    SHUT_UP_FOREVER,
    ChangeGroupOwner,
    ForbidSendMsg,
    GetGroupShuttedUin,
    GetGroupShuttedUinResponse,
    GetRoleInGroup,
    GetRoleInGroupResponse,
    ImportedMember,
    ImportGroupMember,
    ImportGroupMemberResponse,
    MemberImportResult,
    ModifyGroupMemberInfo,
    ShuttedMember,
    UserRole,
)
from .accounts import obtain_account
from .context import Context, Handler
from .group_admin import check_room, member_cap
from .groups import existing_group
from .rows import GroupRow
from .webhooks_admin import member_field_changed

__all__ = ["HANDLERS", "mute_deadline"]

ERR_PARAMS: Final = 10004
ERR_NOT_ALLOWED: Final = 10007  # TIM: the group type or the target does not allow the operation
NAME_CARD_MAX_BYTES: Final = 50
MSG_FLAGS: Final = frozenset({"AcceptAndNotify", "AcceptNotNotify", "Discard"})
SETTABLE_ROLES: Final = frozenset({"Admin", "Member"})
# Work groups (Private, their old name) cannot mute members:
# https://trtc.io/document/34951 (forbid_send_msg).
NO_MUTE_TYPES: Final = frozenset({"Private", "Work"})


def mute_deadline(now: int, seconds: int) -> int:
    """Until when a ShutUpTime of `seconds` mutes (0: not muted; 4294967295: for good)."""
    if seconds == 0:
        return 0
    return SHUT_UP_FOREVER if seconds == SHUT_UP_FOREVER else now + seconds


async def _member_of(ctx: Context, group: GroupRow, account: str) -> str:
    """`account`'s role in the group; 10007 when it is not a member."""
    member = await ctx.state.member(group.group_id, account)
    if member is None:
        raise error_for(ERR_NOT_ALLOWED, f"{account!r} is not a member of the group")
    return member.role


# --- change_group_owner ---------------------------------------------------------------------------


async def change_group_owner(ctx: Context, req: ChangeGroupOwner) -> Envelope:
    """https://trtc.io/document/34966: the new owner must be a member; AVChatRoom answers 10007.
    A group without an owner gets one; TIM documents no callback for the change."""
    group = await existing_group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(ERR_NOT_ALLOWED, "AVChatRoom groups cannot change owner")
    await _member_of(ctx, group, req.NewOwner_Account)
    if group.owner != req.NewOwner_Account:
        await ctx.state.set_owner(group.group_id, req.NewOwner_Account)
    return Envelope()


# --- get_role_in_group ----------------------------------------------------------------------------


async def get_role_in_group(ctx: Context, req: GetRoleInGroup) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    if not 0 < len(req.User_Account) <= ROLE_QUERY_MAX:
        raise error_for(ERR_PARAMS, f"User_Account must hold 1 to {ROLE_QUERY_MAX} accounts")
    roles = []
    for account in req.User_Account:
        member = await ctx.state.member(group.group_id, account)
        roles.append(UserRole(account, "NotMember" if member is None else member.role))
    return GetRoleInGroupResponse(UserIdList=roles)


# --- modify_group_member_info ---------------------------------------------------------------------


def _check_member_fields(req: ModifyGroupMemberInfo) -> None:
    if req.Role is not None and req.Role not in SETTABLE_ROLES:
        raise error_for(ERR_PARAMS, "Role must be Admin or Member (change_group_owner sets the owner)")
    if req.MsgFlag is not None and req.MsgFlag not in MSG_FLAGS:
        raise error_for(ERR_PARAMS, f"MsgFlag must be one of {', '.join(sorted(MSG_FLAGS))}")
    if req.NameCard is not None and len(req.NameCard.encode("utf-8", "surrogatepass")) > NAME_CARD_MAX_BYTES:
        raise error_for(ERR_PARAMS, f"NameCard must be at most {NAME_CARD_MAX_BYTES} bytes")


async def modify_group_member_info(ctx: Context, req: ModifyGroupMemberInfo) -> Envelope:
    """https://trtc.io/document/34900: AVChatRoom keeps no member profiles (10007). A change of
    Role or NameCard fires Group.CallbackAfterMemberFieldChanged (https://trtc.io/document/60393)."""
    _check_member_fields(req)
    group = await existing_group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(ERR_NOT_ALLOWED, "AVChatRoom groups keep no member profiles")
    role = await _member_of(ctx, group, req.Member_Account)
    if req.Role is not None and role == "Owner":
        raise error_for(ERR_NOT_ALLOWED, "the owner's role changes only with change_group_owner")
    if req.ShutUpTime is not None and group.type in NO_MUTE_TYPES:
        raise error_for(ERR_NOT_ALLOWED, "Work (Private) groups cannot mute members")
    if req.Role is not None and req.Role != role:
        await ctx.state.set_role(group.group_id, req.Member_Account, req.Role)
    if req.NameCard is not None or req.MsgFlag is not None:
        await ctx.state.set_member_profile(group.group_id, req.Member_Account, req.NameCard, req.MsgFlag)
    if req.ShutUpTime is not None:
        until = mute_deadline(ctx.now(), req.ShutUpTime)
        await ctx.state.mute(group.group_id, [req.Member_Account], until)
    if ctx.webhooks is not None and (req.Role is not None or req.NameCard is not None):
        member = await ctx.state.member(group.group_id, req.Member_Account)
        assert member is not None  # found above, in this transaction
        ctx.webhooks.after(member_field_changed(group, ctx.admin, member, ctx.now()))
    return Envelope()


# --- forbid_send_msg / get_group_shutted_uin ------------------------------------------------------


async def forbid_send_msg(ctx: Context, req: ForbidSendMsg) -> Envelope:
    """https://trtc.io/document/34951: up to 500 accounts; Work (Private) groups cannot mute; a mute
    outlives leaving and rejoining the group."""
    group = await existing_group(ctx, req.GroupId)
    if not 0 < len(req.Members_Account) <= FORBID_MAX:
        raise error_for(ERR_PARAMS, f"Members_Account must hold 1 to {FORBID_MAX} accounts")
    if group.type in NO_MUTE_TYPES:
        raise error_for(ERR_NOT_ALLOWED, "Work (Private) groups cannot mute members")
    until = mute_deadline(ctx.now(), req.ShutUpTime)
    await ctx.state.mute(group.group_id, list(dict.fromkeys(req.Members_Account)), until)
    return Envelope()


async def get_group_shutted_uin(ctx: Context, req: GetGroupShuttedUin) -> Envelope:
    group = await existing_group(ctx, req.GroupId)
    muted = await ctx.state.mutes(group.group_id, ctx.now())
    listed = [ShuttedMember(account, until) for account, until in muted.items()]
    return GetGroupShuttedUinResponse(GroupId=group.group_id, ShuttedUinList=listed)


# --- import_group_member --------------------------------------------------------------------------


def _check_imported(group: GroupRow, members: list[ImportedMember], now: int) -> None:
    if not 0 < len(members) <= IMPORT_MEMBER_MAX:
        raise error_for(ERR_PARAMS, f"MemberList must hold 1 to {IMPORT_MEMBER_MAX} members")
    for member in members:
        if member.Role is not None and member.Role not in SETTABLE_ROLES:
            raise error_for(ERR_PARAMS, "an imported member's Role must be Admin or Member")
        joined = member.JoinTime
        if joined is not None and joined != 0 and not group.created <= joined <= now:
            raise error_for(ERR_PARAMS, "JoinTime must lie between the group's CreateTime and now")


async def import_group_member(ctx: Context, req: ImportGroupMember) -> Envelope:
    """https://trtc.io/document/34969 (import_group_member): no callbacks, no notifications;
    AVChatRoom answers 10007. Result per member: 0 failed, 1 imported, 2 already a member."""
    group = await existing_group(ctx, req.GroupId)
    if group.type == "AVChatRoom":
        raise error_for(ERR_NOT_ALLOWED, "AVChatRoom groups do not import members")
    now = ctx.now()
    _check_imported(group, req.MemberList, now)
    profile = await ctx.state.group_profile(group.group_id)
    assert profile is not None  # found above, in this transaction
    current = {m.account for m in await ctx.state.members(group.group_id)}
    check_room(member_cap(group, profile), len(current | {m.Member_Account for m in req.MemberList}))
    results = [
        MemberImportResult(m.Member_Account, await _import_member(ctx, group.group_id, m, now))
        for m in req.MemberList
    ]
    return ImportGroupMemberResponse(MemberList=results)


async def _import_member(ctx: Context, group_id: str, member: ImportedMember, now: int) -> int:
    if not await obtain_account(ctx, member.Member_Account):
        return 0
    joined = member.JoinTime or now
    added = await ctx.state.join_member(group_id, member.Member_Account, member.Role or "Member", joined)
    return 1 if added else 2


HANDLERS: Final[dict[type[Request], Handler]] = {
    ChangeGroupOwner: change_group_owner,
    GetRoleInGroup: get_role_in_group,
    ModifyGroupMemberInfo: modify_group_member_info,
    ForbidSendMsg: forbid_send_msg,
    GetGroupShuttedUin: get_group_shutted_uin,
    ImportGroupMember: import_group_member,
}
