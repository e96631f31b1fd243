"""`tim.group`'s administration calls: owner, roles, member profiles, mutes, the app's groups,
deleting a sender's messages, system notifications and imports.

`modify_member_info` and `get_member_info_list` take and return the C SDK's JSON
(`TIMGroupModifyMemberInfo`, `TIMGroupGetMemberInfoList`); the others, which the C SDK has no
function for, speak the REST API's shapes (`aio_tim.protocol.group_admin`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol import Envelope, Request
from ..protocol.group import GetGroupMemberInfo, GetGroupMemberInfoResponse, GroupMember
from ..protocol.group_admin import (
    APPID_GROUP_LIST_MAX,
    FORBID_MAX,
    IMPORT_MEMBER_MAX,
    ROLE_QUERY_MAX,
    SHUT_UP_FOREVER,
    ChangeGroupOwner,
    DeleteGroupMsgBySender,
    ForbidSendMsg,
    GetAppidGroupList,
    GetAppidGroupListResponse,
    GetGroupShuttedUin,
    GetGroupShuttedUinResponse,
    GetRoleInGroup,
    GetRoleInGroupResponse,
    ImportedMember,
    ImportGroup,
    ImportGroupMember,
    ImportGroupMemberResponse,
    ImportGroupResponse,
    MemberImportResult,
    ModifyGroupMemberInfo,
    SendGroupSystemNotification,
    ShuttedMember,
)
from ..types._base import coerce
from ..types.group import (
    GroupGetMemberInfoListParam,
    GroupGetMemberInfoListResult,
    GroupMemberInfo,
    GroupMemberModifyInfoFlag,
    GroupMemberRole,
    GroupMemberRoleFlag,
    GroupModifyMemberInfoParam,
    GroupReceiveMessageOpt,
)

__all__ = ["GroupAdmin"]

Submit = Callable[..., Awaitable[Envelope]]

MEMBER_PAGE: Final = 100  # get_member_info_list: members a page when none are named
_ROLE_NAMES: Final = {GroupMemberRole.NORMAL: "Member", GroupMemberRole.ADMIN: "Admin"}
_ROLES: Final = {"Member": GroupMemberRole.NORMAL, "Admin": GroupMemberRole.ADMIN,
                 "Owner": GroupMemberRole.SUPER_ADMIN}  # fmt: skip
_MSG_FLAGS: Final = {
    GroupReceiveMessageOpt.RECEIVE_AND_NOTIFY: "AcceptAndNotify",
    GroupReceiveMessageOpt.NOT_RECEIVE: "Discard",
    GroupReceiveMessageOpt.RECEIVE_NOT_NOTIFY: "AcceptNotNotify",
}
_MSG_OPTS: Final = {name: opt for opt, name in _MSG_FLAGS.items()}
_ROLE_FILTERS: Final = {GroupMemberRoleFlag.OWNER: "Owner", GroupMemberRoleFlag.ADMIN: "Admin",
                        GroupMemberRoleFlag.MEMBER: "Member"}  # fmt: skip


class GroupAdmin:
    """The administration half of `GroupManager`, over the Client's pipeline."""

    def __init__(self, submit: Submit, user_id: str) -> None:
        self._submit = submit
        self._user_id = user_id

    async def _call(self, request: Request, done_codes: frozenset[int] = frozenset()) -> Any:
        return await self._submit(request, done_codes=done_codes)

    # --- the C SDK's functions ---------------------------------------------------------------------

    async def modify_member_info(self, param: Any) -> None:
        """`TIMGroupModifyMemberInfo`: set the fields `modify_flag` names (msg flag, role, mute
        seconds, name card) of one member."""
        p = coerce(param, GroupModifyMemberInfoParam, what="json_group_modifymeminfo_param")
        await self._call(_modify_request(p))

    async def get_member_info_list(self, param: Any) -> GroupGetMemberInfoListResult:
        """`TIMGroupGetMemberInfoList`: the named members, or a page of every member (`next_seq`
        0 starts; the result's `next_seq` is 0 on the last page)."""
        p = coerce(param, GroupGetMemberInfoListParam, what="json_group_getmeminfos_param")
        role_flag = p.option.role_flag if p.option is not None else GroupMemberRoleFlag.ALL
        roles = [name for flag, name in _ROLE_FILTERS.items() if flag in role_flag] or None
        named = p.identifier_array
        request = GetGroupMemberInfo(
            GroupId=_group_id(p.group_id), MemberRoleFilter=roles,
            Limit=None if named else MEMBER_PAGE, Offset=None if named else p.next_seq,
        )  # fmt: skip
        reply: GetGroupMemberInfoResponse = await self._call(request)
        members = [m for m in reply.MemberList if not named or m.Member_Account in named]
        more = not named and len(reply.MemberList) == MEMBER_PAGE
        next_seq = p.next_seq + MEMBER_PAGE if more else 0
        return GroupGetMemberInfoListResult(next_seq=next_seq, info_array=[_member_info(m) for m in members])

    # --- REST shapes -------------------------------------------------------------------------------

    async def change_owner(self, group_id: str, new_owner: str) -> None:
        """`change_group_owner`: hand the group to a member (the old owner stays as a member)."""
        await self._call(ChangeGroupOwner(GroupId=_group_id(group_id), NewOwner_Account=_account(new_owner)))

    async def roles(self, group_id: str, accounts: list[str]) -> dict[str, str]:
        """`get_role_in_group`: account -> "Owner", "Admin", "Member" or "NotMember"."""
        found: dict[str, str] = {}
        for chunk in _chunks(_accounts(accounts), ROLE_QUERY_MAX):
            request = GetRoleInGroup(GroupId=_group_id(group_id), User_Account=chunk)
            reply: GetRoleInGroupResponse = await self._call(request)
            found.update((r.Member_Account, r.Role) for r in reply.UserIdList)
        return found

    async def mute(self, group_id: str, accounts: list[str], seconds: int) -> None:
        """`forbid_send_msg`: mute `accounts` for `seconds` (0 lifts; 4294967295 for good)."""
        if not isinstance(seconds, int) or not 0 <= seconds <= 2**32 - 1:
            raise UsageError(TIM_ERR_PARAM, "seconds must be 0 to 4294967295")
        for chunk in _chunks(_accounts(accounts), FORBID_MAX):
            request = ForbidSendMsg(GroupId=_group_id(group_id), Members_Account=chunk, ShutUpTime=seconds)
            await self._call(request)

    async def muted(self, group_id: str) -> list[ShuttedMember]:
        """`get_group_shutted_uin`: the members muted now, and until when."""
        reply: GetGroupShuttedUinResponse = await self._call(GetGroupShuttedUin(GroupId=_group_id(group_id)))
        return reply.ShuttedUinList

    async def app_group_ids(self, group_type: str | None = None) -> list[str]:
        """`get_appid_group_list`: every group of the app (of one REST type), page by page."""
        ids: list[str] = []
        cursor = 0
        while True:
            request = GetAppidGroupList(Limit=APPID_GROUP_LIST_MAX, Next=cursor, GroupType=group_type)
            reply: GetAppidGroupListResponse = await self._call(request)
            ids += [g.GroupId for g in reply.GroupIdList]
            if not reply.Next or reply.Next == cursor:
                return ids
            cursor = reply.Next

    async def delete_messages_by_sender(self, group_id: str, sender: str) -> None:
        """`delete_group_msg_by_sender`: silently recall what `sender` said among the group's last
        1,000 messages."""
        await self._call(DeleteGroupMsgBySender(GroupId=_group_id(group_id), Sender_Account=_account(sender)))

    async def send_system_notification(
        self, group_id: str, content: str, to: list[str] | None = None
    ) -> None:
        """`send_group_system_notification`: to the members named, or every member."""
        if not isinstance(content, str) or not content:
            raise UsageError(TIM_ERR_PARAM, "content must be a non-empty string")
        recipients = None if to is None else _accounts(to)
        request = SendGroupSystemNotification(GroupId=_group_id(group_id), Content=content,
                                              ToMembers_Account=recipients)  # fmt: skip
        await self._call(request)

    async def import_group(self, request: ImportGroup) -> str:
        """`import_group`: a group as it was elsewhere (CreateTime kept, no callback); its id."""
        reply: ImportGroupResponse = await self._call(request)
        return reply.GroupId

    async def import_members(self, group_id: str, members: list[ImportedMember]) -> list[MemberImportResult]:
        """`import_group_member`: members with their join times; Result 1 imported, 2 already in."""
        results: list[MemberImportResult] = []
        for start in range(0, max(len(members), 1), IMPORT_MEMBER_MAX):
            chunk = members[start : start + IMPORT_MEMBER_MAX]
            reply: ImportGroupMemberResponse = await self._call(
                ImportGroupMember(GroupId=_group_id(group_id), MemberList=chunk)
            )
            results += reply.MemberList
        return results


