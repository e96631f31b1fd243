"""The C SDK's conversation listeners, fed by the logged-in client's `tim.conv` change log.

    TIMSetConvEventCallback(cb, user_data)          # cb(conv_event, json_conv_array, user_data)
    TIMSetConvTotalUnreadMessageCountChangedCallback(cb, user_data)   # cb(total, user_data)
    TIMSetConvUnreadMessageCountChangedByFilterCallback(cb, user_data)  # cb(filter, total, user_data)
    TIMConvSubscribeUnreadMessageCountByFilter(json_filter)
    TIMConvUnsubscribeUnreadMessageCountByFilter(json_filter)

`conv_event` is a `TIMConvEvent` (kTIMConvEvent_Add 0, _Del 1, _Update 2, _Start 3, _Finish 4);
`json_conv_array` the ConvInfo array (conv/events.py says what makes each). The changes are the
store's, whoever made them: this client's calls, and received messages its inbox applies (set
`aio_tim_webhook_port` in TIMInit's config to receive). Subscriptions live across logins: a
filter subscribed before TIMLogin is watched from the login on, as in the C SDK. Callbacks run
where the other callbacks run (see `runtime`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Final

from ..client import Client
from ..conv.filters import checked_filter
from ..errors import TIMError
from ..types.conv import ConvEventType
from .constants import TIM_SUCC

__all__ = [
    "TIMConvSubscribeUnreadMessageCountByFilter",
    "TIMConvUnsubscribeUnreadMessageCountByFilter",
    "TIMSetConvEventCallback",
    "TIMSetConvTotalUnreadMessageCountChangedCallback",
    "TIMSetConvUnreadMessageCountChangedByFilterCallback",
    "kTIMConvEvent_Add",
    "kTIMConvEvent_Del",
    "kTIMConvEvent_Finish",
    "kTIMConvEvent_Start",
    "kTIMConvEvent_Update",
    "pump",
]

log = logging.getLogger("aio_tim.capi")

kTIMConvEvent_Add: Final = int(ConvEventType.ADD)
kTIMConvEvent_Del: Final = int(ConvEventType.DEL)
kTIMConvEvent_Update: Final = int(ConvEventType.UPDATE)
kTIMConvEvent_Start: Final = int(ConvEventType.START)
kTIMConvEvent_Finish: Final = int(ConvEventType.FINISH)

ConvEventCallback = Callable[[int, str, Any], None]  # TIMConvEventCallback
TotalUnreadCallback = Callable[[int, Any], None]  # TIMConvTotalUnreadMessageCountChangedCallback
FilterUnreadCallback = Callable[[str, int, Any], None]  # ...ChangedByFilterCallback

_event_cb: list[tuple[ConvEventCallback, Any]] = []
_total_cb: list[tuple[TotalUnreadCallback, Any]] = []
_filter_cb: list[tuple[FilterUnreadCallback, Any]] = []
_filters: dict[str, asyncio.Task[None] | None] = {}  # subscribed filter JSON -> its watch (when logged in)
_live: list[tuple[Client, asyncio.AbstractEventLoop]] = []  # the logged-in client, while its pump runs


def TIMSetConvEventCallback(cb: ConvEventCallback | None, user_data: Any = None) -> None:
    """Set (None: clear) the conversation event callback: `cb(conv_event, json_conv_array, user_data)`."""
    _event_cb[:] = [] if cb is None else [(cb, user_data)]


def TIMSetConvTotalUnreadMessageCountChangedCallback(
    cb: TotalUnreadCallback | None, user_data: Any = None
) -> None:
    """Set (None: clear) the total unread count callback: `cb(total_unread_count, user_data)`."""
    _total_cb[:] = [] if cb is None else [(cb, user_data)]


def TIMSetConvUnreadMessageCountChangedByFilterCallback(
    cb: FilterUnreadCallback | None, user_data: Any = None
) -> None:
    """Set (None: clear) the filtered count callback: `cb(filter, total_unread_count, user_data)`,
    for each filter subscribed with TIMConvSubscribeUnreadMessageCountByFilter."""
    _filter_cb[:] = [] if cb is None else [(cb, user_data)]


def TIMConvSubscribeUnreadMessageCountByFilter(filter: str) -> int:
    """Watch the unread count of the conversations matching `filter` (a ConversationListFilter
    JSON); the by-filter callback gets it now and at each change. TIM_ERR_JSON for a bad filter."""
    try:
        checked_filter(filter)
    except TIMError as error:
        return error.code
    if filter not in _filters:
        _filters[filter] = None
        for client, loop in _live:
            loop.call_soon_threadsafe(_start_filter, client, filter)
    return TIM_SUCC


def TIMConvUnsubscribeUnreadMessageCountByFilter(filter: str) -> int:
    """Stop watching a filter subscribed before (the same JSON text)."""
    task = _filters.pop(filter, None)
    if task is not None:
        task.get_loop().call_soon_threadsafe(task.cancel)
    return TIM_SUCC


async def pump(client: Client) -> None:
    """Hand the client's conversation events and unread counts to the callbacks until it closes."""
    loop = asyncio.get_running_loop()
    _live[:] = [(client, loop)]
    for filter in list(_filters):
        _start_filter(client, filter)
    total = loop.create_task(_totals(client))
    try:
        async for event in client.conv.events():
            for cb, user_data in list(_event_cb):
                _safely(cb, int(event.type), event.json_conv_array, user_data)
    except Exception:  # a store without a change log: no events, logged once
        log.exception("conversation events stopped")
    finally:
        total.cancel()
        _live[:] = [(c, lp) for c, lp in _live if c is not client]
        for filter, task in list(_filters.items()):
            if task is not None:
                task.cancel()
                _filters[filter] = None


async def _totals(client: Client) -> None:
    first = True
    async for result in client.conv.unread_counts():
        if not first:  # the C SDK calls back on changes only
            for cb, user_data in list(_total_cb):
                _safely(cb, result.unread_count, user_data)
        first = False


def _start_filter(client: Client, filter: str) -> None:
    if filter in _filters and _filters[filter] is None and not client.closed:
        _filters[filter] = asyncio.get_running_loop().create_task(_watch_filter(client, filter))


async def _watch_filter(client: Client, filter: str) -> None:
    async for result in client.conv.unread_counts(filter):
        for cb, user_data in list(_filter_cb):
            _safely(cb, filter, result.unread_count, user_data)


def _safely(cb: Callable[..., None], *args: Any) -> None:
    try:
        cb(*args)
    except BaseException:  # a callback must not end the pump or the logic thread
        log.exception("a TIM conversation callback raised")
