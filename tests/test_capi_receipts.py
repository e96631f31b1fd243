"""The C functions for read receipts, extensions, TIMMsgSendMessage and TIMMsgCancelSend: C SDK
JSON in, the callbacks' codes and JSON out, bad calls refused synchronously."""

# ruff: noqa: F811 (the fixtures `calls` and `threaded_server` are imported from their modules)
from __future__ import annotations

import json
from typing import Any

import pytest
from test_capi import LOGIN_ID, Calls, config, text_msg, threaded_server  # noqa: F401
from test_capi_edits import calls  # noqa: F401

from aio_tim import ConvType, capi
from aio_tim.auth import mint_usersig
from aio_tim.capi import TIM_ERR_JSON, TIM_ERR_PARAM, TIM_SUCC, kTIMConv_C2C, kTIMConv_Group
from aio_tim.testing import client_for


async def sent_with(calls: Calls, conv: tuple[str, int], **flags: bool) -> dict[str, Any]:
    msg = text_msg("hi") | {f"message_{name}": value for name, value in flags.items()}
    assert capi.TIMMsgSendNewMsg(*conv, json.dumps(msg), calls.cb, None) == TIM_SUCC
    code, _, params, _ = await calls.wait_async()
    assert code == 0
    result: dict[str, Any] = json.loads(params)
    return result


async def answer(calls: Calls) -> tuple[int, Any]:
    code, _, params, _ = await calls.wait_async()
    return code, json.loads(params) if params else None


async def test_receipts_through_the_c_api(dev_server, calls):
    await dev_server.create_group("team", owner=LOGIN_ID, members=("user2", "user3"), type="Private")
    mine = await sent_with(calls, ("team", kTIMConv_Group), need_read_receipt=True)
    async with client_for(dev_server, "user2") as user2:
        [theirs] = [m async for m in user2.msg.iter_msg_list("team", ConvType.GROUP, remble=True)]
        await user2.msg.send_message_read_receipts([theirs])
    assert capi.TIMMsgGetMessageReadReceipts(json.dumps([mine]), calls.cb, None) == TIM_SUCC
    code, [receipt] = await answer(calls)
    assert (code, receipt["msg_receipt_read_count"], receipt["msg_receipt_unread_count"]) == (0, 1, 1)
    pages: list[tuple[list[str], int, bool]] = []

    def on_members(members: str, next_seq: int, finished: bool, user_data: Any) -> None:
        pages.append(([m["group_member_info_identifier"] for m in json.loads(members)], next_seq, finished))
        calls.cb(0, "", "", user_data)

    assert capi.TIMMsgGetGroupMessageReadMemberList(json.dumps(mine), 1, 0, 1, on_members, None) == TIM_SUCC
    await calls.wait_async()
    assert pages == [(["user3"], 0, True)]
    assert capi.TIMMsgGetGroupMessageReadMemberList(json.dumps(mine), 0, 0, 1, on_members, None) == TIM_SUCC
    await calls.wait_async()
    assert pages[-1] == (["user2"], 0, True)
    assert capi.TIMMsgSendMessageReadReceipts(json.dumps([mine]), calls.cb, None) == TIM_SUCC
    assert (await calls.wait_async())[0] == TIM_ERR_PARAM  # one's own message: refused before any I/O


async def test_extensions_through_the_c_api(calls):
    mine = await sent_with(calls, ("user2", kTIMConv_C2C), support_message_extension=True)
    exts = [{"message_extension_key": "k", "message_extension_value": "v"}]
    assert capi.TIMMsgSetMessageExtensions(json.dumps(mine), json.dumps(exts), calls.cb, None) == TIM_SUCC
    code, [result] = await answer(calls)
    assert (code, result["message_extension_result_code"]) == (0, 0)
    assert result["message_extension_item"] == exts[0]
    assert capi.TIMMsgGetMessageExtensions(json.dumps(mine), calls.cb, None) == TIM_SUCC
    assert await answer(calls) == (0, exts)
    assert capi.TIMMsgDeleteMessageExtensions(json.dumps(mine), "[]", calls.cb, None) == TIM_SUCC
    assert await answer(calls) == (0, [])
    assert capi.TIMMsgGetMessageExtensions(json.dumps(mine), calls.cb, None) == TIM_SUCC
    assert await answer(calls) == (0, [])


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda cb: capi.TIMMsgSendMessageReadReceipts("[", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgGetMessageReadReceipts("[", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgSetMessageExtensions("{", "[]", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgGetMessageExtensions("{", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgDeleteMessageExtensions("{}", "[1]", cb, None), TIM_ERR_JSON),
        (lambda cb: capi.TIMMsgGetGroupMessageReadMemberList("{}", 0, 0, 1, cb, None), TIM_ERR_PARAM),
        (
            lambda cb: capi.TIMMsgSendMessage("user2", kTIMConv_C2C, "{}", bytearray(8), cb, None),
            TIM_ERR_PARAM,
        ),
        (lambda cb: capi.TIMMsgCancelSend("user2", 9, "1_2_3", cb, None), -5),
    ],
)
async def test_bad_calls_return_the_result_and_never_call_back(calls, call, code):
    assert call(calls.cb) == code
    assert calls.results.empty()


async def test_cancel_of_an_unknown_message_calls_back_8020(calls):
    assert capi.TIMMsgCancelSend("user2", kTIMConv_C2C, "1_2_3", calls.cb, "c") == TIM_SUCC
    code, _, _, user_data = await calls.wait_async()
    assert (code, user_data) == (8020, "c")


def test_send_message_fills_the_id_buffer_at_once(threaded_server):
    calls = Calls()
    assert capi.TIMInit(threaded_server.sdk_app_id, config(threaded_server)) == TIM_SUCC
    try:
        sig = mint_usersig(threaded_server.sdk_app_id, threaded_server.secret_key, LOGIN_ID)
        assert capi.TIMLogin(LOGIN_ID, sig, calls.cb, None) == TIM_SUCC
        assert calls.wait()[0] == 0
        buffer = bytearray(128)
        msg = json.dumps(text_msg("hi"))
        assert capi.TIMMsgSendMessage("user2", kTIMConv_C2C, msg, buffer, calls.cb, "s") == TIM_SUCC
        msg_id = buffer.split(b"\0", 1)[0].decode()
        assert msg_id.count("_") == 2
        code, _, params, user_data = calls.wait()
        assert (code, user_data, json.loads(params)["message_msg_id"]) == (0, "s", msg_id)
        assert capi.TIMMsgCancelSend("user2", kTIMConv_C2C, msg_id, calls.cb, None) == TIM_SUCC
        assert calls.wait()[0] == 8020  # already sent
        assert capi.TIMLogout(calls.cb, None) == TIM_SUCC
        calls.wait()
    finally:
        assert capi.TIMUninit() == TIM_SUCC


async def test_send_message_from_inside_the_loop_is_refused(calls):
    buffer = bytearray(128)
    msg = json.dumps(text_msg("hi"))
    assert capi.TIMMsgSendMessage("user2", kTIMConv_C2C, msg, buffer, calls.cb, None) == TIM_ERR_PARAM
    assert calls.results.empty() and buffer == bytearray(128)