def _modify_request(p: GroupModifyMemberInfoParam) -> ModifyGroupMemberInfo:
    """The REST request for the fields `modify_flag` names (each must then be given)."""
    flag = p.modify_flag
    wanted = {
        GroupMemberModifyInfoFlag.MSG_FLAG: p.msg_flag,
        GroupMemberModifyInfoFlag.MEMBER_ROLE: p.member_role,
        GroupMemberModifyInfoFlag.SHUTUP_TIME: p.shutup_time,
        GroupMemberModifyInfoFlag.NAME_CARD: p.name_card,
    }
    missing = [f.name for f, value in wanted.items() if f in flag and value is None]
    if missing or not flag & ~GroupMemberModifyInfoFlag.CUSTOM:
        raise UsageError(TIM_ERR_PARAM, f"modify_flag names fields not given or none: {missing}")
    if p.shutup_time is not None and p.shutup_time > SHUT_UP_FOREVER:
        raise UsageError(TIM_ERR_PARAM, f"shutup_time must be at most {SHUT_UP_FOREVER} seconds")
    if GroupMemberModifyInfoFlag.MEMBER_ROLE in flag and p.member_role not in _ROLE_NAMES:
        raise UsageError(TIM_ERR_PARAM, "member_role must be NORMAL or ADMIN (change_owner moves the owner)")
    f = GroupMemberModifyInfoFlag
    msg_flag = _MSG_FLAGS[p.msg_flag] if f.MSG_FLAG in flag and p.msg_flag is not None else None
    role = _ROLE_NAMES[p.member_role] if f.MEMBER_ROLE in flag and p.member_role is not None else None
    return ModifyGroupMemberInfo(
        GroupId=_group_id(p.group_id), Member_Account=_account(p.identifier), MsgFlag=msg_flag, Role=role,
        ShutUpTime=p.shutup_time if f.SHUTUP_TIME in flag else None,
        NameCard=p.name_card if f.NAME_CARD in flag else None,
    )  # fmt: skip


def _member_info(m: GroupMember) -> GroupMemberInfo:
    return GroupMemberInfo(
        identifier=m.Member_Account, member_role=_ROLES.get(m.Role or "Member", GroupMemberRole.NORMAL),
        join_time=m.JoinTime, name_card=m.NameCard,
        msg_flag=_MSG_OPTS.get(m.MsgFlag or "AcceptAndNotify"), shutup_time=m.ShutUpUntil,
    )  # fmt: skip


def _group_id(group_id: str) -> str:
    if not isinstance(group_id, str) or not group_id:
        raise UsageError(TIM_ERR_PARAM, "group_id must be a non-empty string")
    return group_id


def _account(user_id: str) -> str:
    if not isinstance(user_id, str) or not 0 < len(user_id.encode("utf-8", "surrogatepass")) <= 32:
        raise UsageError(TIM_ERR_PARAM, "a UserID must be a string of 1 to 32 bytes")
    return user_id


def _accounts(user_ids: list[str]) -> list[str]:
    if not isinstance(user_ids, list) or not user_ids:
        raise UsageError(TIM_ERR_PARAM, "accounts must be a non-empty list of UserIDs")
    return [_account(u) for u in user_ids]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
