"""`ConvManager` (`tim.conv`): the C SDK's `TIMConv*` functions; a façade over the families.

    async with Client(...) as tim:
        for conv in await tim.conv.get_conv_list():
            print(conv.id, conv.unread_num, conv.last_msg)
        await tim.conv.pin_conversation("bob", ConvType.C2C, True)

C SDK JSON in (Structs, dicts or JSON text), C SDK Structs out; bad input raises UsageError
before any I/O. See docs/conversations.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from ..seams import MessageStore
from ..types.conv import ConvInfo, ConvListResult, ConvOperationResult, TotalUnreadResult
from . import edits, filters, groups, listing
from .context import ConvContext, Submit, table_of

__all__ = ["ConvManager"]


class ConvManager:
    """The conversation list of the client's user, kept in its store."""

    def __init__(self, submit: Submit, user_id: str, store: MessageStore, clock: Callable[[], float]) -> None:
        self._ctx = ConvContext(user_id, submit, store, table_of(store), clock)

    # --- the list ----------------------------------------------------------------------------------

    async def get_conv_list(self, *, roaming: bool = False) -> list[ConvInfo]:
        """TIMConvGetConvList (`roaming=True`: fill from recentcontact/get_list first)."""
        return await listing.get_conv_list(self._ctx, roaming=roaming)

    def iter_conv_list(self, *, page_size: int = listing.PAGE) -> AsyncIterator[ConvInfo]:
        """The list as an async iterator, `page_size` conversations read at a time."""
        return listing.iter_conv_list(self._ctx, page_size=page_size)

    async def get_conversation_list_by_filter(
        self, next_seq: int = 0, count: int = 100, filter: Any = None
    ) -> ConvListResult:
        """TIMConvGetConversationListByFilter: a page, of the conversations matching `filter`
        (a `ConvListFilter`, its dict or JSON; None: all)."""
        return await listing.get_conversation_list_by_filter(self._ctx, next_seq, count, filter)

    async def get_unread_message_count_by_filter(self, filter: Any = None) -> TotalUnreadResult:
        """TIMConvGetUnreadMessageCountByFilter: the unread count of the matching conversations."""
        return await filters.unread_by_filter(self._ctx, filters.checked_filter(filter))

    async def get_conv_info(self, params: Any) -> list[ConvInfo]:
        """TIMConvGetConvInfo."""
        return await listing.get_conv_info(self._ctx, params)

    async def get_total_unread_message_count(self) -> TotalUnreadResult:
        """TIMConvGetTotalUnreadMessageCount."""
        return await listing.get_total_unread_message_count(self._ctx)

    async def sync_conv_list(self) -> int:
        """The roaming fill alone: recentcontact/get_list into the table; how many were listed."""
        return await listing.fill_from_server(self._ctx)

    # --- changes -----------------------------------------------------------------------------------

    async def delete_conversation(self, conv_id: str, conv_type: int) -> None:
        """TIMConvDelete."""
        await edits.delete_conversation(self._ctx, conv_id, conv_type)

    async def delete_conversation_list(
        self, conversation_ids: Any, clear_message: bool = True
    ) -> list[ConvOperationResult]:
        """TIMConvDeleteConversationList."""
        return await edits.delete_conversation_list(self._ctx, conversation_ids, clear_message)

    async def pin_conversation(self, conv_id: str, conv_type: int, is_pinned: bool) -> None:
        """TIMConvPinConversation."""
        await edits.pin_conversation(self._ctx, conv_id, conv_type, is_pinned)

    async def mark_conversation(
        self, conversation_ids: Any, mark_type: int, enable_mark: bool
    ) -> list[ConvOperationResult]:
        """TIMConvMarkConversation."""
        return await edits.mark_conversation(self._ctx, conversation_ids, mark_type, enable_mark)

    async def clean_conversation_unread_message_count(
        self, conversation_id: str, clean_timestamp: int = 0, clean_sequence: int = 0
    ) -> None:
        """TIMConvCleanConversationUnreadMessageCount."""
        await edits.clean_conversation_unread_message_count(
            self._ctx, conversation_id, clean_timestamp, clean_sequence
        )

    async def set_draft(self, conv_id: str, conv_type: int, draft: Any) -> None:
        """TIMConvSetDraft (local)."""
        await edits.set_draft(self._ctx, conv_id, conv_type, draft)

    async def cancel_draft(self, conv_id: str, conv_type: int) -> None:
        """TIMConvCancelDraft (local)."""
        await edits.cancel_draft(self._ctx, conv_id, conv_type)

    async def set_conversation_custom_data(
        self, conversation_ids: Any, custom_data: str
    ) -> list[ConvOperationResult]:
        """TIMConvSetConversationCustomData (local)."""
        return await edits.set_conversation_custom_data(self._ctx, conversation_ids, custom_data)

    # --- conversation groups -----------------------------------------------------------------------

    async def create_conversation_group(
        self, group_name: str, conversation_ids: Any
    ) -> list[ConvOperationResult]:
        """TIMConvCreateConversationGroup."""
        return await groups.create_conversation_group(self._ctx, group_name, conversation_ids)

    async def get_conversation_group_list(self) -> list[str]:
        """TIMConvGetConversationGroupList."""
        return await groups.get_conversation_group_list(self._ctx)

    async def delete_conversation_group(self, group_name: str) -> None:
        """TIMConvDeleteConversationGroup."""
        await groups.delete_conversation_group(self._ctx, group_name)

    async def rename_conversation_group(self, old_name: str, new_name: str) -> None:
        """TIMConvRenameConversationGroup."""
        await groups.rename_conversation_group(self._ctx, old_name, new_name)

    async def add_conversations_to_group(
        self, group_name: str, conversation_ids: Any
    ) -> list[ConvOperationResult]:
        """TIMConvAddConversationsToGroup."""
        return await groups.add_conversations_to_group(self._ctx, group_name, conversation_ids)

    async def delete_conversations_from_group(
        self, group_name: str, conversation_ids: Any
    ) -> list[ConvOperationResult]:
        """TIMConvDeleteConversationsFromGroup."""
        return await groups.delete_conversations_from_group(self._ctx, group_name, conversation_ids)
