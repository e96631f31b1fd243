"""The TIMConv* functions through `aio_tim.capi`: C SDK JSON in, the callback's code and JSON
out, bad calls refused synchronously (TIMResult) with nothing sent."""

from __future__ import annotations

import json

from test_capi import Calls
from test_capi_edits import calls, sent

from aio_tim import capi
from aio_tim.capi import TIM_ERR_CONV, TIM_ERR_JSON, TIM_ERR_PARAM, TIM_SUCC, kTIMConv_C2C

__all__ = ["calls"]


async def outcome(calls: Calls, result: int) -> tuple[int, object]:
    assert result == TIM_SUCC
    code, _, params, _ = await calls.wait_async()
    return code, json.loads(params) if params else params


async def test_every_conv_function_through_the_c_api(calls):
    await sent(calls, "hello")
    code, convs = await outcome(calls, capi.TIMConvGetConvList(calls.cb, None))
    assert code == 0 and [(c["conv_id"], c["conv_type"]) for c in convs] == [("user2", 1)]
    assert convs[0]["conv_last_msg"]["message_elem_array"][0]["text_elem_content"] == "hello"
    param = json.dumps([{"get_conv_list_param_conv_id": "user2", "get_conv_list_param_conv_type": 1}])
    code, [info] = await outcome(calls, capi.TIMConvGetConvInfo(param, calls.cb, None))
    assert info["conv_id"] == "user2"
    assert await outcome(calls, capi.TIMConvPinConversation("user2", kTIMConv_C2C, True, calls.cb, None)) == (
        0,
        "",
    )
    ids = json.dumps(["c2c_user2"])
    code, [result] = await outcome(calls, capi.TIMConvMarkConversation(ids, 1, True, calls.cb, None))
    assert result == {"conversation_operation_result_conversation_id": "c2c_user2"}
    assert capi.TIMConvSetDraft("user2", kTIMConv_C2C, json.dumps({"draft_user_define": "later"})) == TIM_SUCC
    for _ in range(100):  # no callback: the draft is written just after the call returns
        code, page = await outcome(calls, capi.TIMConvGetConversationListByFilter("", 0, 10, calls.cb, None))
        if "conv_draft" in page["conversation_list_result_conv_list"][0]:
            break
    [conv] = page["conversation_list_result_conv_list"]
    assert (
        conv["conv_is_pinned"]
        and conv["conv_mark_array"] == [1]
        and conv["conv_draft"]["draft_user_define"] == "later"
    )
    assert capi.TIMConvCancelDraft("user2", kTIMConv_C2C) == TIM_SUCC
    only_groups = json.dumps({"conversation_list_filter_conv_type": 2})
    code, page = await outcome(
        calls, capi.TIMConvGetConversationListByFilter(only_groups, 0, 10, calls.cb, None)
    )
    assert page["conversation_list_result_conv_list"] == []
    code, unread = await outcome(
        calls, capi.TIMConvGetUnreadMessageCountByFilter(only_groups, calls.cb, None)
    )
    assert unread == {"conv_get_total_unread_message_count_result_unread_count": 0}
    code, total = await outcome(calls, capi.TIMConvGetTotalUnreadMessageCount(calls.cb, None))
    assert total == {"conv_get_total_unread_message_count_result_unread_count": 0}
    assert (
        await outcome(
            calls, capi.TIMConvCleanConversationUnreadMessageCount("c2c_user2", 0, 0, calls.cb, None)
        )
    )[0] == 0
    code, _ = await outcome(calls, capi.TIMConvSetConversationCustomData(ids, "vip", calls.cb, None))
    assert code == 0
    assert (await outcome(calls, capi.TIMConvCreateConversationGroup("work", ids, calls.cb, None)))[0] == 0
    assert await outcome(calls, capi.TIMConvGetConversationGroupList(calls.cb, None)) == (0, ["work"])
    assert await outcome(calls, capi.TIMConvRenameConversationGroup("work", "job", calls.cb, None)) == (0, "")
    assert (await outcome(calls, capi.TIMConvDeleteConversationsFromGroup("job", ids, calls.cb, None)))[
        0
    ] == 0
    assert (await outcome(calls, capi.TIMConvAddConversationsToGroup("job", ids, calls.cb, None)))[0] == 0
    assert await outcome(calls, capi.TIMConvDeleteConversationGroup("job", calls.cb, None)) == (0, "")
    code, [result] = await outcome(calls, capi.TIMConvDeleteConversationList(ids, True, calls.cb, None))
    assert result["conversation_operation_result_conversation_id"] == "c2c_user2"
    await sent(calls, "again")
    assert await outcome(calls, capi.TIMConvDelete("user2", kTIMConv_C2C, calls.cb, None)) == (0, "")
    assert await outcome(calls, capi.TIMConvGetConvList(calls.cb, None)) == (0, [])


async def test_bad_calls_are_refused_synchronously(calls):
    assert capi.TIMConvDelete("user2", 9, calls.cb, None) == TIM_ERR_CONV
    assert capi.TIMConvPinConversation("", kTIMConv_C2C, True, calls.cb, None) == TIM_ERR_CONV
    assert capi.TIMConvMarkConversation("not json", 1, True, calls.cb, None) == TIM_ERR_JSON
    assert capi.TIMConvMarkConversation(json.dumps(["user2"]), 1, True, calls.cb, None) == TIM_ERR_CONV
    assert capi.TIMConvGetConvInfo("[1]", calls.cb, None) == TIM_ERR_JSON
    assert capi.TIMConvSetDraft("user2", kTIMConv_C2C, "{") == TIM_ERR_JSON
    assert capi.TIMConvGetUnreadMessageCountByFilter("[]", calls.cb, None) == TIM_ERR_JSON
    assert capi.TIMConvCreateConversationGroup("", "[]", calls.cb, None) == TIM_ERR_PARAM
    assert capi.TIMConvCleanConversationUnreadMessageCount("x_1", 0, 0, calls.cb, None) == TIM_ERR_CONV
