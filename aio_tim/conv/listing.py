"""Reading the conversation list: all of it, a page, one async iterator, chosen conversations,
the unread total; and the roaming fill from `recentcontact/get_list`.

The list is local, as the C SDK's is (TIMConvGetConvList "pulls the locally cached
conversations"): pinned ones first, then by order key, larger first. The roaming fill
(`roaming=True`) first pages the server's list (tencentcloud.com/document/product/1047/43087)
into the table: a conversation the store has no message of gets the server's pin, marks and
MsgTime as its order key; local messages keep deciding the order of the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..protocol.recentcontact import GetRecentContactList, GetRecentContactListResponse, SessionItem
from ..seams.conversations import ConvCursor, ConvRecord
from ..types import Conv, ConvType
from ..types._base import coerce_list
from ..types.conv import ConvInfo, ConvListResult, GetConvInfoParam, TotalUnreadResult
from .context import ConvContext, checked_conv, conv_info
from .filters import checked_filter, filtered_page

__all__ = [
    "fill_from_server",
    "get_conv_info",
    "get_conv_list",
    "get_conversation_list_by_filter",
    "get_total_unread_message_count",
    "iter_conv_list",
]

PAGE: Final = 100
MAX_PAGE: Final = 1000  # TIMConvGetConversationListByFilter's count, at most
_MAX_ROAMING_PAGES: Final = 1000  # a server that never says CompleteFlag=1 cannot loop us forever
_ALL_FLAGS: Final = 63  # AssistFlags: "set 63 to retrieve complete conversation data" (43087)


async def iter_conv_list(ctx: ConvContext, *, page_size: int = PAGE) -> AsyncIterator[ConvInfo]:
    """Every conversation in list order, a page of `page_size` read at a time."""
    _check_count(page_size, "page_size")
    cursor: ConvCursor | None = None
    while True:
        page = await ctx.table.conv_page(cursor, page_size)
        for record in page:
            yield conv_info(record)
        if len(page) < page_size:
            return
        cursor = page[-1].cursor


async def get_conv_list(ctx: ConvContext, *, roaming: bool = False) -> list[ConvInfo]:
    """TIMConvGetConvList: the whole list (after the roaming fill, with `roaming=True`)."""
    if roaming:
        await fill_from_server(ctx)
    return [info async for info in iter_conv_list(ctx)]


async def get_conversation_list_by_filter(
    ctx: ConvContext, next_seq: int, count: int, filter: Any = None
) -> ConvListResult:
    """TIMConvGetConversationListByFilter: `count` conversations (matching `filter`, filters.py)
    after `next_seq` (0: the top). `next_seq` is the last one's place in the list (pin and order
    key in one integer); a page never ends between two conversations of the same place, so none
    is skipped or repeated."""
    _check_count(count, "count", MAX_PAGE)
    if isinstance(next_seq, bool) or not isinstance(next_seq, int) or next_seq < 0:
        raise UsageError(TIM_ERR_PARAM, f"next_seq must be an integer >= 0, not {next_seq!r}")
    wanted = checked_filter(filter)
    after = None if next_seq == 0 else ConvCursor(next_seq, -1, "")  # every row of that place is after
    if wanted is not None:
        return await filtered_page(ctx, after, count, wanted)
    page = await ctx.table.conv_page(after, count + 1)
    finished = len(page) <= count
    if not finished and page[count].listed == page[count - 1].listed:
        page = page[:count] + await _same_place(ctx, page[count - 1])  # a tie group across the end
    else:
        page = page[:count]
    infos = [conv_info(record) for record in page]
    return ConvListResult(conv_list=infos, next_seq=page[-1].listed if page else 0, is_finished=finished)


async def _same_place(ctx: ConvContext, last: ConvRecord) -> list[ConvRecord]:
    """The conversations after `last` that share its place in the list (its tie group)."""
    more: list[ConvRecord] = []
    cursor = last.cursor
    while True:
        page = await ctx.table.conv_page(cursor, PAGE)
        tied = [record for record in page if record.listed == last.listed]
        more += tied
        if len(tied) < len(page) or len(page) < PAGE:
            return more
        cursor = page[-1].cursor


async def get_conv_info(ctx: ConvContext, params: Any) -> list[ConvInfo]:
    """TIMConvGetConvInfo: the conversations asked for (a list of `GetConvInfoParam`) that exist."""
    items = coerce_list(params, GetConvInfoParam, what="json_get_conv_list_param")
    if not items:
        raise UsageError(TIM_ERR_PARAM, "json_get_conv_list_param names no conversation")
    convs = [checked_conv(item.conv_id, item.conv_type) for item in items]
    return [conv_info(record) for record in await ctx.table.conv_get(convs)]


async def get_total_unread_message_count(ctx: ConvContext) -> TotalUnreadResult:
    """TIMConvGetTotalUnreadMessageCount, from the table (no I/O to the server)."""
    return TotalUnreadResult(unread_count=await ctx.table.conv_total_unread())


async def fill_from_server(ctx: ConvContext) -> int:
    """Page `recentcontact/get_list` into the table; how many conversations the server listed."""
    request = GetRecentContactList(From_Account=ctx.user_id, AssistFlags=_ALL_FLAGS)
    listed = 0
    for _ in range(_MAX_ROAMING_PAGES):
        reply = await ctx.submit(request)
        assert isinstance(reply, GetRecentContactListResponse)
        for item in reply.SessionItem:
            listed += await _fill_one(ctx, item)
        if reply.CompleteFlag == 1 or not reply.SessionItem:
            break
        request = GetRecentContactList(
            From_Account=ctx.user_id, TimeStamp=reply.TimeStamp, StartIndex=reply.StartIndex,
            TopTimeStamp=reply.TopTimeStamp, TopStartIndex=reply.TopStartIndex, AssistFlags=_ALL_FLAGS,
        )  # fmt: skip
    return listed


async def _fill_one(ctx: ConvContext, item: SessionItem) -> int:
    conv = _conv_of(item)
    if conv is None:
        return 0  # a type this client does not list (system conversations)
    mark = _standard_mark(item.StandardMark)
    await ctx.table.conv_update(
        [conv], pinned=item.TopFlag == 1, mark_set=mark, mark_clear=~mark & (2**63 - 1),
        order_key=max(item.MsgTime, 0) << 20,
    )  # fmt: skip
    return 1


def _conv_of(item: SessionItem) -> Conv | None:
    if item.Type == ConvType.C2C and item.To_Account:
        return int(ConvType.C2C), item.To_Account
    if item.Type == ConvType.GROUP and item.GroupId:
        return int(ConvType.GROUP), item.GroupId
    return None


def _standard_mark(text: str | None) -> int:
    """REST's StandardMark ("111001": bit n is the n-th character from the right) as a bit mask."""
    if not text or set(text) - {"0", "1"}:
        return 0
    return int(text[-63:], 2)


def _check_count(count: object, what: str, most: int | None = None) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1 or (most and count > most):
        limit = f" and <= {most}" if most else ""
        raise UsageError(TIM_ERR_PARAM, f"{what} must be an integer >= 1{limit}, not {count!r}")
