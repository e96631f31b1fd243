"""Conversation groups (TIMConvCreateConversationGroup & co.), kept in the local table.

TIM caps a user at 20 conversation groups (trtc.io/document/53437); a name is a non-empty string.
The C SDK answers per conversation (`ConvOperationResult`).
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..types.conv import ConvOperationResult, conversation_id_of
from .context import ConvContext, checked_conversation_ids

__all__ = [
    "add_conversations_to_group",
    "create_conversation_group",
    "delete_conversation_group",
    "delete_conversations_from_group",
    "get_conversation_group_list",
    "rename_conversation_group",
]

MAX_GROUPS: Final = 20
_MAX_NAME: Final = 32  # bytes, as the SDK's group names in TIM's console


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
    await ctx.table.conv_group_create(name, convs)
    return [ConvOperationResult(conversation_id_of(conv)) for conv in convs]


async def get_conversation_group_list(ctx: ConvContext) -> list[str]:
    """TIMConvGetConversationGroupList: every group's name."""
    return await ctx.table.conv_group_names()


async def delete_conversation_group(ctx: ConvContext, group_name: str) -> None:
    """TIMConvDeleteConversationGroup: the group goes, its conversations stay."""
    if not await ctx.table.conv_group_delete(_check_name(group_name)):
        raise UsageError(TIM_ERR_PARAM, f"no conversation group {group_name!r}")


async def rename_conversation_group(ctx: ConvContext, old_name: str, new_name: str) -> None:
    """TIMConvRenameConversationGroup."""
    outcome = await ctx.table.conv_group_rename(
        _check_name(old_name, "old_name"), _check_name(new_name, "new_name")
    )
    if outcome == 1:
        raise UsageError(TIM_ERR_PARAM, f"no conversation group {old_name!r}")
    if outcome == 2:
        raise UsageError(TIM_ERR_PARAM, f"conversation group {new_name!r} exists already")


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
    if not await ctx.table.conv_group_members(name, convs, add=add):
        raise UsageError(TIM_ERR_PARAM, f"no conversation group {name!r}")
    return [ConvOperationResult(conversation_id_of(conv)) for conv in convs]
