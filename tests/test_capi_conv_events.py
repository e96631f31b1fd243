"""The conversation listeners through `aio_tim.capi`: TIMSetConvEventCallback, the total unread
count's callback and the by-filter subscription, fed by a logged-in session's own writes and the
messages it fetches, with the C SDK's callback signatures."""

from __future__ import annotations

import asyncio
import json

from test_capi import LOGIN_ID, Calls
from test_capi_edits import calls, sent, texts

from aio_tim import capi
from aio_tim.capi import TIM_ERR_JSON, TIM_SUCC, kTIMConvEvent_Add
from aio_tim.testing import client_for

__all__ = ["calls"]

C2C_ONLY = json.dumps({"conversation_list_filter_conv_type": 1})


async def until(condition, steps: int = 1000) -> None:
    """Wait (up to steps x 10 ms) for the callbacks, which run on this loop, to meet `condition`."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("the callbacks never came")


async def test_conversation_listeners_through_the_c_api(calls: Calls, dev_server):
    events: list[tuple[int, list[str], object]] = []
    totals: list[tuple[int, object]] = []
    by_filter: list[tuple[str, int, object]] = []
    capi.TIMSetConvEventCallback(
        lambda e, convs, ud: events.append((e, [c["conv_id"] for c in json.loads(convs)], ud)), "e"
    )
    capi.TIMSetConvTotalUnreadMessageCountChangedCallback(lambda n, ud: totals.append((n, ud)), "t")
    capi.TIMSetConvUnreadMessageCountChangedByFilterCallback(
        lambda f, n, ud: by_filter.append((f, n, ud)), "f"
    )
    try:
        assert capi.TIMConvSubscribeUnreadMessageCountByFilter("{not json") == TIM_ERR_JSON
        assert capi.TIMConvSubscribeUnreadMessageCountByFilter(C2C_ONLY) == TIM_SUCC
        await until(lambda: by_filter)
        assert by_filter == [(C2C_ONLY, 0, "f")]  # the count now, as the subscription starts
        await asyncio.sleep(0.1)  # the session's watch has read the table before the first send
        await sent(calls, "hello")
        await until(lambda: events)
        assert events[0] == (kTIMConvEvent_Add, ["user2"], "e")
        async with client_for(dev_server, "user2") as user2:
            await user2.msg.send_text(LOGIN_ID, 1, "back to you")
        await texts(calls)  # the roaming fetch stores user2's message, unread
        await until(lambda: totals and by_filter[-1][1] == 1)
        assert totals[-1] == (1, "t")
        assert capi.TIMConvUnsubscribeUnreadMessageCountByFilter(C2C_ONLY) == TIM_SUCC
        assert capi.TIMConvCleanConversationUnreadMessageCount("c2c_user2", 0, 0, calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        await until(lambda: totals[-1][0] == 0)
        await asyncio.sleep(0.1)
        assert by_filter[-1] == (C2C_ONLY, 1, "f")  # unsubscribed: no more calls
    finally:
        capi.TIMSetConvEventCallback(None)
        capi.TIMSetConvTotalUnreadMessageCountChangedCallback(None)
        capi.TIMSetConvUnreadMessageCountChangedByFilterCallback(None)
        capi.TIMConvUnsubscribeUnreadMessageCountByFilter(C2C_ONLY)
