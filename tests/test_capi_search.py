"""TIMMsgFindMessages, TIMMsgSearchLocalMessages and TIMMsgSetLocalCustomData through `aio_tim.capi`:
C SDK JSON in, the callback's code and JSON out, bad calls refused synchronously."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from test_capi import LOGIN_ID, Calls, config, text_msg

from aio_tim import capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import TIM_ERR_JSON, TIM_ERR_PARAM, TIM_SUCC, kTIMConv_C2C
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


async def test_find_search_and_local_data_through_the_c_api(calls):
    first = await sent(calls, "quarterly invoice")
    await sent(calls, "lunch")
    key = {capi.kTIMMsgSearchParamKeywordArray: ["invoice"], capi.kTIMMsgSearchParamPageSize: 10}
    assert capi.TIMMsgSearchLocalMessages(json.dumps(key), calls.cb, "s") == TIM_SUCC
    code, desc, params, user_data = await calls.wait_async()
    assert (code, desc, user_data) == (0, "", "s")
    result = json.loads(params)
    assert result[capi.kTIMMsgSearchResultTotalCount] == 1
    [item] = result[capi.kTIMMsgSearchResultItemArray]
    assert item[capi.kTIMMsgSearchResultItemConvId] == "user2"
    assert item[capi.kTIMMsgSearchResultItemMessageArray][0]["message_msg_id"] == first["message_msg_id"]

    first[capi.kTIMMsgCustomStr] = "starred"
    assert capi.TIMMsgSetLocalCustomData(json.dumps(first), calls.cb, "c") == TIM_SUCC
    assert await calls.wait_async() == (0, "", "", "c")
    assert capi.TIMMsgFindMessages(json.dumps([first["message_msg_id"], "none"]), calls.cb, "f") == TIM_SUCC
    code, _, params, _ = await calls.wait_async()
    [found] = json.loads(params)
    assert code == 0 and found[capi.kTIMMsgCustomStr] == "starred"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda cb: capi.TIMMsgSearchLocalMessages("{", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgSearchLocalMessages("{}", cb, None), TIM_ERR_PARAM),
        (
            lambda cb: capi.TIMMsgSearchLocalMessages(
                json.dumps({capi.kTIMMsgSearchParamKeywordArray: list("abcdef")}), cb, None
            ),
            TIM_ERR_PARAM,
        ),
        (lambda cb: capi.TIMMsgFindMessages('{"a": 1}', cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgSetLocalCustomData("[]", cb, None), TIM_ERR_JSON),
    ],
)
async def test_bad_calls_are_refused_synchronously(calls, call, code):
    """Refused by the return value; the callback is never called."""
    assert call(calls.cb) == code
    assert calls.results.empty()


async def test_a_message_not_stored_calls_back_not_found(calls):
    await sent(calls, "creates the store")
    ghost = {**text_msg("x"), "message_msg_id": "no-such-id", capi.kTIMMsgCustomInt: 1}
    assert capi.TIMMsgSetLocalCustomData(json.dumps(ghost), calls.cb, None) == TIM_SUCC
    code, _, params, _ = await calls.wait_async()
    assert (code, params) == (20022, "")
