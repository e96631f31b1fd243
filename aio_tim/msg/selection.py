"""Which messages a `get_msg_list` page may hold besides its anchor: a time window and element types.

The C SDK's rules (V2TIMMessageListGetOption, as documented at
im.sdk.qcloud.com/doc/zh-cn/interfaceV2TIMMessageListGetOption.html):
`time_begin` is the window's start, 0 meaning now; `time_period` its length, 0 meaning unbounded;
older pages take [begin - period, begin], newer pages [begin, begin + period]. With an anchor too,
the page is the intersection of both. `message_type_array` keeps messages of those element types
and applies to the local store only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..errors import TIM_ERR_PARAM, UsageError
from ..store import LocatorKey, locator_key
from ..types import GetMsgListParam, Message

__all__ = ["Selection", "selection_of"]

# A locator below every real one in its second: (time, -1, -1) < (time, seq, rand) for all seq, rand.
_BEFORE_ALL: Final = -1


@dataclass(frozen=True)
class Selection:
    """The time window [low, high] (None: open on that side) and the element types (None: all)."""

    low: int | None = None
    high: int | None = None
    types: frozenset[int] | None = None

    def start(self, anchor: LocatorKey | None, forward: bool) -> LocatorKey | None:
        """The store anchor: the page's own anchor, moved to the window's near end if that is nearer."""
        if forward and self.low is not None:
            edge = (self.low, _BEFORE_ALL, _BEFORE_ALL)  # strictly after it: time >= low
            return edge if anchor is None else max(anchor, edge)
        if not forward and self.high is not None:
            edge = (self.high + 1, _BEFORE_ALL, _BEFORE_ALL)  # strictly before it: time <= high
            return edge if anchor is None else min(anchor, edge)
        return anchor

    def beyond(self, msg: Message, forward: bool) -> bool:
        """Whether `msg` lies past the window's far end (so every later one of the page does too)."""
        time = locator_key(msg)[0]
        if forward:
            return self.high is not None and time > self.high
        return self.low is not None and time < self.low

    def wanted(self, msg: Message) -> bool:
        if self.types is None:
            return True
        return bool(msg.elem_array) and _elem_type(msg) in self.types


ALL: Final = Selection()


def selection_of(page: GetMsgListParam, forward: bool, now: int) -> Selection:
    """The page's selection; UsageError (before any I/O) for a type filter with `is_remble`."""
    types = None
    if page.message_type_array:
        if page.is_remble:
            what = "msg_getmsglist_param_message_type_array"
            raise UsageError(TIM_ERR_PARAM, f"{what} filters local pages only (is_remble must be off)")
        types = frozenset(page.message_type_array)
    if not (page.time_begin or page.time_period):
        return Selection(types=types)
    begin = page.time_begin or now
    period = page.time_period or None
    if forward:
        return Selection(low=begin, high=None if period is None else begin + period, types=types)
    return Selection(low=None if period is None else max(begin - period, 0), high=begin, types=types)


def _elem_type(msg: Message) -> int:
    """A message's type is its first element's, as in the C SDK."""
    tag = type(msg.elem_array[0]).__struct_config__.tag
    assert isinstance(tag, int)
    return tag
