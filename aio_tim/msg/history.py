"""History: pages of a conversation from the local store, completed from roaming on request.

A page is the store's; with `is_remble` the messages it lacks are fetched first (`roaming.py`), in
rounds that each ask for twice the last, since messages deleted here take places in what comes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..store import Conv, LocatorKey
from ..types import ConvType, GetMsgListInput, GetMsgListParam, Message, coerce
from .context import SendContext, anchor_of, checked_conv
from .roaming import Roaming

__all__ = ["get_msg_list", "iter_msg_list"]

DEFAULT_PAGE: Final = 20
MAX_FILLS: Final = 8  # roaming fills for one page; each asks for twice the last


async def get_msg_list(
    ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int, param: GetMsgListInput
) -> list[Message]:
    """A page next to `last_msg` (excluded) or, in a group, from `last_msg_seq` (included)."""
    conv = checked_conv(conv_id, conv_type)
    page = coerce(param, GetMsgListParam, what="json_get_msg_param")
    _check_page_param(conv, page)
    count = DEFAULT_PAGE if page.count is None else page.count
    forward, remble = bool(page.is_forward), bool(page.is_remble)
    anchor = anchor_of(page.last_msg)
    if anchor is None and page.last_msg_seq:
        return await _page_from_seq(ctx, roaming, conv, page.last_msg_seq, (count, forward, remble))
    return await _page(ctx, roaming, conv, anchor, (count, forward, remble))


async def iter_msg_list(
    ctx: SendContext,
    roaming: Roaming,
    conv_id: str,
    conv_type: int,
    *,
    forward: bool,
    page_size: int,
    remble: bool,
) -> AsyncIterator[Message]:
    """Every message of a conversation, one `get_msg_list` page of `page_size` at a time."""
    if page_size < 1:
        raise UsageError(TIM_ERR_PARAM, f"page_size must be at least 1, not {page_size}")
    last: Message | None = None
    while True:
        param = GetMsgListParam(last_msg=last, count=page_size, is_forward=forward, is_remble=remble)
        page = await get_msg_list(ctx, roaming, conv_id, conv_type, param)
        for msg in page:
            yield msg
        if len(page) < page_size:
            return
        last = page[-1]


# How a page is asked for: (count, forward, remble).
_Shape = tuple[int, bool, bool]


async def _page(
    ctx: SendContext, roaming: Roaming, conv: Conv, anchor: LocatorKey | None, shape: _Shape
) -> list[Message]:
    """Up to `count` stored messages beyond `anchor`; with `remble`, missing ones are fetched first."""
    count, forward, remble = shape
    found = await ctx.store.page(conv, anchor=anchor, count=count, forward=forward)
    want = count
    for _ in range(MAX_FILLS if remble else 0):
        if len(found) >= count:
            break
        more = await roaming.fill(conv, anchor, want, forward=forward)
        found = await ctx.store.page(conv, anchor=anchor, count=count, forward=forward)
        if not more:
            break
        want *= 2  # messages deleted here took places in what came: reach further
    return found


async def _page_from_seq(
    ctx: SendContext, roaming: Roaming, conv: Conv, seq: int, shape: _Shape
) -> list[Message]:
    """A group page that starts with the message numbered `seq`, whose locator the server knows."""
    count, forward, remble = shape
    key = await roaming.group_locator(conv, seq, keep=remble)
    if key is None:
        raise UsageError(TIM_ERR_PARAM, f"group {conv[1]!r} has no message with seq {seq}")
    first = await ctx.store.get(conv, key)
    head = [first] if first is not None else []
    if count <= len(head):
        return head[:count]
    return head + await _page(ctx, roaming, conv, key, (count - len(head), forward, remble))


def _check_page_param(conv: Conv, page: GetMsgListParam) -> None:
    if page.last_msg_seq and anchor_of(page.last_msg) is None and conv[0] != ConvType.GROUP:
        raise UsageError(TIM_ERR_PARAM, "msg_getmsglist_param_last_msg_seq anchors group pages only")
    unsupported = [
        name
        for name in ("time_begin", "time_period", "message_type_array", "message_seq_array")
        if getattr(page, name)
    ]
    if unsupported:
        # Ignoring them would return a page the caller did not ask for.
        raise UsageError(TIM_ERR_PARAM, f"msg_getmsglist_param_{unsupported[0]} is not supported")
