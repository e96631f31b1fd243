"""History: pages of a conversation from the local store, completed from roaming on request.

A page is the store's; with `is_remble` the messages it lacks are fetched first (`roaming.py`), in
rounds that each ask for twice the last, since messages deleted here take places in what comes.
A page may also be bounded by a time window and filtered by element type (`selection.py`), or be
a group's messages named by seq.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..seams import SearchStore
from ..store import Conv, LocatorKey, locator_key
from ..types import ConvType, GetMsgListInput, GetMsgListParam, Message, coerce
from .context import SendContext, anchor_of, checked_conv
from .roaming import Roaming
from .selection import ALL, Selection, selection_of

__all__ = ["get_msg_list", "iter_msg_list"]

DEFAULT_PAGE: Final = 20
MAX_FILLS: Final = 8  # roaming fills for one page; each asks for twice the last
FILTERED_READ: Final = 200  # stored messages read per round while a type filter skips some


async def get_msg_list(
    ctx: SendContext, roaming: Roaming, conv_id: str, conv_type: int, param: GetMsgListInput
) -> list[Message]:
    """A page next to `last_msg` (excluded) or, in a group, from `last_msg_seq` (included)."""
    conv = checked_conv(conv_id, conv_type)
    page = coerce(param, GetMsgListParam, what="json_get_msg_param")
    _check_page_param(conv, page)
    count = DEFAULT_PAGE if page.count is None else page.count
    forward, remble = bool(page.is_forward), bool(page.is_remble)
    selection = selection_of(page, forward, ctx.now())
    if page.message_seq_array:
        return await _by_seqs(ctx, roaming, conv, page.message_seq_array, (count, forward, remble))
    anchor = anchor_of(page.last_msg)
    if anchor is None and page.last_msg_seq:
        shape = (count, forward, remble)
        return await _page_from_seq(ctx, roaming, conv, page.last_msg_seq, shape, selection)
    return await _page(ctx, roaming, conv, anchor, (count, forward, remble), selection)


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
    ctx: SendContext,
    roaming: Roaming,
    conv: Conv,
    anchor: LocatorKey | None,
    shape: _Shape,
    selection: Selection = ALL,
) -> list[Message]:
    """Up to `count` stored messages beyond `anchor` within `selection`; with `remble`, missing
    ones are fetched first (roaming walks from the page's own anchor; the window cuts what came)."""
    count, forward, remble = shape
    start = selection.start(anchor, forward)
    found, ended = await _stored(ctx, conv, start, (count, forward), selection)
    want = count
    for _ in range(MAX_FILLS if remble else 0):
        if len(found) >= count or ended:
            break
        more = await roaming.fill(conv, anchor, want, forward=forward)
        found, ended = await _stored(ctx, conv, start, (count, forward), selection)
        if not more:
            break
        want *= 2  # messages deleted here took places in what came: reach further
    return found


async def _stored(
    ctx: SendContext, conv: Conv, anchor: LocatorKey | None, want: tuple[int, bool], selection: Selection
) -> tuple[list[Message], bool]:
    """Up to `count` stored messages beyond `anchor` that `selection` keeps, and whether the page
    reached the window's far end (nothing further can belong to it)."""
    count, forward = want
    if selection.types is not None and isinstance(ctx.store, SearchStore):
        # The store filters by type in SQL (an index per type); type filters never fill from
        # roaming, so a short page needs no "ended" to stop fills.
        page = await ctx.store.page_of_types(
            conv,
            anchor=anchor,
            count=count,
            forward=forward,
            types=sorted(selection.types),
            low=selection.low,
            high=selection.high,
        )
        return page, len(page) < count
    return await _stored_in_python(ctx, conv, anchor, want, selection)


async def _stored_in_python(
    ctx: SendContext, conv: Conv, anchor: LocatorKey | None, want: tuple[int, bool], selection: Selection
) -> tuple[list[Message], bool]:
    """`_stored` reading pages and filtering them here (a store without `page_of_types`)."""
    count, forward = want
    read = count if selection.types is None else max(count, FILTERED_READ)
    found: list[Message] = []
    while len(found) < count:
        batch = await ctx.store.page(conv, anchor=anchor, count=read, forward=forward)
        for msg in batch:
            if selection.beyond(msg, forward):
                return found, True
            if selection.wanted(msg):
                found.append(msg)
        if len(batch) < read:
            break
        anchor = locator_key(batch[-1])
    return found[:count], False


async def _page_from_seq(
    ctx: SendContext, roaming: Roaming, conv: Conv, seq: int, shape: _Shape, selection: Selection
) -> list[Message]:
    """A group page that starts with the message numbered `seq`, whose locator the server knows."""
    count, forward, remble = shape
    key = await roaming.group_locator(conv, seq, keep=remble)
    if key is None:
        raise UsageError(TIM_ERR_PARAM, f"group {conv[1]!r} has no message with seq {seq}")
    first = await ctx.store.get(conv, key)
    head = [first] if first is not None and _selected(first, selection) else []
    if count <= len(head):
        return head[:count]
    return head + await _page(ctx, roaming, conv, key, (count - len(head), forward, remble), selection)


def _selected(msg: Message, selection: Selection) -> bool:
    return selection.wanted(msg) and not (selection.beyond(msg, True) or selection.beyond(msg, False))


async def _by_seqs(
    ctx: SendContext, roaming: Roaming, conv: Conv, seqs: list[int], shape: _Shape
) -> list[Message]:
    """A group's messages named by seq (`message_seq_array`; the anchors and `count` do not apply),
    oldest first when `forward`, else newest first; with `remble` the server's fill the gaps."""
    _, forward, remble = shape
    wanted = set(seqs)
    found = await _stored_seqs(ctx, conv, wanted)
    for seq in sorted(wanted - found.keys()) if remble else ():
        key = await roaming.group_locator(conv, seq, keep=True)
        msg = None if key is None else await ctx.store.get(conv, key)
        if msg is not None:
            found[seq] = msg
    return [found[seq] for seq in sorted(found, reverse=not forward)]


async def _stored_seqs(ctx: SendContext, conv: Conv, seqs: set[int]) -> dict[int, Message]:
    """The stored messages with these seqs: a walk back from the newest, which stops below the
    smallest (a group's seqs grow with its history)."""
    found: dict[int, Message] = {}
    anchor: LocatorKey | None = None
    lowest = min(seqs)
    while True:
        batch = await ctx.store.page(conv, anchor=anchor, count=FILTERED_READ, forward=False)
        found.update((m.seq, m) for m in batch if m.seq in seqs)
        if len(batch) < FILTERED_READ or len(found) == len(seqs) or (batch[-1].seq or 0) < lowest:
            return found
        anchor = locator_key(batch[-1])


def _check_page_param(conv: Conv, page: GetMsgListParam) -> None:
    if page.last_msg_seq and anchor_of(page.last_msg) is None and conv[0] != ConvType.GROUP:
        raise UsageError(TIM_ERR_PARAM, "msg_getmsglist_param_last_msg_seq anchors group pages only")
    if page.message_seq_array and conv[0] != ConvType.GROUP:
        what = "msg_getmsglist_param_message_seq_array"
        raise UsageError(TIM_ERR_PARAM, f"{what} names group messages only")
