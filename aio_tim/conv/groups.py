"""Conversation groups (TIMConvCreateConversationGroup & co.): on the server
(`recentcontact/*_contact_group`, protocol/contactgroups.py), then in the local table.

TIM caps a user at 20 conversation groups of at most 1000 conversations (51008 over either,
tencentcloud.com/document/product/1047/53437); a name is 1 to 32 bytes. The local table is
checked first (a name taken or missing, the cap: UsageError before any I/O); a refusal of the
server raises its TIMError and changes nothing here. The C SDK answers per conversation
(`ConvOperationResult`): the server's ResultCode for each, and only the ones it took change
here. `sync_conversation_groups` brings the server's groups into the table (get_contact_group).
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.contactgroups import (
    ContactResultItem,
    ContactUpdateItem,
    CreateContactGroup,
    CreateContactGroupResponse,
    DeleteContactGroup,
    GetContactGroup,
    GetContactGroupResponse,
    GroupContactItem,
    UpdateContactGroup,
    UpdateContactGroupResponse,
    UpdateGroup,
)
from ..types import Conv, ConvType
from ..types.conv import ConvOperationResult, conversation_id_of
from .context import ConvContext, checked_conversation_ids, contact_item

__all__ = [
    "add_conversations_to_group",
    "create_conversation_group",
    "delete_conversation_group",
    "delete_conversations_from_group",
    "get_conversation_group_list",
    "rename_conversation_group",
    "sync_conversation_groups",
]

MAX_GROUPS: Final = 20
_MAX_NAME: Final = 32  # bytes: create_contact_group's GroupName
_MAX_PAGES: Final = 1000  # a server that never says CompleteFlag=1 cannot loop us forever


def _check_name(name: object, what: str = "group_name") -> str:
    if not isinstance(name, str) or not name or len(name.encode()) > _MAX_NAME:
        raise UsageError(TIM_ERR_PARAM, f"{what} must be a non-empty string of at most {_MAX_NAME} bytes")
    return name


async def create_conversation_group(
    ctx: ConvContext, group_name: str, conversation_ids: Any
) -> list[ConvOperationResult]:
    """TIMConvCreateConversationGroup: a new group holding these conversations."""
    name = _check_name(group_name)
    convs = checked_conversation_ids(conversation_ids)
    names = await ctx.table.conv_group_names()
    if name in names:
        raise UsageError(TIM_ERR_PARAM, f"conversation group {name!r} exists already")
    if len(names) >= MAX_GROUPS:
        raise UsageError(TIM_ERR_PARAM, f"at most {MAX_GROUPS} conversation groups")
    items = [contact_item(conv, group_key="ToGroupId") for conv in convs]
    reply = await ctx.submit(
        CreateContactGroup(From_Account=ctx.user_id, GroupContactItem=[GroupContactItem(name, items)])
    )
    assert isinstance(reply, CreateContactGroupResponse)
    answers = reply.GroupResultItem[0].ResultItem if reply.GroupResultItem else []
    results = _results(convs, answers)
    await ctx.table.conv_group_create(
        name, [c for c, r in zip(convs, results, strict=True) if not r.result_code]
    )
    return results


async def get_conversation_group_list(ctx: ConvContext) -> list[str]:
    """TIMConvGetConversationGroupList: every group's name."""
    return await ctx.table.conv_group_names()


async def delete_conversation_group(ctx: ConvContext, group_name: str) -> None:
    """TIMConvDeleteConversationGroup: the group goes, its conversations stay."""
    name = _check_name(group_name)
    await _require_group(ctx, name)
    await ctx.submit(DeleteContactGroup(From_Account=ctx.user_id, GroupName=[name]))
    await ctx.table.conv_group_delete(name)


async def rename_conversation_group(ctx: ConvContext, old_name: str, new_name: str) -> None:
    """TIMConvRenameConversationGroup."""
    old, new = _check_name(old_name, "old_name"), _check_name(new_name, "new_name")
    names = await _require_group(ctx, old)
    if new in names:
        raise UsageError(TIM_ERR_PARAM, f"conversation group {new!r} exists already")
    change = UpdateGroup(UpdateGroupType=1, OldGroupName=old, NewGroupName=new)
    await ctx.submit(UpdateContactGroup(From_Account=ctx.user_id, UpdateType=1, UpdateGroup=change))
    await ctx.table.conv_group_rename(old, new)


