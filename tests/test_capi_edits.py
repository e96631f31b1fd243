"""TIMMsgModifyMessage, TIMMsgListDelete and TIMMsgClearHistoryMessage through `aio_tim.capi`:
C SDK JSON in, the callback's code and JSON out, bad calls refused synchronously."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from test_capi import LOGIN_ID, Calls, config, text_msg

from aio_tim import capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import TIM_ERR_CONV, TIM_ERR_JSON, TIM_ERR_PARAM, TIM_SUCC, kTIMConv_C2C
from aio_tim.devserver import DevServer


@pytest_asyncio.fixture
async def calls(dev_server: DevServer) -> AsyncIterator[Calls]:
    """A logged-in C API session (user1) on the dev server; its callbacks."""
    calls = Calls()
    assert capi.TIMInit(dev_server.sdk_app_id, config(dev_server)) == TIM_SUCC
    try:
        sig = mint_usersig(dev_server.sdk_app_id, dev_server.secret_key, LOGIN_ID)
        assert capi.TIMLogin(LOGIN_ID, sig, calls.cb, None) == TIM_SUCC
        assert (await calls.wait_async())[0] == 0
        yield calls
        capi.TIMLogout(calls.cb, None)
        await calls.wait_async()
    finally:
        capi.TIMUninit()


async def sent(calls: Calls, text: str) -> dict[str, Any]:
    assert capi.TIMMsgSendNewMsg("user2", kTIMConv_C2C, json.dumps(text_msg(text)), calls.cb, None) == 0
    code, _, params, _ = await calls.wait_async()
    assert code == 0
    result: dict[str, Any] = json.loads(params)
    return result


async def texts(calls: Calls) -> list[str]:
    param = json.dumps({"msg_getmsglist_param_is_remble": True, "msg_getmsglist_param_is_forward": True})
    assert capi.TIMMsgGetMsgList("user2", kTIMConv_C2C, param, calls.cb, None) == 0
    code, _, params, _ = await calls.wait_async()
    assert code == 0
    return [m["message_elem_array"][0]["text_elem_content"] for m in json.loads(params)]


async def test_modify_list_delete_and_clear_through_the_c_api(calls):
    first, second, _ = [await sent(calls, t) for t in ("helo", "two", "three")]
    first["message_elem_array"] = [{"elem_type": 0, "text_elem_content": "hello"}]
    assert capi.TIMMsgModifyMessage(json.dumps(first), calls.cb, "m") == TIM_SUCC
    code, desc, params, user_data = await calls.wait_async()
    assert (code, desc, user_data) == (0, "", "m")
    assert json.loads(params)["message_elem_array"] == first["message_elem_array"]
    assert await texts(calls) == ["hello", "two", "three"]

    assert capi.TIMMsgListDelete("user2", kTIMConv_C2C, json.dumps([second]), calls.cb, "d") == TIM_SUCC
    assert await calls.wait_async() == (0, "", "", "d")
    assert await texts(calls) == ["hello", "three"]

    assert capi.TIMMsgClearHistoryMessage("user2", kTIMConv_C2C, calls.cb, "c") == TIM_SUCC
    assert await calls.wait_async() == (0, "", "", "c")
    assert await texts(calls) == []


async def test_a_refusal_of_tims_arrives_through_the_callback(calls):
    """Modifying a message the server does not have calls back 20022 (both accounts exist)."""
    await sent(calls, "creates the accounts")
    ghost = {**text_msg("x"), "message_conv_id": "user2", "message_conv_type": 1,
             "message_seq": 9, "message_rand": 9, "message_msg_id": "9_9_1700000000"}  # fmt: skip
    assert capi.TIMMsgModifyMessage(json.dumps(ghost), calls.cb, None) == TIM_SUCC
    code, _, params, _ = await calls.wait_async()
    assert (code, params) == (20022, "")


OTHER_CONV_TYPE = '{"message_conv_id": "u", "message_conv_type": 3}'
BAD: list[tuple[Callable[[Any], int], int]] = [
    (lambda cb: capi.TIMMsgModifyMessage("{", cb, None), TIM_ERR_JSON),
    (lambda cb: capi.TIMMsgModifyMessage(json.dumps(text_msg("x")), cb, None), TIM_ERR_PARAM),
    (lambda cb: capi.TIMMsgModifyMessage(OTHER_CONV_TYPE, cb, None), TIM_ERR_CONV),
    (lambda cb: capi.TIMMsgListDelete("user2", kTIMConv_C2C, "{", cb, None), TIM_ERR_JSON),
    (lambda cb: capi.TIMMsgListDelete("user2", 0, "[]", cb, None), TIM_ERR_CONV),
    (lambda cb: capi.TIMMsgClearHistoryMessage("", kTIMConv_C2C, cb, None), TIM_ERR_CONV),
]


@pytest.mark.parametrize(("call", "code"), BAD, ids=[str(i) for i in range(len(BAD))])
async def test_bad_calls_return_the_result_and_never_call_back(calls, call, code):
    assert call(calls.cb) == code
    await asyncio.sleep(0.05)
    assert calls.results.empty()
