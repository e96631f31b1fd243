"""App-wide group operations (`group_open_http_svc/*`): list every group, delete what one sender
said, send a system notification, import a group with its own creation time."""

from __future__ import annotations

from typing import Final

from ..errors import error_for
from ..protocol import Envelope, Request
from ..protocol.group_admin import (
    APPID_GROUP_LIST_MAX,
    NOTIFICATION_MEMBERS_MAX,
    DeleteGroupMsgBySender,
    GetAppidGroupList,
    GetAppidGroupListResponse,
    GroupIdItem,
    ImportGroup,
    ImportGroupResponse,
    SendGroupSystemNotification,
)
from .accounts import valid_user_id
from .context import Context, Handler
from .group_admin import DEFAULT_MAX_MEMBERS, SAME_TYPE, check_room, profile_changes
from .groups import GROUP_TYPES, existing_group, new_group

__all__ = ["HANDLERS"]

ERR_PARAMS: Final = 10004
ERR_NOT_ALLOWED: Final = 10007
RECALL_BY_SENDER_WINDOW: Final = 1000  # delete_group_msg_by_sender looks at the last 1,000 messages


# --- get_appid_group_list -------------------------------------------------------------------------


async def get_appid_group_list(ctx: Context, req: GetAppidGroupList) -> Envelope:
    """https://trtc.io/document/34960 (get_appid_group_list): up to 10000 a page; `Next` is where
    the next page starts (0: done); with GroupType, TotalCount counts that type only."""
    limit = APPID_GROUP_LIST_MAX if req.Limit is None else req.Limit
    if not 0 < limit <= APPID_GROUP_LIST_MAX or (req.Next or 0) < 0:
        raise error_for(ERR_PARAMS, f"Limit must be 1 to {APPID_GROUP_LIST_MAX} and Next not negative")
    types: tuple[str, ...] = ()
    if req.GroupType:
        if req.GroupType not in GROUP_TYPES:
            raise error_for(ERR_PARAMS, f"GroupType must be one of {', '.join(sorted(GROUP_TYPES))}")
        types = tuple(t for t in (req.GroupType, SAME_TYPE.get(req.GroupType)) if t)
    offset = req.Next or 0
    page = await ctx.state.groups_page(offset, limit + 1, types)
    more = len(page) > limit
    return GetAppidGroupListResponse(
        TotalCount=await ctx.state.count_groups(types),
        GroupIdList=[GroupIdItem(g.group_id) for g in page[:limit]],
        Next=offset + limit if more else 0,
    )


# --- delete_group_msg_by_sender -------------------------------------------------------------------


async def delete_group_msg_by_sender(ctx: Context, req: DeleteGroupMsgBySender) -> Envelope:
    """https://trtc.io/document/34970: silently recall what `Sender_Account` sent among the last
    1,000 messages (marked recalled in roaming, no notification, no callback). AVChatRoom groups
    keep no history: nothing happens, and no error either."""
    group = await existing_group(ctx, req.GroupId)
    if not valid_user_id(req.Sender_Account):
        raise error_for(ERR_PARAMS, "Sender_Account is not a valid UserID")
    await ctx.state.recall_msgs_by_sender(group.group_id, req.Sender_Account, RECALL_BY_SENDER_WINDOW)
    return Envelope()


# --- send_group_system_notification ---------------------------------------------------------------


async def send_group_system_notification(ctx: Context, req: SendGroupSystemNotification) -> Envelope:
    """A notice the members' SDKs show, kept out of the group's history (the dev server records it:
    `DevServer.group_notices`). No recipients named: every member; named ones must be members, and
    an AVChatRoom notifies all its members only (https://trtc.io/document/34958)."""
    group = await existing_group(ctx, req.GroupId)
    if not req.Content:
        raise error_for(ERR_PARAMS, "Content must not be empty")
    named = list(dict.fromkeys(req.ToMembers_Account or ()))
    if len(named) > NOTIFICATION_MEMBERS_MAX:
        raise error_for(ERR_PARAMS, f"ToMembers_Account holds at most {NOTIFICATION_MEMBERS_MAX} accounts")
    if named and group.type == "AVChatRoom":
        raise error_for(ERR_NOT_ALLOWED, "an AVChatRoom notifies all members: leave out ToMembers_Account")
    members = [m.account for m in await ctx.state.members(group.group_id)]
    if named:
        strangers = set(named) - set(members)
        if strangers:
            listed = ", ".join(sorted(strangers))[:100]
            raise error_for(ERR_NOT_ALLOWED, f"not members of the group: {listed}")
    await ctx.state.insert_notice(group.group_id, req.Content, named or members, ctx.now())
    return Envelope()


# --- import_group ---------------------------------------------------------------------------------


async def import_group(ctx: Context, req: ImportGroup) -> Envelope:
    """https://trtc.io/document/34967: create a group as it was elsewhere, CreateTime included,
    firing no callback; AVChatRoom answers 10007. CreateTime absent or 0 means now."""
    if req.Type == "AVChatRoom":
        raise error_for(ERR_NOT_ALLOWED, "AVChatRoom groups cannot be imported; create one instead")
    now = ctx.now()
    created = req.CreateTime or now
    if not 0 < created <= now:
        raise error_for(ERR_PARAMS, "CreateTime must not be in the future")
    profile = profile_changes(req)
    check_room(profile.get("MaxMemberNum", DEFAULT_MAX_MEMBERS), 1 if req.Owner_Account else 0)
    group_id = await new_group(
        ctx, req.GroupId, req.Type, req.Name, req.Owner_Account, [], created=created, notify=False
    )
    profile.pop("Name", None)  # stored by new_group
    if profile:
        await ctx.state.update_group(group_id, profile, now)
    return ImportGroupResponse(GroupId=group_id)


HANDLERS: Final[dict[type[Request], Handler]] = {
    GetAppidGroupList: get_appid_group_list,
    DeleteGroupMsgBySender: delete_group_msg_by_sender,
    SendGroupSystemNotification: send_group_system_notification,
    ImportGroup: import_group,
}