async def add_conversations_to_group(
    ctx: ConvContext, group_name: str, conversation_ids: Any
) -> list[ConvOperationResult]:
    """TIMConvAddConversationsToGroup."""
    return await _members(ctx, group_name, conversation_ids, add=True)


async def delete_conversations_from_group(
    ctx: ConvContext, group_name: str, conversation_ids: Any
) -> list[ConvOperationResult]:
    """TIMConvDeleteConversationsFromGroup."""
    return await _members(ctx, group_name, conversation_ids, add=False)


async def _members(ctx: ConvContext, group_name: str, ids: Any, *, add: bool) -> list[ConvOperationResult]:
    name = _check_name(group_name)
    convs = checked_conversation_ids(ids)
    await _require_group(ctx, name)
    items = [ContactUpdateItem(1 if add else 2, contact_item(c, group_key="ToGroupId")) for c in convs]
    change = UpdateGroup(UpdateGroupType=2, OldGroupName=name, ContactUpdateItem=items)
    reply = await ctx.submit(UpdateContactGroup(From_Account=ctx.user_id, UpdateType=1, UpdateGroup=change))
    assert isinstance(reply, UpdateContactGroupResponse)
    answered = reply.UpdateGroupResult.ContactResultItem if reply.UpdateGroupResult else None
    results = _results(convs, answered or [])
    done = [conv for conv, result in zip(convs, results, strict=True) if not result.result_code]
    if done:
        await ctx.table.conv_group_members(name, done, add=add)
    return results


async def _require_group(ctx: ConvContext, name: str) -> list[str]:
    names = await ctx.table.conv_group_names()
    if name not in names:
        raise UsageError(TIM_ERR_PARAM, f"no conversation group {name!r}")
    return names


def _results(convs: list[Conv], answers: list[ContactResultItem]) -> list[ConvOperationResult]:
    """One result per conversation: the server's answer in order (an unanswered one took)."""
    codes = [(a.ResultCode, a.ResultInfo) for a in answers] + [(0, "")] * (len(convs) - len(answers))
    return [
        ConvOperationResult(conversation_id_of(conv), code, info)
        for conv, (code, info) in zip(convs, codes, strict=False)
    ]


async def sync_conversation_groups(ctx: ConvContext) -> list[str]:
    """The server's conversation groups into the table (get_contact_group, every page): groups the
    server lacks go, the server's groups and memberships are added; the names, as now kept."""
    groups: dict[str, list[Conv]] = {}
    ids: dict[int, str] = {}
    start = 0
    for _ in range(_MAX_PAGES):
        reply = await ctx.submit(GetContactGroup(From_Account=ctx.user_id, StartIndex=start))
        assert isinstance(reply, GetContactGroupResponse)
        for group in reply.GroupItem:
            ids[group.GroupId] = group.GroupName
            groups.setdefault(group.GroupName, [])
        for entry in reply.ContactItem:
            conv = _entry_conv(entry.Type, entry.To_Account, entry.ToGroupId)
            for group_id in entry.ContactGroupId or []:
                if conv is not None and group_id in ids:
                    groups[ids[group_id]].append(conv)
        if reply.CompleteFlag == 1 or not reply.NextStartIndex:
            break
        start = reply.NextStartIndex
    await _mirror(ctx, groups)
    return await ctx.table.conv_group_names()


def _entry_conv(conv_type: int, to_account: str | None, to_group: str | None) -> Conv | None:
    if conv_type == ConvType.C2C and to_account:
        return int(ConvType.C2C), to_account
    if conv_type == ConvType.GROUP and to_group:
        return int(ConvType.GROUP), to_group
    return None


async def _mirror(ctx: ConvContext, groups: dict[str, list[Conv]]) -> None:
    for name in await ctx.table.conv_group_names():
        if name not in groups:
            await ctx.table.conv_group_delete(name)
    for name, convs in groups.items():
        if not await ctx.table.conv_group_create(name, convs) and convs:
            await ctx.table.conv_group_members(name, convs, add=True)
