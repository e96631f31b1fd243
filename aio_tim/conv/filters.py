"""The filtered list and unread count (TIMConvGetConversationListByFilter with a filter,
TIMConvGetUnreadMessageCountByFilter): the table's pages, matched here.

A filter keeps conversations of its type, with every bit of its mark, in its conversation group,
with unread messages (`has_unread_count`), as the C SDK's `ConversationListFilter` does. No
conversation carries group @-information here (receiving keeps none yet), so
`has_group_at_info` true matches nothing.
"""

from __future__ import annotations

from typing import Any, Final

from ..seams.conversations import ConvCursor, ConvRecord
from ..types._base import coerce
from ..types.conv import ConvListFilter, ConvListResult, TotalUnreadResult
from .context import ConvContext, conv_info

__all__ = ["checked_filter", "filtered_page", "unread_by_filter"]

_SCAN: Final = 200  # table rows read at a time while looking for matches


def checked_filter(value: Any) -> ConvListFilter | None:
    """The filter (None for none, or one that filters nothing); TIM_ERR_JSON before any I/O."""
    if value in (None, "", b"", {}):
        return None
    found = coerce(value, ConvListFilter, what="filter")
    return None if found == ConvListFilter() else found


def matches(record: ConvRecord, wanted: ConvListFilter) -> bool:
    if wanted.conv_type and record.conv[0] != wanted.conv_type:
        return False
    if wanted.mark_type and record.mark & wanted.mark_type != wanted.mark_type:
        return False
    if wanted.conversation_group and wanted.conversation_group not in record.groups:
        return False
    if wanted.has_unread_count and not record.unread:
        return False
    return not wanted.has_group_at_info


async def filtered_page(
    ctx: ConvContext, after: ConvCursor | None, count: int, wanted: ConvListFilter
) -> ConvListResult:
    """`count` matching conversations after `after`; the page ends after the whole run of
    conversations sharing the last one's place, so `next_seq` skips none."""
    found: list[ConvRecord] = []
    cursor = after
    while True:
        page = await ctx.table.conv_page(cursor, _SCAN)
        for record in page:
            if len(found) >= count and record.listed != found[-1].listed:
                return _result(found, finished=False)
            if matches(record, wanted):
                found.append(record)
        if len(page) < _SCAN:
            return _result(found, finished=True)
        cursor = page[-1].cursor


def _result(found: list[ConvRecord], *, finished: bool) -> ConvListResult:
    infos = [conv_info(record) for record in found]
    return ConvListResult(conv_list=infos, next_seq=found[-1].listed if found else 0, is_finished=finished)


async def unread_by_filter(ctx: ConvContext, wanted: ConvListFilter | None) -> TotalUnreadResult:
    """The unread count summed over the matching conversations."""
    total, cursor = 0, None
    while True:
        page = await ctx.table.conv_page(cursor, _SCAN)
        total += sum(r.unread for r in page if wanted is None or matches(r, wanted))
        if len(page) < _SCAN:
            return TotalUnreadResult(unread_count=total)
        cursor = page[-1].cursor
